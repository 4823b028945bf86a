package http1

import (
	"bytes"
	"io"
)

// initialBufSize holds a typical browser request head, or a few pipelined ones.
const initialBufSize = 4096

// Reader is a connection's read side: a buffer over an io.Reader (the net.Conn), reused
// across requests; zero allocations per keep-alive request in steady state.
// It never reads past what it needs except into its own buffer, so pipelined
// requests stay there (Buffered). Not safe for concurrent use.
type Reader struct {
	src    io.Reader
	lim    Limits
	buf    []byte
	r, w   int   // unread data is buf[r:w]
	maxBuf int   // the buffer never grows past this
	srcErr error // error from src not yet returned (io.EOF stays)
	body   Body

	// A ReadRequest that stopped at ErrWouldBlock resumes its scan here
	// (offsets from r.r), so a head trickling in stays linear to parse.
	resume             bool
	scanOff, nextCheck int
}

// NewReader returns a Reader over src (normally a net.Conn) enforcing lim.
// The buffer is allocated on first use and kept across Reset.
func NewReader(src io.Reader, lim Limits) *Reader {
	r := &Reader{}
	r.lim = lim.normalized()
	r.maxBuf = max(r.lim.MaxHeadBytes, r.lim.MaxFieldSize, r.lim.MaxRequestLine) + 2
	r.maxBuf = max(r.maxBuf, initialBufSize)
	r.Reset(src)
	return r
}

// Reset makes r read a new connection, keeping its buffer (for pooling)
// unless one huge head grew it: a pooled Reader holds only initialBufSize.
func (r *Reader) Reset(src io.Reader) {
	if len(r.buf) > initialBufSize {
		r.buf = nil
	}
	r.src = src
	r.r, r.w = 0, 0
	r.srcErr = nil
	r.resume = false
	r.body = Body{r: r, done: true}
}

// Preload puts b (bytes read from the connection before the first request,
// after a PROXY protocol header) in front of what the source gives.
func (r *Reader) Preload(b []byte) {
	if len(b) == 0 {
		return
	}
	if r.buf == nil || len(r.buf)-r.w < len(b) {
		nb := make([]byte, max(initialBufSize, r.w-r.r+len(b)))
		r.w = copy(nb, r.buf[r.r:r.w])
		r.r = 0
		r.buf = nb
	}
	r.w += copy(r.buf[r.w:], b)
}

// Limits returns the limits r enforces (zero values replaced by the defaults).
func (r *Reader) Limits() Limits { return r.lim }

// Buffered returns the number of bytes already read past the current position
// (pipelining: >0 means another request may be waiting).
func (r *Reader) Buffered() int { return r.w - r.r }

// Body returns the current request's body reader (a field of Reader: no allocation).
func (r *Reader) Body() *Body { return &r.body }

// ReadRequest reads until a full head is buffered and parses it into req. io.EOF when the
// peer closed cleanly before any byte of a new request (empty lines do not count);
// io.ErrUnexpectedEOF when it closed in the middle of a head; *Error for a bad request;
// any other error is from src (timeouts included: the caller sets deadlines on the conn).
// ErrWouldBlock from src comes back as is: call again when more bytes can be read.
// Precondition: the previous request's body was fully consumed (see Body / Discard),
// else ErrBodyNotConsumed (or the body's own error).
func (r *Reader) ReadRequest(req *Request) error {
	if !r.body.done {
		if r.body.err != nil {
			return r.body.err
		}
		return ErrBodyNotConsumed
	}
	if r.buf == nil {
		r.buf = make([]byte, initialBufSize)
	}
	if r.r == r.w {
		r.r, r.w = 0, 0
	}
	// Parse re-scans the head from its start, so it runs only when a new line
	// ended, or the unterminated tail grew by a quarter (a limit may have been
	// crossed): a client trickling bytes cannot make the work quadratic.
	force := true
	scanned, nextCheck := r.w, 0
	if r.resume {
		// Everything buffered was looked at before the source ran dry.
		force, scanned, nextCheck = false, r.r+r.scanOff, r.nextCheck
		r.resume = false
	}
	for {
		if r.w > r.r && (force || bytes.IndexByte(r.buf[scanned:r.w], '\n') >= 0 || r.w-r.r >= nextCheck) {
			n, err := parse(r.buf[r.r:r.w], req, &r.lim)
			if err == nil {
				r.r += n
				r.body.start(req)
				return nil
			}
			if err != ErrIncomplete {
				return err
			}
			size := r.w - r.r
			nextCheck = size + max(256, size/4)
		}
		force = false
		scanned = r.w
		if r.srcErr != nil {
			err := r.srcErr
			if err != io.EOF {
				r.srcErr = nil
				return err
			}
			if onlyEmptyLines(r.buf[r.r:r.w]) {
				return io.EOF
			}
			return io.ErrUnexpectedEOF
		}
		if r.w == len(r.buf) && r.r == 0 && len(r.buf) >= r.maxBuf {
			return errHeadTooLarge // unreachable: Parse reports 431 first
		}
		off := r.r
		_, err := r.fill()
		scanned -= off - r.r
		if err == ErrWouldBlock {
			r.srcErr = nil
			r.resume, r.scanOff, r.nextCheck = true, scanned-r.r, nextCheck
			return err
		}
		if err != nil {
			r.srcErr = err
			force = true // a last look at everything before giving up
		}
	}
}

// fill makes room in the buffer (compacting, then growing up to maxBuf) and
// reads once from src. It returns what Read returned.
func (r *Reader) fill() (int, error) {
	if r.w == len(r.buf) {
		if r.r > 0 {
			r.w = copy(r.buf, r.buf[r.r:r.w])
			r.r = 0
		} else if len(r.buf) < r.maxBuf {
			nb := make([]byte, min(max(2*len(r.buf), initialBufSize), r.maxBuf))
			r.w = copy(nb, r.buf[r.r:r.w])
			r.r = 0
			r.buf = nb
		}
	} else if r.r == r.w {
		r.r, r.w = 0, 0
	}
	if r.w == len(r.buf) {
		return 0, io.ErrShortBuffer
	}
	for range 100 {
		n, err := r.src.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			return 0, io.ErrNoProgress
		}
		r.w += n
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}

// onlyEmptyLines reports whether b is nothing but CRLF pairs.
func onlyEmptyLines(b []byte) bool {
	for len(b) >= 2 && b[0] == '\r' && b[1] == '\n' {
		b = b[2:]
	}
	return len(b) == 0
}
