package accesslog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsgikit/wsgikit/server/http1"
)

// DefaultFormat is gunicorn's default (Apache's combined format).
const DefaultFormat = `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`

// Access-log atoms, gunicorn's names, and their keys in JSON lines:
//
//	h remote_addr     l ident ("-")       u remote_user ("-": no auth here)
//	t time            r request_line      m method
//	U path            q query             H protocol
//	s status          B, b response_length (body bytes sent; b is "-" for 0 in text)
//	f referer         a user_agent        p pid
//	T request_time_s  D request_time_us   M request_time_ms   L request_time (decimal seconds)
//	{name}i request_header_<name>   {name}o response_header_<name>   {name}e env_<name>
//
// In JSON, numbers are numbers, time is RFC 3339, a header name's "-" is
// "_", and an atom whose key came earlier in the format is left out.
var jsonKeys = map[byte]string{
	'h': "remote_addr", 'l': "ident", 'u': "remote_user", 't': "time", 'r': "request_line",
	'm': "method", 'U': "path", 'q': "query", 'H': "protocol", 's': "status",
	'B': "response_length", 'b': "response_length", 'f': "referer", 'a': "user_agent", 'p': "pid",
	'T': "request_time_s", 'D': "request_time_us", 'M': "request_time_ms", 'L': "request_time",
	'i': "request_header_", 'o': "response_header_", 'e': "env_",
}

type atom struct {
	lit  string // literal text when kind == 0
	kind byte
	name string // for i, o, e (lower case for headers)
	key  string // in JSON lines; "" when an earlier atom has it
}

// numeric atoms are JSON numbers.
func (a atom) numeric() bool { return strings.IndexByte("sBbTDMLp", a.kind) >= 0 }

// Log formats one line per request in gunicorn's --access-logformat
// (or JSON with the atoms' keys) to a buffered file that USR1 reopens.
type Log struct {
	atoms   []atom
	json    bool
	path    string
	mu      sync.Mutex
	w       *bufio.Writer
	f       io.WriteCloser
	pid     int
	needOut bool // the format uses response headers
}

// CheckFormat reports whether format is a valid gunicorn-style format; the
// error names what is wrong.
func CheckFormat(format string) error {
	_, err := parseFormat(format)
	return err
}

// parseFormat compiles a gunicorn-style format; unknown atoms are an error
// naming them.
func parseFormat(format string) ([]atom, error) {
	var out []atom
	for len(format) > 0 {
		i := strings.Index(format, "%(")
		if i < 0 {
			out = append(out, atom{lit: format})
			break
		}
		if i > 0 {
			out = append(out, atom{lit: format[:i]})
		}
		rest := format[i+2:]
		j := strings.Index(rest, ")s")
		if j < 0 {
			return nil, fmt.Errorf("access log format: %q is not closed with )s", format[i:])
		}
		name := rest[:j]
		format = rest[j+2:]
		if strings.HasPrefix(name, "{") && len(name) >= 3 && name[len(name)-2] == '}' {
			kind := name[len(name)-1]
			if kind != 'i' && kind != 'o' && kind != 'e' {
				return nil, fmt.Errorf("access log format: atom %q: want {name}i, {name}o or {name}e", "%("+name+")s")
			}
			out = append(out, atom{kind: kind, name: strings.ToLower(name[1 : len(name)-2])})
			if kind == 'e' {
				out[len(out)-1].name = name[1 : len(name)-2]
			}
			continue
		}
		if len(name) != 1 || !strings.Contains("hlutrmUqHsBbfaTDMLp", name) {
			return nil, fmt.Errorf("access log format: unknown atom %q (known: h l u t r m U q H s B b f a T D M L p {header}i {header}o {var}e)", "%("+name+")s")
		}
		out = append(out, atom{kind: name[0]})
	}
	seen := map[string]bool{}
	for i, a := range out {
		if a.kind == 0 {
			continue
		}
		key := jsonKeys[a.kind]
		if a.name != "" {
			key += strings.ReplaceAll(a.name, "-", "_")
		}
		if !seen[key] {
			seen[key], out[i].key = true, key
		}
	}
	return out, nil
}

// Open opens path ("-" for stdout) for the format ("": DefaultFormat).
func Open(path, format string, asJSON bool) (*Log, error) {
	if format == "" {
		format = DefaultFormat
	}
	atoms, err := parseFormat(format)
	if err != nil {
		return nil, err
	}
	l := &Log{atoms: atoms, json: asJSON, path: path, pid: os.Getpid()}
	for _, a := range atoms {
		l.needOut = l.needOut || a.kind == 'o'
	}
	if err := l.Reopen(); err != nil {
		return nil, err
	}
	go l.flusher()
	return l, nil
}

// Reopen reopens the file (logrotate, USR1).
func (l *Log) Reopen() error {
	var f io.WriteCloser = nopCloser{os.Stdout}
	if l.path != "-" {
		of, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("access log: %w", err)
		}
		f = of
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w != nil {
		l.w.Flush()
		l.f.Close()
	}
	l.f, l.w = f, bufio.NewWriterSize(f, 32<<10)
	return nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// flusher bounds how long a line stays in the buffer.
func (l *Log) flusher() {
	for range time.Tick(200 * time.Millisecond) {
		l.Flush()
	}
}

// Flush writes buffered lines out.
func (l *Log) Flush() {
	l.mu.Lock()
	l.w.Flush()
	l.mu.Unlock()
}

// NeedsResponse reports whether the format uses response headers: only then
// does a Record need them (SetResponse).
func (l *Log) NeedsResponse() bool { return l.needOut }

// Record keeps what the log needs of a request past the point where the
// parser's buffer is reused (the app may read the body first). One per
// connection, reused: capturing allocates nothing in steady state.
type Record struct {
	arena []byte
	req   http1.Request // its slices point into arena
	resp  []byte        // response header block, when the format needs it
}

// Capture copies what the log needs of r.
func (rc *Record) Capture(r *http1.Request) {
	n := len(r.Method) + len(r.Target) + len(r.Path) + len(r.Query)
	for _, h := range r.Headers {
		n += len(h.Name) + len(h.Value)
	}
	if cap(rc.arena) < n {
		rc.arena = make([]byte, 0, n) // the copies below never reallocate it
	}
	rc.arena = rc.arena[:0]
	keep := func(b []byte) []byte {
		s := len(rc.arena)
		rc.arena = append(rc.arena, b...)
		return rc.arena[s:len(rc.arena):len(rc.arena)]
	}
	q := &rc.req
	q.Method, q.Target, q.Path, q.Query, q.Minor = keep(r.Method), keep(r.Target), keep(r.Path), keep(r.Query), r.Minor
	q.Headers = q.Headers[:0]
	for _, h := range r.Headers {
		q.Headers = append(q.Headers, http1.Header{Name: keep(h.Name), Value: keep(h.Value)})
	}
	rc.resp = rc.resp[:0]
}

// SetResponse keeps the response's header block ("Name: value\r\n" lines).
func (rc *Record) SetResponse(headers []byte) { rc.resp = append(rc.resp[:0], headers...) }

// respHeader finds a header in the saved response block.
func (rc *Record) respHeader(lowerName string) []byte {
	b := rc.resp
	for len(b) > 0 {
		line := b
		if i := bytes.Index(b, crlf); i >= 0 {
			line, b = b[:i], b[i+2:]
		} else {
			b = nil
		}
		if i := bytes.IndexByte(line, ':'); i > 0 && http1.EqualFold(line[:i], lowerName) {
			return bytes.TrimSpace(line[i+1:])
		}
	}
	return nil
}

var crlf = []byte("\r\n")

// AppendLine appends the line for one request to buf: the client's address,
// the status, the body bytes written, when the request was ready and how long
// it took.
func (l *Log) AppendLine(buf []byte, rc *Record, remote []byte, status int, written int64, start time.Time, d time.Duration) []byte {
	if l.json {
		buf = append(buf, '{')
	}
	first := true
	for _, a := range l.atoms {
		if a.kind == 0 {
			if !l.json {
				buf = append(buf, a.lit...)
			}
			continue
		}
		if !l.json {
			buf = appendEscaped(buf, l.value(nil, a, rc, remote, status, written, start, d))
			continue
		}
		if a.key == "" {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendJSONString(buf, []byte(a.key))
		buf = append(buf, ':')
		if a.numeric() {
			buf = l.value(buf, a, rc, remote, status, written, start, d)
		} else {
			buf = appendJSONString(buf, l.value(nil, a, rc, remote, status, written, start, d))
		}
	}
	if l.json {
		buf = append(buf, '}')
	}
	return append(buf, '\n')
}

func (l *Log) value(b []byte, a atom, rc *Record, remote []byte, status int, written int64, start time.Time, d time.Duration) []byte {
	dash := func(v []byte) []byte {
		if len(v) == 0 {
			return append(b, '-')
		}
		return append(b, v...)
	}
	switch a.kind {
	case 'h':
		return dash(remote)
	case 'l', 'u':
		return append(b, '-')
	case 't':
		if l.json {
			return start.AppendFormat(b, time.RFC3339)
		}
		return start.AppendFormat(append(b, '['), "02/Jan/2006:15:04:05 -0700]")
	case 'r':
		b = append(b, rc.req.Method...)
		b = append(b, ' ')
		b = append(b, rc.req.Target...)
		return append(append(b, " HTTP/1."...), byte('0'+rc.req.Minor))
	case 'm':
		return append(b, rc.req.Method...)
	case 'U':
		return append(b, rc.req.Path...)
	case 'q':
		return append(b, rc.req.Query...)
	case 'H':
		return append(append(b, "HTTP/1."...), byte('0'+rc.req.Minor))
	case 's':
		return strconv.AppendInt(b, int64(status), 10)
	case 'B':
		return strconv.AppendInt(b, written, 10)
	case 'b':
		if written == 0 && !l.json {
			return append(b, '-')
		}
		return strconv.AppendInt(b, written, 10)
	case 'f':
		return dash(rc.req.Header("referer"))
	case 'a':
		return dash(rc.req.Header("user-agent"))
	case 'T':
		return strconv.AppendInt(b, int64(d/time.Second), 10)
	case 'D':
		return strconv.AppendInt(b, int64(d/time.Microsecond), 10)
	case 'M':
		return strconv.AppendInt(b, int64(d/time.Millisecond), 10)
	case 'L':
		return strconv.AppendFloat(b, d.Seconds(), 'f', 6, 64)
	case 'p':
		return strconv.AppendInt(b, int64(l.pid), 10)
	case 'i':
		return dash(rc.req.Header(a.name))
	case 'o':
		return dash(rc.respHeader(a.name))
	case 'e':
		return dash([]byte(os.Getenv(a.name)))
	}
	return b
}

// appendEscaped keeps a log line one line: control bytes and quotes are
// escaped (a client must not forge log lines).
func appendEscaped(dst, v []byte) []byte {
	for _, c := range v {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20 || c == 0x7f:
			dst = append(dst, '\\', 'x', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendJSONString appends v as a JSON string. Header bytes are latin-1
// (WSGI's "bytes as unicode"): each byte above 0x7f is its own code point,
// so the line is valid JSON for any request, not Go's \x quoting.
func appendJSONString(dst, v []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range v {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20 || c >= 0x7f:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// Write appends a finished line.
func (l *Log) Write(line []byte) {
	l.mu.Lock()
	// Whole lines per write(2): workers share the file (O_APPEND), and a
	// line split across two writes could be interleaved with another's.
	if l.w.Available() < len(line) {
		l.w.Flush()
	}
	l.w.Write(line)
	l.mu.Unlock()
}
