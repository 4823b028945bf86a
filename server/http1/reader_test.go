package http1

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// scriptReader returns one scripted piece per Read, then io.EOF (or err),
// and logs each Read so tests can check ordering against hooks.
type scriptReader struct {
	pieces []string
	err    error
	log    *[]string
}

func (s *scriptReader) Read(p []byte) (int, error) {
	if len(s.pieces) == 0 {
		if s.log != nil {
			*s.log = append(*s.log, "read:eof")
		}
		if s.err != nil {
			return 0, s.err
		}
		return 0, io.EOF
	}
	n := copy(p, s.pieces[0])
	if s.log != nil {
		*s.log = append(*s.log, "read:"+s.pieces[0][:n])
	}
	s.pieces[0] = s.pieces[0][n:]
	if s.pieces[0] == "" {
		s.pieces = s.pieces[1:]
	}
	return n, nil
}

// dataEOFReader returns all its data and io.EOF from the same Read call.
type dataEOFReader struct{ data []byte }

func (d *dataEOFReader) Read(p []byte) (int, error) {
	n := copy(p, d.data)
	d.data = d.data[n:]
	if len(d.data) == 0 {
		return n, io.EOF
	}
	return n, nil
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

const simpleGET = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"

func TestReadRequestEOF(t *testing.T) {
	cases := []struct {
		name string
		src  io.Reader
		want []error // results of successive ReadRequest calls (nil = a request)
	}{
		{"empty", &scriptReader{}, []error{io.EOF}},
		{"only empty lines", &scriptReader{pieces: []string{"\r\n", "\r\n"}}, []error{io.EOF}},
		{"partial head", &scriptReader{pieces: []string{"GET / HTTP/1.1\r\nHo"}}, []error{io.ErrUnexpectedEOF}},
		{"partial request line", &scriptReader{pieces: []string{"GE"}}, []error{io.ErrUnexpectedEOF}},
		{"lone CR", &scriptReader{pieces: []string{"\r"}}, []error{io.ErrUnexpectedEOF}},
		{"request then EOF", &scriptReader{pieces: []string{simpleGET}}, []error{nil, io.EOF}},
		{"request and EOF in one Read", &dataEOFReader{data: []byte(simpleGET + simpleGET)}, []error{nil, nil, io.EOF}},
		{"request then trailing CRLF", &scriptReader{pieces: []string{simpleGET + "\r\n"}}, []error{nil, io.EOF}},
		{"timeout", &scriptReader{pieces: []string{"GET / HT"}, err: timeoutErr{}}, []error{timeoutErr{}}},
		{"bad bytes then EOF", &scriptReader{pieces: []string{"\r0"}}, []error{errBareCR}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(c.src, DefaultLimits())
			var req Request
			for i, want := range c.want {
				got := r.ReadRequest(&req)
				if got != want {
					t.Fatalf("call %d: %v, want %v", i, got, want)
				}
			}
		})
	}
}

func TestReadRequestSplitEverywhere(t *testing.T) {
	// Two pipelined requests, the first with a body, split at every point.
	in := "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /b?x HTTP/1.1\r\nHost: b\r\n\r\n"
	for i := 1; i < len(in); i++ {
		r := NewReader(&scriptReader{pieces: []string{in[:i], in[i:]}}, DefaultLimits())
		var req Request
		if err := r.ReadRequest(&req); err != nil {
			t.Fatalf("split %d: %v", i, err)
		}
		if string(req.Path) != "/a" || req.ContentLength != 3 {
			t.Fatalf("split %d: %s", i, dumpReq(&req))
		}
		body, err := io.ReadAll(r.Body())
		if err != nil || string(body) != "abc" {
			t.Fatalf("split %d: body %q %v", i, body, err)
		}
		if err := r.ReadRequest(&req); err != nil {
			t.Fatalf("split %d: second: %v", i, err)
		}
		if string(req.Path) != "/b" || string(req.Query) != "x" || string(req.Host) != "b" {
			t.Fatalf("split %d: second: %s", i, dumpReq(&req))
		}
		if err := r.ReadRequest(&req); err != io.EOF {
			t.Fatalf("split %d: third: %v", i, err)
		}
	}
}

func TestBufferedPipelining(t *testing.T) {
	r := NewReader(&scriptReader{pieces: []string{simpleGET + simpleGET}}, DefaultLimits())
	var req Request
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	if r.Buffered() != len(simpleGET) {
		t.Fatalf("Buffered = %d, want %d", r.Buffered(), len(simpleGET))
	}
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	if r.Buffered() != 0 {
		t.Fatalf("Buffered = %d after the last request", r.Buffered())
	}
}

func TestBodyNotConsumed(t *testing.T) {
	in := "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel"
	r := NewReader(&scriptReader{pieces: []string{in, "lo", simpleGET}}, DefaultLimits())
	var req Request
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadRequest(&req); err != ErrBodyNotConsumed {
		t.Fatalf("got %v, want ErrBodyNotConsumed", err)
	}
	if err := r.Body().Discard(10); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
}

func TestBodyShortThenEOF(t *testing.T) {
	for _, in := range []string{
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\na\r\nabc",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
	} {
		r := NewReader(&scriptReader{pieces: []string{in}}, DefaultLimits())
		var req Request
		if err := r.ReadRequest(&req); err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(r.Body())
		if err != io.ErrUnexpectedEOF || string(body) != "abc" {
			t.Fatalf("%q: body %q, err %v; want abc, io.ErrUnexpectedEOF", in, body, err)
		}
		if err := r.ReadRequest(&req); err != io.ErrUnexpectedEOF {
			t.Fatalf("ReadRequest after a broken body: %v", err)
		}
	}
}

func TestOnFirstRead(t *testing.T) {
	head := "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
	t.Run("hook before the body is read from the network", func(t *testing.T) {
		var log []string
		r := NewReader(&scriptReader{pieces: []string{head, "hello"}, log: &log}, DefaultLimits())
		var req Request
		if err := r.ReadRequest(&req); err != nil {
			t.Fatal(err)
		}
		if !req.Expect100 {
			t.Fatal("Expect100 not set")
		}
		r.Body().SetOnFirstRead(func() error { log = append(log, "hook"); return nil })
		body, err := io.ReadAll(r.Body())
		if err != nil || string(body) != "hello" {
			t.Fatalf("body %q %v", body, err)
		}
		want := []string{"read:" + head, "hook", "read:hello"}
		if strings.Join(log, "|") != strings.Join(want, "|") {
			t.Fatalf("order %q, want %q", log, want)
		}
	})
	t.Run("hook even when the body is buffered, once", func(t *testing.T) {
		var log []string
		r := NewReader(&scriptReader{pieces: []string{head + "hello"}, log: &log}, DefaultLimits())
		var req Request
		if err := r.ReadRequest(&req); err != nil {
			t.Fatal(err)
		}
		calls := 0
		r.Body().SetOnFirstRead(func() error { calls++; return nil })
		p := make([]byte, 2)
		for {
			_, err := r.Body().ReadLine(p)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if calls != 1 {
			t.Fatalf("hook ran %d times", calls)
		}
	})
	t.Run("no hook for an empty body or Discard", func(t *testing.T) {
		in := "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n" + head + "hello"
		r := NewReader(&scriptReader{pieces: []string{in}}, DefaultLimits())
		var req Request
		calls := 0
		hook := func() error { calls++; return nil }
		if err := r.ReadRequest(&req); err != nil {
			t.Fatal(err)
		}
		r.Body().SetOnFirstRead(hook)
		if n, err := r.Body().Read(make([]byte, 8)); n != 0 || err != io.EOF {
			t.Fatalf("empty body Read = %d, %v", n, err)
		}
		if err := r.ReadRequest(&req); err != nil {
			t.Fatal(err)
		}
		r.Body().SetOnFirstRead(hook)
		if err := r.Body().Discard(100); err != nil {
			t.Fatal(err)
		}
		if calls != 0 {
			t.Fatalf("hook ran %d times", calls)
		}
	})
	t.Run("hook error sticks", func(t *testing.T) {
		r := NewReader(&scriptReader{pieces: []string{head + "hello"}}, DefaultLimits())
		var req Request
		if err := r.ReadRequest(&req); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("write 100 Continue: broken pipe")
		r.Body().SetOnFirstRead(func() error { return boom })
		for range 2 {
			if n, err := r.Body().Read(make([]byte, 8)); n != 0 || err != boom {
				t.Fatalf("Read = %d, %v; want 0, hook error", n, err)
			}
		}
	})
}

func TestDiscard(t *testing.T) {
	cases := []struct {
		name string
		in   string
		max  int64
		want error
	}{
		{"cl within", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 5, nil},
		{"cl over", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 4, ErrDiscardLimit},
		{"cl huge, nothing sent", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000000000\r\n\r\n", 1 << 20, ErrDiscardLimit},
		{"chunked within", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 10, nil},
		{"chunked over", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 9, ErrDiscardLimit},
		{"chunked bad framing", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX", 100, errChunkCRLF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, split := range []int{1, 1 << 20} {
				r := NewReader(&chunkReader{data: []byte(c.in + simpleGET), sizes: []int{split}}, DefaultLimits())
				var req Request
				if err := r.ReadRequest(&req); err != nil {
					t.Fatal(err)
				}
				if err := r.Body().Discard(c.max); err != c.want {
					t.Fatalf("split %d: Discard = %v, want %v", split, err, c.want)
				}
				if c.want == nil {
					if !r.Body().Done() {
						t.Fatal("not Done after Discard")
					}
					if err := r.ReadRequest(&req); err != nil || string(req.Path) != "/" {
						t.Fatalf("next request: %v", err)
					}
				}
			}
		})
	}
}

func TestMaxBodyBytes(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxBodyBytes = 10
	cases := []struct {
		name       string
		in         string
		headStatus int
		body       string
		bodyStatus int
	}{
		{"cl at limit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", 0, "0123456789", 0},
		{"cl over", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n0123456789a", 413, "", 0},
		{"chunked at limit", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n", 0, "0123456789", 0},
		{"chunked over", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n6\r\n56789a\r\n0\r\n\r\n", 0, "01234", 413},
		{"chunked one huge chunk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n", 0, "", 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(&scriptReader{pieces: []string{c.in}}, lim)
			var req Request
			err := r.ReadRequest(&req)
			if c.headStatus != 0 {
				if statusOf(err) != statusString(c.headStatus) {
					t.Fatalf("ReadRequest = %v, want %d", err, c.headStatus)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(r.Body())
			if string(body) != c.body {
				t.Fatalf("body %q, want %q", body, c.body)
			}
			if c.bodyStatus == 0 && err != nil || c.bodyStatus != 0 && statusOf(err) != statusString(c.bodyStatus) {
				t.Fatalf("body error %v, want status %d", err, c.bodyStatus)
			}
		})
	}
}

func statusString(s int) string {
	return (&Error{Status: s}).Error()[len("http1: ") : len("http1: ")+3]
}

func TestReadLine(t *testing.T) {
	in := "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab\nc\r\n5\r\nd\nefg\r\n0\r\n\r\n"
	for _, split := range []int{1, 3, 1 << 20} {
		r := NewReader(&chunkReader{data: []byte(in), sizes: []int{split}}, DefaultLimits())
		var req Request
		if err := r.ReadRequest(&req); err != nil {
			t.Fatal(err)
		}
		var lines []string
		p := make([]byte, 3)
		for {
			n, err := r.Body().ReadLine(p)
			if err == io.EOF {
				if n != 0 {
					t.Fatalf("n=%d with io.EOF", n)
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, string(p[:n]))
		}
		// Lines end at '\n' or after 3 bytes, across chunk boundaries.
		want := []string{"ab\n", "cd\n", "efg"}
		if strings.Join(lines, "|") != strings.Join(want, "|") {
			t.Fatalf("split %d: lines %q, want %q", split, lines, want)
		}
	}
}

func TestRemainingAndDone(t *testing.T) {
	in := "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd" +
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n" + simpleGET
	r := NewReader(&scriptReader{pieces: []string{in}}, DefaultLimits())
	var req Request
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	b := r.Body()
	if b.Remaining() != 4 || b.Done() {
		t.Fatalf("Remaining %d Done %v", b.Remaining(), b.Done())
	}
	p := make([]byte, 3)
	b.Read(p)
	if b.Remaining() != 1 || b.Done() {
		t.Fatalf("Remaining %d Done %v", b.Remaining(), b.Done())
	}
	b.Read(p)
	if b.Remaining() != 0 || !b.Done() {
		t.Fatalf("Remaining %d Done %v", b.Remaining(), b.Done())
	}
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	if b.Remaining() != -1 || b.Done() {
		t.Fatalf("chunked: Remaining %d Done %v", b.Remaining(), b.Done())
	}
	if n, err := b.Read(make([]byte, 10)); n != 2 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	// The terminator was buffered: Done without another Read.
	if !b.Done() || b.Remaining() != 0 {
		t.Fatalf("chunked end buffered but Done %v", b.Done())
	}
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	if !b.Done() || b.Remaining() != 0 {
		t.Fatal("GET has a body")
	}
}

func TestLargeBodyDirectRead(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB
	in := "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 262144\r\n\r\n" + string(body) + simpleGET
	for _, split := range []int{1000, 70000, 1 << 30} {
		r := NewReader(&chunkReader{data: []byte(in), sizes: []int{split}}, DefaultLimits())
		var req Request
		if err := r.ReadRequest(&req); err != nil {
			t.Fatal(err)
		}
		var got []byte
		p := make([]byte, 64<<10)
		for {
			n, err := r.Body().Read(p)
			got = append(got, p[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("split %d: body differs (%d bytes)", split, len(got))
		}
		if err := r.ReadRequest(&req); err != nil || string(req.Path) != "/" {
			t.Fatalf("split %d: next request: %v", split, err)
		}
	}
}

func TestHeadLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	many := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString("X-")
			b.WriteString(strings.Repeat("h", i%7+1))
			b.WriteString(": v\r\n")
		}
		return b.String()
	}
	cases := []struct {
		name string
		in   string
		want string
	}{
		{"8000-octet target accepted (H11-RL-05)", "GET /" + long(7999) + " HTTP/1.1\r\nHost: a\r\n\r\n", "ok"},
		{"request line at the limit", "GET /" + long(8190-14) + " HTTP/1.1\r\nHost: a\r\n\r\n", "ok"},
		{"request line over the limit", "GET /" + long(8190-13) + " HTTP/1.1\r\nHost: a\r\n\r\n", "414"},
		{"100 KiB target", "GET /" + long(100<<10) + " HTTP/1.1\r\nHost: a\r\n\r\n", "414"},
		{"100 fields", "GET / HTTP/1.1\r\nHost: a\r\n" + many(99) + "\r\n", "ok"},
		{"101 fields", "GET / HTTP/1.1\r\nHost: a\r\n" + many(100) + "\r\n", "431"},
		{"200 fields (H11-HDR-08)", "GET / HTTP/1.1\r\nHost: a\r\n" + many(199) + "\r\n", "431"},
		{"field at the limit", "GET / HTTP/1.1\r\nHost: a\r\nX: " + long(8190-3) + "\r\n\r\n", "ok"},
		{"field over the limit", "GET / HTTP/1.1\r\nHost: a\r\nX: " + long(8190-2) + "\r\n\r\n", "431"},
		{"64 KiB value (H11-HDR-08)", "GET / HTTP/1.1\r\nHost: a\r\nX: " + long(64<<10) + "\r\n\r\n", "431"},
		{"head over 64 KiB", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: "+long(8000)+"\r\n", 9) + "\r\n", "431"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, split := range []int{1 << 30, 1000, 7} {
				src := &chunkReader{data: []byte(c.in), sizes: []int{split}}
				r := NewReader(src, DefaultLimits())
				var req Request
				err := r.ReadRequest(&req)
				got := statusOf(err)
				if got != c.want {
					t.Fatalf("split %d: %s (%v), want %s", split, got, err, c.want)
				}
				if got != "ok" {
					// Refused before the client could make it buffer much more than a limit.
					if read := len(c.in) - len(src.data); read > DefaultMaxHeadBytes+split+2 {
						t.Fatalf("split %d: read %d bytes before refusing", split, read)
					}
				}
			}
		})
	}
}

// TestSlowClientBounded: a client trickling a request line that never ends is
// refused after about MaxRequestLine bytes, and the Reader does not re-scan the
// whole buffer for each byte.
func TestSlowClientBounded(t *testing.T) {
	lim := DefaultLimits()
	src := &countingReader{data: []byte("GET /" + strings.Repeat("a", 1<<20))}
	r := NewReader(src, lim)
	var req Request
	err := r.ReadRequest(&req)
	if statusOf(err) != "414" {
		t.Fatalf("got %v, want 414", err)
	}
	if src.read > lim.MaxRequestLine+lim.MaxRequestLine/4+300 {
		t.Fatalf("read %d bytes before refusing", src.read)
	}
}

// countingReader returns one byte per Read and counts them.
type countingReader struct {
	data []byte
	read int
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.read == len(c.data) {
		return 0, io.EOF
	}
	p[0] = c.data[c.read]
	c.read++
	return 1, nil
}

func TestReset(t *testing.T) {
	r := NewReader(&scriptReader{pieces: []string{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nab"}}, DefaultLimits())
	var req Request
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	r.Reset(&scriptReader{pieces: []string{simpleGET}})
	if err := r.ReadRequest(&req); err != nil || string(req.Method) != "GET" {
		t.Fatalf("after Reset: %v %s", err, dumpReq(&req))
	}
	if err := r.ReadRequest(&req); err != io.EOF {
		t.Fatalf("after Reset: %v", err)
	}
}

func TestZeroLimitsMeanDefaults(t *testing.T) {
	r := NewReader(&scriptReader{pieces: []string{simpleGET}}, Limits{})
	if r.Limits() != DefaultLimits() {
		t.Fatalf("Limits{} normalized to %+v", r.Limits())
	}
	var req Request
	if _, err := Parse([]byte(simpleGET), &req, &Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse([]byte(simpleGET), &req, nil); err != nil {
		t.Fatal(err)
	}
}

func TestResetShrinksGrownBuffer(t *testing.T) {
	big := "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("Cookie: "+strings.Repeat("c", 5000)+"\r\n", 4) + "\r\n"
	r := NewReader(&scriptReader{pieces: []string{big}}, DefaultLimits())
	var req Request
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	if len(r.buf) <= initialBufSize {
		t.Fatalf("buffer did not grow: %d", len(r.buf))
	}
	r.Reset(&scriptReader{pieces: []string{simpleGET}})
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	if len(r.buf) != initialBufSize {
		t.Fatalf("pooled buffer %d bytes, want %d", len(r.buf), initialBufSize)
	}
}

// stuckReader returns 0, nil forever (a broken io.Reader).
type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

func TestStuckSource(t *testing.T) {
	r := NewReader(stuckReader{}, DefaultLimits())
	var req Request
	if err := r.ReadRequest(&req); err != io.ErrNoProgress {
		t.Fatalf("ReadRequest = %v, want io.ErrNoProgress", err)
	}
	for _, size := range []int{10, 1 << 20} { // buffered path, direct path
		r.Reset(io.MultiReader(strings.NewReader("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"), stuckReader{}))
		if err := r.ReadRequest(&req); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Body().Read(make([]byte, size)); err != io.ErrNoProgress {
			t.Fatalf("Read(%d) = %v, want io.ErrNoProgress", size, err)
		}
	}
}

// TestChunkOverhead: one-byte chunks with long extensions are refused after a
// bounded amount of framing; ordinary small chunks are not.
func TestChunkOverhead(t *testing.T) {
	head := "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	ext := ";x=" + strings.Repeat("e", 1000)
	var abuse strings.Builder
	for range 1000 {
		abuse.WriteString("1" + ext + "\r\nx\r\n")
	}
	var fine strings.Builder
	for range 10000 {
		fine.WriteString("1;a=b\r\nx\r\n")
	}
	cases := []struct {
		name, body, want string
	}{
		{"extension flood", abuse.String() + "0\r\n\r\n", "400"},
		{"many one-byte chunks", fine.String() + "0\r\n\r\n", "ok"},
	}
	for _, c := range cases {
		src := &chunkReader{data: []byte(head + c.body), sizes: []int{1 << 20}}
		r := NewReader(src, DefaultLimits())
		var req Request
		if err := r.ReadRequest(&req); err != nil {
			t.Fatal(err)
		}
		err := r.Body().Discard(1 << 20)
		if got := statusOf(err); got != c.want {
			t.Fatalf("%s: %s (%v), want %s", c.name, got, err, c.want)
		}
		if c.want != "ok" {
			if read := len(head) + len(c.body) - len(src.data) - r.Buffered(); read > 64<<10 {
				t.Fatalf("%s: consumed %d bytes before refusing", c.name, read)
			}
		}
	}
}

// blockingReader gives one byte per Read, with ErrWouldBlock before each
// (a non-blocking socket whose bytes trickle in), then io.EOF.
type blockingReader struct {
	data    []byte
	blocked bool
	read    int
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if !b.blocked {
		b.blocked = true
		return 0, ErrWouldBlock
	}
	b.blocked = false
	if len(b.data) == 0 {
		return 0, io.EOF
	}
	p[0] = b.data[0]
	b.data = b.data[1:]
	b.read++
	return 1, nil
}

// again calls f until it stops reporting ErrWouldBlock.
func again(t *testing.T, f func() error) error {
	t.Helper()
	for range 1 << 20 {
		if err := f(); err != ErrWouldBlock {
			return err
		}
	}
	t.Fatal("still ErrWouldBlock")
	return nil
}

// TestWouldBlockResumes: ReadRequest and Discard stopped by a source that
// would block resume where they were: the same requests come out as from a
// blocking source, bodies are discarded across the stops, and a client
// trickling a request line is still refused at the limit.
func TestWouldBlockResumes(t *testing.T) {
	in := "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n" +
		"GET /c?q HTTP/1.1\r\nHost: c\r\n\r\n"
	r := NewReader(&blockingReader{data: []byte(in)}, DefaultLimits())
	var req Request
	for _, want := range []string{"/a", "/b", "/c"} {
		if err := again(t, func() error { return r.ReadRequest(&req) }); err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		if string(req.Path) != want {
			t.Fatalf("got %s, want %s", dumpReq(&req), want)
		}
		if err := again(t, func() error { return r.Body().Discard(5) }); err != nil {
			t.Fatalf("%s: Discard: %v", want, err)
		}
	}
	if string(req.Query) != "q" || string(req.Host) != "c" {
		t.Fatalf("last request: %s", dumpReq(&req))
	}
	if err := again(t, func() error { return r.ReadRequest(&req) }); err != io.EOF {
		t.Fatalf("after the last request: %v, want io.EOF", err)
	}

	// Discard's limit counts across stops.
	r = NewReader(&blockingReader{data: []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n")}, DefaultLimits())
	if err := again(t, func() error { return r.ReadRequest(&req) }); err != nil {
		t.Fatal(err)
	}
	if err := again(t, func() error { return r.Body().Discard(5) }); err != ErrDiscardLimit {
		t.Fatalf("Discard(5) of 6 chunked bytes = %v, want ErrDiscardLimit", err)
	}

	lim := DefaultLimits()
	src := &blockingReader{data: []byte("GET /" + strings.Repeat("a", 1<<16))}
	r = NewReader(src, lim)
	if err := again(t, func() error { return r.ReadRequest(&req) }); statusOf(err) != "414" {
		t.Fatalf("trickled long line: %v, want 414", err)
	}
	if src.read > lim.MaxRequestLine+lim.MaxRequestLine/4+300 {
		t.Fatalf("read %d bytes before refusing", src.read)
	}
}
