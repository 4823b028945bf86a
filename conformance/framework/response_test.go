package framework

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serve writes raw from a real loopback server, then closes (or keeps open),
// and returns the client side as a Conn.
func serve(t *testing.T, raw string, closeAfter bool) *Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = s.Write([]byte(raw))
		if closeAfter {
			s.Close()
			return
		}
		time.Sleep(2 * time.Second)
		s.Close()
	}()
	c, err := Dial(ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestReadResponse(t *testing.T) {
	cases := []struct {
		name, method, raw string
		close             bool
		status            int
		body              string
		framing           Framing
		complete          bool
		malformed         bool
		interim           int
	}{
		{"length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, 200, "hello", FramingLength, true, false, 0},
		{"length short", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello", true, 200, "hello", FramingLength, false, false, 0},
		{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n1\r\n!\r\n0\r\nT: v\r\n\r\n", false, 200, "hello!", FramingChunked, true, false, 0},
		{"chunked no last chunk", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", true, 200, "hello", FramingChunked, false, true, 0},
		{"chunked bad size", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", true, 200, "", FramingChunked, false, true, 0},
		{"close delimited", "GET", "HTTP/1.0 200 OK\r\n\r\nuntil close", true, 200, "until close", FramingClose, true, false, 0},
		{"head", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, 200, "", FramingNone, true, false, 0},
		{"204", "GET", "HTTP/1.1 204 No Content\r\n\r\n", false, 204, "", FramingNone, true, false, 0},
		{"interim", "POST", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", FramingLength, true, false, 1},
		{"bare LF", "GET", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false, 200, "ok", FramingLength, true, true, 0},
		{"chunk size then whitespace", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 \r\nok\r\n0\r\n\r\n", true, 200, "", FramingChunked, false, true, 0},
		{"bad length: until close", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", true, 200, "ab", FramingClose, true, true, 0},
		{"bad status line", "GET", "hello world\r\n\r\n", true, 0, "\r\n", "", false, true, 0},
		{"bad status code", "GET", "HTTP/1.1 2x0 OK\r\n\r\n", true, 0, "", "", false, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, tc.raw, tc.close)
			r, err := c.ReadResponse(tc.method, 3*time.Second)
			if err != nil {
				t.Fatalf("ReadResponse: %v", err)
			}
			if r.Status != tc.status || string(r.Body) != tc.body || r.Framing != tc.framing || r.Complete != tc.complete || (r.Malformed != "") != tc.malformed || len(r.Interim) != tc.interim {
				t.Errorf("got %s (status %d body %q framing %s complete %v malformed %q interim %d)", r.Summary(), r.Status, r.Body, r.Framing, r.Complete, r.Malformed, len(r.Interim))
			}
		})
	}
}

func TestAnnouncedClose(t *testing.T) {
	cases := []struct {
		raw  string
		want bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n", true},
		{"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", true},
		{"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\nConnection: close\r\n", true}, // header section cut short
		{"hello\r\n\r\n", false},
	}
	for _, tc := range cases {
		c := serve(t, tc.raw, true)
		r, err := c.ReadResponse("GET", 3*time.Second)
		if err != nil {
			t.Fatalf("%q: %v", tc.raw, err)
		}
		if got := r.AnnouncedClose(); got != tc.want {
			t.Errorf("%q: AnnouncedClose %v, want %v", tc.raw, got, tc.want)
		}
	}
	if (*Response)(nil).AnnouncedClose() {
		t.Error("nil response announced a close")
	}
}

func TestReadResponseNothing(t *testing.T) {
	c := serve(t, "", true)
	if _, err := c.ReadResponse("GET", time.Second); err == nil {
		t.Fatal("want ErrNoResponse on an immediate close")
	}
	if c.State() != StateFIN {
		t.Errorf("state %s, want fin", c.State())
	}
}

func TestTranscriptEscapes(t *testing.T) {
	var tr Transcript
	tr.add(true, []byte("GET / HTTP/1.1\r\nX: \x00\xff\r\n\r\n"))
	tr.add(false, []byte(strings.Repeat("a", 10000)))
	s := tr.String()
	if !strings.Contains(s, `> X: \x00\xff\r\n`) || !strings.Contains(s, "bytes elided") {
		t.Errorf("transcript:\n%s", s)
	}
}

// FuzzReadResponse: on arbitrary bytes the suite's wrapper around
// httpresp's reader (whose own rules FuzzReadResponse in internal/httpresp
// checks) never panics or hangs, and records faithfully: what the response
// holds as Raw and what the connection still has unread are, together,
// exactly the bytes received; a body framed by a length or by chunks that
// came complete is exactly that long; a response without a body has none;
// a failure is "no response".
func FuzzReadResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", "GET")
	f.Add("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\n\r\n", "HEAD")
	f.Add("HTTP/1.0 200 OK\r\n\r\nuntil close", "GET")
	f.Add("HTTP/1.1 +20 OK\r\nContent-Length: 0\r\n\r\n", "GET")
	f.Add("hello\r\n\r\nworld", "GET")
	f.Fuzz(func(t *testing.T, raw, method string) {
		a, b := net.Pipe()
		defer a.Close()
		go func() { _, _ = b.Write([]byte(raw)); b.Close() }()
		c := &Conn{c: a, T: &Transcript{}, state: StateOpen}
		// The peer writes everything, then closes: every read ends at the
		// EOF, and the minute only bounds a hang, which then fails.
		r, err := c.ReadResponse(method, time.Minute)
		if c.state == StateTimeout {
			t.Fatalf("read of %q hung", raw)
		}
		if err != nil {
			if r != nil || !errors.Is(err, ErrNoResponse) {
				t.Fatalf("%q: response %+v with error %v", raw, r, err)
			}
			return
		}
		if got := string(r.Raw) + string(c.Unread()); got != raw[:c.Received] {
			t.Fatalf("Raw %q and unread %q are not the %d bytes received of %q", r.Raw, c.Unread(), c.Received, raw)
		}
		if !r.Complete || r.Malformed != "" {
			return
		}
		switch r.Framing {
		case FramingNone:
			if len(r.Body) != 0 {
				t.Fatalf("%q: %d body bytes in a response without a body", raw, len(r.Body))
			}
		case FramingLength:
			if n, _ := strconv.Atoi(r.Values("Content-Length")[0]); len(r.Body) != n {
				t.Fatalf("%q: body of %d bytes, Content-Length %d", raw, len(r.Body), n)
			}
		case FramingChunked:
			sum := 0
			for _, n := range r.Chunks {
				sum += n
			}
			if sum != len(r.Body) || len(r.Chunks) == 0 || r.Chunks[len(r.Chunks)-1] != 0 {
				t.Fatalf("%q: chunks %v for a body of %d bytes", raw, r.Chunks, len(r.Body))
			}
		}
	})
}

func TestSelect(t *testing.T) {
	specs := []*Spec{{ID: "pep3333/a/x", Level: MUST}, {ID: "pep3333/a/y", Level: SHOULD}, {ID: "http1/b/z", Level: INFO, Disruptive: true}, {ID: "http1/b/w", Level: MAY}}
	got, err := Select(specs, "", "SHOULD")
	if err != nil || len(got) != 2 {
		t.Fatalf("level SHOULD: %v %v", got, err)
	}
	got, _ = Select(specs, "", "ALL")
	if got[len(got)-1].ID != "http1/b/z" {
		t.Errorf("disruptive spec not last: %v", got[len(got)-1].ID)
	}
	if _, err := Select(specs, "pep3333/a/nope-nope", ""); err == nil || !strings.Contains(err.Error(), "close matches") {
		t.Errorf("unknown focus: %v", err)
	}
	got, _ = Select(specs, "http1/", "")
	if len(got) != 2 {
		t.Errorf("regex focus: %d", len(got))
	}
}
