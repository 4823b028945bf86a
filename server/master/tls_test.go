package master

import (
	"strings"
	"testing"

	"github.com/wsgikit/wsgikit/server/tlsconf"
)

// TestCheckBinds: which bind lists TLS accepts, and the one line for the
// others.
func TestCheckBinds(t *testing.T) {
	cert := tlsconf.Settings{CertFile: "cert.pem"}
	cases := []struct {
		binds []string
		tls   tlsconf.Settings
		err   string
	}{
		{[]string{"127.0.0.1:8000"}, tlsconf.Settings{}, ""},
		{[]string{"127.0.0.1:8443", "unix:/run/app.sock"}, cert, ""}, // Gunicorn: every bind speaks TLS
		{[]string{"https://:8443", "http://:8000"}, cert, ""},
		{[]string{"http://:8000"}, tlsconf.Settings{}, ""},
		{[]string{"https://:8443"}, tlsconf.Settings{}, "bind https://:8443: TLS needs --certfile"},
		{[]string{"https://:8443", ":8000"}, cert, "bind :8000: say http:// or https://"},
	}
	for _, c := range cases {
		err := checkBinds(c.binds, &c.tls)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%v: %v, want %q", c.binds, err, c.err)
		}
	}
	for bind, want := range map[string][2]string{"https://[::1]:8443": {"https", "[::1]:8443"}, "http://unix:/s": {"http", "unix:/s"},
		"fd://3": {"", "fd://3"}, "127.0.0.1:0": {"", "127.0.0.1:0"}} {
		if s, r := splitScheme(bind); s != want[0] || r != want[1] {
			t.Errorf("splitScheme(%q) = %q, %q", bind, s, r)
		}
	}
}
