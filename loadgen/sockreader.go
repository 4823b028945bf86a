package loadgen

import (
	"io"
	"net"
	"os"
	"syscall"
)

// sockReader is a connection's read side. When a request is queued
// (post), the next Read sends it and then waits for the socket to become
// readable before reading at all. Go's own Read would try the read at once,
// and right after a request it fails with EAGAIN (a response cannot be back
// yet): one system call per request for nothing, about a tenth of the
// driver's CPU per request on loopback.
//
// Sending inside the read wait is what makes skipping that read safe: the
// wait is armed (poll readiness reset) before the request goes out, so the
// response's arrival is never an edge that came and went unnoticed.
type sockReader struct {
	nc net.Conn
	rc syscall.RawConn // nil: no raw access; post is then never used

	pending []byte // request to send before the next read
	sent    int    // bytes of it sent
	werr    error  // its send error, for the caller to report as a write failure

	// One Read's state, for onReady.
	ready func(fd uintptr) bool // s.onReady
	req   []byte                // request still to send
	buf   []byte                // where the response goes
	n     int
	rerr  error
}

func newSockReader(nc net.Conn) *sockReader {
	s := &sockReader{nc: nc}
	s.ready = s.onReady
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			s.rc = rc
		}
	}
	return s
}

// canPost reports whether requests may be queued with post.
func (s *sockReader) canPost() bool { return s.rc != nil }

// post queues b to be sent by the next Read; b must stay untouched until then.
func (s *sockReader) post(b []byte) { s.pending, s.sent, s.werr = b, 0, nil }

// takeWriteErr returns and clears the error of the last posted send.
func (s *sockReader) takeWriteErr() (int, error) {
	n, err := s.sent, s.werr
	s.sent, s.werr = 0, nil
	return n, err
}

func (s *sockReader) Read(p []byte) (int, error) {
	if s.pending == nil || s.rc == nil {
		return s.nc.Read(p)
	}
	s.req, s.pending = s.pending, nil
	s.buf, s.n, s.rerr = p, 0, nil
	err := s.rc.Read(s.ready)
	n, rerr := s.n, s.rerr
	s.req, s.buf, s.rerr = nil, nil, nil
	if err != nil {
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: s.nc.LocalAddr(), Addr: s.nc.RemoteAddr(), Err: err}
	}
	return n, rerr
}

// onReady is rc.Read's callback (bound once, as s.ready: a closure per
// Read would be an allocation per request): the first call sends the
// queued request, later ones read into s.buf; false means wait for the
// socket to become readable.
func (s *sockReader) onReady(fd uintptr) bool {
	if s.req != nil {
		s.sent, s.werr = s.nc.Write(s.req)
		s.req = nil
		if s.werr != nil {
			s.rerr = s.werr
			return true
		}
		return false // wait: nothing can have arrived yet
	}
	for {
		m, err := syscall.Read(int(fd), s.buf)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		case nil:
			s.n = m
			if m == 0 && len(s.buf) > 0 {
				s.rerr = io.EOF
			}
		default:
			s.rerr = &net.OpError{Op: "read", Net: "tcp", Source: s.nc.LocalAddr(), Addr: s.nc.RemoteAddr(), Err: os.NewSyscallError("read", err)}
		}
		return true
	}
}
