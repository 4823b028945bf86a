// Package overtls holds the specs that only apply when the server under
// test serves TLS (`wsgikit check --tls`): what a WSGI app is told about a
// request that came over TLS, and what the TLS port does with plaintext.
// They are not in the registry every run uses (a plaintext run has nothing
// for them to observe); Specs hands them to a TLS run, which also leaves
// out the plaintext-only specs PlaintextOnly names.
package overtls

import (
	"bytes"
	"slices"
	"strings"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

const section = "PEP 3333 / environ over TLS"

// PlaintextOnly are registry specs whose expectation holds only for a
// plaintext request (wsgi.url_scheme "http"): a TLS run replaces them.
var PlaintextOnly = map[string]bool{"pep3333/environ/url-scheme": true}

// Specs returns the TLS specs, fresh each call.
func Specs() []*f.Spec {
	return []*f.Spec{urlScheme(), httpsKey(), plaintextPort()}
}

// urlScheme: the request came in over TLS, so the URL the app is invoked
// at is an https URL.
func urlScheme() *f.Spec {
	return f.EnvCheck(&f.Spec{
		ID: "pep3333/tls/url-scheme-https", Level: f.MUST, Section: section,
		Sentence: "wsgi.url_scheme: A string representing the \"scheme\" portion of the URL at which the application is being invoked. Normally, this will have the value \"http\" or \"https\", as appropriate.",
		Stimulus: "GET / over TLS (the harness's CA), the env probe.",
		Outcomes: []f.Outcome{f.Pass("https", "wsgi.url_scheme == 'https'"), f.Fail("other", "another value (e.g. 'http') for a request that came over TLS")},
	}, f.Req{}, func(t *f.T, env f.Env, x *f.Exchange) f.Result {
		if env == nil {
			t.Fatalf("valid request refused: %s", x.Summary())
		}
		if v, ok := env.Get("wsgi.url_scheme"); ok && env["wsgi.url_scheme"].T == "str" && v == "https" {
			return f.Out("https", "%s", env.Show("wsgi.url_scheme"))
		}
		return f.Out("other", "%s, want \"https\"", env.Show("wsgi.url_scheme"))
	})
}

// httpsKey: CGI's HTTPS=on convention (wsgiref.util.guess_scheme reads
// it); PEP 3333 does not ask for it, so the spec only records it, with the
// other TLS keys the server adds (mod_ssl's SSL_*).
func httpsKey() *f.Spec {
	return f.EnvCheck(&f.Spec{
		ID: "pep3333/tls/https-key", Level: f.INFO, Section: section,
		Sentence: "CGI convention (not PEP 3333): HTTPS is \"on\" for a request over TLS; wsgiref.util.guess_scheme reads it (\"yes\", \"on\" or \"1\").",
		Stimulus: "GET / over TLS, the env probe; HTTPS and any SSL_* keys recorded.",
		Outcomes: []f.Outcome{f.Info("on", "HTTPS is 'on', 'yes' or '1'"), f.Info("absent", "no HTTPS key"), f.Info("other", "HTTPS has another value")},
	}, f.Req{}, func(t *f.T, env f.Env, x *f.Exchange) f.Result {
		if env == nil {
			t.Fatalf("valid request refused: %s", x.Summary())
		}
		var ssl []string
		for k := range env {
			if strings.HasPrefix(k, "SSL_") {
				ssl = append(ssl, k)
			}
		}
		slices.Sort(ssl)
		detail := env.Show("HTTPS")
		if len(ssl) > 0 {
			detail += "; " + strings.Join(ssl, " ")
		}
		v, ok := env.Get("HTTPS")
		switch {
		case !ok:
			return f.Out("absent", "%s", detail)
		case v == "on" || v == "yes" || v == "1":
			return f.Out("on", "%s", detail)
		}
		return f.Out("other", "%s", detail)
	})
}

// plaintextPort: the deployment declared this port TLS; a plaintext
// request served there reaches the app unencrypted (and, through the
// port's convention, possibly told "https"). No RFC sentence binds the
// server here (RFC 9110 §4.2.2 binds the client), hence SHOULD.
func plaintextPort() *f.Spec {
	return &f.Spec{
		ID: "pep3333/tls/plaintext-refused", Level: f.SHOULD, Section: section,
		Sentence: "A request sent in plaintext to the TLS port is not served to the app (RFC 9110 §4.2.2: an https resource is only to be reached over a secured connection).",
		Stimulus: "GET / with the env probe, in plaintext on the TLS port.",
		Outcomes: []f.Outcome{
			f.Pass("refused", "the connection closed, or a TLS alert or an HTTP error came back, and the app was not called"),
			f.NonStrict("served", "the app was called for the plaintext request"),
		},
		Run: func(t *f.T) f.Result {
			id := t.NewID()
			c := t.DialPlain()
			_ = c.Send(f.Req{ID: id, Do: "env", Close: true}.Build(t.Host()))
			got := c.ReadAll(f.ReadTimeout)
			called := t.Called(id, f.EventTimeout)
			what := "nothing"
			switch {
			case bytes.HasPrefix(got, []byte("HTTP/")):
				what = strings.TrimRight(string(got[:max(bytes.IndexByte(got, '\n'), 0)]), "\r")
			case len(got) > 0 && got[0] == 0x15:
				what = "a TLS alert record"
			case len(got) > 0:
				what = f.Quote(string(got[:min(len(got), 40)]))
			}
			if called {
				return f.Out("served", "the app ran for the plaintext request; the server sent %s, then %s", what, c.State())
			}
			return f.Out("refused", "the server sent %s, then %s; the app was not called", what, c.State())
		},
	}
}
