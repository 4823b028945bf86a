package framework

import (
	"net"
	"testing"
	"time"
)

// TestReadNext: after a response the suite sees whatever the server does
// next: another response, bytes that make none, a close, or nothing.
func TestReadNext(t *testing.T) {
	const first = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	for _, c := range []struct {
		name     string
		then     string
		close    bool
		answered bool
		closed   bool
		state    ConnState
	}{
		{"another response, then open", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", false, true, false, StateOpen},
		{"garbage, then a close", "\x00\x01junk", true, true, false, StateFIN},
		{"a close", "", true, false, true, StateFIN},
		{"nothing", "", false, false, false, StateTimeout},
	} {
		c := c
		t.Run(c.name, func(t *testing.T) {
			conn := loopback(t, first+c.then, c.close)
			if r, err := conn.ReadResponse("GET", time.Minute); err != nil || r.Status != 200 {
				t.Fatalf("first response: %v %v", r, err)
			}
			// The bound only ends the "nothing" case; the others end at once.
			n := conn.ReadNext("GET", 300*time.Millisecond)
			if n.Answered() != c.answered || n.Closed() != c.closed || n.State != c.state {
				t.Errorf("%s: answered %v closed %v state %s, want %v %v %s", n, n.Answered(), n.Closed(), n.State, c.answered, c.closed, c.state)
			}
		})
	}
}

// loopback serves raw from a loopback server that then closes, or holds
// the connection until the test ends.
func loopback(t *testing.T, raw string, closeAfter bool) *Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		_, _ = s.Write([]byte(raw))
		if !closeAfter {
			<-done
		}
	}()
	c, err := Dial(ln.Addr().String(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
