package engine

// How the loop follows each connection: accepting it, reacting to its
// socket's readiness (edge-triggered epoll), parking it until its next
// event or deadline, closing it; and the deadline scan and the drain of a
// graceful stop.

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// accept takes the connections waiting on listener fd.
func (l *loop) accept(fd int) error {
	e := l.e
	for range 64 {
		if e.cfg.MaxConnections > 0 && l.n >= e.cfg.MaxConnections {
			l.listen(false) // the backlog or other workers take them
			return nil
		}
		nfd, sa, err := unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch err {
		case nil:
		case unix.EAGAIN, unix.ECONNABORTED, unix.EINTR, unix.EPROTO:
			return nil
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			// Out of descriptors: back off rather than spin.
			l.pauseD = min(max(2*l.pauseD, 5*time.Millisecond), time.Second)
			e.logf(slog.LevelError, "accept: %v; retrying in %v", err, l.pauseD)
			l.pauseT = l.now.Add(l.pauseD)
			l.listen(false)
			return nil
		default:
			if e.draining.Load() {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		l.pauseD = 0
		if _, ok := sa.(*unix.SockaddrUnix); !ok {
			tuneAccepted(nfd)
		}
		var laddr = sa
		if lsa, err := unix.Getsockname(nfd); err == nil {
			laddr = lsa
		}
		nc := &fdConn{fd: nfd, laddr: sockAddr(laddr), raddr: sockAddr(sa), wtimeout: e.cfg.IOTimeout}
		// Accepted during a stop too: the client's request is on its way and
		// gets served (with Connection: close), never dropped.
		c := newConn(e, nc)
		for nfd >= len(l.conns) {
			l.conns = append(l.conns, make([]*conn, len(l.conns)+64)...)
		}
		l.conns[nfd] = c
		l.n++
		e.mu.Lock()
		e.conns[c] = struct{}{}
		e.mu.Unlock()
		if e.cutting.Load() {
			nc.cut()
		}
		c.idleAt = l.now
		c.deadline = l.now.Add(e.cfg.HeaderTimeout)
		if tc := l.tlsFor(fd); tc != nil {
			l.startTLS(c, tc) // its handshake first, off the loop
			continue
		}
		l.park(c) // the request is rarely there yet: epoll says when
	}
	return nil
}

// event handles readiness of c's socket.
func (l *loop) event(c *conn, ev uint32) {
	if c.busy {
		// Queued or running: this edge is not repeated, so remember to read.
		c.edged = true
		return
	}
	if c.phase == phLinger {
		l.lingerRead(c)
		return
	}
	if c.events&unix.EPOLLOUT != 0 {
		// Waiting for the client to take our output.
		if c.flushNow() {
			return
		}
		if c.err != nil || c.closing {
			l.finish(c)
			return
		}
	}
	l.advance(c)
}

// advance reads what c has without blocking and acts on it.
func (l *loop) advance(c *conn) {
	switch c.pump() {
	case stepReady:
		l.enqueue(c)
	case stepWait:
		l.park(c)
	case stepClose:
		l.finish(c)
	}
}

// watch sets what the epoll set watches c for. Edge-triggered: a reported
// socket leaves epoll's ready list (level-triggered, every epoll_wait would
// poll it again), so the connection must be read until it is drained (see
// fdConn.drained) before it waits; adding or changing a watch reports what
// is ready already.
func (l *loop) watch(c *conn, events uint32) {
	if c.events == events {
		return
	}
	op := unix.EPOLL_CTL_MOD
	if c.events == 0 {
		op = unix.EPOLL_CTL_ADD
	} else if events == 0 {
		op = unix.EPOLL_CTL_DEL
	}
	if err := l.ctl(op, c.nc.fd, events); err != nil {
		l.e.logf(slog.LevelError, "connection %s: %v", c.nc.RemoteAddr(), err)
	}
	c.events = events
}

// park makes c wait: for the client to take pending output, else for bytes.
func (l *loop) park(c *conn) {
	if c.flushNow() {
		c.wdead = l.now.Add(l.e.cfg.IOTimeout)
		l.note(c.wdead)
		l.watch(c, unix.EPOLLOUT|unix.EPOLLET)
		return
	}
	if c.err != nil {
		l.finish(c)
		return
	}
	c.releaseWriter(false)
	d := l.due(c)
	if !l.now.Before(d) && d.Before(c.deadline) {
		// Draining, and quiet long enough: no request is on its way.
		l.finish(c)
		return
	}
	l.note(d)
	l.watch(c, unix.EPOLLIN|unix.EPOLLET)
}

// drainQuiet is how long a draining engine keeps a connection that waits
// for a request, counted from its last response (or its accept), before it
// closes it. Closing an idle keep-alive connection races with a request the
// client may have sent meanwhile: RFC 9112 §9.6 makes the client retry, but
// many clients do not (not a POST, not through every pool), and the request
// is lost. A client that keeps using the connection sends its next request
// one round trip plus its own turnaround after our response: while that can
// be under way, the connection stays, and the request that comes is answered
// with "Connection: close" (a clean handover, no race). A second covers a
// round trip across continents (~300 ms) with room for a busy client; a
// connection quiet for longer sat idle in a client's pool, where a request
// starting in the very instant of our FIN is the race every keep-alive
// server runs at its keep-alive timeout anyway. It ends no wait sooner than
// the keep-alive timeout would.
const drainQuiet = time.Second

// due is when c's wait ends: its deadline, or for output the write timeout;
// on a draining engine, an idle connection's quiet period (drainQuiet).
func (l *loop) due(c *conn) time.Time {
	if c.events&unix.EPOLLOUT != 0 {
		return c.wdead
	}
	if l.e.draining.Load() && c.idle() {
		if q := c.idleAt.Add(drainQuiet); q.Before(c.deadline) {
			return q
		}
	}
	return c.deadline
}

// finish flushes what c has pending (waiting for the client if needed), then
// closes it, lingering first when the client may still be sending (linger.go).
func (l *loop) finish(c *conn) {
	c.closing = true
	if !c.abort && c.flushNow() {
		c.wdead = l.now.Add(l.e.cfg.IOTimeout)
		l.note(c.wdead)
		l.watch(c, unix.EPOLLOUT|unix.EPOLLET)
		return
	}
	if c.phase != phLinger && c.lingers() {
		l.linger(c)
		return
	}
	l.closeConn(c)
}

func (l *loop) closeConn(c *conn) {
	e := l.e
	e.mu.Lock()
	delete(e.conns, c)
	e.mu.Unlock()
	fd := c.nc.fd
	l.conns[fd] = nil
	l.n--
	if c.x.timedOut { // its application returned at last
		e.stuck.Add(-1)
		c.x.timedOut = false
	}
	if c.abort {
		c.nc.setLinger0() // a reset: the client must not take a cut body as complete
	}
	c.nc.Close() // leaves the epoll set with it
	c.nc = nil
	c.r.Reset(nil)
	c.releaseWriter(true)
	e.connPool.Put(c)
}

// note makes sure the deadline scan runs by t.
func (l *loop) note(t time.Time) {
	if t.Before(l.scanAt) {
		l.scanAt = t
	}
}

// scan ends the waits whose deadline passed.
func (l *loop) scan() {
	next := l.now.Add(time.Hour)
	l.scanAt = next // the waits expire starts (a linger, a flush) note theirs
	for _, c := range l.conns {
		if c == nil || c.busy {
			continue
		}
		d := l.due(c)
		if l.now.Before(d) {
			if d.Before(next) {
				next = d
			}
			continue
		}
		l.expire(c)
	}
	if next.Before(l.scanAt) {
		l.scanAt = next
	}
	if soon := l.now.Add(scanEvery); l.scanAt.Before(soon) {
		l.scanAt = soon
	}
}

// expire ends c's wait at its deadline.
func (l *loop) expire(c *conn) {
	if c.events&unix.EPOLLOUT != 0 {
		// The client stopped reading.
		c.err = errWriteTimeout
		l.closeConn(c)
		return
	}
	if c.phase == phLinger {
		l.lingerExpired(c)
		return
	}
	// The loop may have been busy: take what arrived in time first.
	switch c.pump() {
	case stepReady:
		l.enqueue(c)
		return
	case stepClose:
		l.finish(c)
		return
	}
	if l.now.Before(c.deadline) {
		// A drain's quiet period ended: park closes the connection if it
		// is still idle, else a head started and gets its time.
		l.park(c)
		return
	}
	switch c.phase {
	case phHead:
		c.readFailed(os.ErrDeadlineExceeded)
	case phDiscard:
		c.unread = true // a slow upload may still be under way
	}
	l.finish(c)
}

// drain starts a graceful stop: no more accepting. Requests already on
// their way are served, with "Connection: close"; a connection waiting for
// one closes once quiet (drainQuiet); a lingering one within lingerTimeout.
func (l *loop) drain() {
	l.closeListeners()
	for _, c := range l.conns {
		if c != nil && c.phase == phLinger {
			// A stop does not wait lingerTime for a client still uploading.
			// (Its deadline is already within lingerTimeout: lingerRead
			// caps the next one at lingerEnd.)
			if end := l.now.Add(lingerTimeout); end.Before(c.lingerEnd) {
				c.lingerEnd = end
			}
			continue
		}
		if c == nil || c.busy || c.closing || c.events&unix.EPOLLOUT != 0 {
			continue
		}
		l.advance(c)
	}
}
