package server_test

// Zero-loss operations: reloads, recycling, scaling, a worker's TERM or
// SIGKILL, timeouts and bad request bodies, each under keep-alive load. The
// load comes from raw sockets, not net/http's client: its Transport retries
// a request on a reused connection closed before the response, hiding the
// very errors counted here. Every wait is for an event (a log line, a
// number of answers); deadlines only bound them.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// load keeps conns keep-alive connections busy with GET /pid, one request
// at a time on each (a new one once the answer came), and counts what the
// clients see. A connection whose answer says "Connection: close" is
// replaced by a new one.
type load struct {
	t    *testing.T
	addr string

	answered atomic.Int64 // 200s
	closes   atomic.Int64 // answers that said Connection: close
	failed   atomic.Int64 // socket errors and other statuses

	mu     sync.Mutex
	errs   []string       // what failed, with the worker the connection last heard from
	lastBy map[int]string // connection -> the pid that answered it last
	perPID map[string]int // answers per worker pid

	stop chan struct{}
	wg   sync.WaitGroup
}

// maxLoad bounds a load in requests: one that reaches it stops, and the
// wait that needed more fails with what was seen.
const maxLoad = 2_000_000

func startLoad(t *testing.T, addr string, conns int) *load {
	l := &load{t: t, addr: addr, lastBy: map[int]string{}, perPID: map[string]int{}, stop: make(chan struct{})}
	for i := range conns {
		l.wg.Add(1)
		go l.client(i)
	}
	t.Cleanup(l.halt)
	return l
}

func (l *load) client(id int) {
	defer l.wg.Done()
	var c net.Conn
	var br *bufio.Reader
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		if l.answered.Load()+l.failed.Load() >= maxLoad {
			return
		}
		if c == nil {
			var err error
			if c, err = net.Dial("tcp", l.addr); err != nil {
				l.fail(id, "dial: "+err.Error())
				c = nil
				continue
			}
			br = bufio.NewReader(c)
		}
		c.SetDeadline(time.Now().Add(waitBound))
		status, closed, body, err := roundTripOn(c, br, "GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
		if err != nil {
			l.fail(id, err.Error())
			c.Close()
			c = nil
			continue
		}
		if status != 200 {
			l.fail(id, "status "+strconv.Itoa(status))
		} else {
			l.mu.Lock()
			l.lastBy[id] = body
			l.perPID[body]++
			l.mu.Unlock()
			l.answered.Add(1)
		}
		if closed {
			l.closes.Add(1)
			c.Close()
			c = nil
		}
	}
}

// roundTripOn sends raw on c and reads one response.
func roundTripOn(c net.Conn, br *bufio.Reader, raw string) (status int, closed bool, body string, err error) {
	if _, err := io.WriteString(c, raw); err != nil {
		return 0, false, "", err
	}
	r, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, false, "", err
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return 0, false, "", err
	}
	return r.StatusCode, r.Close, string(b), nil
}

func (l *load) fail(id int, what string) {
	l.failed.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) < 20 {
		l.errs = append(l.errs, fmt.Sprintf("connection %d (last answered by %s): %s", id, l.lastBy[id], what))
	}
}

func (l *load) total() int64 { return l.answered.Load() + l.failed.Load() }

// waitMore waits (bounded) until n more requests than now have ended.
func (l *load) waitMore(s *served, n int64) {
	l.t.Helper()
	want := l.total() + n
	deadline := time.Now().Add(waitBound)
	for l.total() < want {
		if time.Now().After(deadline) || l.total() >= maxLoad {
			l.t.Fatalf("load stalled at %d requests (%d failed: %q)\n%s", l.total(), l.failed.Load(), l.errors(), s.Log())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (l *load) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

func (l *load) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

// busiest is the worker that answered most so far.
func (l *load) busiest() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	best, pid := -1, 0
	for p, n := range l.perPID {
		if n > best {
			best, pid = n, atoi(p)
		}
	}
	return pid
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// TestZeroLossOperations: each operation, fired once under keep-alive load,
// costs the clients no request: no socket error, no status but 200. The
// workers it stops answered requests with "Connection: close" meanwhile
// (the handover happened under load, not between requests).
func TestZeroLossOperations(t *testing.T) {
	cases := []struct {
		name  string
		conns int
		args  []string
		op    func(t *testing.T, s *served, l *load) // fires the operation and waits until it is done
	}{
		{"HUP", 16, []string{"-w", "2"}, func(t *testing.T, s *served, l *load) {
			syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
			s.waitLog("reload done")
			s.waitLogCount("stopped (reload", 2)
		}},
		{"HUP-64-connections", 64, []string{"-w", "2", "--threads", "2"}, func(t *testing.T, s *served, l *load) {
			syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
			s.waitLogCount("stopped (reload", 2)
		}},
		// One worker holds the load; TTIN adds one, and TTOU retires the
		// older: the one with the load.
		{"TTOU", 16, nil, func(t *testing.T, s *served, l *load) {
			syscall.Kill(s.cmd.Process.Pid, syscall.SIGTTIN)
			s.waitLog("TTIN: 2 workers")
			syscall.Kill(s.cmd.Process.Pid, syscall.SIGTTOU)
			s.waitLog("stopped (scale-down")
		}},
		{"max-requests", 16, []string{"-w", "2", "--max-requests", "300", "--max-requests-jitter", "50"}, func(t *testing.T, s *served, l *load) {
			s.waitLogCount("stopped (max-requests", 3)
		}},
		{"reload-on-rss", 16, []string{"--reload-on-rss", "80"}, func(t *testing.T, s *served, l *load) {
			if r := s.get("/grow?mb=100"); r.StatusCode != 200 {
				t.Fatalf("/grow: %d", r.StatusCode)
			}
			s.waitLog("stopped (rss")
		}},
		{"TERM-to-a-worker", 16, []string{"-w", "2"}, func(t *testing.T, s *served, l *load) {
			pid := l.busiest()
			syscall.Kill(pid, syscall.SIGTERM)
			s.waitLog(fmt.Sprintf("worker %d stopped by itself (exit code 0", pid))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, "wkapp", tc.args...)
			l := startLoad(t, s.addr, tc.conns)
			l.waitMore(s, 500)
			closes := l.closes.Load()
			tc.op(t, s, l)
			l.waitMore(s, 500) // and the load goes on, served by the others
			l.halt()
			if n := l.failed.Load(); n > 0 {
				t.Fatalf("%d of %d requests failed: %q\n%s", n, l.total(), l.errors(), s.Log())
			}
			if l.closes.Load() == closes {
				t.Fatalf("no answer said Connection: close: the operation did not happen under load\n%s", s.Log())
			}
			t.Logf("%d requests, %d answered with Connection: close", l.total(), l.closes.Load()-closes)
		})
	}
}

// TestZeroLossKilledWorker: a worker killed with SIGKILL loses only the
// requests in flight on its own connections, at most one per connection;
// the other workers' clients see nothing.
func TestZeroLossKilledWorker(t *testing.T) {
	s := serve(t, "wkapp", "-w", "2")
	l := startLoad(t, s.addr, 16)
	l.waitMore(s, 500)
	pid := l.busiest()
	l.mu.Lock()
	conns := 0
	for _, p := range l.lastBy {
		if atoi(p) == pid {
			conns++
		}
	}
	l.mu.Unlock()
	syscall.Kill(pid, syscall.SIGKILL)
	s.waitLog(fmt.Sprintf("worker %d died", pid))
	l.waitMore(s, 500)
	l.halt()
	for _, e := range l.errors() {
		if !strings.Contains(e, fmt.Sprintf("(last answered by %d)", pid)) {
			t.Errorf("a connection of another worker failed: %s", e)
		}
	}
	if n := l.failed.Load(); n > int64(conns) {
		t.Errorf("%d requests failed; the killed worker held %d connections: %q", n, conns, l.errors())
	}
}

// TestZeroLossTimeout: a request over --timeout gets 504 from the engine,
// the log names it with the Python stack of its thread, and no other
// request of its worker fails while the worker drains and is replaced.
func TestZeroLossTimeout(t *testing.T) {
	for _, threads := range []string{"1", "4"} {
		t.Run("threads-"+threads, func(t *testing.T) {
			s := serve(t, "wkapp", "--timeout", "1", "--threads", threads)
			l := startLoad(t, s.addr, 16)
			l.waitMore(s, 500)
			gate := filepath.Join(t.TempDir(), "gate")
			os.WriteFile(gate, nil, 0o644) // never removed: the request is stuck
			c := s.dial()
			status, closed, body, err := roundTripOn(c, bufio.NewReader(c), fmt.Sprintf("GET /block?gate=%s HTTP/1.1\r\nHost: t\r\n\r\n", gate))
			if err != nil || status != 504 || !closed {
				t.Fatalf("the stuck request: %d %q close=%v (%v), want 504 with Connection: close\n%s", status, body, closed, err, s.Log())
			}
			s.waitLog(fmt.Sprintf(`"GET /block?gate=%s HTTP/1.1"`, gate))
			s.waitLog("stopped (timeout")
			l.waitMore(s, 500)
			l.halt()
			if n := l.failed.Load(); n > 0 {
				t.Fatalf("%d of %d other requests failed: %q\n%s", n, l.total(), l.errors(), s.Log())
			}
			for _, want := range []string{"ran over --timeout 1s", "in application", "time.sleep(0.005)"} {
				if !strings.Contains(s.Log(), want) {
					t.Errorf("log lacks %q (the Python stack of the stuck thread):\n%s", want, s.Log())
				}
			}
		})
	}
}

// TestZeroLossBadBody: a request body whose framing fails while the app
// reads it is the client's error: 400 (413 over --limit-request-body) with
// Connection: close, logged at debug; the app still gets its exception from
// wsgi.input, and close() runs once.
func TestZeroLossBadBody(t *testing.T) {
	s := serve(t, "wkapp", "--log-level", "debug", "--limit-request-body", "32")
	cases := []struct {
		name, path, body string
		status           int
	}{
		{"malformed chunk size", "/read-late", "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0x5\r\nhello\r\n0\r\n\r\n", 400},
		{"malformed chunk size, read by the app call", "/echo", "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0x5\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk over the limit", "/read-late", "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n40\r\n" + strings.Repeat("z", 64) + "\r\n0\r\n\r\n", 413},
		{"body shorter than Content-Length", "/read-late", "Content-Length: 10\r\n\r\n12345", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			closes, inputErrs := s.countEvent("close read-late"), s.countEvent("input-error OSError")
			c := s.dial()
			io.WriteString(c, "POST "+tc.path+" HTTP/1.1\r\nHost: t\r\n"+tc.body)
			c.(*net.TCPConn).CloseWrite() // the client sent all it will
			r := readResp(t, bufio.NewReader(c), "POST")
			if r.StatusCode != tc.status || !r.Close {
				t.Fatalf("%d close=%v %q, want %d with Connection: close\n%s", r.StatusCode, r.Close, r.body, tc.status, s.Log())
			}
			s.waitLog(fmt.Sprintf("rejected request from %s: %d", c.LocalAddr(), tc.status))
			if tc.path == "/read-late" {
				s.waitEvent("close read-late")
				if got := s.countEvent("close read-late") - closes; got != 1 {
					t.Errorf("close() ran %d times, want once", got)
				}
				if got := s.countEvent("input-error OSError") - inputErrs; got != 1 {
					t.Errorf("the app saw %d OSErrors from wsgi.input, want one", got)
				}
			}
		})
	}
	if strings.Contains(s.Log(), "[ERROR]") {
		t.Fatalf("a client's bad body was logged as an error:\n%s", s.Log())
	}
}
