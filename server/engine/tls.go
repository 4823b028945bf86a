package engine

// TLS connections. crypto/tls's Conn runs over the connection's raw
// descriptor (tlsWire), so that the event loop keeps owning the socket:
//
//   - The handshake cannot be resumed once a read would block, so it runs
//     on a goroutine of its own, which waits in Go's netpoller on a copy of
//     the descriptor (a slow client holds no thread, and never a Python
//     one), bounded by the header timeout; then the connection goes back
//     to the loop like one a runner is done with.
//   - The loop's reads do not block: the wire answers a read that would
//     with a temporary net.Error, on which crypto/tls keeps a partial
//     record for the next read. crypto/tls may hold decrypted bytes or
//     whole records epoll cannot know of, so a loop read goes on until the
//     wire would block (fdConn.drained then means: nothing held anywhere).
//   - The loop's writes do not block either: what the socket does not take
//     of the records waits in the wire (tlsWire.out) until it does.
//   - Python threads read and write with the blocking semantics of
//     fdConn, deadlines included; sendfile gives way to read+write.
//   - A graceful close sends close_notify (without it, a client cannot
//     tell a close-delimited body complete); a cut one does not.

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/wsgikit/wsgikit/server/http1"
	"github.com/wsgikit/wsgikit/server/tlsconf"
	"github.com/wsgikit/wsgikit/server/workerproto"
	"golang.org/x/sys/unix"
)

// TLSFor returns the TLS configuration of each listener a worker was
// given (nil for plaintext ones), from the material its master passed.
func TLSFor(w *workerproto.Config) ([]*tls.Config, error) {
	if !slices.Contains(w.TLSListeners, true) {
		return nil, nil
	}
	if w.FDs.TLS <= 0 {
		return nil, errors.New("tls: listeners speak TLS, but the master passed no certificate")
	}
	raw, err := workerproto.ReadSecret(w.FDs.TLS)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	b, err := tlsconf.Unmarshal(raw)
	if err != nil {
		return nil, err
	}
	cfg, err := b.Server()
	if err != nil {
		return nil, err
	}
	out := make([]*tls.Config, len(w.TLSListeners))
	for i, on := range w.TLSListeners {
		if on {
			out[i] = cfg
		}
	}
	return out, nil
}

// tlsFor is the TLS configuration of listener ln (nil: plaintext).
func (l *loop) tlsFor(ln int) *tls.Config {
	i := slices.Index(l.lns, ln)
	if i < 0 || i >= len(l.e.cfg.TLS) {
		return nil
	}
	return l.e.cfg.TLS[i]
}

// tlsConn is the TLS side of an fdConn.
type tlsConn struct {
	tc    *tls.Conn
	w     tlsWire
	ready bool // the handshake succeeded
	abort bool // closing with a reset: no close_notify
}

// startTLS hands a new connection to a goroutine for its handshake. The
// connection stays busy and out of the epoll set until it comes back, so
// the loop does not touch it meanwhile.
func (l *loop) startTLS(c *conn, cfg *tls.Config) {
	t := &tlsConn{}
	t.w.c = c.nc
	t.tc = tls.Server(&t.w, cfg)
	c.nc.tls = t
	c.busy = true
	go l.handshake(c, t, c.deadline)
}

func (l *loop) handshake(c *conn, t *tlsConn, deadline time.Time) {
	if err := t.handshake(c, deadline); err != nil {
		l.e.logf(slog.LevelDebug, "TLS handshake with %s: %v; closing", c.nc.RemoteAddr(), err)
		c.closing = true
	} else {
		c.ci.TLS = newTLSEnv(t.tc.ConnectionState())
		c.edged = true // crypto/tls may hold the first request already: read before waiting
	}
	l.mu.Lock()
	l.back = append(l.back, c)
	l.nback.Add(1)
	l.mu.Unlock()
	if l.sleeping.Load() {
		l.wake()
	}
}

// handshake runs the server handshake of c through a copy of the
// descriptor in Go's netpoller, after the PROXY header a trusted proxy
// sends first (in the clear, before the TLS bytes it relays).
func (t *tlsConn) handshake(c *conn, deadline time.Time) error {
	fd, err := unix.FcntlInt(uintptr(t.w.c.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("dup: %w", err)
	}
	f := os.NewFile(uintptr(fd), "tls") // non-blocking already: the netpoller takes it
	defer f.Close()
	f.SetDeadline(deadline)
	if c.phase == phProxy {
		rest, s := c.readProxyFrom(f)
		if s != stepReady {
			return errors.New("no valid PROXY header")
		}
		t.w.pre = append([]byte(nil), rest...)
		c.phase = phHead
	}
	t.w.hs = f
	err = t.tc.Handshake()
	var rhe tls.RecordHeaderError
	if errors.As(err, &rhe) && rhe.Conn != nil {
		// Not TLS, and plausibly plaintext HTTP: say so, as Go's net/http does.
		io.WriteString(rhe.Conn, "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
	}
	t.w.hs = nil
	t.ready = err == nil
	return err
}

// read is fdConn.Read on a TLS connection.
func (t *tlsConn) read(p []byte) (int, error) {
	c := t.w.c
	t.w.nonblock, t.w.short = c.nonblock, false
	defer func() { t.w.nonblock = false }()
	if !c.nonblock {
		n, err := t.tc.Read(p)
		c.drained = false // crypto/tls may hold more: the loop reads before it waits
		return n, err
	}
	total := 0
	for total < len(p) {
		n, err := t.tc.Read(p[total:])
		total += n
		if err == errWireAgain {
			c.drained = true
			if total == 0 {
				return 0, http1.ErrWouldBlock
			}
			return total, nil
		}
		if err != nil {
			if total > 0 {
				return total, nil // the error comes again with the next read
			}
			return 0, err
		}
	}
	c.drained = false
	return total, nil
}

// write is fdConn.write on a TLS connection. The records of p go out
// together (crypto/tls starts a connection with records of one segment
// each: one write(2) apiece otherwise). Without blocking, p is taken whole
// once the socket took the records kept from before (else nothing is);
// ErrWouldBlock then says some of its records wait in the wire.
func (t *tlsConn) write(p []byte, nonblock bool) (int, error) {
	if nonblock {
		if pending, err := t.w.flushNow(); err != nil || pending {
			if err == nil {
				err = http1.ErrWouldBlock
			}
			return 0, err
		}
	}
	t.w.nonblock, t.w.batch = nonblock, true
	n, err := t.tc.Write(p)
	t.w.nonblock, t.w.batch = false, false
	if err != nil {
		return n, err
	}
	if !nonblock {
		return n, t.w.flush()
	}
	pending, err := t.w.flushNow()
	if err == nil && pending {
		err = http1.ErrWouldBlock
	}
	return n, err
}

// close sends close_notify as far as the socket takes it now.
func (t *tlsConn) close() {
	if !t.ready || t.abort {
		return
	}
	t.w.nonblock = true
	t.tc.CloseWrite()
	t.w.flushNow()
	t.w.nonblock = false
}

// flushCiphertext sends what the connection encrypted but the socket did
// not take yet, without waiting; it reports whether some is left.
func (c *conn) flushCiphertext() bool {
	if c.nc.tls == nil {
		return false
	}
	pending, err := c.nc.tls.w.flushNow()
	if err != nil {
		c.err = err
	}
	return pending
}

// tlsWire is the ciphertext side of a TLS connection: the net.Conn
// crypto/tls reads and writes records through.
type tlsWire struct {
	c        *fdConn
	pre      []byte   // read before the handshake (after a PROXY header): crypto/tls gets it first
	hs       *os.File // during the handshake: a copy of the socket in Go's netpoller
	nonblock bool     // the loop's turn: reads end with errWireAgain, writes keep what the socket leaves in out
	batch    bool     // collect records in out: the writer sends them together
	short    bool     // a read of this turn came back short: the socket is empty until epoll says otherwise
	out      []byte   // records waiting for the socket
}

// batchMax bounds what a blocking write collects before it sends.
const batchMax = 64 << 10

// wireAgain is the wire's "would block": temporary, so crypto/tls keeps
// what it read of a record.
type wireAgain struct{}

func (wireAgain) Error() string   { return "tls wire: would block" }
func (wireAgain) Timeout() bool   { return false }
func (wireAgain) Temporary() bool { return true }

var errWireAgain net.Error = wireAgain{}

func (w *tlsWire) Read(p []byte) (int, error) {
	if len(w.pre) > 0 {
		n := copy(p, w.pre)
		w.pre = w.pre[n:]
		return n, nil
	}
	if w.hs != nil {
		return w.hs.Read(p)
	}
	if w.nonblock && w.short {
		return 0, errWireAgain // no syscall: a read this turn found the socket empty
	}
	n, err := w.c.readRaw(p)
	if err == http1.ErrWouldBlock {
		w.short = true
		return 0, errWireAgain
	}
	if err == nil && w.c.drained {
		w.short = true
	}
	return n, err
}

func (w *tlsWire) Write(p []byte) (int, error) {
	if w.hs != nil {
		return w.hs.Write(p)
	}
	switch {
	case w.batch:
		w.out = append(w.out, p...)
		if !w.nonblock && len(w.out) >= batchMax {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
		return len(p), nil
	case w.nonblock:
		n := 0
		if len(w.out) == 0 {
			var err error
			if n, err = w.c.writeRaw(p, true); err != nil && err != http1.ErrWouldBlock {
				return n, err
			}
		}
		w.out = append(w.out, p[n:]...)
		return len(p), nil
	}
	if err := w.flush(); err != nil {
		return 0, err
	}
	return w.c.writeRaw(p, false)
}

// flush sends out, waiting for the socket.
func (w *tlsWire) flush() error {
	if len(w.out) == 0 {
		return nil
	}
	_, err := w.c.writeRaw(w.out, false)
	w.release()
	return err
}

// release empties out; one grown past a response's records goes (idle
// connections keep little).
func (w *tlsWire) release() {
	if cap(w.out) > 32<<10 {
		w.out = nil
		return
	}
	w.out = w.out[:0]
}

// flushNow sends what the socket takes of out; it reports whether some is left.
func (w *tlsWire) flushNow() (bool, error) {
	if len(w.out) == 0 {
		return false, nil
	}
	n, err := w.c.writeRaw(w.out, true)
	w.out = w.out[:copy(w.out, w.out[n:])]
	if err == http1.ErrWouldBlock {
		return true, nil
	}
	w.release()
	return false, err
}

func (w *tlsWire) Close() error                       { return nil } // the fdConn closes the socket
func (w *tlsWire) LocalAddr() net.Addr                { return w.c.laddr }
func (w *tlsWire) RemoteAddr() net.Addr               { return w.c.raddr }
func (w *tlsWire) SetDeadline(t time.Time) error      { return w.c.SetDeadline(t) }
func (w *tlsWire) SetReadDeadline(t time.Time) error  { return w.c.SetReadDeadline(t) }
func (w *tlsWire) SetWriteDeadline(t time.Time) error { return w.c.SetWriteDeadline(t) }

// tlsEnv is what the environ says of a TLS connection, with the names of
// Apache's mod_ssl (which mod_wsgi passes on): computed once, after the
// handshake.
type tlsEnv struct {
	protocol, cipher, verify []byte
	named                    []string // name, value, name, value...: SSL_TLS_SNI and the client certificate's
}

var (
	schemeHTTPS   = []byte("https")
	httpsOn       = []byte("on")
	verifyNone    = []byte("NONE")
	verifySuccess = []byte("SUCCESS")
)

func newTLSEnv(cs tls.ConnectionState) *tlsEnv {
	te := &tlsEnv{protocol: []byte("TLSv1.2"), cipher: []byte(tlsconf.CipherName(cs.CipherSuite)), verify: verifyNone}
	if cs.Version == tls.VersionTLS13 {
		te.protocol = []byte("TLSv1.3")
	}
	if cs.ServerName != "" {
		te.named = append(te.named, "SSL_TLS_SNI", cs.ServerName)
	}
	if len(cs.PeerCertificates) > 0 {
		// crypto/tls verified it against --ca-certs, or refused the handshake.
		te.verify = verifySuccess
		cert := cs.PeerCertificates[0]
		te.named = append(te.named,
			"SSL_CLIENT_S_DN", cert.Subject.String(),
			"SSL_CLIENT_S_DN_CN", cert.Subject.CommonName,
			"SSL_CLIENT_I_DN", cert.Issuer.String(),
			"SSL_CLIENT_M_SERIAL", strings.ToUpper(cert.SerialNumber.Text(16)),
			"SSL_CLIENT_V_START", opensslTime(cert.NotBefore),
			"SSL_CLIENT_V_END", opensslTime(cert.NotAfter),
			"SSL_CLIENT_CERT", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))
	}
	return te
}

// opensslTime formats a certificate time as mod_ssl does (OpenSSL's ASN1_TIME_print).
func opensslTime(t time.Time) string { return t.UTC().Format("Jan _2 15:04:05 2006 GMT") }

// add puts the connection's TLS keys in an environ.
func (te *tlsEnv) add(e *Environ) {
	e.add(keyHTTPS, httpsOn)
	e.add(keySSLProtocol, te.protocol)
	e.add(keySSLCipher, te.cipher)
	e.add(keySSLClientVerify, te.verify)
	for i := 0; i+1 < len(te.named); i += 2 {
		e.addNamed(te.named[i], te.named[i+1])
	}
}
