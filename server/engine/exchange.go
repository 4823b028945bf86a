package engine

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/wsgikit/wsgikit/server/http1"
)

// Head is a response head as the application gave it to start_response,
// already validated (PEP 3333) by the worker: Headers holds "Name: value\r\n"
// lines without the fields the server owns (framing and hop-by-hop).
type Head struct {
	Status    []byte // "200 OK"
	Code      int
	Headers   []byte
	AppCL     int64 // the application's Content-Length, -1 when it set none
	HasDate   bool
	HasServer bool
}

// framing is how a response body is delimited on the wire.
type framing uint8

const (
	frameLength  framing = iota // Content-Length
	frameChunked                // Transfer-Encoding: chunked (HTTP/1.1)
	frameClose                  // until the connection closes (HTTP/1.0)
	frameNone                   // no body at all (HEAD, 1xx, 204, 304)
)

// errClientGone is returned to the application side when the peer went away
// or stopped reading; the worker then stops iterating and calls close().
var errClientGone = errors.New("client disconnected")

// Exchange is one request in flight, handed to a Python thread. The worker
// calls its methods from that thread, which owns the connection until the
// request ends; each call holds mu only so that a request that ran over
// --timeout can be taken from it between two calls (Engine.TimeOut), after
// which its calls do nothing.
type Exchange struct {
	Req *http1.Request
	Env Environ
	c   *conn

	mu       sync.Mutex // held by each call from the application, and by TimeOut
	startNS  int64      // when it began, as the scoreboard says (mu)
	ended    bool       // the application returned (mu)
	timedOut bool       // TimeOut answered it: the application's calls do nothing (mu)

	headSent  bool
	frame     framing
	remaining int64 // Content-Length framing: bytes still allowed
	written   int64
	close     bool  // the connection must close after this response
	status    int   // for logs and metrics: the status sent
	bodyErr   error // reading the request body failed: the client's fault
	start     time.Time
}

func (x *Exchange) reset(c *conn, req *http1.Request) {
	x.Req, x.c = req, c
	x.headSent, x.frame, x.remaining, x.written, x.close, x.status = false, frameLength, 0, 0, false, 0
	x.bodyErr = nil
}

// requestLine returns "METHOD target HTTP/1.x" for log lines (allocates; logs only).
func (x *Exchange) requestLine() string {
	r := x.Req
	return string(r.Method) + " " + string(r.Target) + " HTTP/1." + strconv.Itoa(r.Minor)
}

// lock starts a call from the application; false (unlocked) when the
// request was timed out: the call must do nothing.
func (x *Exchange) lock() bool {
	x.mu.Lock()
	if x.timedOut {
		x.mu.Unlock()
		return false
	}
	return true
}

// ReadBody reads the request body (wsgi.input); it sends 100 Continue first
// when the client asked for it.
func (x *Exchange) ReadBody(p []byte) (int, error) {
	if !x.lock() {
		return 0, errClientGone
	}
	defer x.mu.Unlock()
	n, err := x.c.r.Body().Read(p)
	x.bodyFailed(err)
	return n, err
}

// ReadLine reads up to and including '\n', at most len(p) bytes.
func (x *Exchange) ReadLine(p []byte) (int, error) {
	if !x.lock() {
		return 0, errClientGone
	}
	defer x.mu.Unlock()
	n, err := x.c.r.Body().ReadLine(p)
	x.bodyFailed(err)
	return n, err
}

// bodyFailed notes a failed body read: the framing is lost, so the
// connection closes, and an application that fails on it answers for the
// client's error, not its own (Fail).
func (x *Exchange) bodyFailed(err error) {
	if err != nil && err != io.EOF {
		x.close = true
		if x.bodyErr == nil {
			x.bodyErr = err
		}
	}
}

// ClientError is the error the request body failed with (bad framing, a
// body over the limit, a client that stopped sending), or nil: when the
// application then fails, the failure is the client's (a 4xx, logged at
// debug), not the application's.
func (x *Exchange) ClientError() error { return x.bodyErr }

// bodyStatus is the status that answers a request whose body failed with err.
func bodyStatus(err error) (int, string) {
	var he *http1.Error
	switch {
	case errors.As(err, &he):
		return he.Status, he.Reason
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 408, "request body timed out"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return 400, "request body shorter than announced"
	}
	return 400, "request body unreadable: " + err.Error()
}

func noBodyStatus(code int) bool { return code < 200 || code == 204 || code == 304 }

// writeHead decides framing and writes the head. total is the whole body length
// when known (the application finished before anything was sent), else -1.
func (x *Exchange) writeHead(h *Head, total int64) {
	c := x.c
	req := x.Req
	code := h.Code
	isHead := len(req.Method) == 4 && string(req.Method) == "HEAD"
	x.close = x.close || !req.KeepAlive || c.e.draining.Load()
	var cl int64 = -1
	switch {
	case noBodyStatus(code):
		x.frame = frameNone
		if code == 304 {
			cl = h.AppCL // describes the selected representation; harmless to keep
		}
	case h.AppCL >= 0:
		x.frame, cl, x.remaining = frameLength, h.AppCL, h.AppCL
	case total >= 0:
		x.frame, cl, x.remaining = frameLength, total, total
	case req.Minor >= 1:
		x.frame = frameChunked
	default:
		x.frame = frameClose
		x.close = true
	}
	if isHead {
		x.frame = frameNone
	}
	b := c.hbuf[:0]
	b = http1.AppendStatusLine(b, 1, 1, h.Status)
	if !h.HasDate {
		b = http1.AppendDateAt(b, x.start)
	}
	if !h.HasServer {
		b = append(b, "Server: wsgikit\r\n"...)
	}
	b = append(b, h.Headers...)
	if al := c.e.cfg.AccessLog; al != nil && al.NeedsResponse() {
		c.rc.SetResponse(h.Headers)
	}
	if cl >= 0 && code >= 200 && code != 204 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, cl, 10)
		b = append(b, "\r\n"...)
	}
	if x.frame == frameChunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if x.close {
		b = append(b, "Connection: close\r\n"...)
	} else if req.Minor == 0 {
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	c.hbuf = b
	c.write(b)
	x.headSent = true
	x.status = code
}

// Complete sends a whole response whose body the application has finished
// producing (nothing was sent before): the common, single-write path.
func (x *Exchange) Complete(h *Head, body []byte) {
	if !x.lock() {
		return
	}
	defer x.mu.Unlock()
	if x.headSent {
		x.send(h, body, -1)
		x.finish()
		return
	}
	x.writeHead(h, int64(len(body)))
	x.body(body)
	x.finish()
}

// Send transmits one non-empty block of a streamed response, sending the head
// first. PEP 3333 forbids delaying a block, so it is flushed before return.
// total is the whole body's length when the application's output is already
// complete (a large list), else -1.
func (x *Exchange) Send(h *Head, p []byte, total int64) error {
	if !x.lock() {
		return errClientGone
	}
	defer x.mu.Unlock()
	return x.send(h, p, total)
}

func (x *Exchange) send(h *Head, p []byte, total int64) error {
	if !x.headSent {
		x.writeHead(h, total)
	}
	if x.c.err != nil {
		return errClientGone
	}
	over := x.frame == frameLength && int64(len(p)) > x.remaining
	x.body(p) // truncates at the Content-Length
	x.c.flush()
	if x.c.err != nil {
		return errClientGone
	}
	if over {
		return ErrBodyComplete
	}
	return nil
}

// SendFile transmits n bytes of the open file fd from offset off (a
// wsgi.file_wrapper over a regular file) with sendfile(2) where the
// connection supports it: the bytes never pass through Python or user space.
func (x *Exchange) SendFile(h *Head, fd int, off, n int64) error {
	if !x.lock() {
		return errClientGone
	}
	defer x.mu.Unlock()
	if !x.headSent {
		x.writeHead(h, n)
	}
	c := x.c
	c.flush()
	if c.err != nil {
		return errClientGone
	}
	switch x.frame {
	case frameNone:
		return nil // nothing goes out (HEAD, 204, 304): nothing is counted
	case frameLength:
		n = min(n, x.remaining)
	case frameChunked:
		c.hbuf = http1.AppendChunkHeader(c.hbuf[:0], int(n))
		c.write(c.hbuf)
		c.flush()
	}
	if n > 0 {
		dfd, err := syscall.Dup(fd) // our own descriptor: the app closes its file
		if err != nil {
			c.err = err
			return errClientGone
		}
		f := os.NewFile(uintptr(dfd), "file_wrapper")
		defer f.Close()
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			c.err = err
			return errClientGone
		}
		sent, err := io.Copy(c.nc, io.LimitReader(f, n)) // fdConn.ReadFrom: sendfile
		x.written += sent
		if x.frame == frameLength {
			x.remaining -= sent
		}
		if err != nil {
			c.err = err
			return errClientGone
		}
	}
	if x.frame == frameChunked {
		c.write(crlf)
	}
	return nil
}

// ErrBodyComplete tells the worker that the block went past the
// application's Content-Length (what fit was sent): stop iterating, and make
// write() raise (PEP 3333).
var ErrBodyComplete = errors.New("content-length reached")

func (x *Exchange) body(p []byte) {
	c := x.c
	switch x.frame {
	case frameNone:
		return // not sent (HEAD, 204, 304): the access log counts bytes sent
	case frameLength:
		if int64(len(p)) > x.remaining {
			p = p[:x.remaining]
		}
		x.remaining -= int64(len(p))
	case frameChunked:
		if len(p) == 0 {
			return // an empty chunk would end the body
		}
		c.hbuf = http1.AppendChunkHeader(c.hbuf[:0], len(p))
		c.write(c.hbuf)
		c.write(p)
		c.write(crlf)
		x.written += int64(len(p))
		return
	}
	c.write(p)
	x.written += int64(len(p))
}

var crlf = []byte("\r\n")

// Finish ends a streamed response: the last chunk, or a closed connection
// when fewer bytes than the announced Content-Length were produced (the client
// could not delimit the response otherwise).
func (x *Exchange) Finish() {
	if !x.lock() {
		return
	}
	defer x.mu.Unlock()
	x.finish()
}

func (x *Exchange) finish() {
	switch x.frame {
	case frameChunked:
		x.c.write(http1.LastChunk)
	case frameLength:
		if x.remaining > 0 {
			x.c.e.logf(slog.LevelWarn, "short response for %q: %d bytes missing of Content-Length; closing", x.requestLine(), x.remaining)
			x.close = true
		}
	}
}

// Fail ends a response whose application raised: a 500 when nothing was sent
// (the client's 4xx when its body failed, see ClientError), otherwise the
// connection is cut with no valid terminator so the client sees a truncated
// response rather than a complete-looking one.
func (x *Exchange) Fail() {
	if !x.lock() {
		return
	}
	defer x.mu.Unlock()
	if !x.headSent {
		x.close = true // the request body may be unread; start clean
		x.headSent = true
		if x.bodyErr != nil {
			status, reason := bodyStatus(x.bodyErr)
			x.status = status
			x.c.reject(status, reason+", found while the application read it")
			return
		}
		x.status = 500
		x.c.hbuf = http1.AppendError(x.c.hbuf[:0], 500)
		x.c.write(x.c.hbuf)
		return
	}
	x.close = true
	x.c.abort = true
}
