package framework

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Field is one header or trailer line as received (name and value are the
// raw bytes as text, with surrounding whitespace of the value trimmed).
type Field struct {
	Name, Value string
}

// Framing says how a response body was delimited.
type Framing string

// Response framings.
const (
	FramingNone    Framing = "none" // HEAD, 1xx, 204, 304
	FramingLength  Framing = "content-length"
	FramingChunked Framing = "chunked"
	FramingClose   Framing = "close" // read until the server closed
)

// Response is one HTTP/1.x response parsed by the suite's own reader.
type Response struct {
	Proto      string // "HTTP/1.1"
	Status     int
	Reason     string
	StatusLine string
	Headers    []Field
	Trailers   []Field
	Body       []byte
	Framing    Framing
	// Complete is false when the body ended before its framing said it would
	// (connection closed short of Content-Length, no last chunk, …).
	Complete bool
	// Malformed describes a syntax error in the response (empty if none).
	Malformed string
	// Chunks are the sizes of the chunks received, in order (chunked only).
	Chunks []int
	// Interim are the 1xx responses that preceded this one.
	Interim []*Response
	// Raw is every byte that made up this response (interim ones included).
	Raw []byte
}

// ErrNoResponse means the connection ended or timed out before a status line.
var ErrNoResponse = errors.New("no response")

// Get returns the first header value with this name (case-insensitive).
func (r *Response) Get(name string) (string, bool) {
	for _, f := range r.Headers {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// Values returns every value of the header, in order.
func (r *Response) Values(name string) []string {
	var out []string
	for _, f := range r.Headers {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Count is the number of field lines named name.
func (r *Response) Count(name string) int { return len(r.Values(name)) }

// Summary is a one-line description for verdict details.
func (r *Response) Summary() string {
	if r == nil {
		return "no response"
	}
	s := fmt.Sprintf("%s, %d body bytes (%s", r.StatusLine, len(r.Body), r.Framing)
	if !r.Complete {
		s += ", incomplete"
	}
	s += ")"
	if r.Malformed != "" {
		s += ", malformed: " + r.Malformed
	}
	return s
}

// ReadResponse parses the next response on c. method is the request's
// method (HEAD responses have no body). d bounds the whole read. It returns
// ErrNoResponse (wrapped with the connection state) if no status line came.
func (c *Conn) ReadResponse(method string, d time.Duration) (*Response, error) {
	deadline := time.Now().Add(d)
	var interim []*Response
	var raw []byte
	for {
		r, err := c.readOne(method, deadline)
		if err != nil {
			if len(interim) > 0 {
				return &Response{Interim: interim, Raw: raw, Malformed: "only interim responses: " + err.Error()}, nil
			}
			return nil, err
		}
		raw = append(raw, r.Raw...)
		if r.Status >= 100 && r.Status < 200 && r.Status != 101 && r.Malformed == "" {
			interim = append(interim, r)
			continue
		}
		r.Interim = interim
		r.Raw = raw
		return r, nil
	}
}

// line returns the next line (without its terminator) from the buffer,
// reading more as needed; bareLF reports a terminator without CR.
func (c *Conn) line(deadline time.Time, consumed *[]byte) (string, bool, error) {
	for {
		if i := bytes.IndexByte(c.buf, '\n'); i >= 0 {
			ln := c.buf[:i]
			*consumed = append(*consumed, c.buf[:i+1]...)
			c.buf = c.buf[i+1:]
			bare := true
			if len(ln) > 0 && ln[len(ln)-1] == '\r' {
				ln = ln[:len(ln)-1]
				bare = false
			}
			return string(ln), bare, nil
		}
		if len(c.buf) > 1<<20 {
			return "", false, fmt.Errorf("line longer than 1 MiB")
		}
		if !c.fill(deadline) {
			return "", false, fmt.Errorf("%w: connection %s", ErrNoResponse, c.state)
		}
	}
}

// take returns exactly n bytes (or fewer if the stream ends).
func (c *Conn) take(n int, deadline time.Time, consumed *[]byte) []byte {
	for len(c.buf) < n {
		if !c.fill(deadline) {
			break
		}
	}
	if n > len(c.buf) {
		n = len(c.buf)
	}
	b := append([]byte(nil), c.buf[:n]...)
	*consumed = append(*consumed, b...)
	c.buf = c.buf[n:]
	return b
}

func (c *Conn) readOne(method string, deadline time.Time) (*Response, error) {
	r := &Response{Complete: true}
	var raw []byte
	defer func() { r.Raw = raw }()
	status, bare, err := c.line(deadline, &raw)
	if err != nil {
		return nil, fmt.Errorf("%w (received %q)", err, Escape(c.buf))
	}
	r.StatusLine = status
	if bare {
		r.Malformed = "status line ends in bare LF"
	}
	parts := strings.SplitN(status, " ", 3)
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "HTTP/") || len(parts[1]) != 3 {
		r.Malformed = "bad status line"
		r.Complete = false
		r.Body = append([]byte(nil), c.buf...)
		return r, nil
	}
	r.Proto = parts[0]
	r.Status, err = strconv.Atoi(parts[1])
	if err != nil || strings.Trim(parts[1], "0123456789") != "" { // 3DIGIT: Atoi takes a sign too
		r.Status = 0
		r.Malformed = "bad status code"
		r.Complete = false
		return r, nil
	}
	if len(parts) == 3 {
		r.Reason = parts[2]
	}
	for {
		ln, bare, err := c.line(deadline, &raw)
		if err != nil {
			r.Malformed = "header section incomplete"
			r.Complete = false
			return r, nil
		}
		if bare && r.Malformed == "" {
			r.Malformed = "header line ends in bare LF"
		}
		if ln == "" {
			break
		}
		name, value, ok := strings.Cut(ln, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			if r.Malformed == "" {
				r.Malformed = fmt.Sprintf("bad header line %q", Escape([]byte(ln)))
			}
			continue
		}
		r.Headers = append(r.Headers, Field{Name: name, Value: strings.Trim(value, " \t")})
	}
	// Body length (RFC 9112 §6.3, as a client).
	switch {
	case method == "HEAD" || r.Status < 200 || r.Status == 204 || r.Status == 304:
		r.Framing = FramingNone
		return r, nil
	}
	if te := r.Values("Transfer-Encoding"); len(te) > 0 {
		codings := strings.Split(strings.Join(te, ","), ",")
		last := strings.ToLower(strings.TrimSpace(codings[len(codings)-1]))
		if last == "chunked" {
			r.Framing = FramingChunked
			c.readChunked(r, deadline, &raw)
			return r, nil
		}
		r.Framing = FramingClose
		r.Body = c.untilClose(deadline, &raw)
		r.Complete = c.state == StateFIN || c.state == StateRST
		return r, nil
	}
	if cls := r.Values("Content-Length"); len(cls) > 0 {
		n, err := strconv.Atoi(cls[0])
		if err != nil || n < 0 || len(cls) > 1 && anyDiffer(cls) {
			r.Malformed = fmt.Sprintf("bad Content-Length %q", cls)
			r.Framing = FramingClose
			r.Body = c.untilClose(deadline, &raw)
			return r, nil
		}
		r.Framing = FramingLength
		r.Body = c.take(n, deadline, &raw)
		r.Complete = len(r.Body) == n
		return r, nil
	}
	r.Framing = FramingClose
	r.Body = c.untilClose(deadline, &raw)
	r.Complete = c.state == StateFIN || c.state == StateRST
	return r, nil
}

func anyDiffer(v []string) bool {
	for _, s := range v[1:] {
		if s != v[0] {
			return true
		}
	}
	return false
}

func (c *Conn) untilClose(deadline time.Time, consumed *[]byte) []byte {
	for c.fill(deadline) {
	}
	b := c.buf
	*consumed = append(*consumed, b...)
	c.buf = nil
	return b
}

func (c *Conn) readChunked(r *Response, deadline time.Time, raw *[]byte) {
	bad := func(why string) {
		if r.Malformed == "" {
			r.Malformed = why
		}
		r.Complete = false
	}
	for {
		ln, bare, err := c.line(deadline, raw)
		if err != nil {
			bad("chunked body ended before the last chunk")
			return
		}
		if bare {
			bad("chunk size line ends in bare LF")
		}
		sizeStr, _, _ := strings.Cut(ln, ";")
		sizeStr = strings.TrimRight(sizeStr, " \t")
		size, err := strconv.ParseUint(sizeStr, 16, 62)
		if err != nil || sizeStr == "" || strings.HasPrefix(sizeStr, "+") {
			bad(fmt.Sprintf("bad chunk size line %q", Escape([]byte(ln))))
			return
		}
		r.Chunks = append(r.Chunks, int(size))
		if size == 0 {
			break
		}
		data := c.take(int(size), deadline, raw)
		r.Body = append(r.Body, data...)
		if len(data) < int(size) {
			bad("chunk data truncated")
			return
		}
		crlf := c.take(2, deadline, raw)
		if string(crlf) != "\r\n" {
			bad(fmt.Sprintf("chunk data not followed by CRLF (%q)", Escape(crlf)))
			return
		}
	}
	for {
		ln, _, err := c.line(deadline, raw)
		if err != nil {
			bad("no CRLF after the last chunk")
			return
		}
		if ln == "" {
			return
		}
		name, value, _ := strings.Cut(ln, ":")
		r.Trailers = append(r.Trailers, Field{Name: name, Value: strings.TrimSpace(value)})
	}
}

// AnnouncedClose reports whether the response told the client the
// connection ends after it (Connection: close, or HTTP/1.0 without
// keep-alive), so that unanswered pipelined requests are expected.
func (r *Response) AnnouncedClose() bool {
	if r == nil {
		return false
	}
	conn := strings.ToLower(strings.Join(r.Values("Connection"), ","))
	if strings.Contains(conn, "close") {
		return true
	}
	return r.Proto == "HTTP/1.0" && !strings.Contains(conn, "keep-alive")
}
