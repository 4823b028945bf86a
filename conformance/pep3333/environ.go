package pep3333

import (
	"slices"
	"strconv"
	"strings"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

// environSpecs: environ Variables, a function per group of keys.
func environSpecs() []*f.Spec {
	return slices.Concat(requestMethodSpecs(), pathSpecs(), queryStringSpecs(), contentSpecs(), serverSpecs(),
		httpHeaderSpecs(), strValueSpecs(), wsgiVariableSpecs(), extensionSpecs(), wholeEnvironSpecs())
}

// requestMethodSpecs: REQUEST_METHOD.
func requestMethodSpecs() []*f.Spec {
	var specs []*f.Spec
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"} {
		specs = append(specs, eqSpec("request-method-"+strings.ToLower(m), f.MUST,
			"REQUEST_METHOD: The HTTP request method, such as \"GET\" or \"POST\". This cannot ever be an empty string, and so is always required.",
			m+" / with a probe env request.", f.Req{Method: m, Target: "/m"}, "REQUEST_METHOD", m))
	}
	return append(specs,
		envSpec("request-method-extension", f.INFO,
			"REQUEST_METHOD is the method token as sent; servers may restrict methods (PEP silent on unknown methods).",
			"PROPFIND / and FOO / (extension methods).", f.Req{Method: "PROPFIND"},
			[]f.Outcome{f.Info("passed", "extension methods reach the app unchanged"), f.Info("refused", "the server refuses extension methods")},
			orRefused(func(t *f.T, env f.Env) f.Result {
				d, x2 := t.Env(f.Req{Method: "FOO"})
				if d == nil {
					return f.Out("refused", "PROPFIND ok, FOO: %s", x2.Summary())
				}
				return f.Out("passed", "%s; %s", show(env, "REQUEST_METHOD"), show(d.Environ, "REQUEST_METHOD"))
			})),
		envSpec("request-method-case", f.INFO,
			"Methods are case-sensitive (RFC 9110 §9.1); a lower-case method is a different method.",
			"get / (lower case).", f.Req{Method: "get"},
			[]f.Outcome{f.Info("preserved", "REQUEST_METHOD == 'get'"), f.Info("refused", "request refused"), f.Info("folded", "case changed")},
			orRefused(keyIs("REQUEST_METHOD", "get", "preserved", "folded"))),
	)
}

// pathSpecs: SCRIPT_NAME and PATH_INFO.
func pathSpecs() []*f.Spec {
	specs := []*f.Spec{
		envSpec("script-name-root", f.MUST,
			"SCRIPT_NAME: The initial portion of the request URL's path that corresponds to the application object … This may be an empty string, if the application corresponds to the root of the server.",
			"GET /x on a root-mounted app.", get("/x"),
			[]f.Outcome{f.Pass("empty", "SCRIPT_NAME == ''"), f.NonStrict("absent", "SCRIPT_NAME omitted (empty values may be omitted)"), f.Fail("other", "another value, e.g. '/'")},
			served(func(t *f.T, env f.Env) f.Result {
				v, ok := env.Get("SCRIPT_NAME")
				switch {
				case !ok:
					return f.Out("absent", "SCRIPT_NAME absent")
				case v == "" && env["SCRIPT_NAME"].T == "str":
					return f.Out("empty", "%s", show(env, "SCRIPT_NAME"))
				}
				return f.Out("other", "%s", show(env, "SCRIPT_NAME"))
			})),
	}
	for _, c := range []struct{ id, sentence, target, want string }{
		{"percent-decoded-latin1", "PATH_INFO … native strings … decoded as ISO-8859-1 (\"bytes-as-unicode\"): the percent-decoded octets, one code point each.",
			"/%C3%A9", "/\xc3\xa9"},
		{"percent-ff", "PATH_INFO holds the decoded octets as latin-1 code points, whatever they are.",
			"/%FF", "/\xff"},
		{"percent-space", "PATH_INFO is percent-decoded (CGI semantics).",
			"/a%20b", "/a b"},
		{"root", "PATH_INFO: The remainder of the request URL's path, designating the virtual location of the request's target within the application.",
			"/", "/"},
		{"excludes-query", "PATH_INFO is the path only; the query goes to QUERY_STRING.",
			"/p?q=1", "/p"},
	} {
		specs = append(specs, eqSpec("path-info-"+c.id, f.MUST, c.sentence, "GET "+c.target, get(c.target), "PATH_INFO", c.want))
	}
	return append(specs,
		envSpec("path-info-raw-nonascii", f.INFO,
			"Raw non-ASCII octets in the request-target are invalid (RFC 3986); a server may refuse them or pass them as latin-1.",
			"GET /\\xc3\\xa9 (raw octets)", get("/\xc3\xa9"),
			[]f.Outcome{f.Info("latin1", "PATH_INFO == '/\\xc3\\xa9'"), f.Info("refused", "400"), f.Info("other", "another value")},
			orRefused(keyIs("PATH_INFO", "/\xc3\xa9", "latin1", "other"))),
		infoValue("path-info-encoded-slash", "%2F in the path: decoded to '/' (CGI) or kept; apps needing it use RAW_URI/REQUEST_URI.", "GET /a%2Fb", get("/a%2Fb"), "PATH_INFO"),
		infoValue("path-info-dot-segments", "Dot segments may be passed through or normalised (PEP silent).", "GET /a/../b/./c", get("/a/../b/./c"), "PATH_INFO"),
		infoValue("path-info-double-slash", "Repeated slashes may be passed through or collapsed (PEP silent).", "GET //x//y", get("//x//y"), "PATH_INFO"),
		envSpec("path-info-fragment", f.MUST,
			"PATH_INFO excludes the query and any fragment (a fragment is not part of a request-target; refusing it is fine).",
			"GET /p#frag", get("/p#frag"),
			[]f.Outcome{f.Pass("excluded", "PATH_INFO == '/p'"), refusedOutcome, f.ServerErrorOutcome(false), f.Fail("included", "fragment in PATH_INFO")},
			refusedAs(keyIs("PATH_INFO", "/p", "excluded", "included"))),
	)
}

// queryStringSpecs: QUERY_STRING.
func queryStringSpecs() []*f.Spec {
	return []*f.Spec{
		eqSpec("query-string-raw", f.MUST,
			"QUERY_STRING: The portion of the request URL that follows the \"?\", if any (not percent-decoded).",
			"GET /p?a=%20b&c=d+e;f", get("/p?a=%20b&c=d+e;f"), "QUERY_STRING", "a=%20b&c=d+e;f"),
		qsEmpty("query-string-empty", "GET /p? (empty query)", get("/p?")),
		qsEmpty("query-string-absent", "GET /p (no '?')", get("/p")),
		envSpec("query-string-latin1", f.MUST,
			"Non-ASCII query octets are delivered latin-1 decoded (or the request refused as invalid).",
			"GET /p?x=%E9&y=\\xe9 (one raw octet)", get("/p?x=%E9&y=\xe9"),
			[]f.Outcome{f.Pass("latin1", "QUERY_STRING == 'x=%E9&y=\\xe9'"), refusedOutcome, f.ServerErrorOutcome(false), f.Fail("other", "another value")},
			refusedAs(keyIs("QUERY_STRING", "x=%E9&y=\xe9", "latin1", "other"))),
	}
}

// contentSpecs: CONTENT_TYPE and CONTENT_LENGTH, which never become HTTP_ keys.
func contentSpecs() []*f.Spec {
	return []*f.Spec{
		eqSpec("content-type-present", f.MUST,
			"CONTENT_TYPE: The contents of any Content-Type fields in the HTTP request.",
			"POST with Content-Type: application/x-probe; charset=latin-1",
			f.Req{Method: "POST", Headers: []string{"Content-Type: application/x-probe; charset=latin-1"}, Body: []byte("hello")},
			"CONTENT_TYPE", "application/x-probe; charset=latin-1"),
		envSpec("content-type-absent", f.MUST,
			"CONTENT_TYPE … May be empty or absent.",
			"POST without Content-Type", f.Req{Method: "POST", Body: []byte("hello"), Args: map[string]any{"read": true}},
			[]f.Outcome{f.Pass("absent-or-empty", "absent or ''"), f.NonStrict("invented", "a value the client never sent")},
			served(func(t *f.T, env f.Env) f.Result {
				if v, ok := env.Get("CONTENT_TYPE"); !ok || v == "" {
					return f.Out("absent-or-empty", "%s", show(env, "CONTENT_TYPE"))
				}
				return f.Out("invented", "%s", show(env, "CONTENT_TYPE"))
			})),
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
			served(func(t *f.T, env f.Env) f.Result {
				if v, ok := env.Get("CONTENT_LENGTH"); !ok || v == "" {
					return f.Out("absent-or-empty", "%s", show(env, "CONTENT_LENGTH"))
				}
				return f.Out("other", "%s", show(env, "CONTENT_LENGTH"))
			})),
		envSpec("content-length-leading-zeros", f.INFO,
			"Content-Length: 007 is valid (1*DIGIT); CONTENT_LENGTH may keep or normalise the digits.",
			"POST Content-Length: 007 with 7 bytes", f.Req{Method: "POST", Headers: []string{"Content-Length: 007"}, Body: []byte("1234567"), Args: map[string]any{"read": true}},
			[]f.Outcome{f.Info("kept", "'007'"), f.Info("normalised", "'7'"), f.Info("refused", "request refused"), f.Info("other", "another value")},
			orRefused(func(t *f.T, env f.Env) f.Result {
				switch v, _ := env.Get("CONTENT_LENGTH"); v {
				case "007":
					return f.Out("kept", "%s", show(env, "CONTENT_LENGTH"))
				case "7":
					return f.Out("normalised", "%s", show(env, "CONTENT_LENGTH"))
				}
				return f.Out("other", "%s", show(env, "CONTENT_LENGTH"))
			})),
	}
}

// serverSpecs: SERVER_NAME, SERVER_PORT and SERVER_PROTOCOL.
func serverSpecs() []*f.Spec {
	return []*f.Spec{
		envSpec("server-name-port", f.MUST,
			"SERVER_NAME, SERVER_PORT: … can never be empty strings, and so are always required.",
			"GET /", get("/"),
			[]f.Outcome{f.Pass("present", "both non-empty str"), f.Fail("missing", "absent, empty or not str")},
			served(func(t *f.T, env f.Env) f.Result {
				for _, k := range []string{"SERVER_NAME", "SERVER_PORT"} {
					if v, ok := env.Get(k); !ok || v == "" || env[k].T != "str" {
						return f.Out("missing", "%s", show(env, k))
					}
				}
				return f.Out("present", "%s %s", show(env, "SERVER_NAME"), show(env, "SERVER_PORT"))
			})),
		envSpec("server-port-matches", f.MUST,
			"SERVER_PORT is the port the request was received on (with HTTP_HOST, used for URL reconstruction).",
			"GET / with Host: <listen address>", get("/"),
			[]f.Outcome{f.Pass("equal", "SERVER_PORT == the listening port"),
				f.Pass("upstream", "behind a proxy: the port the server itself received the request on (RFC 3875 §4.1.15)"),
				f.Fail("different", "another value")},
			served(func(t *f.T, env f.Env) f.Result {
				want := port(t.Target.Addr)
				v, _ := env.Get("SERVER_PORT")
				if v == want {
					return f.Out("equal", "%s", show(env, "SERVER_PORT"))
				}
				if p := t.Target.Proxy; p != nil && v == port(p.Upstream) {
					return f.Out("upstream", "%s, the server's own port behind %s", show(env, "SERVER_PORT"), p.Name)
				}
				return f.Out("different", "%s, listening on %s", show(env, "SERVER_PORT"), want)
			})),
		eqSpec("server-protocol-11", f.MUST,
			"SERVER_PROTOCOL: The version of the protocol the client used to send the request.",
			"GET / HTTP/1.1", get("/"), "SERVER_PROTOCOL", "HTTP/1.1"),
		envSpec("server-protocol-10", f.MUST,
			"SERVER_PROTOCOL: The version of the protocol the client used to send the request.",
			"GET / HTTP/1.0", f.Req{Proto: "HTTP/1.0"},
			[]f.Outcome{f.Pass("equal", `SERVER_PROTOCOL == "HTTP/1.0"`),
				f.Pass("proxy-version", "behind a proxy: the version the proxy sent, its own (RFC 9110 §6.2: intermediaries MUST send their own HTTP-version)"),
				f.Fail("different", "SERVER_PROTOCOL differs")},
			served(func(t *f.T, env f.Env) f.Result {
				v, ok := env.Get("SERVER_PROTOCOL")
				ok = ok && env["SERVER_PROTOCOL"].T == "str"
				if ok && v == "HTTP/1.0" {
					return f.Out("equal", "%s", show(env, "SERVER_PROTOCOL"))
				}
				if p := t.Target.Proxy; p != nil && ok && v == p.Version {
					return f.Out("proxy-version", "%s, what %s forwards with", show(env, "SERVER_PROTOCOL"), p.Name)
				}
				return f.Out("different", "%s, want %q", show(env, "SERVER_PROTOCOL"), "HTTP/1.0")
			})),
	}
}

// get is a GET of target to the probe's env behaviour.
func get(target string) f.Req { return f.Req{Target: target} }

// envSpec is a spec of the environ the probe app dumps for req.
func envSpec(id, level, sentence, stimulus string, req f.Req, outs []f.Outcome, check func(t *f.T, env f.Env, x *f.Exchange) f.Result) *f.Spec {
	return f.EnvCheck(&f.Spec{ID: "pep3333/environ/" + id, Level: level, Section: secEnviron, Sentence: sentence, Stimulus: stimulus, Outcomes: outs}, req, check)
}

// served grades the dump of a request the server must serve: a refusal is
// a harness error, not an outcome.
func served(check func(t *f.T, env f.Env) f.Result) func(t *f.T, env f.Env, x *f.Exchange) f.Result {
	return func(t *f.T, env f.Env, x *f.Exchange) f.Result {
		if env == nil {
			t.Fatalf("valid request refused: %s", x.Summary())
		}
		return check(t, env)
	}
}

// orRefused grades the dump, or names the outcome "refused" when the
// server refused the request.
func orRefused(check func(t *f.T, env f.Env) f.Result) func(t *f.T, env f.Env, x *f.Exchange) f.Result {
	return func(t *f.T, env f.Env, x *f.Exchange) f.Result {
		if env == nil {
			return f.Out("refused", "%s", x.Summary())
		}
		return check(t, env)
	}
}

// refusedOutcome: a refusal of a request the spec lets the server refuse,
// made as the client's error.
var refusedOutcome = f.Pass("refused", "400 (or another 4xx) or a close without a response")

// refusedAs grades the dump, or, when the server refused the request, how:
// "refused" (refusedOutcome) or "server-error" for a 5xx, which blames the
// server for what the client sent.
func refusedAs(check func(t *f.T, env f.Env) f.Result) func(t *f.T, env f.Env, x *f.Exchange) f.Result {
	return func(t *f.T, env f.Env, x *f.Exchange) f.Result {
		switch {
		case env != nil:
			return check(t, env)
		case f.RefusalOf(x) == f.ServerError:
			return f.Out(string(f.ServerError), "%s", x.Summary())
		}
		return f.Out("refused", "%s", x.Summary())
	}
}

// keyIs grades a dump by one value: outcome is when key == want, else
// outcome not; the detail shows the value either way.
func keyIs(key, want, is, not string) func(t *f.T, env f.Env) f.Result {
	return func(t *f.T, env f.Env) f.Result {
		if v, _ := env.Get(key); v == want {
			return f.Out(is, "%s", show(env, key))
		}
		return f.Out(not, "%s", show(env, key))
	}
}

// eqSpec: a valid request whose dump must show key == want, a str.
func eqSpec(id, level, sentence, stimulus string, req f.Req, key, want string) *f.Spec {
	return envSpec(id, level, sentence, stimulus, req,
		[]f.Outcome{f.Pass("equal", key+" == "+strconv.Quote(want)), f.Violation(level, "different", key+" differs")},
		served(func(t *f.T, env f.Env) f.Result {
			if v, ok := env.Get(key); ok && env[key].T == "str" && v == want {
				return f.Out("equal", "%s", show(env, key))
			}
			return f.Out("different", "%s, want %q", show(env, key), want)
		}))
}

// infoValue: an INFO spec recording key for req.
func infoValue(id, sentence, stimulus string, req f.Req, key string) *f.Spec {
	return envSpec(id, f.INFO, sentence, stimulus, req,
		[]f.Outcome{f.Info("recorded", "value recorded"), f.Info("refused", "request refused")},
		orRefused(func(t *f.T, env f.Env) f.Result {
			return f.Out("recorded", "%s", show(env, key))
		}))
}

// qsEmpty: a request without a query, whose QUERY_STRING is empty.
func qsEmpty(id, stimulus string, req f.Req) *f.Spec {
	return envSpec(id, f.MUST,
		"QUERY_STRING: The portion of the request URL that follows the \"?\", if any. May be empty or absent.",
		stimulus, req,
		[]f.Outcome{f.Pass("empty", "QUERY_STRING == ''"), f.NonStrict("absent", "absent (wsgiref.validate warns)"), f.Fail("other", "another value")},
		served(func(t *f.T, env f.Env) f.Result {
			v, ok := env.Get("QUERY_STRING")
			switch {
			case !ok:
				return f.Out("absent", "QUERY_STRING absent")
			case v == "":
				return f.Out("empty", "%s", show(env, "QUERY_STRING"))
			}
			return f.Out("other", "%s", show(env, "QUERY_STRING"))
		}))
}

// noKey: a request whose environ must not hold key.
func noKey(id, key, sentence string, req f.Req) *f.Spec {
	return envSpec(id, f.MUST, sentence, "POST with a body and headers; "+key+" must not exist", req,
		[]f.Outcome{f.Pass("absent", key+" absent"), f.Fail("present", key+" present")},
		served(func(t *f.T, env f.Env) f.Result {
			if _, ok := env[key]; ok {
				return f.Out("present", "%s", show(env, key))
			}
			return f.Out("absent", "%s absent", key)
		}))
}

// show renders a value for a detail: KEY="bytes", or KEY=<type repr>.
func show(env f.Env, k string) string { return env.Show(k) }

// port is the port of a "host:port" address.
func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
