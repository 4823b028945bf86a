package pep3333

import (
	"strings"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

// httpHeaderSpecs: HTTP_ Variables, one per request header, and the
// headers that must not set any other key.
func httpHeaderSpecs() []*f.Spec {
	return []*f.Spec{
		eqSpec("http-header-name-mapping", f.SHOULD,
			"HTTP_ Variables: Variables corresponding to the client-supplied HTTP request headers (i.e., variables whose names begin with \"HTTP_\").",
			"x-FoO-bar: 1", f.Req{Headers: []string{"x-FoO-bar: 1"}}, "HTTP_X_FOO_BAR", "1"),
		envSpec("http-header-not-invented", f.SHOULD,
			"The presence or absence of these variables should correspond with the presence or absence of the appropriate HTTP header in the request.",
			"GET / with only Host and the probe headers", get("/"),
			[]f.Outcome{f.Pass("exact", "HTTP_* keys are exactly the headers sent"), f.NonStrict("extra", "HTTP_* keys for headers never sent")},
			served(func(t *f.T, env f.Env) f.Result {
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
			})),
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
			served(func(t *f.T, env f.Env) f.Result {
				if v, _ := env.Get("HTTP_X_DUP"); v == "a,b" || v == "a, b" {
					return f.Out("joined", "%s", show(env, "HTTP_X_DUP"))
				}
				return f.Out("lost", "%s", show(env, "HTTP_X_DUP"))
			})),
		envSpec("underscore-header-no-collision", f.SHOULD,
			"Header names with '_' must not override the '-' form once both map to the same HTTP_ key (header smuggling past proxies); drop them, refuse, or keep them apart.",
			"X-Foo: a then X_Foo: b", f.Req{Headers: []string{"X-Foo: a", "X_Foo: b"}},
			[]f.Outcome{f.Pass("unambiguous", "HTTP_X_FOO == 'a'"), refusedOutcome, f.ServerErrorOutcome(false), f.NonStrict("merged", "the '_' header changed HTTP_X_FOO")},
			refusedAs(keyIs("HTTP_X_FOO", "a", "unambiguous", "merged"))),
		envSpec("underscore-content-length", f.SHOULD,
			"A Content_Length header must never become CONTENT_LENGTH (framing seen by the app would differ from the server's).",
			"GET with Content_Length: 99 (underscore)", f.Req{Headers: []string{"Content_Length: 99"}},
			[]f.Outcome{f.Pass("ignored", "CONTENT_LENGTH not '99'"), refusedOutcome, f.ServerErrorOutcome(false), f.NonStrict("mapped", "CONTENT_LENGTH == '99'")},
			refusedAs(keyIs("CONTENT_LENGTH", "99", "mapped", "ignored"))),
		envSpec("header-cannot-set-script-name", f.SHOULD,
			"A request header must not set CGI/WSGI meta-variables such as SCRIPT_NAME unless the operator enabled it for trusted peers.",
			"Script-Name: /evil and SCRIPT_NAME: /evil headers", f.Req{Target: "/x", Headers: []string{"Script-Name: /evil", "SCRIPT_NAME: /evil"}},
			[]f.Outcome{f.Pass("unchanged", "SCRIPT_NAME stays ''"), refusedOutcome, f.ServerErrorOutcome(false), f.NonStrict("changed", "SCRIPT_NAME taken from the header")},
			refusedAs(func(t *f.T, env f.Env) f.Result {
				if v, _ := env.Get("SCRIPT_NAME"); v == "/evil" {
					return f.Out("changed", "%s %s", show(env, "SCRIPT_NAME"), show(env, "PATH_INFO"))
				}
				return f.Out("unchanged", "%s", show(env, "SCRIPT_NAME"))
			})),
		envSpec("hop-by-hop-visible", f.INFO,
			"Inbound hop-by-hop headers may or may not appear as HTTP_* (applications must not rely on them).",
			"POST Transfer-Encoding: chunked with body 'hello'",
			f.Req{Method: "POST", Headers: []string{"Transfer-Encoding: chunked"}, Body: []byte("5\r\nhello\r\n0\r\n\r\n"), Args: map[string]any{"read": true}},
			[]f.Outcome{f.Info("visible", "HTTP_TRANSFER_ENCODING present"), f.Info("hidden", "absent"), f.Info("refused", "chunked request refused")},
			orRefused(func(t *f.T, env f.Env) f.Result {
				if _, ok := env["HTTP_TRANSFER_ENCODING"]; ok {
					return f.Out("visible", "%s", show(env, "HTTP_TRANSFER_ENCODING"))
				}
				return f.Out("hidden", "HTTP_TRANSFER_ENCODING absent")
			})),
	}
}

// strValueSpecs: every CGI value is a native str of latin-1 code points
// ("bytes-as-unicode", A Note On String Types).
func strValueSpecs() []*f.Spec {
	return []*f.Spec{
		envSpec("cgi-values-are-str", f.MUST,
			"It is a violation of this specification for any CGI variable's value to be of any type other than str.",
			"GET /p?q=1 with a few headers; every key without a dot is checked", f.Req{Target: "/p?q=1", Headers: []string{"X-A: 1", "Accept: */*"}},
			[]f.Outcome{f.Pass("all-str", "every CGI value is str"), f.Fail("non-str", "some value is not str")},
			served(func(t *f.T, env f.Env) f.Result {
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
			})),
		envSpec("no-code-points-above-ff", f.MUST,
			"Servers must not supply strings containing code points above U+00FF (\"bytes-as-unicode\" via latin-1).",
			"GET /%E2%82%AC with header X-U: \\xc3\\xa9\\xe2\\x82\\xac (raw UTF-8)",
			f.Req{Target: "/%E2%82%AC", Headers: []string{"X-U: \xc3\xa9\xe2\x82\xac"}},
			[]f.Outcome{f.Pass("latin1", "all values latin-1 and HTTP_X_U/PATH_INFO carry the raw octets"), f.Fail("decoded", "a value has code points > 255 or was re-decoded"),
				f.Fail("dropped", "HTTP_X_U is empty: its octets were thrown away, not delivered as latin-1")},
			served(func(t *f.T, env f.Env) f.Result {
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
			})),
		eqSpec("header-obs-text-latin1", f.MUST,
			"RFC 9110 §5.5 obs-text (0x80–0xFF) in values is delivered as latin-1 code points, nothing stripped (waitress#432 stripped \\x85/\\xa0).",
			"X-Obs: \\x85caf\\xe9\\xa0", f.Req{Headers: []string{"X-Obs: \x85caf\xe9\xa0"}}, "HTTP_X_OBS", "\x85caf\xe9\xa0"),
	}
}

// countCGI counts the CGI keys (no dot) of an environ.
func countCGI(env f.Env) int {
	n := 0
	for k := range env {
		if !strings.Contains(k, ".") {
			n++
		}
	}
	return n
}
