package http1

import (
	"io"
	"strings"
	"testing"
)

// browserGET is a typical browser request with 8 fields.
const browserGET = "GET /static/app.js?v=3 HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Referer: https://www.example.com/index.html\r\n" +
	"Cookie: session=0123456789abcdef; theme=dark\r\n" +
	"Connection: keep-alive\r\n" +
	"\r\n"

// repeatReader returns data over and over, at most chunk bytes per Read
// (0 = as much as fits), never EOF: a keep-alive client that never stops.
type repeatReader struct {
	data  []byte
	off   int
	chunk int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && (r.chunk == 0 || n < r.chunk) {
		m := copy(p[n:], r.data[r.off:])
		if r.chunk > 0 && n+m > r.chunk {
			m = r.chunk - n
		}
		n += m
		r.off = (r.off + m) % len(r.data)
	}
	return n, nil
}

func TestReadRequestZeroAllocs(t *testing.T) {
	cases := []struct {
		name  string
		data  string
		chunk int
	}{
		{"browser GET, one per read", browserGET, len(browserGET)},
		{"browser GET, pipelined", browserGET, 0},
		{"browser GET, split reads", browserGET, 100},
		{"POST with body", "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 0},
		{"6 KiB cookie (buffer grown once)", strings.Replace(browserGET, "theme=dark", strings.Repeat("x", 6<<10), 1), 0},
		{"chunked POST", "POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(&repeatReader{data: []byte(c.data), chunk: c.chunk}, DefaultLimits())
			var req Request
			buf := make([]byte, 64)
			var failed error
			once := func() {
				if err := r.ReadRequest(&req); err != nil {
					failed = err
					return
				}
				for {
					_, err := r.Body().Read(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						failed = err
						return
					}
				}
			}
			for range 10 { // warm up: buffer and Headers reach their size
				once()
			}
			allocs := testing.AllocsPerRun(1000, once)
			if failed != nil {
				t.Fatal(failed)
			}
			if allocs != 0 {
				t.Fatalf("ReadRequest allocates %.2f times per request, want 0", allocs)
			}
			if len(req.Headers) == 0 {
				t.Fatal("no headers parsed")
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	buf := []byte(browserGET)
	lim := DefaultLimits()
	var req Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(buf, &req, &lim); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadRequest is one keep-alive request per Read (the usual case).
func BenchmarkReadRequest(b *testing.B) {
	r := NewReader(&repeatReader{data: []byte(browserGET), chunk: len(browserGET)}, DefaultLimits())
	var req Request
	b.SetBytes(int64(len(browserGET)))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ReadRequest(&req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadRequestPipelined reads back-to-back requests that arrive
// several per Read.
func BenchmarkReadRequestPipelined(b *testing.B) {
	small := "GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nAccept: text/plain\r\nConnection: keep-alive\r\n\r\n"
	r := NewReader(&repeatReader{data: []byte(small)}, DefaultLimits())
	var req Request
	b.SetBytes(int64(len(small)))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ReadRequest(&req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChunkedBody decodes a 64 KiB body sent in 4 KiB chunks.
func BenchmarkChunkedBody(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
	chunk := strings.Repeat("x", 4096)
	for range 16 {
		sb.WriteString("1000\r\n")
		sb.WriteString(chunk)
		sb.WriteString("\r\n")
	}
	sb.WriteString("0\r\n\r\n")
	data := []byte(sb.String())
	r := NewReader(&repeatReader{data: data}, DefaultLimits())
	var req Request
	buf := make([]byte, 16<<10)
	b.SetBytes(64 << 10)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ReadRequest(&req); err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			m, err := r.Body().Read(buf)
			n += m
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if n != 64<<10 {
			b.Fatalf("body %d bytes", n)
		}
	}
}

// TestRejectZeroAllocs: refusing a request allocates nothing either (a flood
// of bad requests must not feed the garbage collector).
func TestRejectZeroAllocs(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxBodyBytes = 10
	var req Request
	for _, v := range headVectors {
		if v.want == "ok" {
			continue
		}
		buf := []byte(v.raw)
		allocs := testing.AllocsPerRun(100, func() {
			Parse(buf, &req, &lim)
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations to refuse", v.id, allocs)
		}
	}
}

func BenchmarkParseReject(b *testing.B) {
	buf := []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
	var req Request
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(buf, &req, nil); err == nil {
			b.Fatal("accepted")
		}
	}
}
