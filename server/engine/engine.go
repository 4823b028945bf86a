package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsgikit/wsgikit/server/workerproto"
)

// App runs requests in Python. The worker extension implements it; tests
// implement it in Go.
type App interface {
	// Serve runs one exchange to its end, on the calling goroutine and OS
	// thread, holding slot (0 <= slot < Threads, one request per slot at a
	// time): it must call Complete, or Send…Finish, or Fail.
	Serve(slot int, x *Exchange)
}

// Engine accepts connections and runs their requests in Python, at most
// Threads at a time. One event loop (loop.go) owns every socket: it accepts,
// reads and parses request heads without blocking, so a slow client never
// holds a Python thread, and hands each parsed request to a Python thread.
// With one thread the loop runs the request itself, in one cgo call from
// environ to close(): nothing else wakes up per request, like a C server's
// loop. The worker keeps one persistent Python thread state per OS thread.
type Engine struct {
	cfg  Config
	app  App
	loop *loop

	draining atomic.Bool
	cutting  atomic.Bool // the graceful stop ran out: every connection is being cut
	started  atomic.Bool // Serve ran: done will close
	done     chan struct{}
	mu       sync.Mutex
	conns    map[*conn]struct{} // open connections, for cutting them from Shutdown
	connPool sync.Pool          // closed connections, reused

	served  atomic.Uint64              // requests answered, for recycling
	running []atomic.Pointer[Exchange] // by slot: the request it runs (TimeOut finds it there)
	stuck   atomic.Int32               // connections whose request TimeOut answered, still in Python
	script  []byte
	board   *workerproto.Scoreboard
	stats   *workerproto.Stats // in the scoreboard

	// LimitReached is closed when the engine has served MaxRequests: the
	// worker asks the master for a replacement and keeps serving meanwhile.
	LimitReached chan struct{}
}

// New returns an engine running app with cfg.Threads slots (and the
// workerproto.Spare, used only after a TimeOut).
func New(cfg Config, app App) *Engine {
	cfg.defaults()
	e := &Engine{cfg: cfg, app: app, conns: make(map[*conn]struct{}), script: []byte(cfg.ScriptName), done: make(chan struct{})}
	e.LimitReached = make(chan struct{})
	e.board = cfg.Board
	if e.board == nil || e.board.Slots() < cfg.Threads+workerproto.Spare {
		e.board = workerproto.PrivateScoreboard(cfg.Threads)
	}
	e.running = make([]atomic.Pointer[Exchange], cfg.Threads+workerproto.Spare)
	e.stats = e.board.Stats()
	return e
}

// run runs x on slot (a Python thread of its own); start is now. It returns
// when the request ended.
func (e *Engine) run(slot int, x *Exchange, start time.Time) time.Time {
	e.stats.Inflight.Add(1)
	ns := start.UnixNano()
	x.mu.Lock()
	x.startNS, x.ended, x.timedOut = ns, false, false
	x.mu.Unlock()
	e.running[slot].Store(x)
	e.board.Begin(slot, ns, x.Req.Method, x.Req.Target, x.Req.Minor)
	e.app.Serve(slot, x)
	x.mu.Lock()
	x.ended = true
	x.mu.Unlock()
	e.running[slot].Store(nil)
	e.board.End(slot)
	e.stats.Inflight.Add(-1)
	d := time.Since(start) // the monotonic clock only: one clock read, not two
	e.stats.Observe(x.Req.Method, x.status, d)
	return start.Add(d)
}

func (e *Engine) logf(level slog.Level, format string, a ...any) {
	if e.cfg.Logger.Enabled(context.Background(), level) {
		e.cfg.Logger.Log(context.Background(), level, fmt.Sprintf(format, a...))
	}
}

// Serve accepts on lns until Shutdown; it returns nil after a shutdown. The
// listeners stay the caller's (the engine accepts on copies of them).
func (e *Engine) Serve(lns ...net.Listener) error {
	var fds []int
	for _, ln := range lns {
		sc, ok := ln.(syscall.Conn)
		if !ok {
			closeFDs(fds)
			return fmt.Errorf("listener %v: not a socket", ln.Addr())
		}
		fd, err := dupSocket(sc)
		if err != nil {
			closeFDs(fds)
			return fmt.Errorf("listener %v: %w", ln.Addr(), err)
		}
		fds = append(fds, fd)
	}
	return e.ServeFDs(fds)
}

// ServeFDs is Serve on listening sockets given as descriptors, which the
// engine owns from then on (it closes them when it stops accepting).
func (e *Engine) ServeFDs(fds []int) error {
	e.started.Store(true)
	defer close(e.done)
	l, err := newLoop(e, fds)
	if err != nil {
		closeFDs(fds)
		return err
	}
	defer l.close()
	go l.serve()
	return <-l.exit
}

// Shutdown drains (Drain), lets the requests on their way finish until ctx
// ends, then cuts the rest.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.Drain()
	if !e.started.Load() {
		return nil
	}
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
	}
	e.cutting.Store(true)
	e.mu.Lock()
	for c := range e.conns {
		c.nc.cut()
	}
	e.mu.Unlock()
	e.wake()
	// Requests still in Python cannot be interrupted; their connections are
	// gone, so they end at their next write.
	<-e.done
	return fmt.Errorf("graceful stop: %w; cut the remaining connections", ctx.Err())
}

// Drain starts a graceful stop: the engine stops accepting, answers the
// requests already on their way with "Connection: close", and closes the
// connections that stay quiet (drainQuiet). Shutdown waits.
func (e *Engine) Drain() {
	e.draining.Store(true)
	e.wake()
}

// wake makes the loop look at the engine's state.
func (e *Engine) wake() {
	e.mu.Lock()
	l := e.loop
	e.mu.Unlock()
	if l != nil {
		l.wake()
	}
}

// splitAddr gives the host and port of an address as bytes (once per connection).
func splitAddr(a net.Addr) (host, port []byte) {
	if a == nil {
		return nil, nil
	}
	h, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return []byte(a.String()), nil
	}
	return []byte(h), []byte(p)
}
