package engine

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/wsgikit/wsgikit/server/http1"
	"golang.org/x/sys/unix"
)

// fdConn is a client socket owned by the engine's event loop: a non-blocking
// descriptor outside Go's netpoller, so that waiting for data never wakes
// another thread (see loop.go). Reads and writes made from the application
// (request bodies, streamed responses) block the calling thread in poll(2)
// until their deadline, like a net.Conn's; the loop's own reads do not block
// (nonblock). It implements net.Conn for the code shared with tests.
type fdConn struct {
	fd           int
	laddr, raddr net.Addr
	rdl, wdl     time.Time     // deadlines; zero: none
	wtimeout     time.Duration // a write that stalls this long fails (0: never)
	nonblock     bool          // reads return http1.ErrWouldBlock instead of waiting
	// drained: the socket had nothing more to read after the last read (it
	// came back short, or would have blocked). The loop's epoll is
	// edge-triggered: only then may it wait for the next event.
	drained bool
	closed  bool
	tls     *tlsConn // nil: plaintext (tls.go)
}

func (c *fdConn) Read(p []byte) (int, error) {
	if c.tls != nil {
		return c.tls.read(p)
	}
	return c.readRaw(p)
}

// readRaw reads the socket's bytes (ciphertext on a TLS connection).
func (c *fdConn) readRaw(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := rawRead(c.fd, p)
		switch err {
		case 0:
			c.drained = n < len(p) // a short read of a stream socket emptied it
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			c.drained = true
			if c.nonblock {
				return 0, http1.ErrWouldBlock
			}
			if err := c.wait(unix.POLLIN, c.rdl); err != nil {
				return 0, err
			}
			continue
		}
		return 0, &net.OpError{Op: "read", Net: "tcp", Addr: c.raddr, Err: os.NewSyscallError("read", err)}
	}
}

// Write writes all of p, waiting while the socket buffer is full: at most
// the write deadline when one is set, else wtimeout from the first stall.
func (c *fdConn) Write(p []byte) (int, error) {
	n, err := c.write(p, false)
	return n, err
}

// write writes p; with nonblock it stops at the first stall (http1.ErrWouldBlock)
// and returns what was written.
func (c *fdConn) write(p []byte, nonblock bool) (int, error) {
	if c.tls != nil {
		return c.tls.write(p, nonblock)
	}
	return c.writeRaw(p, nonblock)
}

func (c *fdConn) writeRaw(p []byte, nonblock bool) (int, error) {
	total := 0
	var deadline time.Time
	for len(p) > 0 {
		n, err := rawWrite(c.fd, p)
		if n > 0 {
			total += n
			p = p[n:]
		}
		switch err {
		case 0:
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if nonblock {
				return total, http1.ErrWouldBlock
			}
			if deadline.IsZero() {
				deadline = c.wdl
				if deadline.IsZero() && c.wtimeout > 0 {
					deadline = time.Now().Add(c.wtimeout)
				}
			}
			if err := c.wait(unix.POLLOUT, deadline); err != nil {
				return total, err
			}
			continue
		}
		return total, &net.OpError{Op: "write", Net: "tcp", Addr: c.raddr, Err: os.NewSyscallError("write", err)}
	}
	return total, nil
}

// rawRead and rawWrite are read(2) and write(2) on a non-blocking socket:
// they never wait, so they skip the scheduler's bookkeeping for a syscall
// that might (entersyscall, exitsyscall), a measurable part of a small
// request. Waiting is poll(2), an ordinary syscall.
func rawRead(fd int, p []byte) (int, syscall.Errno) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

func rawWrite(fd int, p []byte) (int, syscall.Errno) {
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// wait blocks until fd is ready for events, or the deadline passes.
func (c *fdConn) wait(events int16, deadline time.Time) error {
	if c.closed {
		return net.ErrClosed
	}
	pfd := []unix.PollFd{{Fd: int32(c.fd), Events: events}}
	for {
		timeout := -1
		if !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			timeout = int((d + time.Millisecond - 1) / time.Millisecond)
		}
		n, err := unix.Poll(pfd, timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		if n > 0 {
			return nil // ready, or an error the next read or write reports
		}
	}
}

// ReadFrom sends a file with sendfile(2) when r is a limited *os.File (a
// wsgi.file_wrapper), else copies.
func (c *fdConn) ReadFrom(r io.Reader) (int64, error) {
	lr, ok := r.(*io.LimitedReader)
	if !ok || c.tls != nil { // TLS encrypts in user space: no sendfile
		return io.Copy(writerOnly{c}, r)
	}
	f, ok := lr.R.(*os.File)
	if !ok {
		return io.Copy(writerOnly{c}, r)
	}
	sc, err := f.SyscallConn()
	if err != nil {
		return io.Copy(writerOnly{c}, r)
	}
	var total int64
	var serr error
	var deadline time.Time
	cerr := sc.Control(func(src uintptr) {
		for lr.N > 0 {
			n, err := unix.Sendfile(c.fd, int(src), nil, int(min(lr.N, 1<<30)))
			if n > 0 {
				total += int64(n)
				lr.N -= int64(n)
			}
			switch {
			case err == nil && n == 0:
				return // end of file
			case err == nil || err == unix.EINTR:
			case err == unix.EAGAIN:
				if deadline.IsZero() {
					deadline = c.wdl
					if deadline.IsZero() && c.wtimeout > 0 {
						deadline = time.Now().Add(c.wtimeout)
					}
				}
				if serr = c.wait(unix.POLLOUT, deadline); serr != nil {
					return
				}
			default:
				serr = &net.OpError{Op: "sendfile", Net: "tcp", Addr: c.raddr, Err: os.NewSyscallError("sendfile", err)}
				return
			}
		}
	})
	if cerr != nil {
		return total, cerr
	}
	return total, serr
}

// writerOnly hides ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// cut makes every pending and future read and write on c fail at once (a
// stop that cannot wait), without closing the descriptor under its owner.
func (c *fdConn) cut() { unix.Shutdown(c.fd, unix.SHUT_RDWR) }

// shut shuts down one or both directions (unix.SHUT_RD, SHUT_WR, SHUT_RDWR)
// without closing the descriptor under its owner.
func (c *fdConn) shut(how int) { unix.Shutdown(c.fd, how) }

// reset sends the client a reset at once, without closing the descriptor
// under the request that holds it: connect(2) to AF_UNSPEC disconnects a TCP
// socket (the kernel's tcp_disconnect). Where that fails (a unix socket),
// both directions shut instead.
func (c *fdConn) reset() {
	var unspec [16]byte // a sockaddr whose family is AF_UNSPEC (0)
	if _, _, e := unix.RawSyscall(unix.SYS_CONNECT, uintptr(c.fd), uintptr(unsafe.Pointer(&unspec[0])), uintptr(len(unspec))); e != 0 {
		c.cut()
	}
}

// setLinger0 makes close send a reset: the client must not take a cut body
// as complete.
func (c *fdConn) setLinger0() {
	if c.tls != nil {
		c.tls.abort = true // no close_notify either
	}
	unix.SetsockoptLinger(c.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}

func (c *fdConn) Close() error {
	if c.closed {
		return net.ErrClosed
	}
	c.closed = true
	if c.tls != nil {
		c.tls.close()
	}
	return syscall.Close(c.fd)
}

func (c *fdConn) LocalAddr() net.Addr                { return c.laddr }
func (c *fdConn) RemoteAddr() net.Addr               { return c.raddr }
func (c *fdConn) SetDeadline(t time.Time) error      { c.rdl, c.wdl = t, t; return nil }
func (c *fdConn) SetReadDeadline(t time.Time) error  { c.rdl = t; return nil }
func (c *fdConn) SetWriteDeadline(t time.Time) error { c.wdl = t; return nil }

// sockAddr converts what accept(2) or getsockname(2) returns into the
// net.Addr a net.Conn would report (REMOTE_ADDR, SERVER_NAME come from it).
func sockAddr(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: netip.AddrFrom4(a.Addr).AsSlice(), Port: a.Port}
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(a.Addr)
		zone := ""
		if a.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				zone = ifi.Name
			}
		}
		return &net.TCPAddr{IP: ip.AsSlice(), Port: a.Port, Zone: zone}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: a.Name, Net: "unix"}
	}
	return nil
}

// tuneAccepted sets on an accepted TCP socket what Go's net package sets on
// one: no Nagle delay, and keep-alive probes (idle 15 s) so that a peer that
// vanished is noticed.
func tuneAccepted(fd int) {
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15)
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15)
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9)
}
