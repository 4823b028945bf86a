package engine

import (
	"encoding/binary"
	"testing"

	"github.com/wsgikit/wsgikit/server/http1"
	"github.com/wsgikit/wsgikit/server/ipset"
)

func TestForwardedEnviron(t *testing.T) {
	trusted, _ := ipset.Parse("127.0.0.1,10.0.0.0/8")
	cases := []struct {
		name, headers            string
		proxies                  *ipset.Set
		addr, scheme, host, port string
	}{
		{"xff-rightmost-untrusted", "X-Forwarded-For: 6.6.6.6, 1.2.3.4, 10.0.0.2\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: example.com\r\n", trusted, "1.2.3.4", "https", "example.com", "443"},
		{"forwarded", "Forwarded: for=6.6.6.6, for=\"[2001:db8::1]:4711\";proto=https;host=h.example:8443\r\n", trusted, "2001:db8::1", "https", "h.example", "8443"},
		{"untrusted-peer", "X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\n", nil, "127.0.0.1", "", "t", "80"},
		{"bad-proto-ignored", "X-Forwarded-Proto: javascript\r\n", trusted, "127.0.0.1", "", "t", "80"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte("GET / HTTP/1.1\r\nHost: t\r\n" + tc.headers + "\r\n")
			var req http1.Request
			lim := http1.DefaultLimits()
			if _, err := http1.Parse(raw, &req, &lim); err != nil {
				t.Fatal(err)
			}
			var env Environ
			ci := connInfo{RemoteAddr: []byte("127.0.0.1"), RemotePort: []byte("1"), Proxies: tc.proxies}
			buildEnviron(&env, &req, &ci, nil)
			last := func(k string) string { // later entries win, as in the dict
				v := ""
				for i := range env.Entries {
					if env.keyName(i) == k {
						v = string(env.value(i))
					}
				}
				return v
			}
			if got := last("REMOTE_ADDR"); got != tc.addr {
				t.Errorf("REMOTE_ADDR %q, want %q", got, tc.addr)
			}
			if got := last("wsgi.url_scheme"); got != tc.scheme {
				t.Errorf("wsgi.url_scheme %q, want %q", got, tc.scheme)
			}
			if got := last("SERVER_NAME"); got != tc.host {
				t.Errorf("SERVER_NAME %q, want %q", got, tc.host)
			}
			if got := last("SERVER_PORT"); got != tc.port {
				t.Errorf("SERVER_PORT %q, want %q", got, tc.port)
			}
		})
	}
}

func TestReadProxyHeader(t *testing.T) {
	v2 := func(fam byte, addr []byte, port uint16) []byte {
		b := append([]byte{}, proxyV2Sig...)
		b = append(b, 0x21, fam, 0, 0)
		body := append([]byte{}, addr...)
		body = append(body, addr...) // dst: same, unused
		body = binary.BigEndian.AppendUint16(body, port)
		body = binary.BigEndian.AppendUint16(body, 80)
		binary.BigEndian.PutUint16(b[14:], uint16(len(body)))
		return append(b, body...)
	}
	cases := []struct {
		name, version string
		in            []byte
		addr, port    string
		rest          string
		bad           bool
	}{
		{"v1", "v1", []byte("PROXY TCP4 9.9.9.9 127.0.0.1 5555 80\r\nGET /"), "9.9.9.9", "5555", "GET /", false},
		{"v1-tcp6", "auto", []byte("PROXY TCP6 2001:db8::1 ::1 5555 80\r\n"), "2001:db8::1", "5555", "", false},
		{"v1-unknown", "v1", []byte("PROXY UNKNOWN\r\nGET"), "", "", "GET", false},
		{"v2-ipv4", "v2", append(v2(0x11, []byte{8, 8, 4, 4}, 6000), "GET"...), "8.8.4.4", "6000", "GET", false},
		{"v2-when-v1", "v1", v2(0x11, []byte{8, 8, 4, 4}, 6000), "", "", "", true},
		{"plain-http", "auto", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "", "", "", true},
		{"v1-bad-addr", "v1", []byte("PROXY TCP4 nope 127.0.0.1 1 2\r\n"), "", "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Bytes arrive in any split: every proper prefix of a header asks
			// for more (or is already refused), never accepts.
			var addr, port []byte
			var n int
			var err error
			for k := 1; k <= len(tc.in); k++ {
				addr, port, n, err = parseProxyHeader(tc.in[:k], tc.version)
				if err != nil || n > 0 {
					break
				}
			}
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted: %q %q", addr, port)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatalf("incomplete after all %d bytes", len(tc.in))
			}
			if string(addr) != tc.addr || string(port) != tc.port {
				t.Errorf("got %q:%q, want %q:%q", addr, port, tc.addr, tc.port)
			}
			if rest := tc.in[n:]; string(rest) != tc.rest {
				t.Errorf("rest %q, want %q", rest, tc.rest)
			}
		})
	}
}
