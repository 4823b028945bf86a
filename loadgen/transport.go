package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgikit/wsgikit/internal/httpresp"
)

// Transport is a lean HTTP/1.1 client transport for http:// URLs (and
// https:// ones when TLS is set),
// built to keep the driver's own CPU per request low: the calling goroutine
// writes the request and parses the response itself (net/http hands every
// request over to two more goroutines per connection), requests are written
// with one write call, and response headers are only scanned for framing
// (Content-Length, Transfer-Encoding, Connection) unless KeepHeaders is set.
//
// It is meant to be plugged into vegeta through its Client option with an
// http.Client whose Timeout is zero: the per-request Timeout lives here, as
// a connection deadline, because http.Client arms a timer and a goroutine
// per request for RoundTrippers it does not know.
//
// It does not do proxies, HTTP/2, redirects or cookies.
type Transport struct {
	// Timeout bounds one whole exchange (connect, write, response and body).
	// Zero means none.
	Timeout time.Duration
	// MaxConnsPerHost bounds open connections per host:port; a request waits
	// for a free connection. Zero means no bound.
	MaxConnsPerHost int
	// DisableKeepAlives sends "Connection: close" and uses a connection once.
	DisableKeepAlives bool
	// KeepHeaders fills Response.Header; otherwise it is empty.
	KeepHeaders bool
	// Dial opens connections; nil means net.Dialer.DialContext.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS is the client configuration of https:// URLs (nil: refused). A
	// configuration without a ClientSessionCache gets one, so that new
	// connections resume a session (an abbreviated handshake) as browsers'
	// and proxies' do.
	TLS *tls.Config

	mu    sync.Mutex
	pools map[poolKey]*connPool
	tls   *tls.Config // TLS with the session cache, made on first use

	dials, reuses, resumed, bytesIn, bytesOut atomic.Uint64
}

// TransportStats counts what a Transport did since it was made.
type TransportStats struct {
	Dials, Reuses     uint64 // new connections, requests on an already used one
	BytesIn, BytesOut uint64 // wire bytes, headers included (plaintext over TLS)
	Resumed           uint64 // TLS connections that resumed a session
}

// Stats returns the counters so far.
func (t *Transport) Stats() TransportStats {
	return TransportStats{Dials: t.dials.Load(), Reuses: t.reuses.Load(), BytesIn: t.bytesIn.Load(), BytesOut: t.bytesOut.Load(),
		Resumed: t.resumed.Load()}
}

// Sub is the counts from before to s.
func (s TransportStats) Sub(before TransportStats) TransportStats {
	return TransportStats{Dials: s.Dials - before.Dials, Reuses: s.Reuses - before.Reuses, BytesIn: s.BytesIn - before.BytesIn,
		BytesOut: s.BytesOut - before.BytesOut, Resumed: s.Resumed - before.Resumed}
}

// CloseIdleConnections closes the pooled idle connections.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	pools := make([]*connPool, 0, len(t.pools))
	for _, p := range t.pools {
		pools = append(pools, p)
	}
	t.mu.Unlock()
	for _, p := range pools {
		for {
			select {
			case c := <-p.idle:
				c.close()
				continue
			default:
			}
			break
		}
	}
}

// connPool holds the idle connections to one address and, when bounded,
// one token per open connection.
type connPool struct {
	addr string
	tls  *tls.Config // nil: plain TCP
	idle chan *conn
	open chan struct{} // nil: unbounded
}

type conn struct {
	nc       net.Conn
	pool     *connPool
	t        *Transport
	br       *bufio.Reader
	sr       *sockReader      // br's source
	rd       *httpresp.Reader // reads responses from br
	wbuf     []byte
	scratch  []byte    // for discarding large bodies
	used     bool      // has carried a request before
	deadline time.Time // current deadline of nc, zero for none
}

// scratchBuf is where discarded body bytes land, made on first need.
func (c *conn) scratchBuf() []byte {
	if c.scratch == nil {
		c.scratch = make([]byte, 128<<10)
	}
	return c.scratch
}

func (c *conn) close() {
	c.nc.Close()
	if c.pool.open != nil {
		<-c.pool.open
	}
}

// release puts a connection back into its pool, or closes it.
func (c *conn) release(reusable bool) {
	if !reusable || c.t.DisableKeepAlives {
		c.close()
		return
	}
	select {
	case c.pool.idle <- c:
	default:
		c.close()
	}
}

// poolKey names a pool; a struct, not a joined string, so that finding
// the pool allocates nothing per request.
type poolKey struct{ scheme, addr string }

func (t *Transport) pool(scheme, addr string) *connPool {
	key := poolKey{scheme, addr}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.pools[key]; p != nil {
		return p
	}
	if t.pools == nil {
		t.pools = make(map[poolKey]*connPool)
	}
	n := 4096
	p := &connPool{addr: addr}
	if scheme == "https" {
		if t.tls == nil {
			t.tls = t.TLS.Clone()
			if t.tls.ClientSessionCache == nil {
				t.tls.ClientSessionCache = tls.NewLRUClientSessionCache(0)
			}
		}
		p.tls = t.tls
		if p.tls.ServerName == "" { // what crypto/tls.Dial would verify
			p.tls = t.tls.Clone()
			p.tls.ServerName, _, _ = net.SplitHostPort(addr)
		}
	}
	if t.MaxConnsPerHost > 0 {
		n = t.MaxConnsPerHost
		p.open = make(chan struct{}, n)
	}
	p.idle = make(chan *conn, n)
	t.pools[key] = p
	return p
}

// get returns an idle connection or dials a new one, waiting for a free slot
// when connections are bounded.
func (t *Transport) get(ctx context.Context, p *connPool, fresh bool) (*conn, error) {
	if !fresh {
		select {
		case c := <-p.idle:
			return c, nil
		default:
		}
	}
	if p.open != nil {
		idle := p.idle
		if fresh {
			// Make room by closing an idle connection if the bound is hit.
			select {
			case p.open <- struct{}{}:
				goto dial
			case c := <-p.idle:
				c.close()
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			idle = nil
		}
		select {
		case c := <-idle:
			return c, nil
		case p.open <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
dial:
	dial := t.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.Timeout)
		defer cancel()
	}
	nc, err := dial(ctx, "tcp", p.addr)
	if tc, ok := nc.(*net.TCPConn); ok && err == nil {
		tc.SetNoDelay(true)
	}
	if err == nil && p.tls != nil {
		tc := tls.Client(nc, p.tls)
		if err = tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			err = fmt.Errorf("TLS handshake: %w", err)
		} else if tc.ConnectionState().DidResume {
			t.resumed.Add(1)
		}
		nc = tc
	}
	if err != nil {
		if p.open != nil {
			<-p.open
		}
		return nil, err
	}
	// Over TLS the reader is plain: requests cannot be posted into the
	// read wait (sockReader), they go through the TLS record layer.
	c := &conn{nc: nc, pool: p, t: t, sr: newSockReader(nc)}
	c.setReader(c.sr)
	t.dials.Add(1)
	return c, nil
}

// errServerClosedIdle marks a failure on a reused connection before any
// response byte arrived: the server had closed it while idle, so the request
// is sent again on a new connection.
var errServerClosedIdle = errors.New("server closed idle connection")

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || (req.URL.Scheme != "http" && (req.URL.Scheme != "https" || t.TLS == nil)) {
		closeReqBody(req)
		return nil, fmt.Errorf("lean transport: only http:// URLs (and https:// with a TLS configuration) are supported, got %q", req.URL)
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), map[string]string{"http": "80", "https": "443"}[req.URL.Scheme])
	}
	p := t.pool(req.URL.Scheme, addr)
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		// A retry dials: the other idle connections may be just as stale.
		c, err := t.get(ctx, p, attempt > 0)
		if err != nil {
			closeReqBody(req)
			return nil, wrapErr("dial "+addr, err)
		}
		resp, err := c.roundTrip(ctx, req)
		if err == nil {
			return resp, nil
		}
		if errors.Is(err, errServerClosedIdle) && attempt == 0 {
			if req.Body == nil || req.GetBody != nil {
				if req.GetBody != nil {
					b, gerr := req.GetBody()
					if gerr != nil {
						return nil, gerr
					}
					req.Body = b
				}
				continue
			}
		}
		closeReqBody(req)
		return nil, err
	}
}

func closeReqBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// roundTrip runs one exchange on c. On error the connection is closed.
func (c *conn) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	reused := c.used
	c.used = true
	if reused {
		c.t.reuses.Add(1)
	}
	if c.t.Timeout > 0 {
		// Moving a deadline costs a timer update; refresh it only when less
		// than half the timeout is left, so each exchange is still bounded
		// by a deadline between Timeout/2 and Timeout away.
		if now := time.Now(); c.deadline.Sub(now) < c.t.Timeout/2 {
			c.deadline = now.Add(c.t.Timeout)
			c.nc.SetDeadline(c.deadline)
		}
	}
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	}
	fail := func(err error) (*http.Response, error) {
		if stop != nil {
			stop()
		}
		c.close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	if err := c.writeRequest(req); err != nil {
		if reused {
			return fail(fmt.Errorf("%w: %v", errServerClosedIdle, err))
		}
		return fail(wrapErr("write request", err))
	}
	resp, b, err := c.readResponse(req)
	if n, werr := c.sr.takeWriteErr(); n > 0 || werr != nil {
		c.t.bytesOut.Add(uint64(n))
		if werr != nil {
			if reused {
				return fail(fmt.Errorf("%w: %v", errServerClosedIdle, werr))
			}
			return fail(wrapErr("write request", werr))
		}
	}
	if err != nil {
		if reused && errors.Is(err, errNoResponse) {
			return fail(fmt.Errorf("%w: %v", errServerClosedIdle, err))
		}
		return fail(err)
	}
	b.stop = stop
	if b.done {
		b.finish(nil)
	}
	return resp, nil
}

// ioError wraps an I/O error with context and keeps it a net.Error, so that
// url.Error.Timeout (which looks only one level down) still reports
// timeouts.
type ioError struct {
	op  string
	err error
}

func wrapErr(op string, err error) error { return &ioError{op, err} }

func (e *ioError) Error() string { return e.op + ": " + e.err.Error() }
func (e *ioError) Unwrap() error { return e.err }

// Timeout reports whether the wrapped error is a timeout.
func (e *ioError) Timeout() bool {
	var ne net.Error
	return errors.As(e.err, &ne) && ne.Timeout()
}

// Temporary is part of net.Error; nothing here is retried on it.
func (e *ioError) Temporary() bool { return false }
