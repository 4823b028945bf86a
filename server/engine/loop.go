package engine

import (
	"encoding/binary"
	"errors"
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
	e         *Engine
	epfd      int
	wakefd    int // eventfd: the engine's state changed, or runners gave connections back
	lns       []int
	lnOn      bool      // listeners are in the epoll set
	pauseT    time.Time // accepting paused until (out of descriptors)
	pauseD    time.Duration
	conns     []*conn // by descriptor
	n         int     // open connections
	events    [128]unix.EpollEvent
	now       time.Time
	scanAt    time.Time // no deadline passes before this
	yield     time.Time // when the loop last went through the Go scheduler
	closed    bool      // listeners closed (draining)
	lingerBuf []byte    // what lingering connections send, dropped (linger.go)
	busy      bool      // the last epoll_wait returned events

	inline   atomic.Int32 // inlineOff, inlineIdle, inlineBusy (timeout.go)
	exit     chan error   // the loop's end, from whichever goroutine runs it (replace)
	woken    atomic.Bool  // a wake is pending: no need to write wakefd again
	sleeping atomic.Bool  // in a blocking epoll_wait: runners giving back must wake it
	nback    atomic.Int32 // len(back), read without the lock

	mu        sync.Mutex // ready, free, back, runners (shared with runners when Threads > 1)
	ready     connQueue  // requests parsed, waiting for a Python thread
	free      []int      // idle slots
	back      []*conn    // connections runners are done with, for the loop
	runners   int
	spareUsed bool // the spare slot was added to free (replace)
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
	if e.cfg.Threads == 1 {
		l.inline.Store(inlineIdle)
	}
	l.exit = make(chan error, 1)
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

// closeListeners stops accepting for good. The listening sockets are the
// master's, inherited by every worker (one socket each, not SO_REUSEPORT
// copies with queues of their own): closing this worker's descriptors
// leaves the connections in the accept queue to the other workers.
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
		if l.closed && l.n == int(e.stuck.Load()) {
			return nil // what is left waits for a timed-out request (Abandoned)
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
		if l.dispatch() {
			return errDetached
		}
		if !l.now.Before(l.scanAt) {
			l.scan()
		}
	}
}

// serve runs the loop on this goroutine until it ends, and says so on exit,
// unless another goroutine took the loop over meanwhile (replace).
func (l *loop) serve() {
	if err := l.run(); err != errDetached {
		l.exit <- err
	}
}

// errDetached ends run on a goroutine the loop was taken from (replace).
var errDetached = errors.New("loop taken over")

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
