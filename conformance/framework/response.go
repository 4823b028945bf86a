package framework

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wsgikit/wsgikit/internal/httpresp"
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

// Response is one HTTP/1.x response as the suite received it, read with
// httpresp's reader in its lenient mode.
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

	persistent bool // the header section announced a persistent connection
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

// src is the Conn as an httpresp.Source for one response: reads wait until
// deadline, and every byte a parser takes is kept in raw. What it has not
// taken stays in the Conn's unread buffer, a line cut short included.
type src struct {
	c        *Conn
	deadline time.Time
	raw      []byte
}

// errLineTooLong bounds a line the suite waits for.
var errLineTooLong = errors.New("line longer than 1 MiB")

// end is the error for a stream that can give no more: a timeout, or the
// end of the stream (a reset ends it as a close does).
func (s *src) end() error {
	if s.c.state == StateTimeout {
		return os.ErrDeadlineExceeded
	}
	return io.EOF
}

func (s *src) ReadSlice(delim byte) ([]byte, error) {
	c := s.c
	for {
		if i := bytes.IndexByte(c.buf, delim); i >= 0 {
			line := c.buf[:i+1]
			s.raw = append(s.raw, line...)
			c.buf = c.buf[i+1:]
			return line, nil
		}
		if len(c.buf) > 1<<20 {
			return nil, errLineTooLong
		}
		if !c.fill(s.deadline) {
			return nil, s.end()
		}
	}
}

func (s *src) Read(p []byte) (int, error) {
	c := s.c
	if len(c.buf) == 0 && !c.fill(s.deadline) {
		return 0, s.end()
	}
	n := copy(p, c.buf)
	s.raw = append(s.raw, c.buf[:n]...)
	c.buf = c.buf[n:]
	return n, nil
}

func (s *src) ReadByte() (byte, error) {
	var b [1]byte
	if _, err := s.Read(b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}

// take returns exactly n bytes (or fewer if the stream ends).
func (s *src) take(n int64) []byte {
	c := s.c
	for int64(len(c.buf)) < n {
		if !c.fill(s.deadline) {
			break
		}
	}
	n = min(n, int64(len(c.buf)))
	b := append([]byte(nil), c.buf[:n]...)
	s.raw = append(s.raw, b...)
	c.buf = c.buf[n:]
	return b
}

// untilClose returns everything until the server closes or the deadline.
func (s *src) untilClose() []byte {
	c := s.c
	for c.fill(s.deadline) {
	}
	b := c.buf
	s.raw = append(s.raw, b...)
	c.buf = nil
	return b
}

// readOne reads one response (an interim one included) with the lenient
// reader: the first violation becomes Malformed, and what the server sent
// is still recorded as far as its framing can be told.
func (c *Conn) readOne(method string, deadline time.Time) (*Response, error) {
	s := &src{c: c, deadline: deadline}
	rd := httpresp.NewReader(s, httpresp.Lenient)
	r := &Response{Complete: true}
	defer func() { r.Raw = s.raw }()
	malformed := func(why string) {
		if r.Malformed == "" {
			r.Malformed = why
		}
	}
	st, err := rd.ReadStatus()
	if st.Line == nil {
		if errors.Is(err, errLineTooLong) {
			return nil, fmt.Errorf("%w (received %q)", err, Escape(c.buf))
		}
		return nil, fmt.Errorf("%w: connection %s (received %q)", ErrNoResponse, c.state, Escape(c.buf))
	}
	r.StatusLine = string(st.Line)
	switch {
	case errors.Is(err, httpresp.ErrStatusCode):
		r.Malformed = err.Error()
		r.Complete = false
		return r, nil
	case err != nil:
		r.Malformed = err.Error()
		r.Complete = false
		r.Body = append([]byte(nil), c.buf...)
		return r, nil
	}
	r.Proto, r.Status, r.Reason = st.Proto(), st.Code, string(st.Reason())
	h, err := rd.ReadHeader(method, st, func(name, value []byte) {
		r.Headers = append(r.Headers, Field{Name: string(name), Value: string(value)})
	})
	r.persistent = h.Persistent
	if v := rd.Violation(); v != nil {
		malformed(v.Error())
	}
	if err != nil {
		r.Malformed = "header section incomplete"
		r.Complete = false
		return r, nil
	}
	r.Framing = Framing(h.Framing.String())
	switch h.Framing {
	case httpresp.FramingChunked:
		before := rd.Violations()
		rd.OnChunk = func(n int64) { r.Chunks = append(r.Chunks, int(n)) }
		rd.OnTrailer = func(name, value []byte) {
			r.Trailers = append(r.Trailers, Field{Name: string(name), Value: string(value)})
		}
		ck := rd.Chunked()
		body, err := io.ReadAll(&ck)
		r.Body = body
		if rd.Violations() > before { // a violation inside the body leaves it incomplete
			malformed(rd.Violation().Error())
			r.Complete = false
		}
		if err != nil {
			malformed(err.Error())
			r.Complete = false
		}
	case httpresp.FramingLength:
		r.Body = s.take(h.ContentLength)
		r.Complete = int64(len(r.Body)) == h.ContentLength
	case httpresp.FramingClose:
		r.Body = s.untilClose()
		r.Complete = c.state == StateFIN || c.state == StateRST
	}
	return r, nil
}

// AnnouncedClose reports whether the response told the client the
// connection ends after it (Connection: close, or HTTP/1.0 without
// keep-alive), so that unanswered pipelined requests are expected.
func (r *Response) AnnouncedClose() bool {
	return r != nil && r.Proto != "" && !r.persistent
}
