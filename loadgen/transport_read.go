package loadgen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/wsgikit/wsgikit/internal/httpresp"
)

// errNoResponse: the connection ended before the first response byte.
var errNoResponse = errors.New("connection closed before any response byte")

var (
	status200 = "200 OK"
	emptyHdr  = http.Header{}
)

// setReader makes r, buffered, the connection's response stream.
func (c *conn) setReader(r io.Reader) {
	c.br = bufio.NewReaderSize(r, 16<<10)
	c.rd = httpresp.NewReader(c.br, httpresp.Strict)
}

// readResponse reads the status line and header section with the strict
// reader (a response that breaks its rules is an error, not a served
// request) and sets up the body.
func (c *conn) readResponse(req *http.Request) (*http.Response, *body, error) {
	start := c.rd.Consumed()
	for {
		st, err := c.rd.ReadStatus()
		if err != nil {
			if st.Line != nil {
				return nil, nil, fmt.Errorf("malformed status line %q: %w", st.Line, err)
			}
			if c.rd.Consumed() == start && (err == io.EOF || isConnReset(err)) {
				return nil, nil, errNoResponse
			}
			return nil, nil, wrapErr("read status line", err)
		}
		if err := finalStatus(st); err != nil {
			return nil, nil, err
		}
		if st.Code < 200 {
			if _, err := c.rd.ReadHeader(req.Method, st, nil); err != nil {
				return nil, nil, headerErr(err)
			}
			continue // interim response: the real one follows
		}
		// One allocation for the response and its body reader.
		rb := &respBody{resp: http.Response{StatusCode: st.Code, ProtoMajor: 1, ProtoMinor: st.Minor, Request: req, ContentLength: -1}}
		resp := &rb.resp
		resp.Proto = st.Proto()
		// The reason aliases the read buffer: it is copied before the headers are read.
		if st.Code == 200 && string(st.Reason()) == "OK" {
			resp.Status = status200
		} else {
			resp.Status = strconv.Itoa(st.Code) + " " + string(st.Reason())
		}
		hdr := emptyHdr
		var field func(name, value []byte)
		if c.t.KeepHeaders {
			hdr = make(http.Header)
			field = func(name, value []byte) {
				k := http.CanonicalHeaderKey(string(name))
				hdr[k] = append(hdr[k], string(value))
			}
		}
		h, err := c.rd.ReadHeader(req.Method, st, field)
		if err != nil {
			return nil, nil, headerErr(err)
		}
		c.t.bytesIn.Add(uint64(c.rd.Consumed() - start))
		resp.Header = hdr
		b := &rb.body
		b.c, b.keep = c, h.Persistent && !req.Close
		resp.Body = b
		switch h.Framing {
		case httpresp.FramingNone:
			b.done = true
			resp.ContentLength = 0
		case httpresp.FramingChunked:
			b.chunked = true
			b.ck = c.rd.Chunked()
			resp.TransferEncoding = []string{"chunked"}
		case httpresp.FramingLength:
			b.remaining = h.ContentLength
			resp.ContentLength = h.ContentLength
			b.done = h.ContentLength == 0
		default:
			b.untilEOF = true
			b.keep = false
		}
		resp.Close = !b.keep
		return resp, b, nil
	}
}

// finalStatus refuses the status lines the driver cannot count: a status
// code below 100 (RFC 9110 §15 calls it invalid, and 0 is how results say
// "no response") and 101, a protocol switch; the rest of 1xx are interim.
func finalStatus(st httpresp.Status) error {
	switch {
	case st.Code < 100:
		return fmt.Errorf("malformed status line %q: status code below 100", st.Line)
	case st.Code == 101:
		return errors.New("server switched protocols (101); not supported")
	}
	return nil
}

// headerErr says why a header section could not be read.
func headerErr(err error) error {
	var se *httpresp.SyntaxError
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return errors.New("response header line longer than 16 KiB")
	case errors.As(err, &se):
		return err
	}
	return wrapErr("read headers", err)
}

func isConnReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

type respBody struct {
	resp http.Response
	body body
}

// body reads one response body and hands the connection back when the body
// has been read to its end (or closes it when it cannot be reused).
type body struct {
	c         *conn
	remaining int64 // Content-Length bytes left
	ck        httpresp.ChunkedReader
	err       error       // sticky
	stop      func() bool // context.AfterFunc stop, if any
	// The flags last, packed: the response with its body reader stays in
	// one 224-byte allocation.
	keep     bool
	chunked  bool
	untilEOF bool
	done     bool // all framing bytes consumed
	released bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		b.finish(nil)
		return 0, io.EOF
	}
	var n int
	var err error
	switch {
	case b.chunked:
		// The reader counts framing bytes too.
		before := b.c.rd.Consumed()
		n, err = b.ck.Read(p)
		b.c.t.bytesIn.Add(uint64(b.c.rd.Consumed() - before))
		if err == io.EOF {
			b.done = true
		}
	case b.untilEOF:
		n, err = b.c.br.Read(p)
		b.c.t.bytesIn.Add(uint64(n))
		if err == io.EOF {
			b.done = true
		}
	default:
		if int64(len(p)) > b.remaining {
			p = p[:b.remaining]
		}
		n, err = b.c.br.Read(p)
		b.c.t.bytesIn.Add(uint64(n))
		b.remaining -= int64(n)
		if b.remaining == 0 {
			b.done = true
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil && err != io.EOF {
		b.finish(wrapErr("read body", err))
		return n, b.err
	}
	if b.done {
		b.finish(nil)
		if n == 0 {
			return 0, io.EOF
		}
	}
	return n, nil
}

func eofUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// WriteTo lets io.Copy(io.Discard, body) skip bytes in the connection's
// buffer instead of copying them out.
func (b *body) WriteTo(w io.Writer) (int64, error) {
	if w != io.Discard {
		return io.Copy(w, struct{ io.Reader }{b})
	}
	var total int64
	for !b.done && b.err == nil {
		if !b.chunked && !b.untilEOF && b.remaining > int64(b.c.br.Buffered())+32<<10 {
			// A large body: drop what is buffered, then read the rest
			// straight from the socket in big reads (never past the body).
			n, _ := b.c.br.Discard(b.c.br.Buffered())
			b.remaining -= int64(n)
			total += int64(n)
			b.c.t.bytesIn.Add(uint64(n))
			scratch := b.c.scratchBuf()
			for b.remaining > 0 {
				m, err := b.c.nc.Read(scratch[:min(b.remaining, int64(len(scratch)))])
				b.remaining -= int64(m)
				total += int64(m)
				b.c.t.bytesIn.Add(uint64(m))
				if err != nil && b.remaining > 0 {
					b.finish(wrapErr("read body", eofUnexpected(err)))
					return total, b.err
				}
			}
			b.done = true
			break
		}
		if !b.chunked && !b.untilEOF {
			n, err := b.c.br.Discard(int(min(b.remaining, 1<<30)))
			b.remaining -= int64(n)
			b.c.t.bytesIn.Add(uint64(n))
			total += int64(n)
			if b.remaining == 0 {
				b.done = true
				break
			}
			if err != nil {
				b.finish(wrapErr("read body", eofUnexpected(err)))
				return total, b.err
			}
			continue
		}
		// Reads as large as the scratch go around bufio, straight into it.
		n, err := b.Read(b.c.scratchBuf())
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	if b.err != nil && b.err != io.EOF {
		return total, b.err
	}
	b.finish(nil)
	return total, nil
}

// Close releases the connection: reusable only when the body was read to
// its end; an unread body costs a new connection, as in net/http.
func (b *body) Close() error {
	if b.released {
		return nil
	}
	if !b.done {
		b.keep = false
	}
	b.finish(nil)
	return nil
}

func (b *body) finish(err error) {
	if err != nil && b.err == nil {
		b.err = err
		b.keep = false
	}
	if b.released {
		return
	}
	b.released = true
	if b.stop != nil {
		b.stop()
	}
	if b.err == nil {
		b.err = io.EOF
	}
	b.c.release(b.keep && b.done)
}
