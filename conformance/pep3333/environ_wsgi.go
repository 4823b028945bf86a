package pep3333

import (
	"regexp"
	"strings"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

// wsgiVariableSpecs: the WSGI-defined wsgi.* variables and the keys every
// environ must hold.
func wsgiVariableSpecs() []*f.Spec {
	return []*f.Spec{
		envSpec("wsgi-version", f.MUST,
			"wsgi.version: The tuple (1, 0), representing WSGI version 1.0.",
			"GET /", get("/"),
			[]f.Outcome{f.Pass("ok", "(1, 0) tuple"), f.Fail("other", "another value or type")},
			served(func(t *f.T, env f.Env) f.Result {
				if v := env["wsgi.version"]; v.T == "tuple" && v.R == "(1, 0)" {
					return f.Out("ok", "%s", show(env, "wsgi.version"))
				}
				return f.Out("other", "%s", show(env, "wsgi.version"))
			})),
		eqSpec("url-scheme", f.MUST,
			"wsgi.url_scheme: A string representing the \"scheme\" portion of the URL at which the application is being invoked. Normally, this will have the value \"http\" or \"https\".",
			"GET / over plain TCP", get("/"), "wsgi.url_scheme", "http"),
		envSpec("required-keys", f.MUST,
			"The environ dictionary is required to contain these CGI environment variables … and these WSGI-defined variables (wsgi.version … wsgi.run_once).",
			"GET /", get("/"),
			[]f.Outcome{f.Pass("present", "all required keys present"), f.Fail("missing", "a required key is absent")},
			served(func(t *f.T, env f.Env) f.Result {
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
			})),
		attrSpec("wsgi-input-methods", "wsgi.input", "probe.input_attrs", "['__iter__', 'read', 'readline', 'readlines']",
			"wsgi.input: An input stream (file-like object) … must support read(size), readline(), readlines(hint) and __iter__()."),
		attrSpec("wsgi-errors-methods", "wsgi.errors", "probe.errors_attrs", "['flush', 'write', 'writelines']",
			"wsgi.errors: An output stream … must support write(str), writelines(seq) and flush()."),
		envSpec("concurrency-flags-bool", f.SHOULD,
			"wsgi.multithread / wsgi.multiprocess / wsgi.run_once: This value should evaluate true if … (flags; bool expected by frameworks).",
			"GET /", get("/"),
			[]f.Outcome{f.Pass("bool", "all three are bool"), f.NonStrict("other-type", "present but not bool")},
			served(func(t *f.T, env f.Env) f.Result {
				for _, k := range []string{"wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"} {
					if env[k].T != "bool" {
						return f.Out("other-type", "%s", show(env, k))
					}
				}
				return f.Out("bool", "%s %s %s", show(env, "wsgi.multithread"), show(env, "wsgi.multiprocess"), show(env, "wsgi.run_once"))
			})),
		envSpec("concurrency-flags-values", f.INFO,
			"wsgi.multithread / wsgi.multiprocess should reflect the server's concurrency model (recorded: the suite does not know the profile's model).",
			"GET /", get("/"),
			[]f.Outcome{f.Info("recorded", "values recorded")},
			served(func(t *f.T, env f.Env) f.Result {
				return f.Out("recorded", "multithread=%s multiprocess=%s", env["wsgi.multithread"].R, env["wsgi.multiprocess"].R)
			})),
		envSpec("run-once-false", f.SHOULD,
			"wsgi.run_once: This value should evaluate true if the server or gateway expects (but does not guarantee!) that the application will only be invoked this one time during the life of its containing process (CGI only).",
			"GET /", get("/"),
			[]f.Outcome{f.Pass("false", "False for a long-running server"), f.NonStrict("true", "True")},
			served(func(t *f.T, env f.Env) f.Result {
				if env["wsgi.run_once"].R == "False" {
					return f.Out("false", "False")
				}
				return f.Out("true", "%s", show(env, "wsgi.run_once"))
			})),
	}
}

// extensionSpecs: the server's own keys and the other CGI variables it may
// add or must leave out.
func extensionSpecs() []*f.Spec {
	return []*f.Spec{
		envSpec("server-keys-prefixed", f.SHOULD,
			"Server-defined variables … should be named using only lower-case letters, numbers, dots, and underscores, and should be prefixed with a name that is unique to the defining server or gateway.",
			"GET /; every key with a dot outside wsgi.* is checked", get("/"),
			[]f.Outcome{f.Pass("ok", "all extension keys well-named"), f.NonStrict("bad-name", "a key breaks the naming rule")},
			served(func(t *f.T, env f.Env) f.Result {
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
			})),
		envSpec("remote-addr", f.SHOULD,
			"Servers should try to provide as many other CGI variables as are applicable (REMOTE_ADDR …).",
			"GET / from 127.0.0.1", get("/"),
			[]f.Outcome{f.Pass("present", "REMOTE_ADDR == '127.0.0.1'"), f.NonStrict("missing", "absent or wrong")},
			served(keyIs("REMOTE_ADDR", "127.0.0.1", "present", "missing"))),
		envSpec("remote-user-absent", f.SHOULD,
			"… variables that are not applicable (such as REMOTE_USER when no authentication took place) should be left out.",
			"GET / with Authorization: Basic (no server auth configured)", f.Req{Headers: []string{"Authorization: Basic dXNlcjpwYXNz"}},
			[]f.Outcome{f.Pass("absent", "REMOTE_USER absent"), f.NonStrict("present", "REMOTE_USER set without server auth")},
			served(func(t *f.T, env f.Env) f.Result {
				if _, ok := env["REMOTE_USER"]; ok {
					return f.Out("present", "%s", show(env, "REMOTE_USER"))
				}
				return f.Out("absent", "REMOTE_USER absent")
			})),
		envSpec("extras", f.INFO,
			"Servers may add CGI variables such as SERVER_SOFTWARE, GATEWAY_INTERFACE, REMOTE_PORT, RAW_URI, REQUEST_URI.",
			"GET /a%20b?q", get("/a%20b?q"),
			[]f.Outcome{f.Info("recorded", "non-HTTP_ CGI keys recorded")},
			served(func(t *f.T, env f.Env) f.Result {
				var keys []string
				for _, k := range []string{"SERVER_SOFTWARE", "GATEWAY_INTERFACE", "REMOTE_PORT", "RAW_URI", "REQUEST_URI"} {
					if _, ok := env[k]; ok {
						keys = append(keys, k)
					}
				}
				return f.Out("recorded", "%v", keys)
			})),
	}
}

// wholeEnvironSpecs: the environ as a whole: fresh per request, URL
// reconstruction, and the request-target forms beyond origin-form.
func wholeEnvironSpecs() []*f.Spec {
	return []*f.Spec{
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
			served(func(t *f.T, env f.Env) f.Result {
				sn, _ := env.Get("SCRIPT_NAME")
				pi, _ := env.Get("PATH_INFO")
				qs, _ := env.Get("QUERY_STRING")
				if sn+pi == "/r s/t" && qs == "u=v" {
					return f.Out("reconstructs", "%q + %q ? %q", sn, pi, qs)
				}
				return f.Out("broken", "%q + %q ? %q", sn, pi, qs)
			})),
		envSpec("absolute-form", f.MUST,
			"RFC 9112 §3.2.2: a server MUST accept the absolute-form in requests; PEP 3333: PATH_INFO is the remainder of the request URL's path and QUERY_STRING the part after '?', so both come from the target's path and query (HTTP_HOST, the Host field as received or the target's authority, is recorded).",
			"GET http://example.com/foo?q=1 HTTP/1.1 with Host: other", f.Req{Target: "http://example.com/foo?q=1", Host: "other"},
			[]f.Outcome{f.Pass("target-host", "PATH_INFO '/foo', QUERY_STRING 'q=1'; HTTP_HOST example.com (the target's authority)"),
				f.Pass("header-host", "PATH_INFO '/foo', QUERY_STRING 'q=1'; HTTP_HOST as sent"),
				f.Fail("refused", "the absolute-form refused"),
				f.Fail("other", "PATH_INFO or QUERY_STRING not the target's path and query (e.g. PATH_INFO 'http://example.com/foo')")},
			orRefused(func(t *f.T, env f.Env) f.Result {
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
			})),
		envSpec("options-asterisk", f.INFO,
			"OPTIONS * HTTP/1.1: what PATH_INFO becomes ('*' violates wsgiref.validate's leading '/').",
			"OPTIONS * HTTP/1.1", f.Req{Method: "OPTIONS", Target: "*"},
			[]f.Outcome{f.Info("recorded", "PATH_INFO recorded"), f.Info("refused", "not passed to the app")},
			orRefused(func(t *f.T, env f.Env) f.Result {
				return f.Out("recorded", "%s", show(env, "PATH_INFO"))
			})),
	}
}

// cgiRequired are the keys every environ holds.
var cgiRequired = []string{"REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "wsgi.version", "wsgi.url_scheme", "wsgi.input", "wsgi.errors", "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"}

// attrSpec: the methods the probe lists (probeKey) for a stream must be want.
func attrSpec(id, key, probeKey, want, sentence string) *f.Spec {
	return envSpec(id, f.MUST, sentence, "GET /; the probe lists which methods "+key+" has", f.Req{},
		[]f.Outcome{f.Pass("complete", "all methods present"), f.Fail("missing", "a method is missing")},
		served(func(t *f.T, env f.Env) f.Result {
			if env[probeKey].R == want {
				return f.Out("complete", "%s", env[probeKey].R)
			}
			return f.Out("missing", "has %s, want %s", env[probeKey].R, want)
		}))
}

// extKeys lists the server's extension keys (a dot, not wsgi. nor probe.).
func extKeys(env f.Env) []string {
	var out []string
	for k := range env {
		if strings.Contains(k, ".") && !strings.HasPrefix(k, "wsgi.") && !strings.HasPrefix(k, "probe.") {
			out = append(out, k)
		}
	}
	return out
}
