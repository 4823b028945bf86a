package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgikit/wsgikit/server/http1"
)

// App runs requests in Python. The worker extension implements it; tests
// implement it in Go.
type App interface {
	// Serve runs one exchange to its end, on the calling goroutine and OS
	// thread, holding slot (0 <= slot < Threads, one request per slot at a
	// time): it must call Complete, or Send…Finish, or Fail.
	Serve(slot int, x *Exchange)
}

// EngineConfig holds the connection-level settings.
type EngineConfig struct {
	Threads         int           // Python threads: requests run at once
	KeepAlive       time.Duration // idle time allowed between requests on a connection
	HeaderTimeout   time.Duration // time allowed to send a whole request head
	IOTimeout       time.Duration // body reads and response writes
	GracefulTimeout time.Duration // in-flight requests get this long on a graceful stop
	Limits          http1.Limits
	ScriptName      string
	MaxDiscard      int64 // unread request body drained to keep a connection, beyond: close
	Logger          *slog.Logger
	Board           *Scoreboard // shared with the master; nil makes a private one
	MaxRequests     uint64      // LimitReached closes after this many requests (0: never)
	AccessLog       *AccessLog  // nil: no access log
	ForwardedAllow  *IPSet      // peers whose X-Forwarded-*/Forwarded fields are believed
	ProxyProtocol   string      // "", "v1", "v2" or "auto"
	ProxyAllow      *IPSet      // peers that must send a PROXY header
	MaxConnections  int         // 0: no limit; beyond, accepting pauses (the backlog or other workers take them)
}

func (c *EngineConfig) defaults() {
	if c.Threads <= 0 {
		c.Threads = 1
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = 5 * time.Second
	}
	if c.HeaderTimeout <= 0 {
		c.HeaderTimeout = 10 * time.Second
	}
	if c.IOTimeout <= 0 {
		c.IOTimeout = 30 * time.Second
	}
	if c.GracefulTimeout <= 0 {
		c.GracefulTimeout = 30 * time.Second
	}
	if c.Limits == (http1.Limits{}) {
		c.Limits = http1.DefaultLimits()
	}
	if c.MaxDiscard == 0 {
		c.MaxDiscard = 1 << 20
	}
	if c.Logger == nil {
		c.Logger = NewLogger(os.Stderr, slog.LevelInfo, false)
	}
}

// Engine accepts connections and runs their requests in Python, at most
// Threads at a time. Connections are goroutines (parsing, limits, slow
// clients); only a parsed request takes a slot, so a slow client never holds
// one, and no more goroutines than slots ever wait for the GIL. A request
// runs in one cgo call, on the connection goroutine's OS thread, from
// environ to close(): the worker keeps one persistent Python thread state per
// OS thread, so there is no hand-off between threads per request.
type Engine struct {
	cfg   EngineConfig
	app   App
	slots chan int

	draining atomic.Bool
	mu       sync.Mutex
	conns    map[*conn]struct{}
	connWG   sync.WaitGroup
	acceptWG sync.WaitGroup

	Served atomic.Uint64 // requests answered, for tests and recycling
	script []byte
	board  *Scoreboard
	stats  *Stats // in the scoreboard

	// LimitReached is closed when the engine has served MaxRequests: the
	// worker asks the master for a replacement and keeps serving meanwhile.
	LimitReached chan struct{}

	connTokens chan struct{} // --max-connections
}

// NewEngine returns an engine running app with cfg.Threads slots.
func NewEngine(cfg EngineConfig, app App) *Engine {
	cfg.defaults()
	e := &Engine{cfg: cfg, app: app, slots: make(chan int, cfg.Threads), conns: make(map[*conn]struct{}), script: []byte(cfg.ScriptName)}
	e.LimitReached = make(chan struct{})
	if cfg.MaxConnections > 0 {
		e.connTokens = make(chan struct{}, cfg.MaxConnections)
	}
	e.board = cfg.Board
	if e.board == nil || e.board.Slots() < cfg.Threads {
		e.board = anonymousScoreboard(cfg.Threads)
	}
	e.stats = e.board.Stats()
	for i := 0; i < cfg.Threads; i++ {
		e.slots <- i
	}
	return e
}

// run runs x holding a slot: admission is decided here, in Go.
func (e *Engine) run(x *Exchange) {
	e.stats.waiting.Add(1)
	slot := <-e.slots
	e.stats.waiting.Add(-1)
	e.stats.inflight.Add(1)
	start := time.Now()
	e.board.Begin(slot, start.UnixNano(), x.Req.Method, x.Req.Target, x.Req.Minor)
	e.app.Serve(slot, x)
	e.board.End(slot)
	e.slots <- slot
	e.stats.inflight.Add(-1)
	e.stats.observe(x.Req.Method, x.Status, time.Since(start))
}

func (e *Engine) logf(level slog.Level, format string, a ...any) {
	if e.cfg.Logger.Enabled(context.Background(), level) {
		e.cfg.Logger.Log(context.Background(), level, fmt.Sprintf(format, a...))
	}
}

// Serve accepts on ln until Shutdown. It returns nil after a shutdown.
func (e *Engine) Serve(ln net.Listener) error {
	e.acceptWG.Add(1)
	defer e.acceptWG.Done()
	var delay time.Duration
	for {
		if e.connTokens != nil {
			e.connTokens <- struct{}{} // wait for a free connection slot before accepting
		}
		nc, err := ln.Accept()
		if err != nil {
			if e.connTokens != nil {
				<-e.connTokens
			}
			if e.draining.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscallEMFILE) {
				// Out of descriptors: back off rather than spin.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				e.logf(slog.LevelError, "accept: %v; retrying in %v", err, delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		delay = 0
		// Accepted during a stop too: the client's request is on its way and
		// gets served (with Connection: close), never dropped.
		c := newConn(e, nc)
		e.mu.Lock()
		e.conns[c] = struct{}{}
		e.connWG.Add(1)
		e.mu.Unlock()
		go c.serve()
	}
}

// Shutdown stops accepting (the caller closes the listeners first), closes
// idle connections, lets in-flight requests finish until ctx ends, then cuts
// the rest.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.Drain()
	done := make(chan struct{})
	go func() {
		e.acceptWG.Wait() // no connection is registered after this
		e.Drain()         // those accepted meanwhile that are idle already
		e.connWG.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("graceful stop: %w; cutting remaining connections", ctx.Err())
		e.mu.Lock()
		for c := range e.conns {
			c.nc.Close()
		}
		e.mu.Unlock()
		// Requests still in Python cannot be interrupted; their connections are
		// gone, so they end at their next write.
		<-done
	}
	return err
}

// Drain starts a graceful stop: idle connections close now, busy ones after
// their current response (which says "Connection: close"). Shutdown waits.
func (e *Engine) Drain() {
	e.draining.Store(true)
	e.mu.Lock()
	for c := range e.conns {
		c.wakeIdle()
	}
	e.mu.Unlock()
}

func (e *Engine) forget(c *conn) {
	e.mu.Lock()
	delete(e.conns, c)
	e.mu.Unlock()
	if e.connTokens != nil {
		<-e.connTokens
	}
	e.connWG.Done()
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

func discardLogger() *slog.Logger { return NewLogger(io.Discard, slog.LevelError, false) }
