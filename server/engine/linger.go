package engine

// Lingering close: how the loop ends a connection the client may still be
// sending on (the staged close of RFC 9112 §9.6).
//
// close(2) on a socket with unread bytes, or one that receives bytes after
// it, makes the kernel send a reset, and a reset throws away what the
// server's socket buffer still holds (the last responses to a pipelining
// client); a client that sends its whole body before reading (most do) sees
// its write fail with "connection reset" and never reads our 413. So when
// the server ends a connection early (a rejected request, a body too large
// to discard, bytes pipelined past the last response), it sends its FIN
// after the responses (shutdown(SHUT_WR)), then reads and drops what the
// client sends until the client closes its side, or lingerTimeout passes
// without a byte, or lingerTime in all, as nginx's lingering_close does (its
// lingering_timeout and lingering_time default to 5 s and 30 s; Apache
// waits 2 s). Only the loop touches a lingering connection: no Python
// thread waits for it.

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	lingerTimeout = 2 * time.Second  // a client that sends nothing this long is not mid-upload
	lingerTime    = 30 * time.Second // the most a connection lingers: a client that never stops is cut
	lingerTurn    = 16               // reads of lingerBuf per event: a fast sender cannot hold the loop
)

// lingers reports whether closing c now could reset it: the client may still
// be sending (c.unread), or bytes it sent are still unread. A client that is
// gone (a write failed) or a connection ending with a reset (abort) does not
// linger.
func (c *conn) lingers() bool {
	if c.err != nil || c.abort {
		return false
	}
	if c.unread || c.r.Buffered() > 0 {
		return true
	}
	var b [1]byte
	n, _, err := unix.Recvfrom(c.nc.fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err == nil && n > 0
}

// linger half-closes c once its output is flushed and drops what it reads
// until the client closes (see the file's comment).
func (l *loop) linger(c *conn) {
	if t := c.nc.tls; t != nil {
		t.close()      // close_notify before the FIN (as far as the socket takes it now, as at Close)
		t.abort = true // and not again at Close
	}
	if c.x.timedOut {
		// Answered 504 by TimeOut, its application has returned: no longer
		// stuck, so the loop's end (l.n == stuck) waits for this linger too.
		l.e.stuck.Add(-1)
		c.x.timedOut = false
	}
	c.nc.shut(unix.SHUT_WR)
	c.phase = phLinger
	c.unread = false
	c.lingerEnd = l.now.Add(lingerTime)
	if l.e.draining.Load() {
		c.lingerEnd = l.now.Add(lingerTimeout) // a stop does not wait lingerTime (see drain)
	}
	l.lingerRead(c)
}

// lingerRead drops what c's client sent; at EOF (or an error) it closes c.
func (l *loop) lingerRead(c *conn) {
	if l.lingerBuf == nil {
		l.lingerBuf = make([]byte, 64<<10)
	}
	c.lingerMore = false
	for range lingerTurn {
		n, err := rawRead(c.nc.fd, l.lingerBuf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			c.deadline = l.now.Add(lingerTimeout)
			if c.lingerEnd.Before(c.deadline) {
				c.deadline = c.lingerEnd
			}
			l.note(c.deadline)
			l.watch(c, unix.EPOLLIN|unix.EPOLLET)
			return
		case err != 0 || n == 0:
			l.closeConn(c)
			return
		}
	}
	// More came than one turn reads: the deadline scan comes back to it
	// (an edge may not come again).
	c.lingerMore = true
	c.deadline = l.now
	l.note(c.deadline)
	l.watch(c, unix.EPOLLIN|unix.EPOLLET)
}

// lingerExpired ends c's linger at its deadline: it goes on reading after
// a full turn, else closes (the client went quiet, or lingerTime passed).
func (l *loop) lingerExpired(c *conn) {
	if c.lingerMore && l.now.Before(c.lingerEnd) {
		l.lingerRead(c)
		return
	}
	l.closeConn(c)
}
