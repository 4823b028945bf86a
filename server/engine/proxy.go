package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/wsgikit/wsgikit/server/ipset"
)

// forwarded is what a trusted proxy says about the original request.
type forwarded struct {
	addr, proto, host []byte
}

// fromProxy reads X-Forwarded-For/-Proto/-Host, or Forwarded (RFC 7239),
// sent by a trusted peer. The client is the rightmost address that is not
// itself a trusted proxy: entries to its left were written by the client and
// prove nothing.
func fromProxy(req headerGetter, trusted *ipset.Set) forwarded {
	var f forwarded
	if fw := req.Header("forwarded"); fw != nil {
		elems := bytes.Split(fw, []byte(","))
		for i := len(elems) - 1; i >= 0; i-- {
			var forAddr []byte
			for _, pair := range bytes.Split(elems[i], []byte(";")) {
				k, v, ok := bytes.Cut(bytes.TrimSpace(pair), []byte("="))
				if !ok {
					continue
				}
				v = bytes.Trim(v, `"`)
				switch strings.ToLower(string(k)) {
				case "for":
					forAddr = stripPort(v)
				case "proto":
					if f.proto == nil {
						f.proto = v
					}
				case "host":
					if f.host == nil {
						f.host = v
					}
				}
			}
			if forAddr != nil {
				f.addr = forAddr
				if !trusted.Contains(forAddr) {
					break
				}
			}
		}
		return f
	}
	if xff := req.Header("x-forwarded-for"); xff != nil {
		parts := bytes.Split(xff, []byte(","))
		for i := len(parts) - 1; i >= 0; i-- {
			a := bytes.TrimSpace(parts[i])
			if len(a) == 0 {
				continue
			}
			f.addr = a
			if !trusted.Contains(a) {
				break
			}
		}
	}
	f.proto = req.Header("x-forwarded-proto")
	f.host = req.Header("x-forwarded-host")
	return f
}

type headerGetter interface{ Header(lowerName string) []byte }

func stripPort(v []byte) []byte {
	if len(v) > 0 && v[0] == '[' {
		if i := bytes.IndexByte(v, ']'); i > 0 {
			return v[1:i]
		}
	}
	if bytes.Count(v, []byte(":")) == 1 {
		v, _, _ = bytes.Cut(v, []byte(":"))
	}
	return v
}

// errProxyHeader is a PROXY protocol header that is missing or malformed.
var errProxyHeader = errors.New("bad PROXY protocol header")

var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// maxProxyHeader bounds a PROXY header: v2's 16-byte preamble and its
// 16-bit length (v1 lines are at most 107 bytes).
const maxProxyHeader = 16 + 65535

// parseProxyHeader parses the PROXY protocol header (v1 text or v2 binary, as
// version allows) at the start of buf. It returns the client's address and
// port (nil for LOCAL/UNKNOWN: keep the peer's) and the header's length n;
// n == 0 with no error means buf is a valid beginning: read more.
func parseProxyHeader(buf []byte, version string) (addr, port []byte, n int, err error) {
	if len(buf) >= 12 && bytes.Equal(buf[:12], proxyV2Sig) {
		if version == "v1" {
			return nil, nil, 0, errProxyHeader
		}
		if len(buf) < 16 {
			return nil, nil, 0, nil
		}
		need := 16 + int(binary.BigEndian.Uint16(buf[14:16]))
		if len(buf) < need {
			return nil, nil, 0, nil
		}
		a, p, err := parseProxyV2(buf[:need])
		return a, p, need, err
	}
	if bytes.HasPrefix(buf, []byte("PROXY ")) {
		if version == "v2" {
			return nil, nil, 0, errProxyHeader
		}
		if i := bytes.Index(buf, []byte("\r\n")); i >= 0 {
			a, p, err := parseProxyV1(buf[:i])
			return a, p, i + 2, err
		}
		if len(buf) > 107 {
			return nil, nil, 0, errProxyHeader
		}
		return nil, nil, 0, nil
	}
	// Neither yet: still a prefix of one of the two signatures?
	if !bytes.HasPrefix(proxyV2Sig, buf[:min(len(buf), 12)]) && !bytes.HasPrefix([]byte("PROXY "), buf[:min(len(buf), 6)]) {
		return nil, nil, 0, errProxyHeader
	}
	return nil, nil, 0, nil
}

func parseProxyV1(line []byte) (addr, port []byte, err error) {
	f := bytes.Fields(line)
	if len(f) >= 2 && string(f[1]) == "UNKNOWN" {
		return nil, nil, nil // the proxy's own connection: keep the peer address
	}
	if len(f) != 6 || (string(f[1]) != "TCP4" && string(f[1]) != "TCP6") {
		return nil, nil, errProxyHeader
	}
	if _, err := netip.ParseAddr(string(f[2])); err != nil {
		return nil, nil, errProxyHeader
	}
	if n, err := strconv.Atoi(string(f[4])); err != nil || n < 0 || n > 65535 {
		return nil, nil, errProxyHeader
	}
	return f[2], f[4], nil
}

func parseProxyV2(b []byte) (addr, port []byte, err error) {
	verCmd, fam := b[12], b[13]
	if verCmd>>4 != 2 {
		return nil, nil, errProxyHeader
	}
	if verCmd&0xf == 0 { // LOCAL: health checks from the proxy itself
		return nil, nil, nil
	}
	body := b[16:]
	switch fam >> 4 {
	case 1: // IPv4
		if len(body) < 12 {
			return nil, nil, errProxyHeader
		}
		a := netip.AddrFrom4([4]byte(body[0:4]))
		return []byte(a.String()), []byte(strconv.Itoa(int(binary.BigEndian.Uint16(body[8:10])))), nil
	case 2: // IPv6
		if len(body) < 36 {
			return nil, nil, errProxyHeader
		}
		a := netip.AddrFrom16([16]byte(body[0:16]))
		return []byte(a.String()), []byte(strconv.Itoa(int(binary.BigEndian.Uint16(body[32:34])))), nil
	}
	return nil, nil, nil // UNSPEC / unix: keep the peer address
}
