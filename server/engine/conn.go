package engine

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/wsgikit/wsgikit/server/accesslog"
	"github.com/wsgikit/wsgikit/server/http1"
)

// phase is what a connection waits for while no request of it runs.
type phase uint8

const (
	phHead    phase = iota // (the rest of) a request head
	phDiscard              // the rest of a body the application left unread
	phProxy                // a PROXY protocol header
	phLinger               // the client's close, after ours (linger.go)
)

// step is where pump left a connection.
type step uint8

const (
	stepReady step = iota // c.req holds a request to run
	stepWait              // waiting for bytes (or for the socket to take ours)
	stepClose             // finished: flush what is pending, then close
)

// conn is one client connection. The event loop reads and parses its
// requests without blocking; a parsed request runs on a Python thread, which
// writes the response into the connection's buffer (pipelined responses are
// flushed together).
type conn struct {
	e    *Engine
	nc   *fdConn
	r    *http1.Reader
	out  *outBuf // pending response bytes; nil when there are none
	req  http1.Request
	x    Exchange
	ci   connInfo
	hbuf []byte

	first    bool      // no request read yet
	readyAt  time.Time // when the current request was parsed (the access log counts the wait)
	phase    phase     // what the loop waits for
	deadline time.Time // when that wait ends
	idleAt   time.Time // since when it has waited for a request (accepted, or the last response ended)
	wdead    time.Time // when waiting for the socket to take pending output ends
	events   uint32    // what the loop's epoll watches for (0: nothing)
	busy     bool      // a request of it is queued or running (N > 1: off the loop)
	edged    bool      // the socket had an edge while busy (the loop's to know)
	closing  bool      // close once the output is flushed
	pbuf     []byte    // PROXY header bytes so far

	unread     bool      // the client may still be sending: closing lingers (linger.go)
	lingerEnd  time.Time // the latest a linger ends
	lingerMore bool      // the last linger read stopped at its turn's end, not drained

	err   error // first write error: the client is gone
	abort bool  // end without flushing (an error after the head was sent)

	continueSent bool
	sendContinue func() error

	rc     accesslog.Record
	logbuf []byte
}

// outBuf holds response bytes until they are flushed; pooled, so idle
// keep-alive connections hold none.
type outBuf struct{ b []byte }

const outBufSize = 16 << 10

var outPool = sync.Pool{New: func() any { return &outBuf{b: make([]byte, 0, outBufSize)} }}

// releaseWriter returns the buffer when it is empty (or, with force, drops
// what it holds: the connection is finished).
func (c *conn) releaseWriter(force bool) {
	if c.out != nil && (force || len(c.out.b) == 0 || c.err != nil) {
		c.out.b = c.out.b[:0]
		outPool.Put(c.out)
		c.out = nil
	}
}

func newConn(e *Engine, nc *fdConn) *conn {
	c, _ := e.connPool.Get().(*conn) // the engine's own: its readers hold its limits
	if c == nil {
		c = &conn{hbuf: make([]byte, 0, 512)}
		c.r = http1.NewReader(nil, e.cfg.Limits)
		c.sendContinue = c.writeContinue
	}
	c.e, c.nc = e, nc
	c.r.Reset(nc)
	c.err, c.abort = nil, false
	c.unread, c.lingerMore = false, false
	c.first, c.phase, c.busy, c.edged, c.closing, c.events = true, phHead, false, false, false, 0
	c.wdead = time.Time{}
	c.pbuf = c.pbuf[:0]
	c.ci.ServerName, c.ci.ServerPort = splitAddr(nc.LocalAddr())
	c.ci.RemoteAddr, c.ci.RemotePort = splitAddr(nc.RemoteAddr())
	c.ci.Proxies, c.ci.TLS = nil, nil
	if e.cfg.ForwardedAllow.Contains(c.ci.RemoteAddr) {
		c.ci.Proxies = e.cfg.ForwardedAllow
	}
	if e.cfg.ProxyProtocol != "" && e.cfg.ProxyAllow.Contains(c.ci.RemoteAddr) {
		c.phase = phProxy
	}
	return c
}

// write buffers p; what does not fit goes out now, waiting for the client
// (this happens while the application runs: a large or streamed response).
func (c *conn) write(p []byte) {
	if c.err != nil {
		return
	}
	if c.out == nil {
		c.out = outPool.Get().(*outBuf)
	}
	o := c.out
	if len(o.b)+len(p) <= cap(o.b) {
		o.b = append(o.b, p...)
		return
	}
	if len(o.b) > 0 {
		if _, err := c.nc.Write(o.b); err != nil {
			c.err = err
			return
		}
		o.b = o.b[:0]
	}
	if len(p) >= cap(o.b) {
		if _, err := c.nc.Write(p); err != nil {
			c.err = err
		}
		return
	}
	o.b = append(o.b, p...)
}

// flush sends what is buffered, waiting for the client (up to the I/O timeout).
func (c *conn) flush() {
	if c.err != nil || c.out == nil || len(c.out.b) == 0 {
		return
	}
	if _, err := c.nc.Write(c.out.b); err != nil {
		c.err = err
	}
	c.out.b = c.out.b[:0]
}

// flushNow sends what the socket takes without waiting; it reports whether
// output is still pending (the loop then waits for the socket).
func (c *conn) flushNow() (pending bool) {
	if c.err != nil || c.out == nil || len(c.out.b) == 0 {
		return c.err == nil && c.flushCiphertext()
	}
	n, err := c.nc.write(c.out.b, true)
	if err == http1.ErrWouldBlock {
		c.out.b = c.out.b[:copy(c.out.b, c.out.b[n:])]
		return true
	}
	if err != nil {
		c.err = err
	}
	c.out.b = c.out.b[:0]
	return false
}

func (c *conn) writeContinue() error {
	if c.continueSent {
		return nil
	}
	c.continueSent = true
	c.write(continueLine)
	c.flush()
	return c.err
}

var continueLine = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// pump moves c forward without blocking: it reads a PROXY header, discards
// an unread body, reads and parses the next request head.
func (c *conn) pump() step {
	e := c.e
	c.nc.nonblock = true
	defer func() { c.nc.nonblock = false }()
	for {
		switch c.phase {
		case phProxy:
			if s := c.readProxy(); s != stepReady {
				return s
			}
			c.phase = phHead
		case phDiscard:
			err := c.r.Body().Discard(e.cfg.MaxDiscard)
			if err == http1.ErrWouldBlock {
				return stepWait
			}
			if err != nil {
				// Beyond MaxDiscard: the client may still be sending the
				// body (at EOF it is not, and the linger ends at once; a
				// discard too slow ends in expire).
				c.unread = true
				return stepClose
			}
			c.phase = phHead
			c.idleAt = time.Now()
			c.deadline = c.idleAt.Add(e.cfg.KeepAlive)
		case phLinger: // the loop reads a lingering connection itself (linger.go)
			return stepClose
		case phHead:
			err := c.r.ReadRequest(&c.req)
			if err == http1.ErrWouldBlock {
				return stepWait
			}
			c.first = false
			if err != nil {
				c.readFailed(err)
				return stepClose
			}
			if e.cfg.AccessLog != nil {
				c.readyAt = time.Now()
			}
			return stepReady
		}
	}
}

// next is pump after a request: with nothing buffered and nothing left in
// the socket, the next request is not read for (the client usually waits
// for the response before sending it); the loop's epoll says when it comes.
func (c *conn) next() step {
	if c.phase != phHead || c.r.Buffered() > 0 || !c.nc.drained {
		return c.pump()
	}
	return stepWait
}

// idle reports whether c waits for a request of which nothing has come yet:
// what a draining engine may close (see drainQuiet).
func (c *conn) idle() bool {
	switch c.phase {
	case phHead:
		return c.r.Buffered() == 0
	case phProxy:
		return len(c.pbuf) == 0
	}
	return false
}

// readProxy reads the PROXY protocol header a trusted proxy must send first.
func (c *conn) readProxy() step {
	rest, s := c.readProxyFrom(c.nc)
	if s == stepReady {
		c.r.Preload(rest)
	}
	return s
}

// readProxyFrom reads the PROXY header from r; rest is what followed it
// (the start of a request, or of a TLS handshake), valid until the next read.
func (c *conn) readProxyFrom(r io.Reader) (rest []byte, s step) {
	for {
		if len(c.pbuf) == cap(c.pbuf) {
			c.pbuf = append(c.pbuf, make([]byte, max(256, len(c.pbuf)))...)[:len(c.pbuf)]
		}
		n, err := r.Read(c.pbuf[len(c.pbuf):cap(c.pbuf)])
		if err == http1.ErrWouldBlock {
			return nil, stepWait
		}
		if err != nil {
			return nil, stepClose
		}
		c.pbuf = c.pbuf[:len(c.pbuf)+n]
		addr, port, hl, err := parseProxyHeader(c.pbuf, c.e.cfg.ProxyProtocol)
		if err == nil && hl == 0 && len(c.pbuf) >= maxProxyHeader {
			err = errProxyHeader
		}
		if err != nil {
			c.e.logf(slog.LevelDebug, "connection from %s: %v; closing", c.nc.RemoteAddr(), err)
			return nil, stepClose
		}
		if hl > 0 {
			if addr != nil {
				c.ci.RemoteAddr, c.ci.RemotePort = addr, port
			}
			rest = c.pbuf[hl:]
			c.pbuf = c.pbuf[:0]
			return rest, stepReady
		}
	}
}

// readFailed answers a request that could not be read: a 4xx/5xx for a bad
// one, 408 for a head that never completed, nothing for a clean close.
func (c *conn) readFailed(err error) {
	var he *http1.Error
	switch {
	case errors.As(err, &he):
		c.reject(he.Status, he.Reason)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Only answer 408 when part of a head arrived: an idle keep-alive
		// connection is simply closed.
		if c.r.Buffered() > 0 {
			c.reject(408, "request head not complete in time")
		}
	}
}

// reject answers a request the client got wrong with status, logged at
// debug (the client's error is no news for the operator) and counted (the
// master's wsgikit_rejected_requests_total).
func (c *conn) reject(status int, reason string) {
	c.e.logf(slog.LevelDebug, "rejected request from %s: %d %s", c.nc.RemoteAddr(), status, reason)
	c.e.stats.Reject(status)
	c.unread = true // the rest of the head, or a body, may be on its way
	c.hbuf = http1.AppendError(c.hbuf[:0], status)
	c.write(c.hbuf)
}

// handle runs the request in c.req holding slot; it reports whether the
// connection stays open, and when the request ended (if it ran). An unread
// body is left for pump to discard.
func (c *conn) handle(slot int) (bool, time.Time) {
	e := c.e
	x := &c.x
	x.reset(c, &c.req)
	c.continueSent = false
	if err := buildEnviron(&x.Env, &c.req, &c.ci, e.script); err != nil {
		c.readFailed(err)
		return false, time.Now()
	}
	if c.req.ExpectOther {
		// RFC 9110 §10.1.1: an expectation the server cannot meet.
		c.reject(417, "an expectation other than 100-continue")
		return false, time.Now()
	}
	al := e.cfg.AccessLog
	if al != nil {
		c.rc.Capture(&c.req)
	}
	body := c.r.Body()
	hasBody := c.req.Chunked || c.req.ContentLength > 0
	if hasBody {
		if c.req.Expect100 { // only ever set for HTTP/1.1
			body.SetOnFirstRead(c.sendContinue)
		} else {
			body.SetOnFirstRead(nil)
		}
	}
	start := time.Now()
	x.start = start // the Date field: the response is made within the second
	if hasBody {
		c.nc.SetReadDeadline(start.Add(e.cfg.IOTimeout))
	}
	end := e.run(slot, x, start)
	if e.served.Add(1) == e.cfg.MaxRequests {
		close(e.LimitReached)
	}
	if al != nil {
		// %(D)s includes the wait for a Python thread.
		c.logbuf = al.AppendLine(c.logbuf[:0], &c.rc, c.ci.RemoteAddr, x.status, x.written, c.readyAt, end.Sub(c.readyAt))
		al.Write(c.logbuf)
	}
	left := hasBody && !body.Done()
	if c.err != nil || x.close || c.abort {
		c.unread = left
		return false, end
	}
	c.idleAt = end
	c.deadline = end.Add(e.cfg.KeepAlive)
	if left {
		if c.req.Expect100 && !c.continueSent {
			c.unread = true
			return false, end // the client may or may not send the body now: ambiguous
		}
		c.phase = phDiscard
		c.deadline = end.Add(e.cfg.IOTimeout)
	}
	return true, end
}
