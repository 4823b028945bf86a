// Package pep3333 holds the PEP 3333 specs, one file per section of the PEP.
// Each spec observes the server through the probe app (apps/probe.py): its
// environ dump with exact bytes, its sink events and the raw wire.
package pep3333

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

const (
	secApp     = "PEP 3333 / Specification Details"
	secEnviron = "PEP 3333 / environ Variables"
)

func init() {
	f.RegisterFunc(appSpecs)
	f.RegisterFunc(environSpecs)
}

func appSpecs() []*f.Spec {
	return []*f.Spec{
		{
			ID: "pep3333/app/positional-args", Level: f.MUST, Section: secApp,
			Sentence: "The server or gateway invokes the application callable … the application object must accept two positional arguments (environ, start_response).",
			Stimulus: "GET /; the probe records len(args) and the keyword names it was called with.",
			Outcomes: []f.Outcome{f.Pass("positional", "called with 2 positional args, no keywords"), f.Fail("other", "called otherwise")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "hello"})
				ev, ok := t.Sink.WaitEv(x.ID, f.EventTimeout, "call")
				if !ok {
					t.Fatalf("probe app not called: %s", x.Summary())
				}
				if ev.Int("nargs") == 2 && fmt.Sprint(ev.Data["kwargs"]) == "[]" {
					return f.Out("positional", "nargs=2")
				}
				return f.Out("other", "nargs=%d kwargs=%v", ev.Int("nargs"), ev.Data["kwargs"])
			},
		},
		{
			ID: "pep3333/app/environ-is-dict", Level: f.MUST, Section: secEnviron,
			Sentence: "The environ parameter is a dictionary object … must be a builtin Python dictionary (not a subclass, UserDict or other dictionary emulation).",
			Stimulus: "GET /; the probe records type(environ).",
			Outcomes: []f.Outcome{f.Pass("dict", "type(environ) is dict"), f.Fail("other", "another type")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "hello"})
				ev, ok := t.Sink.WaitEv(x.ID, f.EventTimeout, "call")
				if !ok {
					t.Fatalf("probe app not called: %s", x.Summary())
				}
				if ev.Str("environ_type") == "builtins.dict" {
					return f.Out("dict", "builtins.dict")
				}
				return f.Out("other", "%s", ev.Str("environ_type"))
			},
		},
		{
			ID: "pep3333/app/invoked-once-per-request", Level: f.MUST, Section: secApp,
			Sentence: "The application object … is invoked once for each request received from an HTTP client.",
			Stimulus: "Two GET requests on separate connections; count the probe's call events per request id.",
			Outcomes: []f.Outcome{f.Pass("once", "exactly one invocation per request"), f.Fail("other", "zero or several invocations")},
			Run: func(t *f.T) f.Result {
				var counts []int
				for i := 0; i < 2; i++ {
					x := t.Do(f.Req{Do: "hello"})
					if x.Status() != 200 {
						t.Fatalf("hello request failed: %s", x.Summary())
					}
					t.Sink.WaitEv(x.ID, f.EventTimeout, "call")
					counts = append(counts, t.Sink.Count(x.ID, "call"))
				}
				if counts[0] == 1 && counts[1] == 1 {
					return f.Out("once", "1 and 1")
				}
				return f.Out("other", "invocations %v", counts)
			},
		},
	}
}

// present reports a str CGI value as in "KEY='v'" form.
func show(env f.Env, k string) string { return env.Show(k) }

// port is the port of a "host:port" address.
func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

func envSpec(id, level, sentence, stimulus string, req f.Req, outs []f.Outcome, check func(t *f.T, env f.Env, x *f.Exchange) f.Result) *f.Spec {
	return f.EnvCheck(&f.Spec{ID: "pep3333/environ/" + id, Level: level, Section: secEnviron, Sentence: sentence, Stimulus: stimulus, Outcomes: outs}, req, check)
}

// eqSpec: a valid request whose dump must show key == want (MUST).
func eqSpec(id, level, sentence, stimulus string, req f.Req, key, want string) *f.Spec {
	return envSpec(id, level, sentence, stimulus, req,
		[]f.Outcome{f.Pass("equal", key+" == "+strconv.Quote(want)), f.Violation(level, "different", key+" differs")},
		func(t *f.T, env f.Env, x *f.Exchange) f.Result {
			if env == nil {
				t.Fatalf("valid request refused: %s", x.Summary())
			}
			if v, ok := env.Get(key); ok && env[key].T == "str" && v == want {
				return f.Out("equal", "%s", show(env, key))
			}
			return f.Out("different", "%s, want %q", show(env, key), want)
		})
}

var cgiRequired = []string{"REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "wsgi.version", "wsgi.url_scheme", "wsgi.input", "wsgi.errors", "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"}

func environSpecs() []*f.Spec {
	get := func(target string) f.Req { return f.Req{Target: target} }
	var specs []*f.Spec
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"} {
		m := m
		specs = append(specs, eqSpec("request-method-"+strings.ToLower(m), f.MUST,
			"REQUEST_METHOD: The HTTP request method, such as \"GET\" or \"POST\". This cannot ever be an empty string, and so is always required.",
			m+" / with a probe env request.", f.Req{Method: m, Target: "/m"}, "REQUEST_METHOD", m))
	}
	specs = append(specs,
		envSpec("request-method-extension", f.INFO,
			"REQUEST_METHOD is the method token as sent; servers may restrict methods (PEP silent on unknown methods).",
			"PROPFIND / and FOO / (extension methods).", f.Req{Method: "PROPFIND"},
			[]f.Outcome{f.Info("passed", "extension methods reach the app unchanged"), f.Info("refused", "the server refuses extension methods")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					return f.Out("refused", "%s", x.Summary())
				}
				d, x2 := t.Env(f.Req{Method: "FOO"})
				if d == nil {
					return f.Out("refused", "PROPFIND ok, FOO: %s", x2.Summary())
				}
				return f.Out("passed", "%s; %s", show(env, "REQUEST_METHOD"), show(d.Environ, "REQUEST_METHOD"))
			}),
		envSpec("request-method-case", f.INFO,
			"Methods are case-sensitive (RFC 9110 §9.1); a lower-case method is a different method.",
			"get / (lower case).", f.Req{Method: "get"},
			[]f.Outcome{f.Info("preserved", "REQUEST_METHOD == 'get'"), f.Info("refused", "request refused"), f.Info("folded", "case changed")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					return f.Out("refused", "%s", x.Summary())
				}
				if v, _ := env.Get("REQUEST_METHOD"); v == "get" {
					return f.Out("preserved", "%s", show(env, "REQUEST_METHOD"))
				}
				return f.Out("folded", "%s", show(env, "REQUEST_METHOD"))
			}),
		envSpec("script-name-root", f.MUST,
			"SCRIPT_NAME: The initial portion of the request URL's path that corresponds to the application object … This may be an empty string, if the application corresponds to the root of the server.",
			"GET /x on a root-mounted app.", get("/x"),
			[]f.Outcome{f.Pass("empty", "SCRIPT_NAME == ''"), f.NonStrict("absent", "SCRIPT_NAME omitted (empty values may be omitted)"), f.Fail("other", "another value, e.g. '/'")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				v, ok := env.Get("SCRIPT_NAME")
				switch {
				case !ok:
					return f.Out("absent", "SCRIPT_NAME absent")
				case v == "" && env["SCRIPT_NAME"].T == "str":
					return f.Out("empty", "%s", show(env, "SCRIPT_NAME"))
				}
				return f.Out("other", "%s", show(env, "SCRIPT_NAME"))
			}),
		eqSpec("path-info-percent-decoded-latin1", f.MUST,
			"PATH_INFO … native strings … decoded as ISO-8859-1 (\"bytes-as-unicode\"): the percent-decoded octets, one code point each.",
			"GET /%C3%A9", get("/%C3%A9"), "PATH_INFO", "/\xc3\xa9"),
		eqSpec("path-info-percent-ff", f.MUST,
			"PATH_INFO holds the decoded octets as latin-1 code points, whatever they are.",
			"GET /%FF", get("/%FF"), "PATH_INFO", "/\xff"),
		eqSpec("path-info-percent-space", f.MUST,
			"PATH_INFO is percent-decoded (CGI semantics).",
			"GET /a%20b", get("/a%20b"), "PATH_INFO", "/a b"),
		eqSpec("path-info-root", f.MUST,
			"PATH_INFO: The remainder of the request URL's path, designating the virtual location of the request's target within the application.",
			"GET /", get("/"), "PATH_INFO", "/"),
		eqSpec("path-info-excludes-query", f.MUST,
			"PATH_INFO is the path only; the query goes to QUERY_STRING.",
			"GET /p?q=1", get("/p?q=1"), "PATH_INFO", "/p"),
		envSpec("path-info-raw-nonascii", f.INFO,
			"Raw non-ASCII octets in the request-target are invalid (RFC 3986); a server may refuse them or pass them as latin-1.",
			"GET /\\xc3\\xa9 (raw octets)", get("/\xc3\xa9"),
			[]f.Outcome{f.Info("latin1", "PATH_INFO == '/\\xc3\\xa9'"), f.Info("refused", "400"), f.Info("other", "another value")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					return f.Out("refused", "%s", x.Summary())
				}
				if v, _ := env.Get("PATH_INFO"); v == "/\xc3\xa9" {
					return f.Out("latin1", "%s", show(env, "PATH_INFO"))
				}
				return f.Out("other", "%s", show(env, "PATH_INFO"))
			}),
		infoValue("path-info-encoded-slash", "%2F in the path: decoded to '/' (CGI) or kept; apps needing it use RAW_URI/REQUEST_URI.", "GET /a%2Fb", get("/a%2Fb"), "PATH_INFO"),
		infoValue("path-info-dot-segments", "Dot segments may be passed through or normalised (PEP silent).", "GET /a/../b/./c", get("/a/../b/./c"), "PATH_INFO"),
		infoValue("path-info-double-slash", "Repeated slashes may be passed through or collapsed (PEP silent).", "GET //x//y", get("//x//y"), "PATH_INFO"),
		envSpec("path-info-fragment", f.MUST,
			"PATH_INFO excludes the query and any fragment (a fragment is not part of a request-target; refusing it is fine).",
			"GET /p#frag", get("/p#frag"),
			[]f.Outcome{f.Pass("excluded", "PATH_INFO == '/p'"), f.Pass("refused", "400"), f.Fail("included", "fragment in PATH_INFO")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					return f.Out("refused", "%s", x.Summary())
				}
				if v, _ := env.Get("PATH_INFO"); v == "/p" {
					return f.Out("excluded", "%s", show(env, "PATH_INFO"))
				}
				return f.Out("included", "%s", show(env, "PATH_INFO"))
			}),
		eqSpec("query-string-raw", f.MUST,
			"QUERY_STRING: The portion of the request URL that follows the \"?\", if any (not percent-decoded).",
			"GET /p?a=%20b&c=d+e;f", get("/p?a=%20b&c=d+e;f"), "QUERY_STRING", "a=%20b&c=d+e;f"),
		qsEmpty("query-string-empty", "GET /p? (empty query)", get("/p?")),
		qsEmpty("query-string-absent", "GET /p (no '?')", get("/p")),
		envSpec("query-string-latin1", f.MUST,
			"Non-ASCII query octets are delivered latin-1 decoded (or the request refused as invalid).",
			"GET /p?x=%E9&y=\\xe9 (one raw octet)", get("/p?x=%E9&y=\xe9"),
			[]f.Outcome{f.Pass("latin1", "QUERY_STRING == 'x=%E9&y=\\xe9'"), f.Pass("refused", "400 for the raw octet"), f.Fail("other", "another value")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					return f.Out("refused", "%s", x.Summary())
				}
				if v, _ := env.Get("QUERY_STRING"); v == "x=%E9&y=\xe9" {
					return f.Out("latin1", "%s", show(env, "QUERY_STRING"))
				}
				return f.Out("other", "%s", show(env, "QUERY_STRING"))
			}),
		eqSpec("content-type-present", f.MUST,
			"CONTENT_TYPE: The contents of any Content-Type fields in the HTTP request.",
			"POST with Content-Type: application/x-probe; charset=latin-1",
			f.Req{Method: "POST", Headers: []string{"Content-Type: application/x-probe; charset=latin-1"}, Body: []byte("hello")},
			"CONTENT_TYPE", "application/x-probe; charset=latin-1"),
		envSpec("content-type-absent", f.MUST,
			"CONTENT_TYPE … May be empty or absent.",
			"POST without Content-Type", f.Req{Method: "POST", Body: []byte("hello"), Args: map[string]any{"read": true}},
			[]f.Outcome{f.Pass("absent-or-empty", "absent or ''"), f.NonStrict("invented", "a value the client never sent")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				if v, ok := env.Get("CONTENT_TYPE"); !ok || v == "" {
					return f.Out("absent-or-empty", "%s", show(env, "CONTENT_TYPE"))
				}
				return f.Out("invented", "%s", show(env, "CONTENT_TYPE"))
			}),
		noKey("no-http-content-type", "HTTP_CONTENT_TYPE", "CONTENT_TYPE goes to CONTENT_TYPE, never HTTP_CONTENT_TYPE (wsgiref.validate).",
			f.Req{Method: "POST", Headers: []string{"Content-Type: text/plain"}, Body: []byte("hello")}),
		noKey("no-http-content-length", "HTTP_CONTENT_LENGTH", "Content-Length goes to CONTENT_LENGTH, never HTTP_CONTENT_LENGTH (wsgiref.validate).",
			f.Req{Method: "POST", Body: []byte("hello")}),
		eqSpec("content-length-present", f.MUST,
			"CONTENT_LENGTH: The contents of any Content-Length fields in the HTTP request.",
			"POST with a 5-byte body", f.Req{Method: "POST", Body: []byte("hello"), Args: map[string]any{"read": true}}, "CONTENT_LENGTH", "5"),
		envSpec("content-length-absent", f.MUST,
			"CONTENT_LENGTH … May be empty or absent.",
			"GET without a body", get("/"),
			[]f.Outcome{f.Pass("absent-or-empty", "absent or ''"), f.Fail("other", "a value the client never sent")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				if v, ok := env.Get("CONTENT_LENGTH"); !ok || v == "" {
					return f.Out("absent-or-empty", "%s", show(env, "CONTENT_LENGTH"))
				}
				return f.Out("other", "%s", show(env, "CONTENT_LENGTH"))
			}),
		envSpec("content-length-leading-zeros", f.INFO,
			"Content-Length: 007 is valid (1*DIGIT); CONTENT_LENGTH may keep or normalise the digits.",
			"POST Content-Length: 007 with 7 bytes", f.Req{Method: "POST", Headers: []string{"Content-Length: 007"}, Body: []byte("1234567"), Args: map[string]any{"read": true}},
			[]f.Outcome{f.Info("kept", "'007'"), f.Info("normalised", "'7'"), f.Info("refused", "request refused"), f.Info("other", "another value")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					return f.Out("refused", "%s", x.Summary())
				}
				switch v, _ := env.Get("CONTENT_LENGTH"); v {
				case "007":
					return f.Out("kept", "%s", show(env, "CONTENT_LENGTH"))
				case "7":
					return f.Out("normalised", "%s", show(env, "CONTENT_LENGTH"))
				}
				return f.Out("other", "%s", show(env, "CONTENT_LENGTH"))
			}),
		envSpec("server-name-port", f.MUST,
			"SERVER_NAME, SERVER_PORT: … can never be empty strings, and so are always required.",
			"GET /", get("/"),
			[]f.Outcome{f.Pass("present", "both non-empty str"), f.Fail("missing", "absent, empty or not str")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				for _, k := range []string{"SERVER_NAME", "SERVER_PORT"} {
					if v, ok := env.Get(k); !ok || v == "" || env[k].T != "str" {
						return f.Out("missing", "%s", show(env, k))
					}
				}
				return f.Out("present", "%s %s", show(env, "SERVER_NAME"), show(env, "SERVER_PORT"))
			}),
		envSpec("server-port-matches", f.MUST,
			"SERVER_PORT is the port the request was received on (with HTTP_HOST, used for URL reconstruction).",
			"GET / with Host: <listen address>", get("/"),
			[]f.Outcome{f.Pass("equal", "SERVER_PORT == the listening port"),
				f.Pass("upstream", "behind a proxy: the port the server itself received the request on (RFC 3875 §4.1.15)"),
				f.Fail("different", "another value")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				want := port(t.Target.Addr)
				v, _ := env.Get("SERVER_PORT")
				if v == want {
					return f.Out("equal", "%s", show(env, "SERVER_PORT"))
				}
				if p := t.Target.Proxy; p != nil && v == port(p.Upstream) {
					return f.Out("upstream", "%s, the server's own port behind %s", show(env, "SERVER_PORT"), p.Name)
				}
				return f.Out("different", "%s, listening on %s", show(env, "SERVER_PORT"), want)
			}),
		eqSpec("server-protocol-11", f.MUST,
			"SERVER_PROTOCOL: The version of the protocol the client used to send the request.",
			"GET / HTTP/1.1", get("/"), "SERVER_PROTOCOL", "HTTP/1.1"),
		envSpec("server-protocol-10", f.MUST,
			"SERVER_PROTOCOL: The version of the protocol the client used to send the request.",
			"GET / HTTP/1.0", f.Req{Proto: "HTTP/1.0"},
			[]f.Outcome{f.Pass("equal", `SERVER_PROTOCOL == "HTTP/1.0"`),
				f.Pass("proxy-version", "behind a proxy: the version the proxy sent, its own (RFC 9110 §6.2: intermediaries MUST send their own HTTP-version)"),
				f.Fail("different", "SERVER_PROTOCOL differs")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				v, ok := env.Get("SERVER_PROTOCOL")
				ok = ok && env["SERVER_PROTOCOL"].T == "str"
				if ok && v == "HTTP/1.0" {
					return f.Out("equal", "%s", show(env, "SERVER_PROTOCOL"))
				}
				if p := t.Target.Proxy; p != nil && ok && v == p.Version {
					return f.Out("proxy-version", "%s, what %s forwards with", show(env, "SERVER_PROTOCOL"), p.Name)
				}
				return f.Out("different", "%s, want %q", show(env, "SERVER_PROTOCOL"), "HTTP/1.0")
			}),
		eqSpec("http-header-name-mapping", f.SHOULD,
			"HTTP_ Variables: Variables corresponding to the client-supplied HTTP request headers (i.e., variables whose names begin with \"HTTP_\").",
			"x-FoO-bar: 1", f.Req{Headers: []string{"x-FoO-bar: 1"}}, "HTTP_X_FOO_BAR", "1"),
		envSpec("http-header-not-invented", f.SHOULD,
			"The presence or absence of these variables should correspond with the presence or absence of the appropriate HTTP header in the request.",
			"GET / with only Host and the probe headers", get("/"),
			[]f.Outcome{f.Pass("exact", "HTTP_* keys are exactly the headers sent"), f.NonStrict("extra", "HTTP_* keys for headers never sent")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				var extra []string
				for k := range env {
					// A proxy's own headers (X-Forwarded-For, …) were sent to the server.
					if strings.HasPrefix(k, "HTTP_") && k != "HTTP_HOST" && !strings.HasPrefix(k, "HTTP_X_PROBE_") && !t.Target.Proxy.Added(k) {
						extra = append(extra, k)
					}
				}
				if len(extra) == 0 {
					return f.Out("exact", "no extra HTTP_* keys")
				}
				return f.Out("extra", "%v", extra)
			}),
		eqSpec("empty-header-value", f.SHOULD,
			"A header sent with an empty value is present in environ with an empty value.",
			"X-Empty: (empty value)", f.Req{Headers: []string{"X-Empty:"}}, "HTTP_X_EMPTY", ""),
		eqSpec("header-ows-trimmed", f.MUST,
			"RFC 9110 §5.5: leading and trailing whitespace is excluded from the field value; interior whitespace is kept.",
			"Name: \\t value  with  space \\t ", f.Req{Headers: []string{"X-Pad: \t value  with  space \t "}}, "HTTP_X_PAD", "value  with  space"),
		envSpec("duplicate-headers-joined", f.SHOULD,
			"RFC 9110 §5.3: a recipient MAY combine multiple field lines … into one field line … by appending each subsequent field line value … separated by a comma.",
			"X-Dup: a and X-Dup: b", f.Req{Headers: []string{"X-Dup: a", "X-Dup: b"}},
			[]f.Outcome{f.Pass("joined", "'a,b' or 'a, b'"), f.NonStrict("lost", "one value lost or another form")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				if v, _ := env.Get("HTTP_X_DUP"); v == "a,b" || v == "a, b" {
					return f.Out("joined", "%s", show(env, "HTTP_X_DUP"))
				}
				return f.Out("lost", "%s", show(env, "HTTP_X_DUP"))
			}),
		envSpec("underscore-header-no-collision", f.SHOULD,
			"Header names with '_' must not override the '-' form once both map to the same HTTP_ key (header smuggling past proxies); drop them, refuse, or keep them apart.",
			"X-Foo: a then X_Foo: b", f.Req{Headers: []string{"X-Foo: a", "X_Foo: b"}},
			[]f.Outcome{f.Pass("unambiguous", "HTTP_X_FOO == 'a'"), f.Pass("refused", "400"), f.NonStrict("merged", "the '_' header changed HTTP_X_FOO")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					return f.Out("refused", "%s", x.Summary())
				}
				if v, _ := env.Get("HTTP_X_FOO"); v == "a" {
					return f.Out("unambiguous", "%s", show(env, "HTTP_X_FOO"))
				}
				return f.Out("merged", "%s", show(env, "HTTP_X_FOO"))
			}),
		envSpec("underscore-content-length", f.SHOULD,
			"A Content_Length header must never become CONTENT_LENGTH (framing seen by the app would differ from the server's).",
			"GET with Content_Length: 99 (underscore)", f.Req{Headers: []string{"Content_Length: 99"}},
			[]f.Outcome{f.Pass("ignored", "CONTENT_LENGTH not '99'"), f.Pass("refused", "400"), f.NonStrict("mapped", "CONTENT_LENGTH == '99'")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					return f.Out("refused", "%s", x.Summary())
				}
				if v, _ := env.Get("CONTENT_LENGTH"); v == "99" {
					return f.Out("mapped", "%s", show(env, "CONTENT_LENGTH"))
				}
				return f.Out("ignored", "%s", show(env, "CONTENT_LENGTH"))
			}),
		envSpec("header-cannot-set-script-name", f.SHOULD,
			"A request header must not set CGI/WSGI meta-variables such as SCRIPT_NAME unless the operator enabled it for trusted peers.",
			"Script-Name: /evil and SCRIPT_NAME: /evil headers", f.Req{Target: "/x", Headers: []string{"Script-Name: /evil", "SCRIPT_NAME: /evil"}},
			[]f.Outcome{f.Pass("unchanged", "SCRIPT_NAME stays ''"), f.Pass("refused", "400"), f.NonStrict("changed", "SCRIPT_NAME taken from the header")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					return f.Out("refused", "%s", x.Summary())
				}
				if v, _ := env.Get("SCRIPT_NAME"); v == "/evil" {
					return f.Out("changed", "%s %s", show(env, "SCRIPT_NAME"), show(env, "PATH_INFO"))
				}
				return f.Out("unchanged", "%s", show(env, "SCRIPT_NAME"))
			}),
		envSpec("hop-by-hop-visible", f.INFO,
			"Inbound hop-by-hop headers may or may not appear as HTTP_* (applications must not rely on them).",
			"POST Transfer-Encoding: chunked with body 'hello'",
			f.Req{Method: "POST", Headers: []string{"Transfer-Encoding: chunked"}, Body: []byte("5\r\nhello\r\n0\r\n\r\n"), Args: map[string]any{"read": true}},
			[]f.Outcome{f.Info("visible", "HTTP_TRANSFER_ENCODING present"), f.Info("hidden", "absent"), f.Info("refused", "chunked request refused")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					return f.Out("refused", "%s", x.Summary())
				}
				if _, ok := env["HTTP_TRANSFER_ENCODING"]; ok {
					return f.Out("visible", "%s", show(env, "HTTP_TRANSFER_ENCODING"))
				}
				return f.Out("hidden", "HTTP_TRANSFER_ENCODING absent")
			}),
		envSpec("cgi-values-are-str", f.MUST,
			"It is a violation of this specification for any CGI variable's value to be of any type other than str.",
			"GET /p?q=1 with a few headers; every key without a dot is checked", f.Req{Target: "/p?q=1", Headers: []string{"X-A: 1", "Accept: */*"}},
			[]f.Outcome{f.Pass("all-str", "every CGI value is str"), f.Fail("non-str", "some value is not str")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				var bad []string
				for k, v := range env {
					if !strings.Contains(k, ".") && v.T != "str" {
						bad = append(bad, k+":"+v.T)
					}
				}
				if len(bad) > 0 {
					return f.Out("non-str", "%v", bad)
				}
				return f.Out("all-str", "%d CGI keys", countCGI(env))
			}),
		envSpec("no-code-points-above-ff", f.MUST,
			"Servers must not supply strings containing code points above U+00FF (\"bytes-as-unicode\" via latin-1).",
			"GET /%E2%82%AC with header X-U: \\xc3\\xa9\\xe2\\x82\\xac (raw UTF-8)",
			f.Req{Target: "/%E2%82%AC", Headers: []string{"X-U: \xc3\xa9\xe2\x82\xac"}},
			[]f.Outcome{f.Pass("latin1", "all values latin-1 and HTTP_X_U/PATH_INFO carry the raw octets"), f.Fail("decoded", "a value has code points > 255 or was re-decoded"),
				f.Fail("dropped", "HTTP_X_U is empty: its octets were thrown away, not delivered as latin-1")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				for k, v := range env {
					if v.NonLatin1 {
						return f.Out("decoded", "%s has code points > 255: %s", k, v.R)
					}
				}
				if v, _ := env.Get("HTTP_X_U"); v == "" {
					return f.Out("dropped", "%s", show(env, "HTTP_X_U"))
				} else if v != "\xc3\xa9\xe2\x82\xac" {
					return f.Out("decoded", "%s", show(env, "HTTP_X_U"))
				}
				if v, _ := env.Get("PATH_INFO"); v != "/\xe2\x82\xac" {
					return f.Out("decoded", "%s", show(env, "PATH_INFO"))
				}
				return f.Out("latin1", "%s %s", show(env, "HTTP_X_U"), show(env, "PATH_INFO"))
			}),
		eqSpec("header-obs-text-latin1", f.MUST,
			"RFC 9110 §5.5 obs-text (0x80–0xFF) in values is delivered as latin-1 code points, nothing stripped (waitress#432 stripped \\x85/\\xa0).",
			"X-Obs: \\x85caf\\xe9\\xa0", f.Req{Headers: []string{"X-Obs: \x85caf\xe9\xa0"}}, "HTTP_X_OBS", "\x85caf\xe9\xa0"),
		envSpec("wsgi-version", f.MUST,
			"wsgi.version: The tuple (1, 0), representing WSGI version 1.0.",
			"GET /", get("/"),
			[]f.Outcome{f.Pass("ok", "(1, 0) tuple"), f.Fail("other", "another value or type")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				if v := env["wsgi.version"]; v.T == "tuple" && v.R == "(1, 0)" {
					return f.Out("ok", "%s", show(env, "wsgi.version"))
				}
				return f.Out("other", "%s", show(env, "wsgi.version"))
			}),
		eqSpec("url-scheme", f.MUST,
			"wsgi.url_scheme: A string representing the \"scheme\" portion of the URL at which the application is being invoked. Normally, this will have the value \"http\" or \"https\".",
			"GET / over plain TCP", get("/"), "wsgi.url_scheme", "http"),
		envSpec("required-keys", f.MUST,
			"The environ dictionary is required to contain these CGI environment variables … and these WSGI-defined variables (wsgi.version … wsgi.run_once).",
			"GET /", get("/"),
			[]f.Outcome{f.Pass("present", "all required keys present"), f.Fail("missing", "a required key is absent")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				var miss []string
				for _, k := range cgiRequired {
					if _, ok := env[k]; !ok {
						miss = append(miss, k)
					}
				}
				if len(miss) > 0 {
					return f.Out("missing", "%v", miss)
				}
				return f.Out("present", "%d keys", len(cgiRequired))
			}),
		attrSpec("wsgi-input-methods", "wsgi.input", "probe.input_attrs", "['__iter__', 'read', 'readline', 'readlines']",
			"wsgi.input: An input stream (file-like object) … must support read(size), readline(), readlines(hint) and __iter__()."),
		attrSpec("wsgi-errors-methods", "wsgi.errors", "probe.errors_attrs", "['flush', 'write', 'writelines']",
			"wsgi.errors: An output stream … must support write(str), writelines(seq) and flush()."),
		envSpec("concurrency-flags-bool", f.SHOULD,
			"wsgi.multithread / wsgi.multiprocess / wsgi.run_once: This value should evaluate true if … (flags; bool expected by frameworks).",
			"GET /", get("/"),
			[]f.Outcome{f.Pass("bool", "all three are bool"), f.NonStrict("other-type", "present but not bool")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				for _, k := range []string{"wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"} {
					if env[k].T != "bool" {
						return f.Out("other-type", "%s", show(env, k))
					}
				}
				return f.Out("bool", "%s %s %s", show(env, "wsgi.multithread"), show(env, "wsgi.multiprocess"), show(env, "wsgi.run_once"))
			}),
		envSpec("concurrency-flags-values", f.INFO,
			"wsgi.multithread / wsgi.multiprocess should reflect the server's concurrency model (recorded: the suite does not know the profile's model).",
			"GET /", get("/"),
			[]f.Outcome{f.Info("recorded", "values recorded")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				return f.Out("recorded", "multithread=%s multiprocess=%s", env["wsgi.multithread"].R, env["wsgi.multiprocess"].R)
			}),
		envSpec("run-once-false", f.SHOULD,
			"wsgi.run_once: This value should evaluate true if the server or gateway expects (but does not guarantee!) that the application will only be invoked this one time during the life of its containing process (CGI only).",
			"GET /", get("/"),
			[]f.Outcome{f.Pass("false", "False for a long-running server"), f.NonStrict("true", "True")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				if env["wsgi.run_once"].R == "False" {
					return f.Out("false", "False")
				}
				return f.Out("true", "%s", show(env, "wsgi.run_once"))
			}),
		envSpec("server-keys-prefixed", f.SHOULD,
			"Server-defined variables … should be named using only lower-case letters, numbers, dots, and underscores, and should be prefixed with a name that is unique to the defining server or gateway.",
			"GET /; every key with a dot outside wsgi.* is checked", get("/"),
			[]f.Outcome{f.Pass("ok", "all extension keys well-named"), f.NonStrict("bad-name", "a key breaks the naming rule")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				re := regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)+$`)
				var bad []string
				for k := range env {
					if strings.Contains(k, ".") && !strings.HasPrefix(k, "wsgi.") && !strings.HasPrefix(k, "probe.") && !re.MatchString(k) {
						bad = append(bad, k)
					}
				}
				if len(bad) > 0 {
					return f.Out("bad-name", "%v", bad)
				}
				return f.Out("ok", "extension keys: %v", extKeys(env))
			}),
		envSpec("remote-addr", f.SHOULD,
			"Servers should try to provide as many other CGI variables as are applicable (REMOTE_ADDR …).",
			"GET / from 127.0.0.1", get("/"),
			[]f.Outcome{f.Pass("present", "REMOTE_ADDR == '127.0.0.1'"), f.NonStrict("missing", "absent or wrong")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				if v, _ := env.Get("REMOTE_ADDR"); v == "127.0.0.1" {
					return f.Out("present", "%s", show(env, "REMOTE_ADDR"))
				}
				return f.Out("missing", "%s", show(env, "REMOTE_ADDR"))
			}),
		envSpec("remote-user-absent", f.SHOULD,
			"… variables that are not applicable (such as REMOTE_USER when no authentication took place) should be left out.",
			"GET / with Authorization: Basic (no server auth configured)", f.Req{Headers: []string{"Authorization: Basic dXNlcjpwYXNz"}},
			[]f.Outcome{f.Pass("absent", "REMOTE_USER absent"), f.NonStrict("present", "REMOTE_USER set without server auth")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				if _, ok := env["REMOTE_USER"]; ok {
					return f.Out("present", "%s", show(env, "REMOTE_USER"))
				}
				return f.Out("absent", "REMOTE_USER absent")
			}),
		envSpec("extras", f.INFO,
			"Servers may add CGI variables such as SERVER_SOFTWARE, GATEWAY_INTERFACE, REMOTE_PORT, RAW_URI, REQUEST_URI.",
			"GET /a%20b?q", get("/a%20b?q"),
			[]f.Outcome{f.Info("recorded", "non-HTTP_ CGI keys recorded")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				var keys []string
				for _, k := range []string{"SERVER_SOFTWARE", "GATEWAY_INTERFACE", "REMOTE_PORT", "RAW_URI", "REQUEST_URI"} {
					if _, ok := env[k]; ok {
						keys = append(keys, k)
					}
				}
				return f.Out("recorded", "%v", keys)
			}),
		&f.Spec{
			ID: "pep3333/environ/fresh-per-request", Level: f.MUST, Section: secEnviron,
			Sentence: "The application is allowed to modify the dictionary in any way it desires (so each request needs its own environ).",
			Stimulus: "Request 1 adds environ['probe.leak'] and deletes HTTP_HOST; request 2 on a new connection dumps environ.",
			Outcomes: []f.Outcome{f.Pass("fresh", "no leak, HTTP_HOST present"), f.Fail("leaked", "mutations visible in the next request")},
			Run: func(t *f.T) f.Result {
				for i := 0; i < 2; i++ {
					t.MustEnv(f.Req{Args: map[string]any{"mutate": true}})
				}
				env := t.MustEnv(f.Req{})
				if _, ok := env["probe.leak"]; ok {
					return f.Out("leaked", "probe.leak present")
				}
				if _, ok := env["HTTP_HOST"]; !ok {
					return f.Out("leaked", "HTTP_HOST missing")
				}
				return f.Out("fresh", "clean environ")
			},
		},
		envSpec("url-reconstruction", f.MUST,
			"URL Reconstruction: quote(SCRIPT_NAME) + quote(PATH_INFO) (+ '?' + QUERY_STRING) reproduces the request URL.",
			"GET /r%20s/t?u=v", get("/r%20s/t?u=v"),
			[]f.Outcome{f.Pass("reconstructs", "SCRIPT_NAME+PATH_INFO == '/r s/t', QUERY_STRING == 'u=v'"), f.Fail("broken", "does not reconstruct")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					t.Fatalf("valid request refused: %s", x.Summary())
				}
				sn, _ := env.Get("SCRIPT_NAME")
				pi, _ := env.Get("PATH_INFO")
				qs, _ := env.Get("QUERY_STRING")
				if sn+pi == "/r s/t" && qs == "u=v" {
					return f.Out("reconstructs", "%q + %q ? %q", sn, pi, qs)
				}
				return f.Out("broken", "%q + %q ? %q", sn, pi, qs)
			}),
		envSpec("absolute-form", f.INFO,
			"RFC 9112 §3.2.2: a server MUST accept the absolute-form; PATH_INFO/QUERY_STRING come from the target; HTTP_HOST recorded.",
			"GET http://example.com/foo?q=1 HTTP/1.1 with Host: other", f.Req{Target: "http://example.com/foo?q=1", Host: "other"},
			[]f.Outcome{f.Info("target-host", "path from target, HTTP_HOST example.com"), f.Info("header-host", "path from target, HTTP_HOST as sent"), f.Info("refused", "absolute-form refused"), f.Info("other", "path not taken from the target")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					return f.Out("refused", "%s", x.Summary())
				}
				pi, _ := env.Get("PATH_INFO")
				qs, _ := env.Get("QUERY_STRING")
				h, _ := env.Get("HTTP_HOST")
				if pi != "/foo" || qs != "q=1" {
					return f.Out("other", "%s %s", show(env, "PATH_INFO"), show(env, "QUERY_STRING"))
				}
				if h == "example.com" {
					return f.Out("target-host", "%s", show(env, "HTTP_HOST"))
				}
				return f.Out("header-host", "%s", show(env, "HTTP_HOST"))
			}),
		envSpec("options-asterisk", f.INFO,
			"OPTIONS * HTTP/1.1: what PATH_INFO becomes ('*' violates wsgiref.validate's leading '/').",
			"OPTIONS * HTTP/1.1", f.Req{Method: "OPTIONS", Target: "*"},
			[]f.Outcome{f.Info("recorded", "PATH_INFO recorded"), f.Info("refused", "not passed to the app")},
			func(t *f.T, env f.Env, x *f.Exchange) f.Result {
				if env == nil {
					return f.Out("refused", "%s", x.Summary())
				}
				return f.Out("recorded", "%s", show(env, "PATH_INFO"))
			}),
	)
	_ = time.Second
	return specs
}

func countCGI(env f.Env) int {
	n := 0
	for k := range env {
		if !strings.Contains(k, ".") {
			n++
		}
	}
	return n
}

func extKeys(env f.Env) []string {
	var out []string
	for k := range env {
		if strings.Contains(k, ".") && !strings.HasPrefix(k, "wsgi.") && !strings.HasPrefix(k, "probe.") {
			out = append(out, k)
		}
	}
	return out
}

func infoValue(id, sentence, stimulus string, req f.Req, key string) *f.Spec {
	return envSpec(id, f.INFO, sentence, stimulus, req,
		[]f.Outcome{f.Info("recorded", "value recorded"), f.Info("refused", "request refused")},
		func(t *f.T, env f.Env, x *f.Exchange) f.Result {
			if env == nil {
				return f.Out("refused", "%s", x.Summary())
			}
			return f.Out("recorded", "%s", show(env, key))
		})
}

func qsEmpty(id, stimulus string, req f.Req) *f.Spec {
	return envSpec(id, f.MUST,
		"QUERY_STRING: The portion of the request URL that follows the \"?\", if any. May be empty or absent.",
		stimulus, req,
		[]f.Outcome{f.Pass("empty", "QUERY_STRING == ''"), f.NonStrict("absent", "absent (wsgiref.validate warns)"), f.Fail("other", "another value")},
		func(t *f.T, env f.Env, x *f.Exchange) f.Result {
			if env == nil {
				t.Fatalf("valid request refused: %s", x.Summary())
			}
			v, ok := env.Get("QUERY_STRING")
			switch {
			case !ok:
				return f.Out("absent", "QUERY_STRING absent")
			case v == "":
				return f.Out("empty", "%s", show(env, "QUERY_STRING"))
			}
			return f.Out("other", "%s", show(env, "QUERY_STRING"))
		})
}

func noKey(id, key, sentence string, req f.Req) *f.Spec {
	return envSpec(id, f.MUST, sentence, "POST with a body and headers; "+key+" must not exist", req,
		[]f.Outcome{f.Pass("absent", key+" absent"), f.Fail("present", key+" present")},
		func(t *f.T, env f.Env, x *f.Exchange) f.Result {
			if env == nil {
				t.Fatalf("valid request refused: %s", x.Summary())
			}
			if _, ok := env[key]; ok {
				return f.Out("present", "%s", show(env, key))
			}
			return f.Out("absent", "%s absent", key)
		})
}

func attrSpec(id, key, probeKey, want, sentence string) *f.Spec {
	return envSpec(id, f.MUST, sentence, "GET /; the probe lists which methods "+key+" has", f.Req{},
		[]f.Outcome{f.Pass("complete", "all methods present"), f.Fail("missing", "a method is missing")},
		func(t *f.T, env f.Env, x *f.Exchange) f.Result {
			if env == nil {
				t.Fatalf("valid request refused: %s", x.Summary())
			}
			if env[probeKey].R == want {
				return f.Out("complete", "%s", env[probeKey].R)
			}
			return f.Out("missing", "has %s, want %s", env[probeKey].R, want)
		})
}
