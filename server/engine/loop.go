package engine

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// loop is the engine's event loop: one goroutine that owns every socket
// through its own epoll instance, outside Go's netpoller.
//
// Why not a goroutine per connection: with the worker pinned to one CPU
// (GOMAXPROCS 1), a request runs in a cgo call longer than the scheduler's
// 20 µs tick, so sysmon takes the P away and hands it to another thread,
// which runs the other connections' goroutines; the thread coming back from
// Python must then get a P again; and sysmon keeps ticking every 20 µs. Each
// of those is a context switch, expensive on a VM (about 0.8 per Django
// request). With GOMAXPROCS 2 instead, the idle P keeps the one in the cgo
// call from being retaken, but then every request arriving during a call
// woke a second thread. Here, nothing but the loop runs while serving: client
// sockets wake no netpoller thread, the idle P keeps sysmon from retaking
// the loop's P (the worker runs with GOMAXPROCS >= 2; sysmon then ticks every
// 10 ms), and with one Python thread the loop runs the request itself, so a
// request costs no thread switch at all.
//
// With Threads > 1, parsed requests go to runner goroutines (one per busy
// slot), which run them one after the other while any is queued and give
// each connection back to the loop when it must wait.
type loop struct {
	e      *Engine
	epfd   int
	wakefd int // eventfd: the engine's state changed, or runners gave connections back
	lns    []int
	lnOn   bool      // listeners are in the epoll set
	pauseT time.Time // accepting paused until (out of descriptors)
	pauseD time.Duration
	conns  []*conn // by descriptor
	n      int     // open connections
	events [128]unix.EpollEvent
	now    time.Time
	scanAt time.Time // no deadline passes before this
	yield  time.Time // when the loop last went through the Go scheduler
	closed bool      // listeners closed (draining)
	busy   bool      // the last epoll_wait returned events

	woken    atomic.Bool  // a wake is pending: no need to write wakefd again
	sleeping atomic.Bool  // in a blocking epoll_wait: runners giving back must wake it
	nback    atomic.Int32 // len(back), read without the lock

	mu      sync.Mutex // ready, free, back, runners (shared with runners when Threads > 1)
	ready   connQueue  // requests parsed, waiting for a Python thread
	free    []int      // idle slots
	back    []*conn    // connections runners are done with, for the loop
	runners int
}

// yieldEvery is how often the loop goes through the Go scheduler. sysmon
// takes the P of a goroutine that ran 10 ms without one (forcePreemptNS),
// even in a syscall or cgo call, and hands it to another thread: a busy
// loop would lose its P every 10 ms, and sysmon, having taken one, would tick
// every 20 µs for a while again.
const yieldEvery = 5 * time.Millisecond

// scanEvery bounds how often deadlines are checked: a timeout may end this
// much late, and many connections timing out one by one cost one scan.
const scanEvery = 5 * time.Millisecond

func newLoop(e *Engine, lns []int) (*loop, error) {
	l := &loop{e: e, epfd: -1, wakefd: -1, lns: lns}
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if l.wakefd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		l.close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := l.ctl(unix.EPOLL_CTL_ADD, l.wakefd, unix.EPOLLIN); err != nil {
		l.close()
		return nil, err
	}
	for _, fd := range lns {
		if err := unix.SetNonblock(fd, true); err != nil {
			l.close()
			return nil, fmt.Errorf("listener: %w", err)
		}
	}
	for i := e.cfg.Threads - 1; i >= 0; i-- {
		l.free = append(l.free, i)
	}
	l.now = time.Now()
	l.scanAt = l.now.Add(time.Hour)
	l.listen(true)
	e.mu.Lock()
	e.loop = l
	e.mu.Unlock()
	return l, nil
}

func (l *loop) close() {
	l.e.mu.Lock()
	l.e.loop = nil
	l.e.mu.Unlock()
	l.closeListeners()
	if l.wakefd >= 0 {
		unix.Close(l.wakefd)
	}
	if l.epfd >= 0 {
		unix.Close(l.epfd)
	}
}

func (l *loop) ctl(op, fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, op, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// listen starts or stops watching the listeners.
func (l *loop) listen(on bool) {
	if on == l.lnOn || l.closed {
		return
	}
	op := unix.EPOLL_CTL_ADD
	if !on {
		op = unix.EPOLL_CTL_DEL
	}
	for _, fd := range l.lns {
		// Not EPOLLEXCLUSIVE: the one worker woken for a connection may be
		// about to stop accepting (--max-connections, a stop), and the
		// others would not hear of it until the next one.
		if err := l.ctl(op, fd, unix.EPOLLIN); err != nil {
			l.e.logf(slog.LevelError, "listener: %v", err)
		}
	}
	l.lnOn = on
}

func (l *loop) closeListeners() {
	l.listen(false)
	closeFDs(l.lns)
	l.lns = nil
	l.closed = true
}

// wake makes the loop's epoll_wait return (from any goroutine). The engine's
// lock keeps the loop from closing wakefd meanwhile.
func (l *loop) wake() {
	if l.woken.Swap(true) {
		return
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	l.e.mu.Lock()
	if l.e.loop == l {
		unix.Write(l.wakefd, one[:])
	}
	l.e.mu.Unlock()
}

func (l *loop) run() error {
	e := l.e
	for {
		l.maybeYield()
		if e.draining.Load() && !l.closed {
			l.drain()
		}
		if l.closed && l.n == 0 {
			return nil
		}
		if !l.lnOn && !l.closed && !l.pauseT.After(l.now) && (e.cfg.MaxConnections <= 0 || l.n < e.cfg.MaxConnections) {
			l.listen(true)
		}
		n, err := l.wait(l.timeout())
		l.now = l.now.Add(time.Since(l.now)) // deadlines need the monotonic clock only
		if err != nil {
			if err != unix.EINTR {
				return fmt.Errorf("epoll_wait: %w", err)
			}
			n = 0
		}
		for i := 0; i < n; i++ {
			ev := &l.events[i]
			fd := int(ev.Fd)
			switch {
			case fd == l.wakefd:
				var b [8]byte
				unix.Read(l.wakefd, b[:])
				l.woken.Store(false)
			case fd < len(l.conns) && l.conns[fd] != nil:
				l.event(l.conns[fd], ev.Events)
			case slices.Contains(l.lns, fd):
				if err := l.accept(fd); err != nil {
					return err
				}
			}
		}
		if l.nback.Load() > 0 {
			l.takeBack()
		}
		l.dispatch()
		if !l.now.Before(l.scanAt) {
			l.scan()
		}
	}
}

// maybeYield lets the Go scheduler run once per yieldEvery.
func (l *loop) maybeYield() {
	if l.now.Sub(l.yield) >= yieldEvery {
		runtime.Gosched()
		l.yield = l.now
	}
}

// wait is epoll_wait. A poll that does not sleep is a raw syscall (see
// rawRead); when busy (the last round had events), the loop polls that way
// first, since a client has usually answered meanwhile.
func (l *loop) wait(msec int) (int, error) {
	if msec != 0 {
		// Runners give connections back without a wake unless the loop sleeps.
		l.sleeping.Store(true)
		if l.nback.Load() > 0 {
			msec = 0
		}
	}
	if msec == 0 || l.busy {
		r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
		if e != 0 {
			return 0, e
		}
		l.busy = r > 0
		if r > 0 || msec == 0 {
			l.sleeping.Store(false)
			return int(r), nil
		}
	}
	n, err := unix.EpollWait(l.epfd, l.events[:], msec)
	l.sleeping.Store(false)
	l.busy = n > 0
	return n, err
}

// timeout is how long epoll_wait may sleep, in milliseconds (-1: until an event).
func (l *loop) timeout() int {
	l.mu.Lock()
	queued := l.ready.len() > 0 && len(l.free) > 0
	l.mu.Unlock()
	if queued {
		return 0
	}
	until := l.scanAt
	if !l.lnOn && !l.closed && l.pauseT.After(l.now) && l.pauseT.Before(until) {
		until = l.pauseT
	}
	d := until.Sub(l.now)
	if d <= 0 {
		return 0
	}
	if d > time.Hour {
		return -1
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

// takeBack takes the connections runners are done with.
func (l *loop) takeBack() {
	l.mu.Lock()
	back := l.back
	l.back = nil
	l.nback.Store(0)
	l.mu.Unlock()
	for _, c := range back {
		c.busy = false
		switch {
		case c.closing:
			l.finish(c)
		case c.edged: // bytes came while the runner had it
			c.edged = false
			c.nc.drained = false
			l.advance(c)
		default:
			l.park(c)
		}
	}
}

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
		c.deadline = l.now.Add(e.cfg.HeaderTimeout)
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
	if l.e.draining.Load() && !c.first && c.phase == phHead {
		// Idle or trickling between requests: a graceful stop ends it now.
		l.finish(c)
		return
	}
	l.note(c.deadline)
	l.watch(c, unix.EPOLLIN|unix.EPOLLET)
}

// finish flushes what c has pending (waiting for the client if needed), then
// closes it.
func (l *loop) finish(c *conn) {
	c.closing = true
	if !c.abort && c.flushNow() {
		c.wdead = l.now.Add(l.e.cfg.IOTimeout)
		l.note(c.wdead)
		l.watch(c, unix.EPOLLOUT|unix.EPOLLET)
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
	if c.abort {
		c.nc.setLinger0() // a reset: the client must not take a cut body as complete
	}
	c.nc.Close() // leaves the epoll set with it
	c.nc = nil
	c.r.Reset(nil)
	c.releaseWriter(true)
	connPool.Put(c)
}

// note makes sure the deadline scan runs by t.
func (l *loop) note(t time.Time) {
	if t.Before(l.scanAt) {
		l.scanAt = t
	}
}

// enqueue queues c's parsed request for a Python thread.
func (l *loop) enqueue(c *conn) {
	c.busy = true // it stays in the epoll set: edges only mark it (event)
	l.e.stats.Waiting.Add(1)
	l.mu.Lock()
	l.ready.push(c)
	l.mu.Unlock()
}

// dispatch starts queued requests. With one thread the loop runs them
// itself, each connection one request per round (then the loop looks for
// new events again); otherwise runners take them.
func (l *loop) dispatch() {
	if l.e.cfg.Threads == 1 {
		for round := l.ready.len(); round > 0 && l.ready.len() > 0; round-- {
			l.serveInline(l.popReady())
			l.maybeYield()
		}
		return
	}
	l.mu.Lock()
	for l.ready.len() > 0 && len(l.free) > 0 {
		c := l.popReady()
		slot := l.free[len(l.free)-1]
		l.free = l.free[:len(l.free)-1]
		l.runners++
		go l.runner(slot, c)
	}
	l.mu.Unlock()
}

// popReady takes the oldest queued request (l.mu held).
func (l *loop) popReady() *conn {
	l.e.stats.Waiting.Add(-1)
	return l.ready.pop()
}

// connQueue is a FIFO of connections that reuses its array.
type connQueue struct {
	q    []*conn
	head int
}

func (q *connQueue) len() int { return len(q.q) - q.head }
func (q *connQueue) push(c *conn) {
	if q.head > 0 && len(q.q) == cap(q.q) { // reuse the room popped at the front
		n := copy(q.q, q.q[q.head:])
		clear(q.q[n:])
		q.q, q.head = q.q[:n], 0
	}
	q.q = append(q.q, c)
}

func (q *connQueue) pop() *conn {
	c := q.q[q.head]
	q.q[q.head] = nil
	q.head++
	if q.head == len(q.q) {
		q.q, q.head = q.q[:0], 0
	}
	return c
}

// serveInline runs c's request on the loop's own thread (Threads == 1), then
// any pipelined one while nobody else waits.
func (l *loop) serveInline(c *conn) {
	for {
		keep, end := c.handle(0)
		l.now = end
		if !keep {
			c.busy = false
			l.finish(c)
			return
		}
		if c.edged {
			c.edged = false
			c.nc.drained = false
		}
		s := c.next()
		if s == stepReady && l.ready.len() == 0 {
			continue // responses go out together
		}
		c.busy = false
		switch s {
		case stepReady:
			c.flushNow()
			l.enqueue(c)
		case stepWait:
			l.park(c)
		case stepClose:
			l.finish(c)
		}
		return
	}
}

// runner runs requests on slot (Threads > 1) until none is queued; each
// connection goes back to the loop when it must wait.
func (l *loop) runner(slot int, c *conn) {
	for {
		s := stepClose
		if keep, _ := c.handle(slot); keep {
			s = c.next()
		}
		if s == stepReady {
			l.mu.Lock()
			if l.ready.len() > 0 { // take turns with the connections waiting
				c.flushNow()
				l.ready.push(c)
				l.e.stats.Waiting.Add(1)
				c = l.popReady()
			}
			l.mu.Unlock()
			continue
		}
		if s == stepWait {
			c.flushNow()
		} else {
			c.closing = true
		}
		l.mu.Lock()
		l.back = append(l.back, c)
		l.nback.Add(1)
		c = nil
		if l.ready.len() > 0 {
			c = l.popReady()
		} else {
			l.free = append(l.free, slot)
			l.runners--
		}
		l.mu.Unlock()
		if l.sleeping.Load() {
			l.wake()
		}
		if c == nil {
			return
		}
	}
}

// scan ends the waits whose deadline passed.
func (l *loop) scan() {
	next := l.now.Add(time.Hour)
	for _, c := range l.conns {
		if c == nil || c.busy {
			continue
		}
		d := c.deadline
		if c.events&unix.EPOLLOUT != 0 {
			d = c.wdead
		}
		if l.now.Before(d) {
			if d.Before(next) {
				next = d
			}
			continue
		}
		l.expire(c)
	}
	l.scanAt = next
	if soon := l.now.Add(scanEvery); next.Before(soon) {
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
	// The loop may have been busy: take what arrived in time first.
	switch c.pump() {
	case stepReady:
		l.enqueue(c)
		return
	case stepClose:
		l.finish(c)
		return
	}
	if c.phase == phHead {
		c.readFailed(os.ErrDeadlineExceeded)
	}
	l.finish(c)
}

// drain starts a graceful stop: no more accepting; idle connections close.
func (l *loop) drain() {
	l.closeListeners()
	for _, c := range l.conns {
		if c == nil || c.busy || c.closing || c.first || c.phase != phHead || c.events&unix.EPOLLOUT != 0 {
			continue
		}
		// A complete pipelined request is served (with Connection: close).
		switch c.pump() {
		case stepReady:
			l.enqueue(c)
		default:
			l.finish(c)
		}
	}
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// dupSocket returns a descriptor of its own for a listener's socket.
func dupSocket(sc syscall.Conn) (int, error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	return nfd, derr
}

var errWriteTimeout = fmt.Errorf("write: %w", os.ErrDeadlineExceeded)
