package server

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/server/http1"
)

// FuzzProxyHeader: on any bytes the PROXY parser either asks for more, refuses,
// or accepts a header that is a prefix of the input; what it accepts is an
// address and a port taken from the input, the same whatever split the bytes
// arrived in; v1 rejects v2 and the reverse.
func FuzzProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 9.9.9.9 127.0.0.1 5555 80\r\nGET /"), "v1")
	f.Add([]byte("PROXY UNKNOWN\r\n"), "auto")
	f.Add(append(append([]byte{}, proxyV2Sig...), 0x21, 0x11, 0, 12, 8, 8, 4, 4, 127, 0, 0, 1, 0x17, 0x70, 0, 80, 'G'), "v2")
	f.Fuzz(func(t *testing.T, raw []byte, version string) {
		addr, port, n, err := parseProxyHeader(raw, version)
		if err != nil || n == 0 {
			return
		}
		if n > len(raw) {
			t.Fatalf("%q: header length %d beyond the input", raw, n)
		}
		// Any shorter prefix that is a valid beginning must not be accepted
		// as a different header.
		for k := 1; k < n; k++ {
			if _, _, m, perr := parseProxyHeader(raw[:k], version); perr == nil && m != 0 {
				t.Fatalf("%q: prefix of %d bytes accepted as a %d-byte header, the whole as %d", raw, k, m, n)
			}
		}
		if addr != nil {
			if _, perr := netip.ParseAddr(string(addr)); perr != nil {
				t.Fatalf("%q: address %q", raw, addr)
			}
		}
		if port != nil {
			if p, perr := strconv.Atoi(string(port)); perr != nil || p < 0 || p > 65535 {
				t.Fatalf("%q: port %q", raw, port)
			}
		}
		v2 := bytes.HasPrefix(raw, proxyV2Sig)
		if (version == "v1" && v2) || (version == "v2" && !v2) {
			t.Fatalf("%q accepted as %s", raw, version)
		}
	})
}

type headers map[string][]byte

func (h headers) Header(name string) []byte { return h[name] }

// FuzzForwarded: the client address a trusted proxy reports is one of the
// addresses in its header, the rightmost that is not itself trusted (or
// the leftmost when all are); proto and host are the header's own bytes.
func FuzzForwarded(f *testing.F) {
	f.Add("", "1.2.3.4, 10.0.0.1", "https", "example.com")
	f.Add(`for=1.2.3.4;proto=https, for="[2001:db8::1]:80";host=h`, "", "", "")
	f.Add("", "10.0.0.2,,  5.6.7.8 , 10.0.0.1", "", "")
	trusted, err := ParseIPSet("127.0.0.1, 10.0.0.0/8")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, fwd, xff, proto, host string) {
		h := headers{}
		for k, v := range map[string]string{"forwarded": fwd, "x-forwarded-for": xff, "x-forwarded-proto": proto, "x-forwarded-host": host} {
			if v != "" {
				h[k] = []byte(v)
			}
		}
		got := fromProxy(h, trusted)
		if fwd != "" {
			for _, v := range [][]byte{got.addr, got.proto, got.host} {
				if v != nil && !strings.Contains(fwd, string(v)) {
					t.Fatalf("Forwarded %q: %q is not from it", fwd, v)
				}
			}
			return
		}
		var want []byte
		parts := strings.Split(xff, ",")
		for i := len(parts) - 1; i >= 0; i-- {
			p := strings.TrimSpace(parts[i])
			if p == "" {
				continue
			}
			want = []byte(p)
			if !trusted.Contains(want) {
				break
			}
		}
		if !bytes.Equal(got.addr, want) {
			t.Fatalf("X-Forwarded-For %q: client %q, want %q", xff, got.addr, want)
		}
		if string(got.proto) != proto || string(got.host) != host {
			t.Fatalf("proto %q host %q, want %q %q", got.proto, got.host, proto, host)
		}
	})
}

// FuzzAccessLog: any format either is rejected with a one-line error or
// yields exactly one line per request, whatever the request's bytes (no
// log injection), and with --log-json a JSON object.
func FuzzAccessLog(f *testing.F) {
	f.Add(DefaultAccessLogFormat, "ua \"quoted\"", false)
	f.Add(`%(r)s %({x-req}i)s %({x-out}o)s %({HOME}e)s`, "a\x1bb", true)
	f.Add(`%(a)s`, "caf\xe9", true) // obs-text: latin-1 in JSON, not Go's \xe9
	f.Fuzz(func(t *testing.T, format, ua string, asJSON bool) {
		atoms, err := ParseAccessLogFormat(format)
		if err != nil {
			if !strings.Contains(err.Error(), "access log format") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("format %q: error %q", format, err)
			}
			return
		}
		if strings.ContainsAny(format, "\r\n") {
			return // line breaks the operator wrote into the format are theirs
		}
		var req http1.Request
		lim := http1.DefaultLimits()
		raw := []byte("GET /p?q=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: " + ua + "\r\nX-Req: " + ua + "\r\n\r\n")
		if _, err := http1.Parse(raw, &req, &lim); err != nil {
			return // not a request the server would log
		}
		var rc reqCopy
		rc.capture(&req)
		rc.resp = []byte("X-Out: " + ua + "\r\n")
		l := &AccessLog{atoms: atoms, json: asJSON}
		line := l.line(nil, &rc, []byte("127.0.0.1"), 200, 13, time.Unix(0, 0), time.Millisecond)
		if len(line) == 0 || line[len(line)-1] != '\n' || bytes.IndexByte(line[:len(line)-1], '\n') >= 0 || bytes.IndexByte(line, '\r') >= 0 {
			t.Fatalf("format %q, User-Agent %q: not one line: %q", format, ua, line)
		}
		if asJSON && !json.Valid(line) {
			t.Fatalf("format %q, User-Agent %q: not JSON: %q", format, ua, line)
		}
	})
}
