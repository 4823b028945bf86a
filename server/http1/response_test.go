package http1

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAppendStatusLine(t *testing.T) {
	cases := []struct {
		major, minor int
		status, want string
	}{
		{1, 1, "200 OK", "HTTP/1.1 200 OK\r\n"},
		{1, 0, "404 Not Found", "HTTP/1.0 404 Not Found\r\n"},
		{1, 1, "599 Custom Reason Here", "HTTP/1.1 599 Custom Reason Here\r\n"},
	}
	for _, c := range cases {
		if got := string(AppendStatusLine([]byte("x"), c.major, c.minor, []byte(c.status))); got != "x"+c.want {
			t.Errorf("AppendStatusLine(%d.%d, %q) = %q", c.major, c.minor, c.status, got)
		}
	}
}

func TestAppendChunkHeader(t *testing.T) {
	for n, want := range map[int]string{0: "0\r\n", 1: "1\r\n", 255: "ff\r\n", 65536: "10000\r\n"} {
		if got := string(AppendChunkHeader(nil, n)); got != want {
			t.Errorf("AppendChunkHeader(%d) = %q, want %q", n, got, want)
		}
	}
	if string(LastChunk) != "0\r\n\r\n" {
		t.Fatalf("LastChunk = %q", LastChunk)
	}
}

func TestAppendDate(t *testing.T) {
	// The line renders the caller's own second: it lies between two
	// readings of the clock taken around the call, however slow the call.
	before := time.Now().Unix()
	line := string(AppendDate(nil))
	after := time.Now().Unix()
	v, ok := strings.CutPrefix(line, "Date: ")
	if !ok || !strings.HasSuffix(v, "\r\n") {
		t.Fatalf("Date line %q", line)
	}
	d, err := time.Parse(http.TimeFormat, strings.TrimSuffix(v, "\r\n"))
	if err != nil {
		t.Fatalf("Date %q: %v", v, err)
	}
	if d.Unix() < before || d.Unix() > after {
		t.Fatalf("Date %v outside the call's seconds [%v, %v]", d, time.Unix(before, 0).UTC(), time.Unix(after, 0).UTC())
	}
	dst := make([]byte, 0, 64)
	if a := testing.AllocsPerRun(100, func() { dst = AppendDate(dst[:0]) }); a > 0.05 {
		t.Fatalf("AppendDate allocates %.2f per call", a)
	}
}

func TestAppendDateConcurrent(t *testing.T) {
	done := make(chan bool)
	for range 4 {
		go func() {
			var b []byte
			ok := true
			for range 2000 {
				b = AppendDate(b[:0])
				if len(b) != len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n") {
					ok = false
				}
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Fatal("malformed Date line under concurrency")
		}
	}
}

func TestStatusText(t *testing.T) {
	for _, code := range []int{400, 404, 408, 413, 414, 431, 500, 501, 503, 505} {
		if StatusText(code) == "" {
			t.Errorf("StatusText(%d) empty", code)
		}
		if code != 413 && code != 414 && StatusText(code) != http.StatusText(code) {
			t.Errorf("StatusText(%d) = %q, net/http says %q", code, StatusText(code), http.StatusText(code))
		}
	}
	if StatusText(299) != "" {
		t.Fatal("unknown code has a text")
	}
}

func TestAppendError(t *testing.T) {
	for _, code := range []int{400, 413, 414, 431, 501, 505, 299} {
		raw := AppendError(nil, code)
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil {
			t.Fatalf("%d: %v\n%s", code, err, raw)
		}
		body := new(bytes.Buffer)
		body.ReadFrom(resp.Body)
		text := StatusText(code)
		if text == "" {
			text = "Error"
		}
		switch {
		case resp.StatusCode != code:
			t.Errorf("%d: status %d", code, resp.StatusCode)
		case !resp.Close || !bytes.Contains(raw, []byte("\r\nConnection: close\r\n")):
			t.Errorf("%d: no Connection: close", code)
		case resp.Header.Get("Date") == "":
			t.Errorf("%d: no Date", code)
		case !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"):
			t.Errorf("%d: Content-Type %q", code, resp.Header.Get("Content-Type"))
		case body.String() != text+"\n" || resp.ContentLength != int64(len(text)+1):
			t.Errorf("%d: body %q, Content-Length %d", code, body, resp.ContentLength)
		}
	}
}
