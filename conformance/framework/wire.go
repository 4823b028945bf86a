// Package framework is the machinery of the conformance suite: a raw-socket
// HTTP/1.1 client with byte transcripts (responses are read with
// internal/httpresp, leniently, so that a breach is shown, not hidden), the
// event sink the probe app reports to, the probe client, and the spec
// registry with its verdict rules.
//
// It deliberately never uses net/http for wire checks: net/http normalises
// and rejects exactly the bytes the suite needs to see.
package framework

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ConnState is what the client knows about the server's side of a connection.
type ConnState string

// Connection states as seen from the client.
const (
	StateOpen    ConnState = "open"    // no EOF or error seen
	StateFIN     ConnState = "fin"     // the server closed (orderly EOF)
	StateRST     ConnState = "rst"     // the server reset the connection
	StateTimeout ConnState = "timeout" // a read deadline passed with nothing more
)

// Transcript is the full byte record of one connection, in order, with the
// direction of each piece, so a verdict can always be shown with its evidence.
type Transcript struct {
	mu     sync.Mutex
	pieces []piece
}

type piece struct {
	out  bool
	data []byte
	note string
}

func (t *Transcript) add(out bool, b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.pieces); n > 0 && t.pieces[n-1].out == out && t.pieces[n-1].note == "" {
		t.pieces[n-1].data = append(t.pieces[n-1].data, b...)
		return
	}
	t.pieces = append(t.pieces, piece{out: out, data: append([]byte(nil), b...)})
}

// Note records an event (EOF, reset, timeout) in the transcript.
func (t *Transcript) Note(format string, a ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pieces = append(t.pieces, piece{note: fmt.Sprintf(format, a...)})
}

// maxShown bounds one direction's piece in the rendered transcript; bodies of
// megabytes are elided in the middle.
const maxShown = 4096

// String renders the transcript with "> " for sent and "< " for received
// bytes, escaping everything that is not printable ASCII.
func (t *Transcript) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var sb strings.Builder
	for _, p := range t.pieces {
		if p.note != "" {
			sb.WriteString("-- " + p.note + "\n")
			continue
		}
		prefix := "< "
		if p.out {
			prefix = "> "
		}
		if len(p.data) <= maxShown {
			writeLines(&sb, prefix, p.data)
			continue
		}
		writeLines(&sb, prefix, p.data[:maxShown/2])
		fmt.Fprintf(&sb, "%s[... %d bytes elided ...]\n", prefix, len(p.data)-maxShown)
		writeLines(&sb, prefix, p.data[len(p.data)-maxShown/2:])
	}
	return sb.String()
}

func writeLines(sb *strings.Builder, prefix string, data []byte) {
	for _, line := range splitKeepLF(data) {
		sb.WriteString(prefix)
		sb.WriteString(Escape(line))
		sb.WriteString("\n")
	}
}

// splitKeepLF splits after each LF, keeping it, so CRLF shows as \r\n.
func splitKeepLF(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}

// Escape shows bytes as Go-like escaped text: printable ASCII as is, \r \n
// \t, other bytes as \xHH.
func Escape(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c == '\r':
			sb.WriteString(`\r`)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\t':
			sb.WriteString(`\t`)
		case c == '\\':
			sb.WriteString(`\\`)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, `\x%02x`, c)
		}
	}
	return sb.String()
}

// Conn is a raw client connection. It keeps every byte received in an
// unread buffer so responses are parsed by this package's own reader.
type Conn struct {
	c     net.Conn
	tcp   net.Conn // the TCP connection under c (c itself without TLS)
	T     *Transcript
	buf   []byte // received, not yet consumed by a parser
	state ConnState
	err   error // the read error that ended the stream (EOF or reset)
	// Received counts every byte ever received on this connection.
	Received int
}

// Dial opens a raw TCP connection to addr.
func Dial(addr string, timeout time.Duration) (*Conn, error) {
	return DialTLS(addr, timeout, nil)
}

// DialTLS opens a connection to addr and, with cfg, completes a TLS
// handshake on it: the transcript then holds the plaintext inside TLS.
func DialTLS(addr string, timeout time.Duration, cfg *tls.Config) (*Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	conn := &Conn{c: c, tcp: c, T: &Transcript{}, state: StateOpen}
	if cfg != nil {
		tc := tls.Client(c, cfg)
		_ = c.SetDeadline(time.Now().Add(timeout))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		_ = c.SetDeadline(time.Time{})
		conn.c = tc
		conn.T.Note("TLS %s handshake done", tls.VersionName(tc.ConnectionState().Version))
	}
	return conn, nil
}

// Dial opens a connection to the target: over TLS when it serves TLS.
func (tg *Target) Dial(timeout time.Duration) (*Conn, error) {
	return DialTLS(tg.Addr, timeout, tg.TLS)
}

// Close closes the client side.
func (c *Conn) Close() error { return c.c.Close() }

// Reset closes with SO_LINGER 0, which makes the kernel send RST.
func (c *Conn) Reset() error {
	if tc, ok := c.tcp.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.T.Note("client reset")
	return c.tcp.Close()
}

// CloseWrite half-closes: the server sees EOF on its read side (over TLS,
// a close_notify alert first, then the TCP FIN).
func (c *Conn) CloseWrite() error {
	c.T.Note("client half-close (FIN)")
	if tc, ok := c.c.(*tls.Conn); ok {
		_ = tc.CloseWrite()
	}
	if tc, ok := c.tcp.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}

// Send writes b entirely.
func (c *Conn) Send(b []byte) error {
	c.T.add(true, b)
	_ = c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.c.Write(b); err != nil {
		c.T.Note("write error: %v", err)
		return err
	}
	return nil
}

// SendString is Send for text.
func (c *Conn) SendString(s string) error { return c.Send([]byte(s)) }

// State is the last known connection state.
func (c *Conn) State() ConnState { return c.state }

// fill reads more bytes, waiting at most until deadline. It returns false
// when nothing more can come (EOF, reset, timeout), recording the state.
func (c *Conn) fill(deadline time.Time) bool {
	if c.state == StateFIN || c.state == StateRST {
		return false
	}
	_ = c.c.SetReadDeadline(deadline)
	var tmp [65536]byte
	n, err := c.c.Read(tmp[:])
	if n > 0 {
		c.buf = append(c.buf, tmp[:n]...)
		c.Received += n
		c.T.add(false, tmp[:n])
		if c.state == StateTimeout {
			c.state = StateOpen
		}
		return true
	}
	switch {
	case err == nil:
		return true
	case errors.Is(err, io.EOF):
		c.state = StateFIN
		c.err = err
		c.T.Note("server closed (FIN)")
	case isTimeout(err):
		c.state = StateTimeout
		c.T.Note("read timeout")
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		c.state = StateRST
		c.err = err
		c.T.Note("connection reset")
	default:
		c.state = StateRST
		c.err = err
		c.T.Note("read error: %v", err)
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// Peek waits up to d for any bytes and returns how many are buffered unread.
// It is the "has anything been sent yet?" primitive of ACK handshakes.
func (c *Conn) Peek(d time.Duration) int {
	deadline := time.Now().Add(d)
	for len(c.buf) == 0 && time.Now().Before(deadline) {
		if !c.fill(deadline) {
			break
		}
	}
	if c.state == StateTimeout {
		c.state = StateOpen
	}
	return len(c.buf)
}

// WaitFor reads until the unread buffer contains sub or the deadline
// passes; it reports whether sub was seen.
func (c *Conn) WaitFor(sub []byte, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !bytes.Contains(c.buf, sub) {
		if !time.Now().Before(deadline) || !c.fill(deadline) {
			if c.state == StateTimeout {
				c.state = StateOpen
			}
			return bytes.Contains(c.buf, sub)
		}
	}
	return true
}

// Unread is what has been received and not parsed yet.
func (c *Conn) Unread() []byte { return c.buf }

// ReadAll reads until EOF/reset or until d passes, returning everything
// unread. Its end state tells whether the server closed.
func (c *Conn) ReadAll(d time.Duration) []byte {
	deadline := time.Now().Add(d)
	for c.fill(deadline) {
	}
	b := c.buf
	c.buf = nil
	return b
}

// WaitClosed waits up to d for the server to close the connection and
// returns the final state (FIN, RST, or timeout if still open). Bytes that
// arrive meanwhile stay buffered.
func (c *Conn) WaitClosed(d time.Duration) ConnState {
	deadline := time.Now().Add(d)
	for c.fill(deadline) {
	}
	return c.state
}

// Next is what the server did on a connection after a response the suite
// has read: answered more (another response, or bytes that make none),
// closed it, or neither while the suite watched.
type Next struct {
	Resp  *Response // another response, if one came
	Extra []byte    // bytes received that make no response
	State ConnState // FIN or RST: closed; timeout: still open
}

// Answered reports whether the server sent anything more.
func (n Next) Answered() bool { return n.Resp != nil || len(n.Extra) > 0 }

// Closed reports whether the server closed without sending anything more.
func (n Next) Closed() bool {
	return !n.Answered() && (n.State == StateFIN || n.State == StateRST)
}

func (n Next) String() string {
	switch {
	case n.Resp != nil:
		return "then " + n.Resp.Summary()
	case len(n.Extra) > 0:
		return fmt.Sprintf("then %d more bytes: %q", len(n.Extra), Escape(n.Extra[:min(len(n.Extra), 60)]))
	case n.State == StateTimeout:
		return fmt.Sprintf("then nothing: connection still open after %s", ReadTimeout)
	}
	return "then the server closed (" + string(n.State) + ")"
}

// ReadNext watches c for up to d after a response: the next response, a
// close, or nothing. Whether more comes is the server's decision, so the
// suite sees it whatever the server answers: a second response, a 400 to
// the leftover bytes, or garbage.
func (c *Conn) ReadNext(method string, d time.Duration) Next {
	r, err := c.ReadResponse(method, d)
	n := Next{State: c.State()}
	if err == nil {
		n.Resp = r
	} else if len(c.buf) > 0 {
		n.Extra = append([]byte(nil), c.buf...)
	}
	if n.State == StateOpen {
		n.State = StateTimeout
		if n.Resp != nil {
			n.State = StateOpen
		}
	}
	return n
}
