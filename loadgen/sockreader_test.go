package loadgen

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestSockReaderPost checks that a posted request goes out with the first
// Read, that the Read waits for a reply that comes late, and that a reply
// split over several segments and the peer's close read as usual.
func TestSockReaderPost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for _, reply := range []string{"pong1", "pong2"} {
			line, err := br.ReadString('\n')
			if err != nil {
				done <- err
				return
			}
			if line != "ping\n" {
				done <- errors.New("server got " + line)
				return
			}
			time.Sleep(30 * time.Millisecond) // the client must wait, not spin or give up
			c.Write([]byte(reply[:2]))
			time.Sleep(10 * time.Millisecond)
			c.Write([]byte(reply[2:]))
		}
		done <- nil
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	s := newSockReader(nc)
	if !s.canPost() {
		t.Fatal("a TCP connection must allow posting")
	}
	for _, want := range []string{"pong1", "pong2"} {
		s.post([]byte("ping\n"))
		got := make([]byte, 0, 5)
		for len(got) < 5 {
			buf := make([]byte, 5-len(got))
			n, err := s.Read(buf)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			got = append(got, buf[:n]...)
		}
		if n, werr := s.takeWriteErr(); n != 5 || werr != nil {
			t.Fatalf("sent %d, %v; want 5, nil", n, werr)
		}
		if string(got) != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, err := s.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("after close: %d, %v; want 0, EOF", n, err)
	}
}

// TestSockReaderDeadline checks that a posted request whose reply never
// comes ends at the connection's deadline with a timeout error.
func TestSockReaderDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			io.Copy(io.Discard, c) // read, never answer
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(200 * time.Millisecond))
	s := newSockReader(nc)
	s.post([]byte("ping\n"))
	_, err = s.Read(make([]byte, 8))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err %v, want a timeout", err)
	}
	if n, werr := s.takeWriteErr(); n != 5 || werr != nil {
		t.Fatalf("sent %d, %v; want 5, nil", n, werr)
	}
}
