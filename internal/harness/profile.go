// Package harness is the one way wsgikit starts a WSGI server under test: it
// knows how to run each server (profiles), picks a loopback port, waits until
// the app answers HTTP, samples the process tree from /proc, and stops the
// server proving that no process of it is left.
//
// What Start and Stop guarantee:
//   - the server runs in its own process group, stdout and stderr go to one
//     log file, and Python servers run on the peers venv `make setup` builds
//     (WSGIKIT_PYTHON; /usr/bin/python3 without one; Debian's for @debian);
//   - "ready" means an HTTP status line came back for GET ReadyPath from a
//     socket that a process of this server listens on (an impostor on the
//     port, or a TCP accept without an answer, is not ready);
//   - a port someone else takes first makes Start pick another one;
//   - a failed start kills the group and returns the log's last 20 lines;
//   - Stop signals the group (and any member that left it, found through
//     PPid), waits, SIGKILLs, and fails naming any process still alive;
//   - a harness that dies without Stop leaves nothing running: each
//     instance's watchdog (its own binary re-executed, see watchdog.go)
//     does what Stop does once the harness's end of its pipe closes;
//   - Usage covers the whole tree, including processes that already exited.
//
// Built-in servers that need a config (Apache, nginx) get a private one in
// the instance's temporary directory; no system service or file is touched.
package harness

import (
	"fmt"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Profile says how to run one WSGI server.
type Profile struct {
	Name        string // "gunicorn-gthread"
	Description string
	Package     string   // Debian package(s) that provide it: the install hint
	Command     []string // argv template; see Placeholders
	Env         []string // extra KEY=VALUE (templated too)
	ReadyPath   string   // path GET-requested until it answers (default "/")
	StopSignal  syscall.Signal
	StopGrace   time.Duration
	KeepAlive   bool // keeps client connections alive
	// TLSArgs are added to Command when the instance serves TLS
	// (Options.TLS); they may use {certfile}, {keyfile} and {cafile}.
	TLSArgs []string
	// Python is the interpreter for {python} when the profile needs a
	// particular one (the @debian profiles: Debian's); empty: Python().
	Python string

	// Dir is the working directory template (default "{appdir}").
	Dir string
	// Files are written into {rundir} before start: name → content template
	// (generated server configs, e.g. Apache's or nginx's).
	Files map[string]string
	// Requires are executables (looked up in PATH unless absolute) and
	// files that must exist for the profile to be installed; templated.
	Requires []string
	// PyModules must import under {python} for the profile to be installed.
	PyModules []string
	// VersionCmd prints the version (stdout+stderr); VersionRegexp picks it
	// (first submatch). Empty VersionCmd: the version of PyModules[0].
	VersionCmd    []string
	VersionRegexp string

	// versionOptional: a VersionCmd that fails or prints no version leaves
	// the version "unknown" instead of the server missing (ad-hoc commands,
	// whose --version is a guess).
	versionOptional bool

	// pyDists are distributions that must be installed for {python} when
	// an executable next to it could be another build (uWSGI).
	pyDists []string
	// inner is the proxied profile of a "behind-nginx:<inner>" profile.
	inner *Profile
	// prepare adds profile-specific variables before templating (Go-only
	// built-ins, e.g. Apache's User lines when running as root).
	prepare func(vars map[string]string, env []string) error
	// usable says why an installed server cannot run with {python} here
	// (an error wrapping ErrNotInstalled, or any other: unsupported), or nil.
	usable func(vars map[string]string) error
	// tlsRewrite makes the TLS command of built-ins whose TLS changes the
	// command rather than adding to it; tlsInConfig: the prepare hook
	// configures TLS from {certfile}; noTLS says why there is no TLS.
	tlsRewrite  func(cmd []string) []string
	tlsInConfig bool
	noTLS       string
}

// Placeholders are the names a Command, Env, Dir or Files template may use.
var Placeholders = map[string]string{
	"python":    "the Python interpreter (WSGIKIT_PYTHON, default the peers venv of `make setup`, else /usr/bin/python3)",
	"pybin":     "the directory of {python}: a venv's bin/, where pip puts a server's commands (uwsgi, granian)",
	"pyhome":    "the environment {python} belongs to: a venv's directory (the parent of {pybin})",
	"module":    "the app's module, e.g. hello or django_app.wsgi",
	"callable":  "the WSGI callable's name in the module, e.g. application",
	"app":       "module:callable",
	"appdir":    "the directory the module is imported from",
	"host":      "the loopback address to listen on, e.g. 127.0.0.1",
	"port":      "the TCP port to listen on",
	"bind":      "host:port, with IPv6 hosts in brackets",
	"workers":   "number of worker processes (default 1)",
	"threads":   "threads per worker (default 4)",
	"rundir":    "a fresh temporary directory for this instance",
	"wsgikit":   "the wsgikit binary (WSGIKIT_BIN, the running wsgikit, or bin/wsgikit)",
	"launchers": "wsgikit's apps/ directory, where the launcher scripts live",
}

// detectionVars are the placeholders Requires and VersionCmd may use.
var detectionVars = map[string]bool{"python": true, "pybin": true, "pyhome": true, "wsgikit": true, "launchers": true}

// internalVars are set by built-in prepare hooks only.
var internalVars = map[string]bool{"inner_port": true, "inner_host": true, "apache_user": true, "env_python": true, "module_file": true, "module_name": true, "callable_name": true, "nginx_user": true, "proxy_headers": true, "upstream_version": true, "server_name": true, "wsgi_module": true, "apache_tls": true}

// expand replaces {name} placeholders in s. Unknown names are errors.
func expand(s string, vars map[string]string) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		name := s[i+1 : i+j]
		if !isPlaceholderName(name) {
			// Not a placeholder (e.g. nginx blocks "{ ... }"): keep as is.
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		v, ok := vars[name]
		if !ok {
			return "", fmt.Errorf("unknown placeholder {%s} (known: %s)", name, placeholderList())
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+1:]
	}
}

// isPlaceholderName reports whether s looks like a placeholder: a lowercase
// identifier. Anything else between braces is literal text.
func isPlaceholderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && c != '_' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func placeholderList() string {
	names := make([]string, 0, len(Placeholders))
	for n := range Placeholders {
		names = append(names, "{"+n+"}")
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// placeholdersIn returns the placeholder names used in s.
func placeholdersIn(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return out
		}
		if name := s[i+1 : i+j]; isPlaceholderName(name) {
			out = append(out, name)
			s = s[i+j+1:]
		} else {
			s = s[i+1:]
		}
	}
}

// Validate checks a profile the way a user needs it checked: every error
// names the field and the fix.
func (p *Profile) Validate() error {
	if p.Name == "" {
		return fmt.Errorf("profile: field name is empty; give the profile a name")
	}
	if strings.ContainsAny(p.Name, " \t,") {
		return fmt.Errorf("profile %s: field name must not contain spaces or commas", p.Name)
	}
	if len(p.Command) == 0 {
		return fmt.Errorf("profile %s: field command is empty; give the argv, e.g. [\"{python}\", \"-m\", \"waitress\", \"--listen={bind}\", \"{app}\"]", p.Name)
	}
	used := map[string]bool{}
	check := func(field, s string) error {
		for _, n := range placeholdersIn(s) {
			if _, ok := Placeholders[n]; !ok && !(p.prepare != nil && internalVars[n]) {
				return fmt.Errorf("profile %s: field %s uses unknown placeholder {%s}; use one of %s", p.Name, field, n, placeholderList())
			}
			used[n] = true
		}
		return nil
	}
	for _, a := range p.Command {
		if err := check("command", a); err != nil {
			return err
		}
	}
	for n := range tlsVars {
		if used[n] {
			return fmt.Errorf("profile %s: field command uses {%s}, which only a TLS instance has; put the TLS flags in tls_args", p.Name, n)
		}
	}
	for _, a := range p.TLSArgs {
		if err := check("tls_args", a); err != nil {
			return err
		}
	}
	for _, e := range p.Env {
		if !strings.Contains(e, "=") {
			return fmt.Errorf("profile %s: field env entry %q is not KEY=VALUE", p.Name, e)
		}
		if err := check("env", e); err != nil {
			return err
		}
	}
	if err := check("dir", p.Dir); err != nil {
		return err
	}
	for name, f := range p.Files {
		if strings.Contains(name, "/") || name == "" || name == "." || name == ".." {
			return fmt.Errorf("profile %s: field files has bad name %q; use a plain file name (it is written into {rundir})", p.Name, name)
		}
		if err := check("files."+name, f); err != nil {
			return err
		}
	}
	// Detection runs before any instance exists: no app, port or rundir.
	detect := func(field, s string) error {
		for _, n := range placeholdersIn(s) {
			if !detectionVars[n] {
				return fmt.Errorf("profile %s: field %s uses {%s}, which is only known when an instance starts; use {python}, {pybin}, {pyhome}, {wsgikit} or {launchers} there", p.Name, field, n)
			}
		}
		return nil
	}
	for _, r := range p.Requires {
		if err := detect("requires", r); err != nil {
			return err
		}
	}
	for _, a := range p.VersionCmd {
		if err := detect("version_cmd", a); err != nil {
			return err
		}
	}
	// Built-ins with a prepare hook load the app through generated files.
	if p.inner == nil && p.prepare == nil {
		if !used["port"] && !used["bind"] {
			return fmt.Errorf("profile %s: field command never uses {port} or {bind}; the server must listen on the port the harness picks", p.Name)
		}
		if !used["app"] && !used["module"] {
			return fmt.Errorf("profile %s: field command never uses {app} (or {module} and {callable}); the server must load the app under test", p.Name)
		}
	}
	if p.ReadyPath != "" && !strings.HasPrefix(p.ReadyPath, "/") {
		return fmt.Errorf("profile %s: field ready_path %q must start with /", p.Name, p.ReadyPath)
	}
	if p.VersionRegexp != "" {
		if _, err := compileVersionRegexp(p.VersionRegexp); err != nil {
			return fmt.Errorf("profile %s: field version_regexp: %v", p.Name, err)
		}
	}
	return nil
}

// python is the interpreter {python} stands for in this profile.
func (p *Profile) python() string {
	if p.inner != nil {
		return p.inner.python()
	}
	if p.Python != "" {
		return p.Python
	}
	return Python()
}

// Interpreter is the Python interpreter the profile's server runs on, or ""
// for servers that run none (nginx alone).
func (p *Profile) Interpreter() string {
	if p.inner != nil {
		return p.inner.Interpreter()
	}
	if len(p.PyModules) > 0 || p.usesVar("python") || p.usesVar("pybin") || p.usesVar("pyhome") {
		return p.python()
	}
	return ""
}

func (p *Profile) readyPath() string {
	if p.ReadyPath == "" {
		return "/"
	}
	return p.ReadyPath
}

func (p *Profile) stopSignal() syscall.Signal {
	if p.StopSignal == 0 {
		return syscall.SIGTERM
	}
	return p.StopSignal
}

func (p *Profile) stopGrace() time.Duration {
	if p.StopGrace <= 0 {
		return 10 * time.Second
	}
	return p.StopGrace
}

// HonorsWorkers reports whether Options.Workers changes anything: false
// for single-process servers (waitress, cheroot, gevent, wsgiref).
func (p *Profile) HonorsWorkers() bool {
	if p.inner != nil {
		return p.inner.HonorsWorkers()
	}
	return p.usesVar("workers")
}

// HonorsThreads reports whether Options.Threads changes anything: false
// for servers without a thread pool (gunicorn sync and gevent, gevent,
// wsgiref).
func (p *Profile) HonorsThreads() bool {
	if p.inner != nil {
		return p.inner.HonorsThreads()
	}
	return p.usesVar("threads")
}

// usesWsgikit reports whether any template needs the wsgikit binary.
func (p *Profile) usesWsgikit() bool { return p.usesVar("wsgikit") }

// usesVar reports whether the command (plain or TLS), env, dir or files
// use {name}.
func (p *Profile) usesVar(name string) bool {
	all := append(append([]string{p.Dir}, p.tlsCommand()...), p.Env...)
	for _, f := range p.Files {
		all = append(all, f)
	}
	for _, a := range all {
		for _, n := range placeholdersIn(a) {
			if n == name {
				return true
			}
		}
	}
	return false
}
