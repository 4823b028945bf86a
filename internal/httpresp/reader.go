package httpresp

import (
	"fmt"
	"io"
)

// Source is what a Reader reads from; a *bufio.Reader is one. As with
// bufio, ReadSlice's slice is valid until the next read, and data it
// returns along with an error counts as consumed.
type Source interface {
	io.Reader
	io.ByteReader
	ReadSlice(delim byte) (line []byte, err error)
}

// Mode is what a Reader does with a violation after which the framing is
// still known (a bare LF, a bad field line, a bad Content-Length). Any
// other breach (a bad status line or chunk size, no CRLF after chunk data)
// ends the read in both modes.
type Mode uint8

const (
	// Strict returns the violation as the read's error: the load driver
	// does not count a response that breaks the rules as served.
	Strict Mode = iota
	// Lenient records the violation (Violation) and reads on, so that the
	// conformance suite can still show what the server sent.
	Lenient
)

// Reader reads responses from a Source, one after the other. It does not
// buffer: what it has not consumed stays in the source.
type Reader struct {
	src      Source
	mode     Mode
	first    error // first violation since the last status line
	count    int   // violations since the last status line
	consumed int64

	// OnChunk, if set, is told the size of each chunk of a chunked body as
	// its line is read (0 for the last chunk).
	OnChunk func(size int64)
	// OnTrailer, if set, receives each well-formed trailer field line.
	OnTrailer func(name, value []byte)
}

// NewReader returns a Reader of src.
func NewReader(src Source, mode Mode) *Reader { return &Reader{src: src, mode: mode} }

// Violation is the first violation read past (Lenient) since the last
// status line, or nil.
func (r *Reader) Violation() error { return r.first }

// Violations counts the violations read past since the last status line.
func (r *Reader) Violations() int { return r.count }

// Consumed counts the bytes the Reader has taken from its source.
func (r *Reader) Consumed() int64 { return r.consumed }

// violate records err (Lenient) or returns it (Strict).
func (r *Reader) violate(err error) error {
	if r.mode == Strict {
		return err
	}
	if r.first == nil {
		r.first = err
	}
	r.count++
	return nil
}

var (
	errBareStatus  = &SyntaxError{"status line ends in bare LF"}
	errBareField   = &SyntaxError{"header line ends in bare LF"}
	errBareChunk   = &SyntaxError{"chunk size line ends in bare LF"}
	errBareTrailer = &SyntaxError{"trailer line ends in bare LF"}
)

// line returns the next line without its line ending; bare reports an LF
// without CR before it.
func (r *Reader) line() (line []byte, bare bool, err error) {
	b, err := r.src.ReadSlice('\n')
	r.consumed += int64(len(b))
	if err != nil {
		return nil, false, err
	}
	b = b[:len(b)-1]
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1], false, nil
	}
	return b, true, nil
}

// ReadStatus reads a status line. An I/O error is returned as it is, with
// Line nil; a line that is no status line gives Line and ErrStatusLine or
// ErrStatusCode.
func (r *Reader) ReadStatus() (Status, error) {
	r.first, r.count = nil, 0
	line, bare, err := r.line()
	if err != nil {
		return Status{}, err
	}
	st, err := ParseStatusLine(line)
	if err == nil && bare {
		err = r.violate(errBareStatus)
	}
	return st, err
}

// Framing is how a response body is delimited (RFC 9112 §6.3).
type Framing uint8

// Framings.
const (
	FramingNone    Framing = iota // HEAD, 1xx, 204, 304
	FramingLength                 // Content-Length
	FramingChunked                // Transfer-Encoding ending in chunked
	FramingClose                  // read until the server closes
)

func (f Framing) String() string {
	switch f {
	case FramingNone:
		return "none"
	case FramingLength:
		return "content-length"
	case FramingChunked:
		return "chunked"
	}
	return "close"
}

// Head is what a header section says about the body and the connection.
type Head struct {
	Framing       Framing
	ContentLength int64 // with FramingLength
	// Persistent: the server announced the connection stays open after
	// this response (RFC 9112 §9.3): no "close" connection option, and
	// HTTP/1.1 or a "keep-alive" one. A close-delimited body ends it anyway.
	Persistent bool
}

// ReadHeader reads the header section of the response whose status line
// st was just read, and frames its body for a request with method. field,
// if not nil, receives each well-formed field line (the slices are valid
// during the call). An I/O error is wrapped as "header section incomplete",
// with a Head whose Persistent says what the lines read so far announced.
func (r *Reader) ReadHeader(method string, st Status, field func(name, value []byte)) (Head, error) {
	var f fields
	err := r.readFields(&f, field)
	h := Head{ContentLength: -1, Persistent: !f.close && (st.Minor > 0 || f.keepAlive)}
	if err != nil {
		return h, err
	}
	switch {
	case method == "HEAD" || st.Code < 200 || st.Code == 204 || st.Code == 304:
		h.Framing = FramingNone
	case f.te && f.chunked:
		h.Framing = FramingChunked
	case f.te:
		h.Framing = FramingClose
	case f.badLength != nil:
		h.Framing = FramingClose // what the server sent, until it closes
		if err := r.violate(f.badLength); err != nil {
			return h, err
		}
	case f.length >= 0:
		h.Framing, h.ContentLength = FramingLength, f.length
	default:
		h.Framing = FramingClose
	}
	return h, nil
}

// fields is what the field lines of a header section say about framing.
type fields struct {
	length           int64 // -1: none
	lengthDigits     int
	badLength        error
	te, chunked      bool
	close, keepAlive bool
}

func (r *Reader) readFields(f *fields, field func(name, value []byte)) error {
	f.length = -1
	for {
		name, value, done, err := r.nextField(&headerSection)
		if done || err != nil {
			return err
		}
		switch {
		case equalFold(name, "content-length"):
			n, ok := parseLength(value)
			switch {
			case f.badLength != nil:
			case !ok:
				f.badLength = syntaxf("bad Content-Length %q", value)
			case f.length < 0:
				f.length, f.lengthDigits = n, len(value)
			case n != f.length || len(value) != f.lengthDigits: // digits only: same number and length is the same text
				f.badLength = syntaxf("bad Content-Length %q (after %d)", value, f.length)
			}
		case equalFold(name, "transfer-encoding"):
			// The final coding of all the lines together is this line's last.
			f.te, f.chunked = true, equalFold(lastMember(value), "chunked")
		case equalFold(name, "connection"):
			f.close = f.close || hasToken(value, "close")
			f.keepAlive = f.keepAlive || hasToken(value, "keep-alive")
		}
		if field != nil {
			field(name, value)
		}
	}
}

// Chunked returns a reader of the chunked body that follows the header
// section just read.
func (r *Reader) Chunked() ChunkedReader { return ChunkedReader{r: r} }

// ChunkedReader decodes a chunked body (RFC 9112 §7.1) from a Reader's
// source. Its zero value is not usable: get one from Reader.Chunked.
type ChunkedReader struct {
	r    *Reader
	left int64 // data bytes left in the current chunk
	err  error // sticky: io.EOF at the end, or what stopped the read
}

// Read reads body data. It returns io.EOF once the last chunk and the
// trailer section are read, and a read cut short as io.ErrUnexpectedEOF.
func (c *ChunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.read(p)
	if err != nil {
		c.err = err
	}
	return n, err
}

func (c *ChunkedReader) read(p []byte) (int, error) {
	if c.left == 0 {
		size, err := c.r.ReadChunkSize()
		if err != nil {
			return 0, err
		}
		if c.r.OnChunk != nil {
			c.r.OnChunk(size)
		}
		if size == 0 {
			if err := c.r.ReadTrailers(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		c.left = size
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.src.Read(p)
	c.r.consumed += int64(n)
	c.left -= int64(n)
	if c.left == 0 {
		return n, c.r.ReadChunkEnd()
	}
	if err != nil {
		return n, fmt.Errorf("chunk data truncated: %w", unexpected(err))
	}
	return n, nil
}

// ReadChunkSize, ReadChunkEnd and ReadTrailers are the steps of a chunked
// body that ChunkedReader takes, for a caller that moves through the chunk
// data itself (the load driver's event loop skips it in its own buffer).
// ReadChunkSize reads a chunk-size line (its extensions ignored) and
// returns the size; OnChunk is not called.
func (r *Reader) ReadChunkSize() (int64, error) {
	line, bare, err := r.line()
	if err != nil {
		return 0, fmt.Errorf("chunked body ended before the last chunk: %w", unexpected(err))
	}
	if bare {
		if err := r.violate(errBareChunk); err != nil {
			return 0, err
		}
	}
	n, err := ParseChunkSize(line)
	if err != nil {
		return 0, syntaxf("bad chunk size line %q", line)
	}
	return n, nil
}

// ReadChunkEnd reads the CRLF after chunk data: two bytes, whatever they are.
func (r *Reader) ReadChunkEnd() error {
	var got [2]byte
	n := 0
	var err error
	for ; n < 2; n++ {
		if got[n], err = r.src.ReadByte(); err != nil {
			break
		}
		r.consumed++
	}
	if n == 2 && got == [2]byte{'\r', '\n'} {
		return nil
	}
	seen := string(got[:n]) // a copy: got stays on the stack
	if err != nil {
		return fmt.Errorf("chunk data not followed by CRLF (%q): %w", seen, unexpected(err))
	}
	return syntaxf("chunk data not followed by CRLF (%q)", seen)
}

// ReadTrailers reads the trailer section after the last chunk, through the
// empty line that ends the body.
func (r *Reader) ReadTrailers() error {
	for {
		name, value, done, err := r.nextField(&trailerSection)
		if done || err != nil {
			return err
		}
		if r.OnTrailer != nil {
			r.OnTrailer(name, value)
		}
	}
}

// fieldSection names a header or trailer section in the reader's errors.
type fieldSection struct {
	bare error  // for a line ending in a bare LF
	name string // "header" or "trailer"
	cut  string // for the end of the stream inside the section
}

var (
	headerSection  = fieldSection{errBareField, "header", "header section incomplete"}
	trailerSection = fieldSection{errBareTrailer, "trailer", "no CRLF after the last chunk"}
)

// nextField reads up to the next well-formed line of a field section, or
// its end (done). A bad line is a violation, skipped when read past.
func (r *Reader) nextField(s *fieldSection) (name, value []byte, done bool, err error) {
	for {
		line, bare, err := r.line()
		if err != nil {
			return nil, nil, false, fmt.Errorf("%s: %w", s.cut, unexpected(err))
		}
		if bare {
			if err := r.violate(s.bare); err != nil {
				return nil, nil, false, err
			}
		}
		if len(line) == 0 {
			return nil, nil, true, nil
		}
		name, value, err := ParseFieldLine(line)
		if err == nil {
			return name, value, false, nil
		}
		if err := r.violate(syntaxf("bad %s line %q", s.name, line)); err != nil {
			return nil, nil, false, err
		}
	}
}

// unexpected turns the end of the stream inside a body into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
