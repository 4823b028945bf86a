package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsgikit/wsgikit/server/http1"
)

var syscallEMFILE = syscall.EMFILE

// conn is one client connection: a goroutine reading requests, handing each
// to a Python thread and waiting for it, then flushing responses (pipelined
// responses are flushed together).
type conn struct {
	e    *Engine
	nc   net.Conn
	r    *http1.Reader
	bw   *bufio.Writer
	req  http1.Request
	x    Exchange
	ci   ConnInfo
	hbuf []byte

	idle  atomic.Bool // between requests, after the first: safe to close on shutdown
	err   error       // first write error: the client is gone
	abort bool        // end without flushing (an error after the head was sent)

	continueSent bool
	sendContinue func() error

	rc     reqCopy // for the access log
	logbuf []byte
}

var connPool sync.Pool

// writerPool holds response buffers: a connection holds one only while it
// has a response to write, so idle keep-alive connections cost little memory.
var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 16<<10) }}

// releaseWriter returns the buffer when it is empty (or, with force, drops
// what it holds: the connection is finished).
func (c *conn) releaseWriter(force bool) {
	if c.bw != nil && (force || c.bw.Buffered() == 0 || c.err != nil) {
		c.bw.Reset(nil)
		writerPool.Put(c.bw)
		c.bw = nil
	}
}

func newConn(e *Engine, nc net.Conn) *conn {
	c, _ := connPool.Get().(*conn)
	if c == nil {
		c = &conn{hbuf: make([]byte, 0, 512)}
		c.r = http1.NewReader(nil, e.cfg.Limits)
		c.sendContinue = c.writeContinue
	}
	c.e, c.nc = e, nc
	c.r.Reset(nc)
	c.err, c.abort = nil, false
	c.ci.ServerName, c.ci.ServerPort = splitAddr(nc.LocalAddr())
	c.ci.RemoteAddr, c.ci.RemotePort = splitAddr(nc.RemoteAddr())
	c.ci.Proxies = nil
	if e.cfg.ForwardedAllow.Contains(c.ci.RemoteAddr) {
		c.ci.Proxies = e.cfg.ForwardedAllow
	}
	return c
}

func (c *conn) write(p []byte) {
	if c.err != nil {
		return
	}
	if c.bw == nil {
		c.bw = writerPool.Get().(*bufio.Writer)
		c.bw.Reset(c.nc)
	}
	if _, err := c.bw.Write(p); err != nil {
		c.err = err
	}
}

func (c *conn) flush() {
	if c.err != nil || c.bw == nil || c.bw.Buffered() == 0 {
		return
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.e.cfg.IOTimeout))
	if err := c.bw.Flush(); err != nil {
		c.err = err
	}
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

// wakeIdle makes a connection waiting for a request give up now (shutdown).
func (c *conn) wakeIdle() {
	if c.idle.Load() {
		c.nc.SetReadDeadline(time.Now())
	}
}

func (c *conn) serve() {
	e := c.e
	defer func() {
		if !c.abort {
			c.flush()
		}
		if tc, ok := c.nc.(*net.TCPConn); ok && c.abort {
			tc.SetLinger(0) // reset: the client must not take a cut body as complete
		}
		c.nc.Close()
		e.forget(c)
		c.nc = nil
		c.r.Reset(nil)
		c.releaseWriter(true)
		connPool.Put(c)
	}()
	if e.cfg.ProxyProtocol != "" && e.cfg.ProxyAllow.Contains(c.ci.RemoteAddr) {
		addr, port, rest, err := readProxyHeader(c.nc, e.cfg.ProxyProtocol, e.cfg.HeaderTimeout)
		if err != nil {
			e.logf(slog.LevelDebug, "connection from %s: %v; closing", c.nc.RemoteAddr(), err)
			return
		}
		if addr != nil {
			c.ci.RemoteAddr, c.ci.RemotePort = addr, port
		}
		if len(rest) > 0 {
			c.r.Reset(io.MultiReader(bytes.NewReader(rest), c.nc))
		}
	}
	first := true
	for {
		if !first && e.draining.Load() && c.r.Buffered() == 0 {
			return
		}
		if c.r.Buffered() == 0 {
			c.flush()
			if c.err != nil {
				return
			}
			c.releaseWriter(false)
		}
		wait := e.cfg.KeepAlive
		if first {
			wait = e.cfg.HeaderTimeout
		}
		c.nc.SetReadDeadline(time.Now().Add(wait))
		// A connection that has not sent its first request yet is not idle:
		// its client just connected and a request is on its way, so a
		// graceful stop must serve it (with Connection: close), not drop it.
		if !first {
			c.idle.Store(true)
			if e.draining.Load() { // raced with Drain's wakeIdle
				c.nc.SetReadDeadline(time.Now())
			}
		}
		err := c.r.ReadRequest(&c.req)
		c.idle.Store(false)
		first = false
		if err != nil {
			c.readFailed(err)
			return
		}
		if !c.handle() {
			return
		}
	}
}

// readFailed answers a request that could not be read: a 4xx/5xx for a bad
// one, 408 for a head that never completed, nothing for a clean close.
func (c *conn) readFailed(err error) {
	var he *http1.Error
	switch {
	case errors.As(err, &he):
		c.e.logf(slog.LevelDebug, "rejected request from %s: %d %s", c.nc.RemoteAddr(), he.Status, he.Reason)
		c.hbuf = http1.AppendError(c.hbuf[:0], he.Status)
		c.write(c.hbuf)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Only answer 408 when part of a head arrived: an idle keep-alive
		// connection is simply closed.
		if c.r.Buffered() > 0 && !c.e.draining.Load() {
			c.hbuf = http1.AppendError(c.hbuf[:0], 408)
			c.write(c.hbuf)
		}
	}
}

// handle runs one request; it reports whether the connection stays open.
func (c *conn) handle() bool {
	e := c.e
	x := &c.x
	x.reset(c, &c.req)
	c.continueSent = false
	if err := BuildEnviron(&x.Env, &c.req, &c.ci, e.script); err != nil {
		c.readFailed(err)
		return false
	}
	if c.req.ExpectOther {
		// RFC 9110 §10.1.1: an expectation the server cannot meet.
		c.hbuf = http1.AppendError(c.hbuf[:0], 417)
		c.write(c.hbuf)
		return false
	}
	al := e.cfg.AccessLog
	if al != nil {
		c.rc.capture(&c.req)
	}
	body := c.r.Body()
	hasBody := c.req.Chunked || c.req.ContentLength > 0
	if hasBody {
		if c.req.Expect100 { // only ever set for HTTP/1.1
			body.SetOnFirstRead(c.sendContinue)
		} else {
			body.SetOnFirstRead(nil)
		}
		c.nc.SetReadDeadline(time.Now().Add(e.cfg.IOTimeout))
	}
	var start time.Time // the access log's %(D)s includes the wait for a Python thread
	if al != nil {
		start = time.Now()
	}
	e.run(x)
	if e.Served.Add(1) == e.cfg.MaxRequests {
		close(e.LimitReached)
	}
	if al != nil {
		c.logbuf = al.line(c.logbuf[:0], &c.rc, c.ci.RemoteAddr, x.Status, x.written, start, time.Since(start))
		al.write(c.logbuf)
	}
	if c.err != nil || x.close || c.abort {
		return false
	}
	if hasBody && !body.Done() {
		if c.req.Expect100 && !c.continueSent {
			return false // the client may or may not send the body now: ambiguous
		}
		c.nc.SetReadDeadline(time.Now().Add(e.cfg.IOTimeout))
		if err := body.Discard(e.cfg.MaxDiscard); err != nil {
			return false
		}
	}
	return true
}
