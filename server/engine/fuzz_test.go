package engine

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/wsgikit/wsgikit/server/ipset"
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
	trusted, err := ipset.Parse("127.0.0.1, 10.0.0.0/8")
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
