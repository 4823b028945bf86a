package loadgen

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/wsgikit/wsgikit/internal/httpresp"
)

// feedOutcome is what the loop made of one response's bytes.
type feedOutcome struct {
	Done bool   // the request ended (a response or an error)
	Code uint16 // its status (0: an error)
	Err  string
	Keep bool // the connection stays open after it
}

// feedLoop hands raw to one connection of a loop, step bytes at a time
// (0: all at once), as if each piece were one read, then the server's
// close when the request is still open. done reports whether the request
// ended before the close.
func feedLoop(raw []byte, method string, step int) (out feedOutcome, beforeClose bool) {
	d := &loopDriver{tgts: []loopTarget{{method: method}}, max: 1}
	rec := newRecorder(RunConfig{Load: Load{Mode: Closed, Concurrency: 1}, Duration: time.Second}, []vegeta.Target{{}}, newPacer(Load{Mode: Closed}, 1))
	l := &evLoop{d: d, rec: rec}
	c := &evConn{fd: -1, busy: true}
	c.rd = httpresp.NewReader(&c.src, httpresp.Strict)
	l.conns, l.inflight = []*evConn{c}, 1
	if step <= 0 {
		step = max(len(raw), 1)
	}
	for i := 0; i < len(raw) && c.busy; i += step {
		piece := raw[i:min(i+step, len(raw))]
		c.buf = append(c.buf[:c.w], piece...)
		c.w += len(piece)
		c.got += len(piece)
		l.parse(c)
	}
	beforeClose = !c.busy
	if c.busy {
		l.eof(c)
		l.startPending() // a resend after an idle close would start here; this connection was not reused
	}
	out.Done = rec.res.Requests == 1
	for code, n := range rec.codes {
		if n > 0 {
			out.Code = uint16(code)
		}
	}
	for txt := range rec.res.ErrorsByText {
		out.Err = txt
	}
	out.Keep = c.keep && out.Code != 0
	return out, beforeClose
}

// TestLoopParseAnySplit: a response is read the same whether it arrives
// whole or a byte at a time, and ends exactly at its last byte (or at the
// close, when the close delimits it).
func TestLoopParseAnySplit(t *testing.T) {
	tests := []struct {
		name, raw, method string
		code              uint16
		err               string // substring of the error, for a failed request
		atClose           bool   // the close ends it
		keep              bool
	}{
		{name: "length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", code: 200, keep: true},
		{name: "chunked, extensions, trailers", raw: "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n", code: 201, keep: true},
		{name: "interim then final", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", code: 204, keep: true},
		{name: "HEAD has no body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", method: "HEAD", code: 200, keep: true},
		{name: "304 has no body", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", code: 304, keep: true},
		{name: "connection close", raw: "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno", code: 404},
		{name: "HTTP/1.0 keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", code: 200, keep: true},
		{name: "close delimited", raw: "HTTP/1.1 200 OK\r\n\r\nuntil the close", code: 200, atClose: true},
		{name: "bad status line", raw: "HTTP/1.1 2x0 OK\r\n\r\n", err: "malformed status line"},
		{name: "bad chunk size", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: "bad chunk size"},
		{name: "chunk without CRLF", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n", err: "not followed by CRLF"},
		{name: "bad header line", raw: "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n", err: "header"},
		{name: "switching protocols", raw: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", err: "101"},
		{name: "body cut short", raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", err: "unexpected EOF", atClose: true},
		{name: "nothing at all", raw: "", err: "connection closed before any response byte", atClose: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.method == "" {
				tc.method = "GET"
			}
			whole, wholeEarly := feedLoop([]byte(tc.raw), tc.method, 0)
			for step := 1; step <= 7; step++ {
				got, early := feedLoop([]byte(tc.raw), tc.method, step)
				if got != whole || early != wholeEarly {
					t.Fatalf("%d bytes at a time: %+v (before the close: %v); whole: %+v (%v)", step, got, early, whole, wholeEarly)
				}
			}
			if !whole.Done || whole.Code != tc.code || !strings.Contains(whole.Err, tc.err) || (tc.err == "") != (whole.Err == "") {
				t.Fatalf("got %+v, want code %d, error containing %q", whole, tc.code, tc.err)
			}
			if wholeEarly == tc.atClose && tc.err == "" || whole.Keep != tc.keep {
				t.Fatalf("ended before the close: %v (want %v), keeps the connection: %v (want %v)", wholeEarly, !tc.atClose, whole.Keep, tc.keep)
			}
			if tc.raw != "" && tc.err == "" && !tc.atClose {
				// One byte short of the end, nothing is recorded yet.
				if _, early := feedLoop([]byte(tc.raw[:len(tc.raw)-1]), tc.method, 1); early {
					t.Fatal("the response ended before its last byte")
				}
			}
		})
	}
}

// FuzzLoopParse: on any bytes, the loop ends a request the same whether
// they come whole or a few at a time, and agrees with the transport (the
// Attacker's path): a response the transport reads whole, the loop
// records with the same status; one the transport refuses, the loop
// counts as an error.
func FuzzLoopParse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil eof",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	} {
		f.Add([]byte(s), false, uint8(1))
		f.Add([]byte(s), true, uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, head bool, step uint8) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		whole, _ := feedLoop(data, method, 0)
		split, _ := feedLoop(data, method, int(step%16)+1)
		if whole != split {
			t.Fatalf("whole %+v, %d at a time %+v", whole, step%16+1, split)
		}
		if !whole.Done {
			t.Fatalf("request still open after the close: %+v", whole)
		}
		code, err := transportReads(data, method)
		if (err == nil) != (whole.Code != 0) || (err == nil && code != int(whole.Code)) {
			t.Fatalf("transport: %d %v; loop: %+v", code, err, whole)
		}
	})
}

// transportReads is the transport's verdict on a response: its status,
// once the body was read to its end.
func transportReads(data []byte, method string) (int, error) {
	tr := &Transport{}
	c := &conn{nc: &byteConn{bytes.NewReader(data)}, pool: &connPool{idle: make(chan *conn, 1)}, t: tr}
	c.setReader(c.nc)
	req, _ := http.NewRequest(method, "http://127.0.0.1/", nil)
	resp, b, err := c.readResponse(req)
	if err != nil {
		return 0, err
	}
	if b.done {
		b.finish(nil)
	}
	_, err = io.Copy(io.Discard, struct{ io.Reader }{resp.Body})
	return resp.StatusCode, err
}

// runLoop runs cfg on the event loop (failing if the loop does not take
// it) and returns the result.
func runLoop(t *testing.T, cfg RunConfig) *RunResult {
	t.Helper()
	if cfg.Duration == 0 {
		cfg.Duration = time.Minute // MaxRequests ends the run
	}
	r, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Engine != EngineLoop {
		t.Fatalf("engine %q, want the event loop", r.Engine)
	}
	return r
}

// TestLoopMatchesAttacker: against net/http's server, each scenario gives
// the same status counts, request count and bytes through the event loop
// and through vegeta's Attacker, and the server saw exactly the requests
// counted, over one connection per worker.
func TestLoopMatchesAttacker(t *testing.T) {
	var served atomic.Int64
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		fixtureHandler().ServeHTTP(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	upload := bytes.Repeat([]byte("0123456789abcdef"), UploadSize/16)
	tests := []struct {
		name string
		reqs []Request
	}{
		{"hello", []Request{{Method: "GET", Path: "/"}}},
		{"no method is GET", []Request{{Path: "/"}}},
		{"chunked 1MiB", []Request{{Method: "GET", Path: "/stream?size=1048576"}}},
		{"file 1MiB", []Request{{Method: "GET", Path: "/file?size=1048576"}}},
		{"upload 64KiB", []Request{{Method: "POST", Path: "/upload", Body: upload}}},
		{"HEAD", []Request{{Method: "HEAD", Path: "/"}}},
		{"mix of statuses", []Request{{Method: "GET", Path: "/status/204"}, {Method: "GET", Path: "/status/404"},
			{Method: "GET", Path: "/status/500", Weight: 2}, {Method: "GET", Path: "/json", Header: http.Header{"X-A": {"b"}}}}},
	}
	const n, c = 240, 4
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var runs [2]*RunResult
			for i, attacker := range []bool{false, true} {
				served.Store(0)
				conns.Store(0)
				cfg := RunConfig{BaseURL: srv.URL, Scenario: &Scenario{Name: tc.name, Requests: tc.reqs}, Load: Load{Mode: Closed, Concurrency: c},
					Duration: time.Minute, MaxRequests: n, Attacker: attacker}
				r, err := Run(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if want := map[bool]string{false: EngineLoop, true: EngineVegeta}[attacker]; r.Engine != want {
					t.Fatalf("engine %q, want %q", r.Engine, want)
				}
				if r.Requests != n || served.Load() != n || len(r.ErrorsByText) > 0 {
					t.Fatalf("%s: %d requests counted, %d served, errors %v", r.Engine, r.Requests, served.Load(), r.ErrorsByText)
				}
				// At most c connections (a loop that starts after the others
				// took all n requests opens none), each dialed once, reused
				// for every later request.
				if d := r.Transport.Dials; conns.Load() != int64(d) || d == 0 || d > c || r.Transport.Reuses != n-d {
					t.Fatalf("%s: %d connections accepted, %d dialed, %d reuses; want at most %d, reused for the rest", r.Engine, conns.Load(), d, r.Transport.Reuses, c)
				}
				runs[i] = r
			}
			loop, atk := runs[0], runs[1]
			if !reflect.DeepEqual(loop.Status, atk.Status) || loop.Successes != atk.Successes {
				t.Fatalf("statuses: loop %v, Attacker %v", loop.Status, atk.Status)
			}
			// The Attacker adds "X-Vegeta-Seq: N\r\n" (N of 1 to 3 digits here) to every request.
			lo := loop.Transport.BytesOut + uint64((len("X-Vegeta-Seq: \r\n")+1)*n)
			if atk.Transport.BytesOut < lo || atk.Transport.BytesOut > lo+2*n {
				t.Errorf("bytes out: loop %d, Attacker %d (with its sequence header)", loop.Transport.BytesOut, atk.Transport.BytesOut)
			}
			if loop.Transport.BytesIn < atk.Transport.BytesIn*9/10 {
				t.Errorf("bytes in: loop %d, Attacker %d", loop.Transport.BytesIn, atk.Transport.BytesIn)
			}
		})
	}
}

// rawServer answers each connection with serve, in a goroutine each, and
// counts requests read; it stops with the test.
func rawServer(t *testing.T, serve func(nc net.Conn, br *bufio.Reader, n *atomic.Int64)) (string, *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				serve(nc, bufio.NewReader(nc), &n)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return "http://" + ln.Addr().String(), &n
}

// readReq reads one request head (these tests send bodiless GETs).
func readReq(br *bufio.Reader) bool {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return false
		}
		if line == "\r\n" {
			return true
		}
	}
}

var hello = Request{Method: "GET", Path: "/"}

// TestLoopConnections: what a server does with its connections (closing
// idle ones unannounced, announcing a close, answering in tiny pieces)
// costs no request: a request that meets an idle close is sent again on
// a new connection, once.
func TestLoopConnections(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	tests := []struct {
		name      string
		serve     func(nc net.Conn, br *bufio.Reader, n *atomic.Int64)
		wantDials func(dials uint64) bool
	}{
		{"closes after three answers, unannounced", func(nc net.Conn, br *bufio.Reader, n *atomic.Int64) {
			for range 3 {
				if !readReq(br) {
					return
				}
				n.Add(1)
				io.WriteString(nc, ok)
			}
		}, func(d uint64) bool { return d >= 100/3 }},
		{"announces its close", func(nc net.Conn, br *bufio.Reader, n *atomic.Int64) {
			if readReq(br) {
				n.Add(1)
				io.WriteString(nc, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
			}
		}, func(d uint64) bool { return d == 100 }},
		{"answers a byte at a time", func(nc net.Conn, br *bufio.Reader, n *atomic.Int64) {
			nc.(*net.TCPConn).SetNoDelay(true)
			for readReq(br) {
				n.Add(1)
				resp := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
				for i := range len(resp) {
					nc.Write([]byte{resp[i]})
				}
			}
		}, func(d uint64) bool { return d >= 1 && d <= 2 }}, // a loop that starts late may find no request left
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, served := rawServer(t, tc.serve)
			r := runLoop(t, RunConfig{BaseURL: url, Scenario: &Scenario{Name: "x", Requests: []Request{hello}},
				Load: Load{Mode: Closed, Concurrency: 2}, MaxRequests: 100})
			if r.Requests != 100 || r.Successes != 100 || served.Load() != 100 {
				t.Fatalf("%d requests, %d 2xx, %d served; errors %v", r.Requests, r.Successes, served.Load(), r.ErrorsByText)
			}
			if !tc.wantDials(r.Transport.Dials) {
				t.Fatalf("%d connections dialed", r.Transport.Dials)
			}
		})
	}
}

// TestLoopErrors: each way a request can fail is counted as an error with
// a text that says why, and the run still ends at its bound.
func TestLoopErrors(t *testing.T) {
	refused, _ := net.Listen("tcp", "127.0.0.1:0")
	refusedURL := "http://" + refused.Addr().String()
	refused.Close()
	tests := []struct {
		name    string
		url     func(t *testing.T) string
		timeout time.Duration
		want    string
	}{
		{"nothing listens", func(*testing.T) string { return refusedURL }, 0, "connection refused"},
		{"garbage", func(t *testing.T) string {
			u, _ := rawServer(t, func(nc net.Conn, br *bufio.Reader, _ *atomic.Int64) {
				for readReq(br) {
					io.WriteString(nc, "HTTP/1.1 2x0 Bad\r\n\r\n")
				}
			})
			return u
		}, 0, "malformed status line"},
		{"body cut short", func(t *testing.T) string {
			u, _ := rawServer(t, func(nc net.Conn, br *bufio.Reader, _ *atomic.Int64) {
				if readReq(br) {
					io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
				}
			})
			return u
		}, 0, "read response: unexpected EOF"},
		{"never answers", func(t *testing.T) string {
			u, _ := rawServer(t, func(nc net.Conn, br *bufio.Reader, _ *atomic.Int64) { io.Copy(io.Discard, br) })
			return u
		}, 200 * time.Millisecond, "no complete response within 200ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runLoop(t, RunConfig{BaseURL: tc.url(t), Scenario: &Scenario{Name: "x", Requests: []Request{hello}},
				Load: Load{Mode: Closed, Concurrency: 2}, MaxRequests: 6, Timeout: tc.timeout})
			if r.Requests != 6 || r.Errors != 6 || r.Status["error"] != 6 || len(r.ErrorsByText) != 1 {
				t.Fatalf("%d requests, %d errors, statuses %v, errors %v", r.Requests, r.Errors, r.Status, r.ErrorsByText)
			}
			for txt := range r.ErrorsByText {
				if !strings.HasPrefix(txt, `Get "`) || !strings.Contains(txt, tc.want) {
					t.Fatalf("error %q, want `Get \"URL\": …%s…`", txt, tc.want)
				}
			}
		})
	}
}

// TestLoopShardsMerge: with several loops (one per CPU the client may
// use), the merged result counts every request once, in vegeta's result
// encoding too, with each Seq once.
func TestLoopShardsMerge(t *testing.T) {
	old := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(old)
	loopsWanted = 2
	defer func() { loopsWanted = 0 }()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1)%10 == 0 {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	const n = 500
	r := runLoop(t, RunConfig{BaseURL: srv.URL, Scenario: &Scenario{Name: "x", Requests: []Request{hello}},
		Load: Load{Mode: Closed, Concurrency: 3}, MaxRequests: n, KeepRecords: true})
	if r.Requests != n || served.Load() != n || r.Status["200"]+r.Status["503"] != n || r.Status["503"] != n/10 {
		t.Fatalf("%d requests, %d served, statuses %v", r.Requests, served.Load(), r.Status)
	}
	if r.Service.TotalCount() != n {
		t.Fatalf("latency histogram holds %d values", r.Service.TotalCount())
	}
	var buf bytes.Buffer
	if err := r.WriteResults(&buf, "x"); err != nil {
		t.Fatal(err)
	}
	rs, err := ReadResults(&buf)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	codes := map[uint16]int{}
	for _, res := range rs {
		if seen[res.Seq] || res.Seq >= n {
			t.Fatalf("seq %d twice or out of range", res.Seq)
		}
		seen[res.Seq] = true
		codes[res.Code]++
	}
	if len(seen) != n || codes[503] != n/10 {
		t.Fatalf("%d results in the file, codes %v", len(seen), codes)
	}
}

// TestLoopAllocs: the event loop allocates nothing per request (the
// recorder's timeline buckets and the run's setup are per run).
func TestLoopAllocs(t *testing.T) {
	base := startFastFixtureProcess(t)
	cfg := RunConfig{BaseURL: base, Scenario: &Scenario{Name: "hello", Requests: []Request{hello}},
		Load: Load{Mode: Closed, Concurrency: 8}, Duration: time.Minute}
	count := func(n uint64) uint64 {
		cfg.MaxRequests = n
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		r := runLoop(t, cfg)
		runtime.ReadMemStats(&m1)
		if r.Successes != n {
			t.Fatalf("%d of %d answered: %v", r.Successes, n, r.ErrorsByText)
		}
		return m1.Mallocs - m0.Mallocs
	}
	small, large := count(1000), count(21000)
	// 20000 more requests: the difference is what requests allocate.
	if perReq := float64(int64(large)-int64(small)) / 20000; perReq > 0.01 {
		t.Fatalf("%.3f allocations per request (%d for 1000 requests, %d for 21000)", perReq, small, large)
	}
}

// TestLoopEarlyAnswer: a server that answers an upload before reading its
// body (413) and closes is recorded with its answer, not with the reset
// that its close gives the rest of the body.
func TestLoopEarlyAnswer(t *testing.T) {
	url, served := rawServer(t, func(nc net.Conn, br *bufio.Reader, n *atomic.Int64) {
		if readReq(br) {
			n.Add(1)
			io.WriteString(nc, "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		}
	})
	body := bytes.Repeat([]byte("x"), 16<<20) // more than the sockets' buffers hold
	r := runLoop(t, RunConfig{BaseURL: url, Scenario: &Scenario{Name: "x", Requests: []Request{{Method: "POST", Path: "/", Body: body}}},
		Load: Load{Mode: Closed, Concurrency: 2}, MaxRequests: 6})
	if r.Requests != 6 || r.Status["413"] != 6 || served.Load() != 6 {
		t.Fatalf("%d requests, statuses %v, errors %v, %d answered by the server", r.Requests, r.Status, r.ErrorsByText, served.Load())
	}
}
