package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Transport is a lean HTTP/1.1 client transport for plain-text http:// URLs,
// built to keep the driver's own CPU per request low: the calling goroutine
// writes the request and parses the response itself (net/http hands every
// request over to two more goroutines per connection), requests are written
// with one write call, and response headers are only scanned for framing
// (Content-Length, Transfer-Encoding, Connection) unless KeepHeaders is set.
//
// It is meant to be plugged into vegeta through its Client option with an
// http.Client whose Timeout is zero: the per-request Timeout lives here, as
// a connection deadline, because http.Client arms a timer and a goroutine
// per request for RoundTrippers it does not know.
//
// It does not do TLS, proxies, HTTP/2, redirects or cookies.
type Transport struct {
	// Timeout bounds one whole exchange (connect, write, response and body).
	// Zero means none.
	Timeout time.Duration
	// MaxConnsPerHost bounds open connections per host:port; a request waits
	// for a free connection. Zero means no bound.
	MaxConnsPerHost int
	// DisableKeepAlives sends "Connection: close" and uses a connection once.
	DisableKeepAlives bool
	// KeepHeaders fills Response.Header; otherwise it is empty.
	KeepHeaders bool
	// Dial opens connections; nil means net.Dialer.DialContext.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu    sync.Mutex
	pools map[string]*connPool

	dials, reuses, bytesIn, bytesOut atomic.Uint64
}

// TransportStats counts what a Transport did since it was made.
type TransportStats struct {
	Dials, Reuses     uint64 // new connections, requests on an already used one
	BytesIn, BytesOut uint64 // wire bytes, headers included
}

// Stats returns the counters so far.
func (t *Transport) Stats() TransportStats {
	return TransportStats{t.dials.Load(), t.reuses.Load(), t.bytesIn.Load(), t.bytesOut.Load()}
}

// CloseIdleConnections closes the pooled idle connections.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	pools := make([]*connPool, 0, len(t.pools))
	for _, p := range t.pools {
		pools = append(pools, p)
	}
	t.mu.Unlock()
	for _, p := range pools {
		for {
			select {
			case c := <-p.idle:
				c.close()
				continue
			default:
			}
			break
		}
	}
}

// connPool holds the idle connections to one address and, when bounded,
// one token per open connection.
type connPool struct {
	addr string
	idle chan *conn
	open chan struct{} // nil: unbounded
}

type conn struct {
	nc       net.Conn
	pool     *connPool
	t        *Transport
	br       *bufio.Reader
	sr       *sockReader // br's source
	wbuf     []byte
	scratch  []byte    // for discarding large bodies
	used     bool      // has carried a request before
	deadline time.Time // current deadline of nc, zero for none
}

// scratchBuf is where discarded body bytes land, made on first need.
func (c *conn) scratchBuf() []byte {
	if c.scratch == nil {
		c.scratch = make([]byte, 128<<10)
	}
	return c.scratch
}

func (c *conn) close() {
	c.nc.Close()
	if c.pool.open != nil {
		<-c.pool.open
	}
}

// release puts a connection back into its pool, or closes it.
func (c *conn) release(reusable bool) {
	if !reusable || c.t.DisableKeepAlives {
		c.close()
		return
	}
	select {
	case c.pool.idle <- c:
	default:
		c.close()
	}
}

func (t *Transport) pool(addr string) *connPool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.pools[addr]; p != nil {
		return p
	}
	if t.pools == nil {
		t.pools = make(map[string]*connPool)
	}
	n := 4096
	p := &connPool{addr: addr}
	if t.MaxConnsPerHost > 0 {
		n = t.MaxConnsPerHost
		p.open = make(chan struct{}, n)
	}
	p.idle = make(chan *conn, n)
	t.pools[addr] = p
	return p
}

// get returns an idle connection or dials a new one, waiting for a free slot
// when connections are bounded.
func (t *Transport) get(ctx context.Context, p *connPool, fresh bool) (*conn, error) {
	if !fresh {
		select {
		case c := <-p.idle:
			return c, nil
		default:
		}
	}
	if p.open != nil {
		idle := p.idle
		if fresh {
			// Make room by closing an idle connection if the bound is hit.
			select {
			case p.open <- struct{}{}:
				goto dial
			case c := <-p.idle:
				c.close()
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			idle = nil
		}
		select {
		case c := <-idle:
			return c, nil
		case p.open <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
dial:
	dial := t.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.Timeout)
		defer cancel()
	}
	nc, err := dial(ctx, "tcp", p.addr)
	if err != nil {
		if p.open != nil {
			<-p.open
		}
		return nil, err
	}
	c := &conn{nc: nc, pool: p, t: t, sr: newSockReader(nc)}
	c.br = bufio.NewReaderSize(c.sr, 16<<10)
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	t.dials.Add(1)
	return c, nil
}

// errServerClosedIdle marks a failure on a reused connection before any
// response byte arrived: the server had closed it while idle, so the request
// is sent again on a new connection.
var errServerClosedIdle = errors.New("server closed idle connection")

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "http" {
		closeReqBody(req)
		return nil, fmt.Errorf("lean transport: only http:// URLs are supported, got %q", req.URL)
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	p := t.pool(addr)
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		// A retry dials: the other idle connections may be just as stale.
		c, err := t.get(ctx, p, attempt > 0)
		if err != nil {
			closeReqBody(req)
			return nil, wrapErr("dial "+addr, err)
		}
		resp, err := c.roundTrip(ctx, req)
		if err == nil {
			return resp, nil
		}
		if errors.Is(err, errServerClosedIdle) && attempt == 0 {
			if req.Body == nil || req.GetBody != nil {
				if req.GetBody != nil {
					b, gerr := req.GetBody()
					if gerr != nil {
						return nil, gerr
					}
					req.Body = b
				}
				continue
			}
		}
		closeReqBody(req)
		return nil, err
	}
}

func closeReqBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// roundTrip runs one exchange on c. On error the connection is closed.
func (c *conn) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	reused := c.used
	c.used = true
	if reused {
		c.t.reuses.Add(1)
	}
	if c.t.Timeout > 0 {
		// Moving a deadline costs a timer update; refresh it only when less
		// than half the timeout is left, so each exchange is still bounded
		// by a deadline between Timeout/2 and Timeout away.
		if now := time.Now(); c.deadline.Sub(now) < c.t.Timeout/2 {
			c.deadline = now.Add(c.t.Timeout)
			c.nc.SetDeadline(c.deadline)
		}
	}
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	}
	fail := func(err error) (*http.Response, error) {
		if stop != nil {
			stop()
		}
		c.close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	if err := c.writeRequest(req); err != nil {
		if reused {
			return fail(fmt.Errorf("%w: %v", errServerClosedIdle, err))
		}
		return fail(wrapErr("write request", err))
	}
	resp, b, err := c.readResponse(req)
	if n, werr := c.sr.takeWriteErr(); n > 0 || werr != nil {
		c.t.bytesOut.Add(uint64(n))
		if werr != nil {
			if reused {
				return fail(fmt.Errorf("%w: %v", errServerClosedIdle, werr))
			}
			return fail(wrapErr("write request", werr))
		}
	}
	if err != nil {
		if reused && errors.Is(err, errNoResponse) {
			return fail(fmt.Errorf("%w: %v", errServerClosedIdle, err))
		}
		return fail(err)
	}
	b.stop = stop
	if b.done {
		b.finish(nil)
	}
	return resp, nil
}

// writeRequest sends the request line, headers and body, in one write when
// the body is in memory and small.
func (c *conn) writeRequest(req *http.Request) error {
	buf := c.wbuf[:0]
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	buf = append(buf, method...)
	buf = append(buf, ' ')
	u := req.URL
	if u.Opaque != "" {
		buf = append(buf, u.RequestURI()...)
	} else {
		p := u.EscapedPath()
		if p == "" {
			p = "/"
		}
		buf = append(buf, p...)
		if u.RawQuery != "" || u.ForceQuery {
			buf = append(buf, '?')
			buf = append(buf, u.RawQuery...)
		}
	}
	buf = append(buf, " HTTP/1.1\r\nHost: "...)
	host := req.Host
	if host == "" {
		host = u.Host
	}
	buf = append(buf, host...)
	buf = append(buf, "\r\n"...)
	ua := false
	for k, vs := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection":
			continue
		case "User-Agent":
			ua = true
		}
		for _, v := range vs {
			buf = append(buf, k...)
			buf = append(buf, ": "...)
			buf = append(buf, v...)
			buf = append(buf, "\r\n"...)
		}
	}
	if !ua {
		buf = append(buf, "User-Agent: wsgikit-bench\r\n"...)
	}
	if c.t.DisableKeepAlives || req.Close {
		buf = append(buf, "Connection: close\r\n"...)
	}
	chunked := false
	for _, te := range req.TransferEncoding {
		if te == "chunked" {
			chunked = true
		}
	}
	body := req.Body
	if body == http.NoBody {
		body = nil
	}
	switch {
	case chunked || (body != nil && req.ContentLength <= 0): // 0 with a body means unknown
		chunked = true
		buf = append(buf, "Transfer-Encoding: chunked\r\n"...)
	case req.ContentLength > 0 || body != nil:
		buf = append(buf, "Content-Length: "...)
		buf = strconv.AppendInt(buf, req.ContentLength, 10)
		buf = append(buf, "\r\n"...)
	case method == "POST" || method == "PUT" || method == "PATCH":
		buf = append(buf, "Content-Length: 0\r\n"...)
	}
	buf = append(buf, "\r\n"...)
	var n int64
	var err error
	switch {
	case body == nil:
		err = c.send(buf)
	case chunked:
		err = c.writeChunked(buf, body)
	default:
		// Copy up to the declared length into the buffer: one write for
		// ordinary request sizes.
		want := req.ContentLength
		if cap(buf)-len(buf) < int(want) && want <= 1<<20 {
			nb := make([]byte, len(buf), len(buf)+int(want))
			copy(nb, buf)
			buf = nb
		}
		if want <= 1<<20 {
			m, rerr := io.ReadFull(body, buf[len(buf):len(buf)+int(want)])
			buf = buf[:len(buf)+m]
			if rerr != nil {
				err = fmt.Errorf("request body: %w (declared %d bytes)", rerr, want)
				break
			}
			err = c.send(buf)
		} else {
			if err = c.write(buf); err == nil {
				n, err = io.CopyN(c.nc, body, want)
				c.t.bytesOut.Add(uint64(n))
			}
		}
	}
	if body != nil {
		body.Close()
	}
	if cap(buf) <= 256<<10 {
		c.wbuf = buf[:0]
	}
	return err
}

// send sends a whole request: queued to go out with the wait for the
// response (sockReader) when it can, written now otherwise.
func (c *conn) send(b []byte) error {
	if c.sr.canPost() && c.br.Buffered() == 0 {
		c.sr.post(b)
		return nil
	}
	return c.write(b)
}

func (c *conn) write(b []byte) error {
	n, err := c.nc.Write(b)
	c.t.bytesOut.Add(uint64(n))
	return err
}

func (c *conn) writeChunked(head []byte, body io.Reader) error {
	if err := c.write(head); err != nil {
		return err
	}
	chunk := make([]byte, 32<<10)
	for {
		n, rerr := body.Read(chunk)
		if n > 0 {
			var hdr []byte
			hdr = strconv.AppendInt(hdr, int64(n), 16)
			hdr = append(hdr, "\r\n"...)
			frame := append(append(hdr, chunk[:n]...), "\r\n"...)
			if err := c.write(frame); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return c.write([]byte("0\r\n\r\n"))
		}
		if rerr != nil {
			return fmt.Errorf("request body: %w", rerr)
		}
	}
}

// errNoResponse: the connection ended before the first response byte.
var errNoResponse = errors.New("connection closed before any response byte")

var (
	status200 = "200 OK"
	emptyHdr  = http.Header{}
)

// readResponse parses the status line and headers and sets up the body.
func (c *conn) readResponse(req *http.Request) (*http.Response, *body, error) {
	var total int
	for {
		line, err := c.br.ReadSlice('\n')
		total += len(line)
		if err != nil {
			if total == 0 && (err == io.EOF || isConnReset(err)) {
				return nil, nil, errNoResponse
			}
			return nil, nil, wrapErr("read status line", err)
		}
		major, minor, code, reason, ok := parseStatusLine(line)
		if !ok {
			return nil, nil, fmt.Errorf("malformed status line %q", trimCRLF(line))
		}
		// One allocation for the response and its body reader.
		rb := &respBody{resp: http.Response{StatusCode: code, ProtoMajor: major, ProtoMinor: minor, Request: req, ContentLength: -1}}
		resp := &rb.resp
		if major == 1 && minor == 1 {
			resp.Proto = "HTTP/1.1"
		} else {
			resp.Proto = "HTTP/" + strconv.Itoa(major) + "." + strconv.Itoa(minor)
		}
		if code == 200 && string(reason) == "OK" {
			resp.Status = status200
		} else {
			resp.Status = strconv.Itoa(code) + " " + string(reason)
		}
		var hdr http.Header
		if c.t.KeepHeaders {
			hdr = make(http.Header)
		}
		f, n, err := c.readHeaders(hdr)
		total += n
		if err != nil {
			return nil, nil, err
		}
		if code >= 100 && code < 200 {
			if code == 101 {
				return nil, nil, errors.New("server switched protocols (101); not supported")
			}
			continue // interim response: the real one follows
		}
		c.t.bytesIn.Add(uint64(total))
		if hdr == nil {
			hdr = emptyHdr
		}
		resp.Header = hdr
		keep := f.reusable(major, minor) && !req.Close
		b := &rb.body
		b.c, b.keep = c, keep
		resp.Body = b
		switch {
		case req.Method == "HEAD" || code == 204 || code == 304:
			b.done = true
			resp.ContentLength = 0
			if f.contentLength >= 0 && req.Method != "HEAD" {
				resp.ContentLength = 0
			}
		case f.chunked:
			b.chunked = true
			resp.TransferEncoding = []string{"chunked"}
		case f.otherTE:
			b.untilEOF = true
			b.keep = false
		case f.contentLength >= 0:
			b.remaining = f.contentLength
			resp.ContentLength = f.contentLength
			b.done = f.contentLength == 0
		default:
			b.untilEOF = true
			b.keep = false
		}
		resp.Close = !b.keep
		return resp, b, nil
	}
}

// framing is what the driver needs from response headers.
type framing struct {
	contentLength    int64
	chunked, otherTE bool
	close, keepAlive bool
}

func (f framing) reusable(major, minor int) bool {
	if f.close {
		return false
	}
	if major == 1 && minor == 0 {
		return f.keepAlive
	}
	return true
}

func (c *conn) readHeaders(hdr http.Header) (framing, int, error) {
	f := framing{contentLength: -1}
	total := 0
	for {
		line, err := c.br.ReadSlice('\n')
		total += len(line)
		if err != nil {
			if err == bufio.ErrBufferFull {
				return f, total, errors.New("response header line longer than 16 KiB")
			}
			return f, total, wrapErr("read headers", err)
		}
		line = trimCRLF(line)
		if len(line) == 0 {
			return f, total, nil
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return f, total, fmt.Errorf("malformed header line %q", line)
		}
		name, value := line[:i], bytes.TrimSpace(line[i+1:])
		switch {
		case asciiEqualFold(name, "content-length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || (f.contentLength >= 0 && f.contentLength != n) {
				return f, total, fmt.Errorf("bad Content-Length %q", value)
			}
			f.contentLength = n
		case asciiEqualFold(name, "transfer-encoding"):
			// The final coding decides the framing (RFC 9112 §6.3).
			last := value
			if j := bytes.LastIndexByte(value, ','); j >= 0 {
				last = bytes.TrimSpace(value[j+1:])
			}
			if asciiEqualFold(last, "chunked") {
				f.chunked, f.otherTE = true, false
			} else if len(last) > 0 && !asciiEqualFold(last, "identity") {
				f.chunked, f.otherTE = false, true
			}
		case asciiEqualFold(name, "connection"):
			for _, tok := range bytes.Split(value, []byte(",")) {
				tok = bytes.TrimSpace(tok)
				if asciiEqualFold(tok, "close") {
					f.close = true
				} else if asciiEqualFold(tok, "keep-alive") {
					f.keepAlive = true
				}
			}
		}
		if hdr != nil {
			k := http.CanonicalHeaderKey(string(name))
			hdr[k] = append(hdr[k], string(value))
		}
	}
}

func parseStatusLine(line []byte) (major, minor, code int, reason []byte, ok bool) {
	line = trimCRLF(line)
	// "HTTP/x.y nnn reason"
	if len(line) < 12 || string(line[:5]) != "HTTP/" || line[6] != '.' || line[8] != ' ' {
		return 0, 0, 0, nil, false
	}
	if !isDigit(line[5]) || !isDigit(line[7]) {
		return 0, 0, 0, nil, false
	}
	major, minor = int(line[5]-'0'), int(line[7]-'0')
	if major != 1 {
		return 0, 0, 0, nil, false
	}
	d := line[9:12]
	if !isDigit(d[0]) || !isDigit(d[1]) || !isDigit(d[2]) {
		return 0, 0, 0, nil, false
	}
	code = int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0')
	if len(line) > 12 {
		if line[12] != ' ' {
			return 0, 0, 0, nil, false
		}
		reason = line[13:]
	}
	return major, minor, code, reason, true
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

func trimCRLF(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
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
	keep      bool
	remaining int64 // Content-Length bytes left
	chunked   bool
	chunkLeft int64 // bytes left in the current chunk
	untilEOF  bool
	done      bool  // all framing bytes consumed
	err       error // sticky
	released  bool
	stop      func() bool // context.AfterFunc stop, if any
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
		n, err = b.readChunked(p)
	case b.untilEOF:
		n, err = b.c.br.Read(p)
		if err == io.EOF {
			b.done = true
		}
	default:
		if int64(len(p)) > b.remaining {
			p = p[:b.remaining]
		}
		n, err = b.c.br.Read(p)
		b.remaining -= int64(n)
		if b.remaining == 0 {
			b.done = true
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	}
	b.c.t.bytesIn.Add(uint64(n))
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

// readChunked decodes chunked framing (RFC 9112 §7.1), trailers discarded.
func (b *body) readChunked(p []byte) (int, error) {
	br := b.c.br
	if b.chunkLeft == 0 {
		line, err := br.ReadSlice('\n')
		b.c.t.bytesIn.Add(uint64(len(line)))
		if err != nil {
			return 0, wrapErr("chunk size", eofUnexpected(err))
		}
		line = trimCRLF(line)
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		line = bytes.TrimSpace(line)
		size, perr := strconv.ParseUint(string(line), 16, 62)
		if perr != nil || len(line) == 0 {
			return 0, fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			for { // trailer section
				tl, err := br.ReadSlice('\n')
				b.c.t.bytesIn.Add(uint64(len(tl)))
				if err != nil {
					return 0, fmt.Errorf("chunk trailer: %w", eofUnexpected(err))
				}
				if len(trimCRLF(tl)) == 0 {
					break
				}
			}
			b.done = true
			return 0, io.EOF
		}
		b.chunkLeft = int64(size)
	}
	if int64(len(p)) > b.chunkLeft {
		p = p[:b.chunkLeft]
	}
	n, err := br.Read(p)
	b.chunkLeft -= int64(n)
	if err != nil {
		return n, eofUnexpected(err)
	}
	if b.chunkLeft == 0 {
		crlf, err := br.ReadSlice('\n')
		b.c.t.bytesIn.Add(uint64(len(crlf)))
		if err != nil || len(trimCRLF(crlf)) != 0 {
			return n, fmt.Errorf("missing CRLF after chunk data")
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

// ioError wraps an I/O error with context and keeps it a net.Error, so that
// url.Error.Timeout (which looks only one level down) still reports
// timeouts.
type ioError struct {
	op  string
	err error
}

func wrapErr(op string, err error) error { return &ioError{op, err} }

func (e *ioError) Error() string { return e.op + ": " + e.err.Error() }
func (e *ioError) Unwrap() error { return e.err }

// Timeout reports whether the wrapped error is a timeout.
func (e *ioError) Timeout() bool {
	var ne net.Error
	return errors.As(e.err, &ne) && ne.Timeout()
}

// Temporary is part of net.Error; nothing here is retried on it.
func (e *ioError) Temporary() bool { return false }
