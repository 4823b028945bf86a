package http1

import (
	"bytes"
	"io"
)

// Framing overhead allowed in chunked bodies: each chunk-size line may take
// chunkOverheadAllowance bytes plus twice the chunk's size; anything beyond
// accumulates and is refused past maxChunkOverhead.
const (
	chunkOverheadAllowance = 32
	maxChunkOverhead       = 16 << 10
)

// Chunked decoding states.
const (
	stSize    uint8 = iota // expecting a chunk-size line
	stData                 // inside chunk data (remaining > 0)
	stDataEnd              // expecting the CRLF after chunk data
	stTrailer              // reading the trailer section
)

// Body reads the current request's body from its Reader, decoding the framing.
// It is a field of Reader and is reset by each ReadRequest.
type Body struct {
	r         *Reader
	chunked   bool
	state     uint8
	done      bool
	started   bool  // onFirst has run (or was skipped because nothing was needed)
	remaining int64 // Content-Length: bytes left; chunked: bytes left in the current chunk
	total     int64 // chunked: data bytes announced so far (for MaxBodyBytes)
	trailers  int
	excess    int64 // framing bytes beyond the allowance (see maxChunkOverhead)
	err       error // sticky: framing errors and source failures
	onFirst   func() error
	discarded int64 // bytes Discard consumed so far
}

// start prepares b for req's body.
func (b *Body) start(req *Request) {
	*b = Body{r: b.r}
	switch {
	case req.Chunked:
		b.chunked = true
		b.state = stSize
	case req.ContentLength > 0:
		b.remaining = req.ContentLength
	default:
		b.done = true
	}
}

// SetOnFirstRead sets f to run once, on the first Read or ReadLine call that needs
// body bytes (even when they are already buffered), before anything is returned;
// the loop uses it to send "100 Continue". It is not run when the body is empty,
// nor by Discard. An error from f is returned by that read and sticks.
// Call it after ReadRequest (which clears it).
func (b *Body) SetOnFirstRead(f func() error) { b.onFirst = f }

// Remaining returns the body bytes still to be read: exact for Content-Length,
// -1 when unknown (chunked, not finished), 0 once Done.
func (b *Body) Remaining() int64 {
	switch {
	case b.done:
		return 0
	case b.chunked:
		return -1
	}
	return b.remaining
}

// Done reports whether the body has been read to its end (including the
// chunked trailer section), so the next request can be read.
func (b *Body) Done() bool { return b.done }

// Err returns the body's sticky error (a framing *Error or a source error), if any.
func (b *Body) Err() error { return b.err }

// Read decodes Content-Length or chunked framing and returns io.EOF exactly at
// the end; chunked trailers are read and discarded; framing errors are *Error
// (400; 413 for MaxBodyBytes); a peer that closes early gives io.ErrUnexpectedEOF.
func (b *Body) Read(p []byte) (int, error) {
	if len(p) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		return 0, nil
	}
	if err := b.runHook(); err != nil {
		return 0, err
	}
	r := b.r
	// Large reads with nothing buffered go straight from the source into p.
	if !b.done && b.err == nil && r.srcErr == nil && r.r == r.w && len(p) >= len(r.buf) && (!b.chunked || b.state == stData) {
		if int64(len(p)) > b.remaining {
			p = p[:b.remaining]
		}
		var n int
		var err error
		for range 100 {
			n, err = r.src.Read(p)
			if n != 0 || err != nil {
				break
			}
		}
		if n < 0 || n > len(p) || (n == 0 && err == nil) {
			n, err = 0, io.ErrNoProgress
		}
		if n > 0 {
			b.consumed(n)
		}
		if err != nil {
			if err == io.EOF {
				if b.done {
					return n, io.EOF
				}
				err = io.ErrUnexpectedEOF
			}
			b.err = err
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		return n, nil
	}
	a, err := b.avail()
	if err != nil {
		return 0, err
	}
	n := copy(p, a)
	r.r += n
	b.consumed(n)
	return n, nil
}

// ReadLine fills p up to and including '\n' or len(p) (for wsgi.input.readline
// without double buffering). It returns n > 0 with a nil error while there is
// data, and 0, io.EOF at the end.
func (b *Body) ReadLine(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := b.runHook(); err != nil {
		return 0, err
	}
	n := 0
	for n < len(p) {
		a, err := b.avail()
		if err != nil {
			if n > 0 && err == io.EOF {
				return n, nil
			}
			if n > 0 {
				return n, nil // the error sticks and comes back next call
			}
			return 0, err
		}
		m := min(len(a), len(p)-n)
		nl := bytes.IndexByte(a[:m], '\n')
		if nl >= 0 {
			m = nl + 1
		}
		copy(p[n:], a[:m])
		b.r.r += m
		b.consumed(m)
		n += m
		if nl >= 0 {
			break
		}
	}
	return n, nil
}

// Discard consumes the rest of the body so the next request can be read, reading at most
// max bytes; returns an error (and the caller closes) when more remains or framing is bad.
// It does not run the OnFirstRead hook: a server that never read the body has not
// asked for it, so it must not send "100 Continue" now.
//
// With a non-blocking source it returns ErrWouldBlock when it needs more; call
// it again (with the same max: what was discarded before counts).
func (b *Body) Discard(max int64) error {
	b.started = true
	for {
		if !b.done && !b.chunked && b.remaining > max-b.discarded {
			return ErrDiscardLimit
		}
		a, err := b.avail()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if int64(len(a)) > max-b.discarded {
			return ErrDiscardLimit
		}
		b.discarded += int64(len(a))
		b.r.r += len(a)
		b.consumed(len(a))
	}
}

func (b *Body) runHook() error {
	if b.started || b.done || b.err != nil {
		return nil
	}
	b.started = true
	if b.onFirst != nil {
		if err := b.onFirst(); err != nil {
			b.err = err
			return err
		}
	}
	return nil
}

// consumed accounts for n data bytes taken by the caller (already removed from
// the buffer) and advances the framing past anything already buffered, so Done
// turns true as soon as the end is in the buffer.
func (b *Body) consumed(n int) {
	b.remaining -= int64(n)
	if b.remaining > 0 {
		return
	}
	if !b.chunked {
		b.done = true
		return
	}
	b.state = stDataEnd
	for !b.done && b.state != stData {
		ok, err := b.step()
		if err != nil {
			b.err = err
			return
		}
		if !ok {
			return
		}
	}
}

// avail returns buffered body bytes (non-empty) of the current Content-Length
// body or chunk, reading from the source and walking chunk framing as needed;
// io.EOF at the end of the body.
func (b *Body) avail() ([]byte, error) {
	r := b.r
	for {
		if b.err != nil {
			return nil, b.err
		}
		if b.done {
			return nil, io.EOF
		}
		if !b.chunked || b.state == stData {
			if r.r < r.w {
				n := int64(r.w - r.r)
				if n > b.remaining {
					n = b.remaining
				}
				return r.buf[r.r : r.r+int(n)], nil
			}
			if b.fill() {
				return nil, ErrWouldBlock
			}
			continue
		}
		ok, err := b.step()
		if err != nil {
			b.err = err
			continue
		}
		if !ok && b.fill() {
			return nil, ErrWouldBlock
		}
	}
}

// fill reads more from the source; a premature EOF becomes io.ErrUnexpectedEOF.
// Errors stick in b.err, except ErrWouldBlock: fill then reports true and
// nothing changed.
func (b *Body) fill() (wouldBlock bool) {
	r := b.r
	if err := r.srcErr; err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
		return false
	}
	n, err := r.fill()
	if err == ErrWouldBlock && n == 0 {
		return true
	}
	if err != nil {
		if n > 0 {
			r.srcErr = err // use the data first
			return false
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
	}
	return false
}

// step advances chunked framing (not data) using only buffered bytes. It
// returns false when it needs more input.
func (b *Body) step() (bool, error) {
	r := b.r
	buf := r.buf[r.r:r.w]
	switch b.state {
	case stDataEnd:
		if len(buf) < 2 {
			if len(buf) == 1 && buf[0] != '\r' {
				return false, errChunkCRLF
			}
			return false, nil
		}
		if buf[0] != '\r' || buf[1] != '\n' {
			return false, errChunkCRLF
		}
		r.r += 2
		b.state = stSize
		return true, nil
	case stSize:
		line, n, err := b.line(buf)
		if err != nil || n == 0 {
			return false, err
		}
		size, err := parseChunkSize(line)
		if err != nil {
			return false, err
		}
		if max := r.lim.MaxBodyBytes; max > 0 && size > max-b.total {
			return false, errBodyTooLarge
		}
		// Each chunk may spend chunkOverheadAllowance framing bytes plus
		// twice its size; beyond that, framing counts against
		// maxChunkOverhead. Otherwise tiny chunks with long extensions
		// would make limits on data bytes (MaxBodyBytes, Discard) read
		// unbounded wire bytes.
		credit := int64(chunkOverheadAllowance) + 2*min(size, 1<<40)
		b.excess = max(b.excess+int64(n)-credit, 0)
		if b.excess > maxChunkOverhead {
			return false, errChunkOverhead
		}
		r.r += n
		b.total += size
		if size == 0 {
			b.state = stTrailer
		} else {
			b.remaining = size
			b.state = stData
		}
		return true, nil
	case stTrailer:
		line, n, err := b.line(buf)
		if err != nil || n == 0 {
			return false, err
		}
		if len(line) == 0 {
			r.r += n
			b.done = true
			return true, nil
		}
		if isOWS(line[0]) {
			return false, errTrailer
		}
		if _, _, err := splitField(line); err != nil {
			return false, errTrailer
		}
		b.trailers++
		if b.trailers > r.lim.MaxHeaderFields {
			return false, errTrailerTooLarge
		}
		r.r += n
		return true, nil
	}
	return false, nil
}

// line returns the first CRLF-terminated line in buf (without CRLF) and the
// bytes it spans, n == 0 when it is not complete yet. Lines are bounded by
// MaxFieldSize.
func (b *Body) line(buf []byte) ([]byte, int, error) {
	lim := b.r.lim.MaxFieldSize
	lf := bytes.IndexByte(buf, '\n')
	if lf < 0 {
		if len(buf) > lim+1 {
			if b.state == stSize {
				return nil, 0, errChunkLine
			}
			return nil, 0, errTrailerTooLarge
		}
		return nil, 0, nil
	}
	if lf == 0 || buf[lf-1] != '\r' {
		if b.state == stSize {
			return nil, 0, errChunkSize
		}
		return nil, 0, errTrailer
	}
	if lf-1 > lim {
		if b.state == stSize {
			return nil, 0, errChunkLine
		}
		return nil, 0, errTrailerTooLarge
	}
	return buf[:lf-1], lf + 1, nil
}

// parseChunkSize parses chunk-size [ chunk-ext ] (RFC 9112 §7.1, §7.1.1):
// 1*HEXDIG without sign, prefix or overflow, then extensions
// *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), which are validated and ignored.
func parseChunkSize(line []byte) (int64, error) {
	i := 0
	var n int64
	for i < len(line) && isHex(line[i]) {
		if n > (1<<63-1)>>4 {
			return 0, errChunkSize
		}
		n = n<<4 | hexVal(line[i])
		i++
	}
	if i == 0 {
		return 0, errChunkSize
	}
	rest := line[i:]
	if len(rest) == 0 {
		return n, nil
	}
	if !isOWS(rest[0]) && rest[0] != ';' {
		return 0, errChunkSize
	}
	if !validChunkExt(rest) {
		return 0, errChunkExt
	}
	return n, nil
}

// validChunkExt validates *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
// where ext-val is a token or a quoted-string. Whitespace must lead somewhere:
// after the size it must be followed by ';', and none may end the line.
func validChunkExt(b []byte) bool {
	i := 0
	ws := func() {
		for i < len(b) && isOWS(b[i]) {
			i++
		}
	}
	for i < len(b) {
		ws()
		if i == len(b) || b[i] != ';' {
			return false
		}
		i++
		ws()
		start := i
		for i < len(b) && isTchar(b[i]) {
			i++
		}
		if i == start {
			return false
		}
		j := i
		ws()
		if i == len(b) {
			return i == j // no trailing whitespace
		}
		if b[i] != '=' {
			continue // BWS before the next ';'
		}
		i++
		ws()
		if i == len(b) {
			return false
		}
		if b[i] == '"' {
			i++
			for {
				if i == len(b) {
					return false
				}
				c := b[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' {
					i++
					if i == len(b) {
						return false
					}
					c = b[i]
				}
				if c != '\t' && (c < 0x20 || c == 0x7f) {
					return false
				}
				i++
			}
		} else {
			start := i
			for i < len(b) && isTchar(b[i]) {
				i++
			}
			if i == start {
				return false
			}
		}
	}
	return true
}
