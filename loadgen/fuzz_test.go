package loadgen

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// byteConn is a net.Conn that reads from a fixed buffer and discards writes.
type byteConn struct {
	r *bytes.Reader
}

func (c *byteConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *byteConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *byteConn) Close() error                     { return nil }
func (c *byteConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *byteConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *byteConn) SetDeadline(time.Time) error      { return nil }
func (c *byteConn) SetReadDeadline(time.Time) error  { return nil }
func (c *byteConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzResponse feeds arbitrary server bytes to the transport's response
// handling (internal/httpresp's reader, whose own rules FuzzReadResponse
// there checks, and the body delivery here): it must return a response or
// an error without panicking or reading past what the framing allows.
func FuzzResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil eof",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200\r\n\r\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		tr := &Transport{KeepHeaders: true}
		p := &connPool{idle: make(chan *conn, 1)}
		c := &conn{nc: &byteConn{bytes.NewReader(data)}, pool: p, t: tr}
		c.setReader(c.nc)
		method := "GET"
		if head {
			method = "HEAD"
		}
		req, _ := http.NewRequest(method, "http://127.0.0.1/", nil)
		resp, b, err := c.readResponse(req)
		if err != nil {
			return
		}
		if b.done {
			b.finish(nil)
		}
		n, err := io.Copy(io.Discard, struct{ io.Reader }{resp.Body})
		if resp.ContentLength >= 0 && err == nil && n != resp.ContentLength && !head {
			t.Fatalf("read %d bytes of a %d-byte body", n, resp.ContentLength)
		}
		if n > int64(len(data)) {
			t.Fatalf("read %d body bytes from %d input bytes", n, len(data))
		}
		resp.Body.Close()
	})
}

// FuzzScenarioTOML: user scenario files are parsed or rejected with a
// one-line error, never accepted with bytes that would break the request
// line or headers.
func FuzzScenarioTOML(f *testing.F) {
	f.Add("[[scenario]]\nname='x'\n[[scenario.request]]\npath='/'\nheaders={A='b'}\n")
	f.Add("[[scenario]]\nname=0b\n") // the decoder quotes the bad number, newline and all
	f.Add("[[scenario]]\nname='y'\napp='flask'\n[[scenario.request]]\nmethod='POST'\npath='/upload'\nbody='z'\nweight=3\n")
	f.Fuzz(func(t *testing.T, src string) {
		scs, err := parseTOMLScenarios([]byte(src), t.TempDir(), "bench")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		for _, s := range scs {
			for _, r := range s.Requests {
				if bytes.ContainsAny([]byte(r.Method+r.Path), " \r\n") {
					t.Fatalf("accepted method %q path %q", r.Method, r.Path)
				}
			}
		}
	})
}

// FuzzVegetaTargets: a vegeta "http" target file is loaded or rejected,
// never accepted with bytes that would break the request line or headers.
func FuzzVegetaTargets(f *testing.F) {
	f.Add("GET http://x/\nX-A: b\n\nPOST http://x/upload\n@body.txt\n")
	f.Add("GET /relative\n")
	f.Fuzz(func(t *testing.T, src string) {
		dir := t.TempDir()
		path := filepath.Join(dir, "targets.txt")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		scs, err := LoadScenarios(path, "", "")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		for _, s := range scs {
			for _, r := range s.Requests {
				if r.Method == "" || bytes.ContainsAny([]byte(r.Method+r.Path), " \r\n") {
					t.Fatalf("accepted method %q path %q", r.Method, r.Path)
				}
				for k, vs := range r.Header {
					for _, v := range vs {
						if strings.ContainsAny(k+v, "\r\n") {
							t.Fatalf("accepted header %q: %q", k, v)
						}
					}
				}
			}
		}
	})
}

// FuzzParseWrk: whatever wrk prints is read or refused, never read into
// more successes than requests or errors that do not add up.
func FuzzParseWrk(f *testing.F) {
	f.Add("wsgikit-wrk summary 1000 2000000 50000 0 0 0 0 0\nwsgikit-wrk latency 900 400\n")
	f.Add("wsgikit-wrk summary 5 1 0 1 1 1 9 1\nwsgikit-wrk latency 99999999999 1\n")
	f.Fuzz(func(t *testing.T, out string) {
		res := &RunResult{Latency: newHist()}
		if err := parseWrk([]byte(out), res); err != nil {
			return
		}
		if res.Successes > res.Requests || res.Errors != res.Requests-res.Successes {
			t.Fatalf("requests %d, successes %d, errors %d", res.Requests, res.Successes, res.Errors)
		}
	})
}
