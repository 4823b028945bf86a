package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/BurntSushi/toml"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"golang.org/x/net/http/httpguts"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/textutil"
)

// Request is one request of a scenario's mix.
type Request struct {
	Method string
	// Path is the path and query, resolved against the server's URL, or an
	// absolute http:// or https:// URL (user scenarios; loopback unless
	// allowed).
	Path   string
	Body   []byte
	Header http.Header
	Weight int // share of the mix; 0 means 1
}

// Scenario is a named request mix on an app.
type Scenario struct {
	Name        string
	Description string
	// App names what the server must run: a builtin app of the harness
	// ("bench", "hello", "flask", "django"), "path/to/file.py:callable" or
	// "module:callable" (imported from AppDir).
	App string
	// AppDir is where a module:callable App is imported from ("": the
	// working directory).
	AppDir   string
	Requests []Request

	app harness.App // App resolved, by Plan.Validate
}

// Upload and response sizes of the builtin scenarios.
const (
	UploadSize = 64 << 10
	StreamSize = 1 << 20
	FileSize   = 1 << 20
)

// BuiltinScenarios returns the scenarios wsgikit ships; each call returns
// fresh values.
func BuiltinScenarios() []*Scenario {
	get := func(p string) []Request { return []Request{{Method: "GET", Path: p}} }
	upload := bytes.Repeat([]byte("wsgikit-"), UploadSize/8)
	return []*Scenario{
		{Name: "hello", App: "bench", Description: "GET / → 13-byte text with Content-Length", Requests: get("/")},
		{Name: "json", App: "bench", Description: "GET /json → small JSON document", Requests: get("/json")},
		{Name: "upload", App: "bench", Description: "POST /upload, 64 KiB body echoed back", Requests: []Request{{
			Method: "POST", Path: "/upload", Body: upload,
			Header: http.Header{"Content-Type": {"application/octet-stream"}}}}},
		{Name: "stream", App: "bench", Description: "GET /stream → 1 MiB in 64 KiB chunks, no Content-Length", Requests: get(fmt.Sprintf("/stream?size=%d", StreamSize))},
		{Name: "file", App: "bench", Description: "GET /file → 1 MiB via wsgi.file_wrapper", Requests: get(fmt.Sprintf("/file?size=%d", FileSize))},
		{Name: "sleep", App: "bench", Description: "GET /sleep?ms=10 → I/O-bound, 10 ms per request", Requests: get("/sleep?ms=10")},
		{Name: "cpu", App: "bench", Description: "GET /cpu → CPU-bound Python loop", Requests: get("/cpu?n=10000")},
		{Name: "flask", App: "flask", Description: "Flask app, GET /", Requests: get("/")},
		{Name: "django", App: "django", Description: "Django app, GET /", Requests: get("/")},
	}
}

// LookupScenario finds a scenario by name among user and builtin ones;
// user scenarios shadow builtins. An unknown name gives a one-line error
// with the close matches.
func LookupScenario(name string, user []*Scenario) (*Scenario, error) {
	all := append(append([]*Scenario{}, user...), BuiltinScenarios()...)
	var names []string
	for _, s := range all {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return nil, unknownName("scenario", name, names)
}

// unknownName words the error for a name that is not known.
func unknownName(kind, name string, known []string) error {
	if m := textutil.CloseMatches(name, known, 5); len(m) > 0 {
		return fmt.Errorf("unknown %s %q; did you mean %s?", kind, name, strings.Join(m, ", "))
	}
	return fmt.Errorf("unknown %s %q; known: %s", kind, name, strings.Join(dedupe(known), ", "))
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// ResolveApp maps a scenario's app to a harness App: a builtin name, or
// "path/to/file.py:callable" / "module:callable" (imported from dir, by
// default the working directory; a file's path is relative to dir too).
func ResolveApp(spec, dir string) (harness.App, error) {
	if !strings.Contains(spec, ":") {
		return harness.BuiltinApp(spec)
	}
	mod, call, _ := strings.Cut(spec, ":")
	if strings.HasSuffix(mod, ".py") {
		if !filepath.IsAbs(mod) && dir != "" {
			mod = filepath.Join(dir, mod)
		}
		return harness.ParseApp(strings.TrimSuffix(filepath.Base(mod), ".py")+":"+call, filepath.Dir(mod))
	}
	return harness.ParseApp(spec, dir)
}

// IsBuiltinApp reports whether a scenario's App is one of wsgikit's apps
// rather than the user's.
func IsBuiltinApp(spec string) bool { return !strings.Contains(spec, ":") }

// scenarioFile is the TOML form of user scenarios:
//
//	[[scenario]]
//	name = "login"
//	app = "bench"                  # or "myapp.py:application", "module:callable"; default: --app, else "bench"
//	[[scenario.request]]
//	method = "POST"
//	path = "/upload"
//	body = "hello"                 # or body_file = "payload.bin" (relative to this file)
//	weight = 3
//	headers = { "Content-Type" = "text/plain" }
type scenarioFile struct {
	Scenario []struct {
		Name        string
		Description string
		App         string
		Request     []struct {
			Method   string
			Path     string
			Body     string
			BodyFile string `toml:"body_file"`
			Weight   int
			Headers  map[string]string
		}
	}
}

// LoadScenarios reads user scenarios: a .toml file (any number of named
// scenarios), or a vegeta "http" target file (one scenario named after the
// file; relative paths are resolved against the server under test).
// Scenarios that name no app run app ("" for wsgikit's bench app); dir is
// where module:callable apps are imported from ("": the working directory).
func LoadScenarios(path, app, dir string) ([]*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenarios: %w", err)
	}
	if app == "" {
		app = "bench"
	}
	if strings.HasSuffix(path, ".toml") {
		scs, err := parseTOMLScenarios(data, filepath.Dir(path), app)
		for _, s := range scs {
			s.AppDir = dir
		}
		return scs, err
	}
	tgts, err := vegeta.ReadAllTargets(vegeta.NewHTTPTargeter(bytes.NewReader(data), nil, nil))
	if err != nil {
		return nil, fmt.Errorf("read vegeta targets %s: %w", path, err)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	s := &Scenario{Name: name, App: app, AppDir: dir, Description: "targets from " + path}
	for _, t := range tgts {
		s.Requests = append(s.Requests, Request{Method: t.Method, Path: t.URL, Body: t.Body, Header: t.Header})
	}
	return []*Scenario{s}, s.validate()
}

// PathScenarios are the requests given on the command line (--path, with
// --method, -H and --body for each): one scenario per path, named after
// it (with the method when it is not GET), running app imported from dir.
func PathScenarios(app, dir string, paths []string, method string, header http.Header, body []byte) ([]*Scenario, error) {
	method = strings.ToUpper(method)
	if method == "" {
		method = "GET"
	}
	seen := map[string]bool{}
	var out []*Scenario
	for _, p := range paths {
		name := p
		if method != "GET" {
			name = method + " " + p
		}
		if seen[name] {
			return nil, fmt.Errorf("--path %s is given twice", p)
		}
		seen[name] = true
		s := &Scenario{Name: name, App: app, AppDir: dir, Description: method + " " + p + " on " + app,
			Requests: []Request{{Method: method, Path: p, Header: header, Body: body}}}
		if err := s.validate(); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func parseTOMLScenarios(data []byte, dir, app string) ([]*Scenario, error) {
	var f scenarioFile
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, fmt.Errorf("parse scenarios: %s", textutil.OneLine(err.Error()))
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("parse scenarios: unknown key %q", und[0].String())
	}
	if len(f.Scenario) == 0 {
		return nil, errors.New("parse scenarios: no [[scenario]] tables")
	}
	var out []*Scenario
	for _, fs := range f.Scenario {
		s := &Scenario{Name: fs.Name, Description: fs.Description, App: fs.App}
		if s.App == "" {
			s.App = app
		}
		for _, fr := range fs.Request {
			r := Request{Method: strings.ToUpper(fr.Method), Path: fr.Path, Body: []byte(fr.Body), Weight: fr.Weight}
			if r.Method == "" {
				r.Method = "GET"
			}
			if fr.BodyFile != "" {
				p := fr.BodyFile
				if !filepath.IsAbs(p) {
					p = filepath.Join(dir, p)
				}
				if r.Body, err = os.ReadFile(p); err != nil {
					return nil, fmt.Errorf("scenario %q: %w", s.Name, err)
				}
			}
			if len(fr.Headers) > 0 {
				r.Header = http.Header{}
				for k, v := range fr.Headers {
					r.Header.Set(k, v)
				}
			}
			s.Requests = append(s.Requests, r)
		}
		if err := s.validate(); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// validate rejects what would put bad bytes on the wire or never run.
func (s *Scenario) validate() error {
	if s.Name == "" {
		return errors.New("scenario without a name")
	}
	if len(s.Requests) == 0 {
		return fmt.Errorf("scenario %q has no requests", s.Name)
	}
	for _, r := range s.Requests {
		if !httpguts.ValidHeaderFieldName(r.Method) {
			return fmt.Errorf("scenario %q: bad method %q", s.Name, r.Method)
		}
		if r.Weight < 0 {
			return fmt.Errorf("scenario %q: negative weight", s.Name)
		}
		if strings.IndexFunc(r.Path, func(c rune) bool { return c <= ' ' || c == 0x7f }) >= 0 {
			return fmt.Errorf("scenario %q: path %q has spaces or control characters; percent-encode them", s.Name, r.Path)
		}
		if !strings.HasPrefix(r.Path, "/") {
			u, err := url.Parse(r.Path)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("scenario %q: path %q must start with / or be an http:// or https:// URL", s.Name, r.Path)
			}
		}
		for k, vs := range r.Header {
			if !httpguts.ValidHeaderFieldName(k) {
				return fmt.Errorf("scenario %q: bad header name %q", s.Name, k)
			}
			for _, v := range vs {
				if !httpguts.ValidHeaderFieldValue(v) {
					return fmt.Errorf("scenario %q: bad value for header %q", s.Name, k)
				}
			}
		}
	}
	return nil
}

// targets resolves the mix against base ("http://127.0.0.1:PORT"),
// repeating each request by its weight.
func (s *Scenario) targets(base string) []vegeta.Target {
	var out []vegeta.Target
	base = strings.TrimSuffix(base, "/")
	for _, r := range s.Requests {
		u := r.Path
		if strings.HasPrefix(u, "/") {
			u = base + u
		}
		w := max(r.Weight, 1)
		for range w {
			out = append(out, vegeta.Target{Method: r.Method, URL: u, Body: r.Body, Header: r.Header})
		}
	}
	return out
}

// remoteHosts lists the hosts of absolute URLs in the mix.
func (s *Scenario) remoteHosts() []string {
	var hs []string
	for _, r := range s.Requests {
		if !strings.HasPrefix(r.Path, "/") {
			if u, err := url.Parse(r.Path); err == nil {
				hs = append(hs, u.Hostname())
			}
		}
	}
	return hs
}

// roundRobin is a lock-free Targeter over a fixed list, that also reports
// which target it handed out (for result files).
func roundRobin(tgts []vegeta.Target) vegeta.Targeter {
	var i atomic.Uint64
	n := uint64(len(tgts))
	return func(t *vegeta.Target) error {
		if t == nil {
			return vegeta.ErrNilTarget
		}
		*t = tgts[(i.Add(1)-1)%n]
		return nil
	}
}
