package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/wsgikit/wsgikit/internal/httpresp"
	"golang.org/x/sys/unix"
)

// The event loop sends the closed model the way wrk does, for the common
// case: keep-alive connections, plain http:// to one address. vegeta's
// Attacker hands every request through three goroutines (the pacer's tick,
// a worker, the results channel) and builds an http.Request, its header
// map and a Result for each; against a server answering 200k requests a
// second on one core, those hand-offs and allocations are as much CPU as
// the sockets themselves, so the driver, not the server, set the ceiling.
//
// Here each CPU the client may use runs one loop (a goroutine) over its
// share of the connections: epoll, edge triggered, each socket registered
// once; the bytes of every target's request built once, by the same
// appendRequestHead the transport uses; each response read from the
// connection's own buffer by httpresp's strict reader and recorded
// straight into the run's recorder. What comes out is what the Attacker's
// results give: the same RunResult, the same records, written in vegeta's
// result encoding (vegeta report and plot read it). The open model, TLS,
// --new-conn and --transport vegeta|stock keep vegeta's Attacker.

// errNeedMore is what a bufSource returns past the bytes read so far:
// the element being parsed is not all here yet.
var errNeedMore = errors.New("response continues past the bytes read so far")

// bufSource is an httpresp.Source over a connection's unparsed bytes. A
// read past them fails with errNeedMore; the loop then parses the element
// again from its start once more bytes have arrived (pos is only
// committed when an element was read whole).
type bufSource struct {
	b   []byte
	pos int
}

func (s *bufSource) reset(b []byte) { s.b, s.pos = b, 0 }

func (s *bufSource) Read(p []byte) (int, error) {
	if s.pos == len(s.b) {
		return 0, errNeedMore
	}
	n := copy(p, s.b[s.pos:])
	s.pos += n
	return n, nil
}

func (s *bufSource) ReadByte() (byte, error) {
	if s.pos == len(s.b) {
		return 0, errNeedMore
	}
	s.pos++
	return s.b[s.pos-1], nil
}

func (s *bufSource) ReadSlice(delim byte) ([]byte, error) {
	for i := s.pos; i < len(s.b); i++ {
		if s.b[i] == delim {
			line := s.b[s.pos : i+1]
			s.pos = i + 1
			return line, nil
		}
	}
	return nil, errNeedMore
}

// loopTarget is a target as the loop sends it.
type loopTarget struct {
	wire      []byte // the whole request
	method    string // for the response's framing (HEAD)
	errPrefix string // `Get "http://…": `, as the Attacker's errors start
}

// loopDriver runs a closed-model RunConfig on event loops.
type loopDriver struct {
	cfg    RunConfig
	vtgts  []vegeta.Target
	tgts   []loopTarget
	addr   string
	family int
	// sockaddr makes the server's address for connect(2), one per loop:
	// x/sys/unix encodes it into the value itself on every call.
	sockaddr func() unix.Sockaddr
	loops    []*evLoop

	sent atomic.Uint64 // requests started in this phase: their Seq, bounded by max
	max  uint64
	stop atomic.Bool // the server exited: no new requests
}

// newLoopDriver returns a driver for cfg, or nil when the event loop does
// not apply (see the comment at the top) and vegeta's Attacker runs it.
func newLoopDriver(cfg RunConfig, vtgts []vegeta.Target) (*loopDriver, error) {
	if cfg.Load.Mode != Closed || cfg.Stock || cfg.Attacker || cfg.TLS != nil || cfg.NewConn || len(vtgts) == 0 {
		return nil, nil
	}
	d := &loopDriver{cfg: cfg, vtgts: vtgts}
	for _, t := range vtgts {
		req, err := t.Request()
		if err != nil || req.URL.Scheme != "http" || len(req.TransferEncoding) > 0 {
			return nil, nil
		}
		addr := req.URL.Host
		if req.URL.Port() == "" {
			addr = net.JoinHostPort(req.URL.Hostname(), "80")
		}
		if d.addr != "" && addr != d.addr {
			return nil, nil // several addresses: the Attacker's pools handle that
		}
		d.addr = addr
		wire, _ := appendRequestHead(nil, req, false)
		method := req.Method                           // "" in a target is GET
		op := method[:1] + strings.ToLower(method[1:]) // as url.Error names it
		d.tgts = append(d.tgts, loopTarget{wire: append(wire, t.Body...), method: method,
			errPrefix: op + " " + strconv.Quote(t.URL) + ": "})
	}
	ta, err := net.ResolveTCPAddr("tcp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", d.addr, err)
	}
	if ip4 := ta.IP.To4(); ip4 != nil {
		d.family = unix.AF_INET
		d.sockaddr = func() unix.Sockaddr {
			sa := &unix.SockaddrInet4{Port: ta.Port}
			copy(sa.Addr[:], ip4)
			return sa
		}
	} else if ta.Zone == "" {
		d.family = unix.AF_INET6
		d.sockaddr = func() unix.Sockaddr {
			sa := &unix.SockaddrInet6{Port: ta.Port}
			copy(sa.Addr[:], ta.IP.To16())
			return sa
		}
	} else {
		return nil, nil
	}
	n := min(loopCount(), cfg.Load.Concurrency)
	for i := range n {
		l, err := newEvLoop(d, cfg.Load.Concurrency/n+btoi(i < cfg.Load.Concurrency%n))
		if err != nil {
			d.close()
			return nil, err
		}
		d.loops = append(d.loops, l)
	}
	return d, nil
}

// loopCount is how many loops run: one per CPU the client may use.
func loopCount() int {
	if loopsWanted > 0 {
		return loopsWanted
	}
	return max(min(clientCPUs(), runtime.GOMAXPROCS(0)), 1)
}

// loopsWanted, when set (by tests), is the number of loops.
var loopsWanted int

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (d *loopDriver) close() {
	for _, l := range d.loops {
		l.close()
	}
}

// warmUp runs the load for the warm-up time, results discarded; the
// connections stay open for the measurement.
func (d *loopDriver) warmUp() {
	cfg := d.cfg
	d.phase(cfg.Warmup, uint64(float64(cfg.MaxRequests)*cfg.Warmup.Seconds()/cfg.Duration.Seconds())+1, nil)
}

// measure runs the measured part and reduces it.
func (d *loopDriver) measure() *RunResult {
	cfg := d.cfg
	m := startMeter(cfg.Server)
	rec := newRecorder(cfg, d.vtgts, newPacer(cfg.Load, cfg.MaxRequests))
	if cfg.Progress != nil {
		cfg.Progress(0) // the measured part starts
	}
	stats := d.phase(cfg.Duration, cfg.MaxRequests, rec)
	res := rec.finish()
	res.Transport = stats
	res.Engine = EngineLoop
	m.finish(cfg, res, 0)
	return res
}

// phase runs every loop for dur (or max requests), then waits for the
// requests in flight; with rec set, the loops record into shards of it.
func (d *loopDriver) phase(dur time.Duration, max uint64, rec *recorder) TransportStats {
	d.sent.Store(0)
	d.max = max
	until := time.Now().Add(dur)
	var wg sync.WaitGroup
	for _, l := range d.loops {
		l.rec, l.stats = nil, TransportStats{}
		if rec != nil {
			l.rec = rec.shard()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.run(until)
		}()
	}
	done := make(chan struct{})
	go d.watch(done, rec != nil)
	wg.Wait()
	close(done)
	var stats TransportStats
	for _, l := range d.loops {
		if rec != nil {
			rec.merge(l.rec)
		}
		stats.Dials += l.stats.Dials
		stats.Reuses += l.stats.Reuses
		stats.BytesIn += l.stats.BytesIn
		stats.BytesOut += l.stats.BytesOut
	}
	return stats
}

// watch stops the loops when the server exits and reports progress, until
// done.
func (d *loopDriver) watch(done <-chan struct{}, progress bool) {
	var exited <-chan struct{}
	if d.cfg.Server != nil {
		exited = d.cfg.Server.Exited()
	}
	var tick <-chan time.Time
	if progress && d.cfg.Progress != nil {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-done:
			return
		case <-exited:
			d.stop.Store(true)
			exited = nil
		case <-tick:
			var n uint64
			for _, l := range d.loops {
				n += l.done.Load()
			}
			d.cfg.Progress(n)
		}
	}
}

// evLoop is one event loop and its connections. Only its own goroutine
// touches it while it runs.
type evLoop struct {
	d        *loopDriver
	epfd     int
	sa       unix.Sockaddr // the server's address (this loop's own)
	conns    []*evConn
	events   []unix.EpollEvent
	pending  []*evConn // to start a request once the current events are handled
	scratch  []byte    // large bodies are read into it (see readable)
	rec      *recorder // nil: warm-up, results discarded
	stats    TransportStats
	until    time.Time
	sending  bool // new requests may start
	inflight int
	done     atomic.Uint64 // requests finished, for progress
	lastScan time.Time
}

// Response parsing states of a connection.
const (
	stHead       = iota // status line and header section (interim responses too)
	stLength            // body bytes to skip (left)
	stChunkSize         // a chunk-size line
	stChunkData         // chunk data to skip (left)
	stChunkEnd          // the CRLF after chunk data
	stTrailers          // the trailer section
	stUntilClose        // a body delimited by the close
)

// maxHeadBuf bounds a connection's buffer; only unparsed head, chunk-size
// and trailer bytes stay in it (body bytes are skipped as they come).
const maxHeadBuf = 1 << 20

// evConn is one connection of a loop and its request in flight.
type evConn struct {
	idx        int    // in the loop's conns, the epoll event's data
	gen        int32  // bumps with each new socket: older events are stale
	fd         int    // -1: no socket
	connecting bool   // connect in progress
	used       bool   // the socket carried a request before the current one
	reused     bool   // the current request went out on a used socket
	busy       bool   // a request is in flight
	retried    bool   // the current request is a resend after an idle close
	retry      bool   // pending: resend the current request (not a new one)
	tgt        int    // the current request's target
	seq        uint64 // its Seq
	sent       time.Time
	wOff       int   // bytes of its request written
	got        int   // bytes received for it
	st         int   // parse state
	left       int64 // body or chunk bytes still to skip
	code       uint16
	keep       bool // the response leaves the connection open

	buf  []byte
	r, w int // buf[r:w] is read and not parsed yet
	src  bufSource
	rd   *httpresp.Reader
}

func newEvLoop(d *loopDriver, conns int) (*evLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	l := &evLoop{d: d, epfd: epfd, sa: d.sockaddr(), events: make([]unix.EpollEvent, conns), scratch: make([]byte, 256<<10)}
	for i := range conns {
		c := &evConn{idx: i, fd: -1, buf: make([]byte, 16<<10)}
		c.rd = httpresp.NewReader(&c.src, httpresp.Strict)
		l.conns = append(l.conns, c)
	}
	return l, nil
}

func (l *evLoop) close() {
	for _, c := range l.conns {
		l.closeConn(c)
	}
	unix.Close(l.epfd)
}

// run starts a request on every connection and keeps each busy until the
// phase ends, then waits for the requests in flight.
func (l *evLoop) run(until time.Time) {
	l.until, l.sending = until, true
	l.done.Store(0)
	l.pending = append(l.pending[:0], l.conns...)
	l.startPending()
	for l.inflight > 0 {
		n, err := unix.EpollWait(l.epfd, l.events, 5)
		if err != nil && err != unix.EINTR {
			l.sending = false
			for _, c := range l.conns {
				l.fail(c, os.NewSyscallError("epoll_wait", err))
			}
			continue
		}
		now := time.Now()
		if l.sending && (!now.Before(l.until) || l.d.stop.Load()) {
			l.sending = false
		}
		for i := range n {
			ev := &l.events[i]
			c := l.conns[ev.Fd]
			if c.gen == ev.Pad && c.fd >= 0 {
				l.handle(c, ev.Events)
			}
		}
		if t := l.d.cfg.Timeout; t > 0 && now.Sub(l.lastScan) >= 10*time.Millisecond {
			l.lastScan = now
			for _, c := range l.conns {
				if c.busy && now.Sub(c.sent) > t {
					l.fail(c, fmt.Errorf("no complete response within %v (the request timeout)", t))
				}
			}
		}
		l.startPending()
	}
}

// startPending starts the requests of the connections waiting for one.
// A start can fail at once and queue its connection again: the loop ends
// because each start takes a Seq (bounded) and the phase ends in time.
func (l *evLoop) startPending() {
	for len(l.pending) > 0 {
		c := l.pending[len(l.pending)-1]
		l.pending = l.pending[:len(l.pending)-1]
		if c.retry {
			c.retry = false
			l.begin(c)
		} else {
			l.send(c)
		}
	}
}

// send starts the next request on c, if the phase still sends.
func (l *evLoop) send(c *evConn) {
	if !l.sending || c.busy {
		return
	}
	seq := l.d.sent.Add(1) - 1
	now := time.Now()
	if seq >= l.d.max || !now.Before(l.until) {
		l.sending = false
		return
	}
	// Targets in turn by Seq, across all loops: the mix the Attacker's
	// round-robin targeter sends.
	c.seq, c.tgt, c.sent = seq, int(seq%uint64(len(l.d.tgts))), now
	c.busy, c.retried = true, false
	l.inflight++
	l.begin(c)
}

// begin puts c's current request on the wire, dialing first if c has no
// socket (the dial is part of the request's latency, as in the Attacker).
func (l *evLoop) begin(c *evConn) {
	c.st, c.wOff, c.got = stHead, 0, 0
	if c.fd < 0 {
		c.reused = false
		if err := l.dial(c); err != nil {
			l.fail(c, err)
		}
		return
	}
	c.reused, c.used = c.used, true
	if c.reused {
		l.stats.Reuses++
	}
	l.flush(c)
}

func (l *evLoop) dial(c *evConn) error {
	fd, err := unix.Socket(l.d.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return l.dialErr(os.NewSyscallError("socket", err))
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err := unix.Connect(fd, l.sa); err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return l.dialErr(os.NewSyscallError("connect", err))
	}
	// Registered after connect: an unconnected socket polls as hung up.
	c.gen++
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(c.idx), Pad: c.gen}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return l.dialErr(os.NewSyscallError("epoll_ctl", err))
	}
	c.fd, c.connecting, c.used, c.r, c.w = fd, true, false, 0, 0
	l.stats.Dials++
	return nil
}

func (l *evLoop) dialErr(err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(l.d.addr), Err: err}
}

// tcpAddr names the server's address in errors.
type tcpAddr string

func (a tcpAddr) Network() string { return "tcp" }
func (a tcpAddr) String() string  { return string(a) }

func (l *evLoop) closeConn(c *evConn) {
	if c.fd >= 0 {
		unix.Close(c.fd) // also takes it out of the epoll set
	}
	c.fd, c.connecting, c.r, c.w = -1, false, 0, 0
}

// handle acts on c's readiness events.
func (l *evLoop) handle(c *evConn, evs uint32) {
	if c.connecting {
		if evs&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		errno, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && errno != 0 {
			err = unix.Errno(errno)
		}
		if err != nil {
			l.fail(c, l.dialErr(os.NewSyscallError("connect", err)))
			return
		}
		c.connecting = false
		if c.busy {
			c.used = true
			l.flush(c)
		}
		return
	}
	gen := c.gen
	if evs&unix.EPOLLOUT != 0 && c.busy && c.wOff < len(l.d.tgts[c.tgt].wire) {
		l.flush(c)
		if c.gen != gen || c.fd < 0 {
			return
		}
	}
	if evs&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		l.readable(c, evs&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0)
	}
}

// flush writes what is left of c's request; a full socket buffer waits for
// the EPOLLOUT edge.
func (l *evLoop) flush(c *evConn) {
	w := l.d.tgts[c.tgt].wire
	for c.wOff < len(w) {
		n, errno := rawIO(unix.SYS_WRITE, c.fd, w[c.wOff:])
		switch errno {
		case 0:
			c.wOff += n
			l.stats.BytesOut += uint64(n)
		case unix.EINTR:
		case unix.EAGAIN:
			return
		default:
			// Once part of the request went out the server may have
			// answered it; a write that fails at once is an idle close.
			if c.wOff == 0 || !l.answeredEarly(c) {
				l.connErr(c, "write request", os.NewSyscallError("write", errno))
			}
			return
		}
	}
}

// answeredEarly reads what the server sent before c's write failed: a
// server may answer a request before reading all of its body (413 for an
// upload over its limit) and close, and the answer, not the reset that
// follows, is what it said. It reports whether that answer completed the
// request; the connection is closed either way.
func (l *evLoop) answeredEarly(c *evConn) bool {
	gen := c.gen
	for c.busy && c.gen == gen && c.fd >= 0 {
		if c.w == len(c.buf) {
			if c.r == 0 {
				break // a head too long to be an early answer
			}
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		n, errno := rawIO(unix.SYS_READ, c.fd, c.buf[c.w:])
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 || n == 0 {
			break
		}
		c.w += n
		c.got += n
		l.stats.BytesIn += uint64(n)
		l.parse(c)
	}
	answered := !c.busy || c.gen != gen
	if answered && c.gen == gen {
		l.closeConn(c) // its request could not be sent whole: never reuse it
	}
	return answered
}

// readable reads what arrived on c and parses it. Edge triggered: it reads
// until the socket is drained. A short read says so, unless the peer's
// close (or an error) came with the same edge: then only the read that
// returns 0 (or fails) shows it, and no later edge would.
func (l *evLoop) readable(c *evConn, closing bool) {
	gen := c.gen
	for {
		// A large body is read into the loop's scratch buffer (bytes it
		// only skips), not through the connection's small one.
		own := c.buf
		borrow := c.r == c.w && (c.st == stUntilClose || ((c.st == stLength || c.st == stChunkData) && c.left > int64(len(own))))
		if borrow {
			c.buf, c.r, c.w = l.scratch, 0, 0
		}
		if c.w == len(c.buf) {
			switch {
			case c.r > 0:
				c.w = copy(c.buf, c.buf[c.r:c.w])
				c.r = 0
			case len(c.buf) < maxHeadBuf:
				c.buf = append(c.buf, make([]byte, len(c.buf))...)
			default:
				l.fail(c, fmt.Errorf("response head, chunk-size or trailer line over %d KiB", maxHeadBuf>>10))
				return
			}
		}
		space := len(c.buf) - c.w
		n, errno := rawIO(unix.SYS_READ, c.fd, c.buf[c.w:])
		if errno == 0 && n > 0 {
			c.w += n
			c.got += n
			l.stats.BytesIn += uint64(n)
			l.parse(c)
		}
		if borrow {
			// What is left is the start of a line: it moves to the
			// connection's own buffer.
			rest := c.buf[c.r:c.w]
			if len(rest) > len(own) {
				own = make([]byte, len(rest))
			}
			c.buf = own
			c.r, c.w = 0, copy(own, rest)
		}
		switch {
		case errno == unix.EINTR:
			continue
		case errno == unix.EAGAIN:
			return
		case errno != 0:
			l.connErr(c, "read response", os.NewSyscallError("read", errno))
			return
		case n == 0:
			l.eof(c)
			return
		}
		if c.gen != gen || c.fd < 0 || (n < space && !closing) {
			return
		}
	}
}

// eof: the server closed c.
func (l *evLoop) eof(c *evConn) {
	switch {
	case !c.busy:
		l.closeConn(c) // an idle connection: the next request dials
	case c.st == stUntilClose:
		l.closeConn(c)
		l.complete(c)
	default:
		l.connErr(c, "read response", io.ErrUnexpectedEOF)
	}
}

// connErr: c's socket failed. A reused connection that fails before any
// response byte was closed by the server while idle: the request is sent
// again on a new connection, once, as the transport does.
func (l *evLoop) connErr(c *evConn, op string, err error) {
	if c.busy && c.reused && c.got == 0 && !c.retried {
		l.closeConn(c)
		c.retried, c.retry = true, true
		l.pending = append(l.pending, c)
		return
	}
	if c.busy && c.got == 0 && errors.Is(err, io.ErrUnexpectedEOF) {
		err = errNoResponse
	} else {
		err = wrapErr(op, err)
	}
	l.fail(c, err)
}

// parse reads as much of c's response as has arrived.
func (l *evLoop) parse(c *evConn) {
	for c.busy && c.r < c.w {
		switch c.st {
		case stHead:
			c.src.reset(c.buf[c.r:c.w])
			st, err := c.rd.ReadStatus()
			if err == errNeedMore {
				return
			}
			if err != nil {
				l.fail(c, fmt.Errorf("malformed status line %q: %w", st.Line, err))
				return
			}
			if err := finalStatus(st); err != nil {
				l.fail(c, err)
				return
			}
			h, err := c.rd.ReadHeader(l.d.tgts[c.tgt].method, st, nil)
			if errors.Is(err, errNeedMore) {
				return
			}
			if err != nil {
				l.fail(c, headerErr(err))
				return
			}
			c.r += c.src.pos
			if st.Code < 200 {
				continue // an interim response: the real one follows
			}
			c.code, c.keep = uint16(st.Code), h.Persistent
			switch h.Framing {
			case httpresp.FramingNone:
				l.complete(c)
			case httpresp.FramingLength:
				c.st, c.left = stLength, h.ContentLength
				if c.left == 0 {
					l.complete(c)
				}
			case httpresp.FramingChunked:
				c.st = stChunkSize
			default:
				c.st, c.keep = stUntilClose, false
			}
		case stLength, stChunkData:
			k := min(c.left, int64(c.w-c.r))
			c.r += int(k)
			if c.left -= k; c.left > 0 {
				break
			}
			if c.st == stChunkData {
				c.st = stChunkEnd
			} else {
				l.complete(c)
			}
		case stChunkSize:
			c.src.reset(c.buf[c.r:c.w])
			size, err := c.rd.ReadChunkSize()
			if !l.step(c, err) {
				return
			}
			if c.st, c.left = stChunkData, size; size == 0 {
				c.st = stTrailers
			}
		case stChunkEnd:
			c.src.reset(c.buf[c.r:c.w])
			if !l.step(c, c.rd.ReadChunkEnd()) {
				return
			}
			c.st = stChunkSize
		case stTrailers:
			c.src.reset(c.buf[c.r:c.w])
			if !l.step(c, c.rd.ReadTrailers()) {
				return
			}
			l.complete(c)
		case stUntilClose:
			c.r = c.w
		}
	}
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
}

// step commits a body element read whole; false: it is not all here yet
// (nothing committed), or it failed the request.
func (l *evLoop) step(c *evConn, err error) bool {
	switch {
	case err == nil:
		c.r += c.src.pos
		return true
	case errors.Is(err, errNeedMore):
		return false
	}
	l.fail(c, err)
	return false
}

// complete records c's response and queues its next request. The
// requests go out together once the events at hand are handled, as wrk's
// do: the server then finds them waiting side by side.
func (l *evLoop) complete(c *evConn) {
	l.finish(c, c.code, "")
	if !c.keep {
		l.closeConn(c)
	}
	l.pending = append(l.pending, c)
}

// fail ends c's request (if any) with err, closes its socket, and queues
// its next request.
func (l *evLoop) fail(c *evConn, err error) {
	l.closeConn(c)
	if c.busy {
		l.finish(c, 0, l.d.tgts[c.tgt].errPrefix+err.Error())
		l.pending = append(l.pending, c)
	}
}

// finish records c's request: a status, or no status and why.
func (l *evLoop) finish(c *evConn, code uint16, errText string) {
	now := time.Now()
	c.busy = false
	l.inflight--
	l.done.Add(1)
	if l.rec != nil {
		l.rec.addOne(c.seq, code, int32(c.tgt), c.sent, now.Sub(c.sent), errText)
	}
}

// rawIO is read(2) or write(2) on a non-blocking socket: it never blocks,
// so it skips the scheduler's system call bookkeeping.
func rawIO(trap uintptr, fd int, p []byte) (int, unix.Errno) {
	n, _, errno := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), errno
}
