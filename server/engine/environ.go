package engine

import (
	"bytes"
	"strconv"

	"github.com/wsgikit/wsgikit/server/http1"
	"github.com/wsgikit/wsgikit/server/ipset"
)

// Environ keys with a fixed index, interned once on the Python side so that
// building an environ makes no key strings for the common ones. The order is a
// contract with the worker extension (it interns them in this order at start).
var EnvKeys = []string{
	"REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
	"CONTENT_LENGTH", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR",
	"REMOTE_PORT", "RAW_URI", "REQUEST_URI",
	"HTTP_HOST", "HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_ACCEPT_ENCODING",
	"HTTP_ACCEPT_LANGUAGE", "HTTP_CONNECTION", "HTTP_COOKIE", "HTTP_REFERER",
	"HTTP_CACHE_CONTROL", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO",
	"HTTP_X_REQUEST_ID", "HTTP_AUTHORIZATION", "HTTP_ORIGIN", "HTTP_UPGRADE_INSECURE_REQUESTS",
	"HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_EXPECT", "HTTP_TRANSFER_ENCODING",
	"HTTP_X_PROBE_ID", "wsgi.url_scheme",
	"HTTPS", "SSL_PROTOCOL", "SSL_CIPHER", "SSL_CLIENT_VERIFY", // TLS connections (tls.go)
}

const (
	keyMethod = iota
	keyScriptName
	keyPathInfo
	keyQuery
	keyContentType
	keyContentLength
	keyServerName
	keyServerPort
	keyProtocol
	keyRemoteAddr
	keyRemotePort
	keyRawURI
	keyRequestURI
	keyCookie = 19
	keyHost   = 13
	keyScheme = 33

	keyHTTPS           = 34
	keySSLProtocol     = 35
	keySSLCipher       = 36
	keySSLClientVerify = 37
)

var envKeyIndex = func() map[string]int32 {
	m := make(map[string]int32, len(EnvKeys))
	for i, k := range EnvKeys {
		m[k] = int32(i)
	}
	return m
}()

// EnvEntry locates one environ item in an Environ's byte buffer. Key is an
// index into EnvKeys, or -1 when the key's bytes are in the buffer. The
// layout is plain integers so it can be handed to C as is.
type EnvEntry struct {
	Key        int32
	KOff, KLen int32
	VOff, VLen int32
}

// Environ is the CGI part of a WSGI environ, flattened: every string is bytes
// that the worker decodes as latin-1 (PEP 3333 "bytes as unicode"). It is
// reused across requests, so building one allocates nothing in steady state.
type Environ struct {
	Buf     []byte
	Entries []EnvEntry
}

func (e *Environ) reset() {
	e.Buf = e.Buf[:0]
	e.Entries = e.Entries[:0]
}

func (e *Environ) add(key int32, val []byte) {
	off := len(e.Buf)
	e.Buf = append(e.Buf, val...)
	e.Entries = append(e.Entries, EnvEntry{Key: key, VOff: int32(off), VLen: int32(len(val))})
}

// addNamed adds a key that is not in EnvKeys.
func (e *Environ) addNamed(key, val string) {
	koff := len(e.Buf)
	e.Buf = append(e.Buf, key...)
	voff := len(e.Buf)
	e.Buf = append(e.Buf, val...)
	e.Entries = append(e.Entries, EnvEntry{Key: -1, KOff: int32(koff), KLen: int32(len(key)), VOff: int32(voff), VLen: int32(len(val))})
}

// value returns the value of an entry.
func (e *Environ) value(i int) []byte {
	en := e.Entries[i]
	return e.Buf[en.VOff : en.VOff+en.VLen]
}

// keyName returns the key of an entry.
func (e *Environ) keyName(i int) string {
	en := e.Entries[i]
	if en.Key >= 0 {
		return EnvKeys[en.Key]
	}
	return string(e.Buf[en.KOff : en.KOff+en.KLen])
}

// lookup returns the value for key.
func (e *Environ) lookup(key string) ([]byte, bool) {
	for i := range e.Entries {
		if e.keyName(i) == key {
			return e.value(i), true
		}
	}
	return nil, false
}

// connInfo is what the environ needs to know about the connection.
type connInfo struct {
	ServerName []byte // listener host, used when the request has no usable Host
	ServerPort []byte
	RemoteAddr []byte
	RemotePort []byte
	// Proxies is set when the peer is a trusted proxy (--forwarded-allow-ips):
	// its X-Forwarded-* / Forwarded fields then decide REMOTE_ADDR,
	// wsgi.url_scheme and the host.
	Proxies *ipset.Set
	TLS     *tlsEnv // nil: plaintext
}

// errBadPath is returned for a path whose percent-encoding is malformed.
var errBadPath = &http1.Error{Status: 400, Reason: "malformed percent-encoding in path"}

// buildEnviron flattens req into e, reusing its buffers. It fails only for a
// path that cannot be percent-decoded.
func buildEnviron(e *Environ, req *http1.Request, ci *connInfo, scriptName []byte) error {
	e.reset()
	e.add(keyMethod, req.Method)
	e.add(keyScriptName, scriptName)
	// PATH_INFO is percent-decoded (PEP 3333 via CGI); %2F therefore becomes
	// "/" and stays distinguishable only through RAW_URI/REQUEST_URI.
	off := len(e.Buf)
	var ok bool
	e.Buf, ok = appendUnescaped(e.Buf, req.Path)
	if !ok {
		e.Buf = e.Buf[:off]
		return errBadPath
	}
	path := e.Buf[off:]
	if len(scriptName) > 0 && bytes.HasPrefix(path, scriptName) {
		off += len(scriptName)
	}
	e.Entries = append(e.Entries, EnvEntry{Key: keyPathInfo, VOff: int32(off), VLen: int32(len(e.Buf) - off)})
	e.add(keyQuery, req.Query)
	e.add(keyRawURI, req.Target)
	e.add(keyRequestURI, req.Target)
	proto := protoHTTP11
	if req.Minor == 0 {
		proto = protoHTTP10
	}
	e.add(keyProtocol, proto)
	var fw forwarded
	if ci.Proxies != nil {
		fw = fromProxy(req, ci.Proxies)
	}
	host := req.Host
	if fw.host != nil {
		host = fw.host
	}
	scheme := fw.proto
	if p := string(scheme); p != "https" && p != "http" {
		scheme = nil
		if ci.TLS != nil {
			scheme = schemeHTTPS // a trusted proxy's word wins: it saw the client
		}
	}
	name, port := splitHostPort(host)
	if len(name) == 0 {
		name, port = ci.ServerName, ci.ServerPort
	} else if len(port) == 0 {
		port = port80
		if string(scheme) == "https" {
			port = port443
		}
	}
	e.add(keyServerName, name)
	e.add(keyServerPort, port)
	if fw.addr != nil {
		e.add(keyRemoteAddr, fw.addr)
		e.add(keyRemotePort, nil)
	} else {
		e.add(keyRemoteAddr, ci.RemoteAddr)
		e.add(keyRemotePort, ci.RemotePort)
	}
	if scheme != nil {
		e.add(keyScheme, scheme)
	}
	if ci.TLS != nil {
		ci.TLS.add(e)
	}
	if req.ContentLength >= 0 {
		off := len(e.Buf)
		e.Buf = strconv.AppendInt(e.Buf, req.ContentLength, 10)
		e.Entries = append(e.Entries, EnvEntry{Key: keyContentLength, VOff: int32(off), VLen: int32(len(e.Buf) - off)})
	}
	e.addHeaders(req)
	if req.AbsoluteForm {
		// RFC 9112 §3.2.2: the target's authority replaces the Host field.
		e.add(keyHost, req.Host)
	}
	if fw.host != nil {
		e.add(keyHost, fw.host) // after the fields: it replaces HTTP_HOST
	}
	return nil
}

var (
	protoHTTP11 = []byte("HTTP/1.1")
	protoHTTP10 = []byte("HTTP/1.0")
	port80      = []byte("80")
	port443     = []byte("443")
)

// addHeaders adds HTTP_* keys. Names with "_" are dropped (they would collide
// with "-" after conversion: a header-smuggling vector through proxies);
// Content-Type maps to CONTENT_TYPE; Content-Length is already there from the
// parsed value; repeated fields are joined with ", " ("; " for Cookie).
func (e *Environ) addHeaders(req *http1.Request) {
	var kb [128]byte
	hs := req.Headers
	for i := range hs {
		h := &hs[i]
		if bytes.IndexByte(h.Name, '_') >= 0 || len(h.Name)+5 > len(kb) {
			continue
		}
		if http1.EqualFold(h.Name, "content-length") {
			continue
		}
		if seenBefore(hs, i) {
			continue
		}
		key := cgiKey(kb[:0], h.Name)
		idx, known := envKeyIndex[string(key)]
		if http1.EqualFold(h.Name, "content-type") {
			idx, known = keyContentType, true
		}
		sep := ", "
		if idx == keyCookie {
			sep = "; "
		}
		voff := len(e.Buf)
		var koff int
		if !known {
			koff = len(e.Buf)
			e.Buf = append(e.Buf, key...)
			voff = len(e.Buf)
		}
		e.Buf = append(e.Buf, h.Value...)
		for j := i + 1; j < len(hs); j++ {
			if sameFieldName(hs[j].Name, h.Name) {
				e.Buf = append(e.Buf, sep...)
				e.Buf = append(e.Buf, hs[j].Value...)
			}
		}
		en := EnvEntry{Key: idx, VOff: int32(voff), VLen: int32(len(e.Buf) - voff)}
		if !known {
			en.Key, en.KOff, en.KLen = -1, int32(koff), int32(len(key))
		}
		e.Entries = append(e.Entries, en)
	}
}

func seenBefore(hs []http1.Header, i int) bool {
	for j := 0; j < i; j++ {
		if sameFieldName(hs[j].Name, hs[i].Name) {
			return true
		}
	}
	return false
}

func sameFieldName(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// cgiKey appends "HTTP_" + name upper-cased with "-" as "_".
func cgiKey(dst, name []byte) []byte {
	dst = append(dst, "HTTP_"...)
	for _, c := range name {
		switch {
		case c == '-':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// splitHostPort splits a Host value; an IPv6 literal keeps its brackets.
func splitHostPort(h []byte) (host, port []byte) {
	if len(h) == 0 {
		return nil, nil
	}
	if h[0] == '[' {
		end := bytes.IndexByte(h, ']')
		if end < 0 {
			return h, nil
		}
		host = h[:end+1]
		if end+1 < len(h) && h[end+1] == ':' {
			port = h[end+2:]
		}
		return host, port
	}
	if i := bytes.LastIndexByte(h, ':'); i >= 0 {
		return h[:i], h[i+1:]
	}
	return h, nil
}

// appendUnescaped percent-decodes p onto dst; ok is false on a malformed escape.
func appendUnescaped(dst, p []byte) ([]byte, bool) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 >= len(p) || !ishex(p[i+1]) || !ishex(p[i+2]) {
			return dst, false
		}
		dst = append(dst, unhex(p[i+1])<<4|unhex(p[i+2]))
		i += 2
	}
	return dst, true
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
