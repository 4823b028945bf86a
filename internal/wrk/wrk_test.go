package wrk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/testenv"
)

// captured is wrk 4.1.0's output (Debian's package) against uWSGI's
// --http-socket, which closes every connection after its response.
const captured = `Running 2s test @ http://127.0.0.1:36087/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.27ms    6.97ms  88.36ms   98.22%
    Req/Sec    20.15k     5.40k   29.70k    67.50%
  80365 requests in 2.02s, 5.98MB read
  Socket errors: connect 0, read 80355, write 0, timeout 0
Requests/sec:  39822.43
Transfer/sec:      2.96MB
`

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      Summary
		err       string
	}{
		{"socket errors", captured, Summary{Requests: 80365, Seconds: 2.02, Read: 80355}, ""},
		{"clean run", "Running 5s test @ http://x/\n  1 threads and 1 connections\n  194676 requests in 5.00s, 23.21MB read\nRequests/sec:  97036.70\n",
			Summary{Requests: 194676, Seconds: 5}, ""},
		{"every kind", "  10 requests in 1.50m, 0.00B read\n  Socket errors: connect 1, read 2, write 3, timeout 4\n  Non-2xx or 3xx responses: 5\n",
			Summary{Requests: 10, Seconds: 90, Connect: 1, Read: 2, Write: 3, Timeout: 4, Status: 5}, ""},
		{"microseconds", "  0 requests in 900.00us, 0.00B read\n", Summary{Seconds: 0.0009}, ""},
		{"refused at start", "unable to connect to 127.0.0.1:1 Connection refused\n", Summary{}, "no \"N requests in T\" line"},
		{"empty", "", Summary{}, "no \"N requests in T\" line"},
		{"two summaries", "  1 requests in 1.00s, 1.00KB read\n  2 requests in 1.00s, 1.00KB read\n", Summary{}, "a second requests line"},
		{"two socket lines", "  1 requests in 1.00s, 1.00KB read\n  Socket errors: connect 0, read 1, write 0, timeout 0\n  Socket errors: connect 0, read 1, write 0, timeout 0\n", Summary{}, "a second socket errors line"},
		{"count too large", "  99999999999999999999999 requests in 1.00s, 1.00KB read\n", Summary{}, "out of range"},
	} {
		got, err := Parse([]byte(tc.out))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	if s := (Summary{Connect: 1, Read: 2, Write: 3, Timeout: 4, Status: 5}); s.Errors() != 15 {
		t.Errorf("Errors() = %d, want 15", s.Errors())
	}
}

// render writes a summary the way wrk prints it.
func render(s Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Running 1s test @ http://127.0.0.1:1/\n  %d requests in %.2fs, 1.00MB read\n", s.Requests, s.Seconds)
	if s.Connect+s.Read+s.Write+s.Timeout > 0 {
		fmt.Fprintf(&b, "  Socket errors: connect %d, read %d, write %d, timeout %d\n", s.Connect, s.Read, s.Write, s.Timeout)
	}
	if s.Status > 0 {
		fmt.Fprintf(&b, "  Non-2xx or 3xx responses: %d\n", s.Status)
	}
	b.WriteString("Requests/sec:      1.00\n")
	return b.String()
}

// FuzzParse: no input panics; what parses has its requests line; and a
// summary rendered as wrk prints it reads back the same.
func FuzzParse(f *testing.F) {
	f.Add([]byte(captured), uint32(1), uint32(2), uint32(3))
	f.Add([]byte("  1 requests in 1.00s, 1B read\n  Non-2xx or 3xx responses: 1\n"), uint32(0), uint32(0), uint32(0))
	f.Add([]byte{}, uint32(7), uint32(0), uint32(9))
	f.Fuzz(func(t *testing.T, out []byte, req, read, status uint32) {
		if _, err := Parse(out); err == nil && !requestsLinePresent(out) {
			t.Fatalf("parsed without a requests line: %q", out)
		}
		want := Summary{Requests: uint64(req), Seconds: 1.5, Read: uint64(read), Status: uint64(status)}
		if got, err := Parse([]byte(render(want))); err != nil || got != want {
			t.Fatalf("round trip: %+v, %v; want %+v", got, err, want)
		}
	})
}

func requestsLinePresent(out []byte) bool {
	for _, l := range strings.Split(string(out), "\n") {
		if requestsLine.MatchString(strings.TrimSuffix(l, "\r")) {
			return true
		}
	}
	return false
}

// TestRunCountsWhatClientsSee runs the real wrk for a second against three
// local servers: one that answers well, one that closes each keep-alive
// connection after its response without saying so, one that answers 500.
func TestRunCountsWhatClientsSee(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs wrk")
	}
	if _, err := Lookup(""); err != nil {
		testenv.Missing(t, "%v", err)
	}
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer ok.Close()
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer fail.Close()
	closer := closingServer(t)
	for _, tc := range []struct {
		name  string
		url   string
		check func(Summary) bool
	}{
		{"clean", ok.URL, func(s Summary) bool { return s.Requests > 0 && s.Errors() == 0 }},
		{"closes after each response", closer, func(s Summary) bool { return s.Requests > 0 && s.Read > 0 }},
		{"500s", fail.URL, func(s Summary) bool { return s.Requests > 0 && s.Status == s.Requests }},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		s, out, err := Run(ctx, Options{URL: tc.url + "/", Connections: 2, Duration: time.Second})
		cancel()
		if err != nil || !tc.check(s) {
			t.Errorf("%s: %+v, %v\n%s", tc.name, s, err, out)
		}
	}
	if _, _, err := Run(context.Background(), Options{Path: "/nonexistent/wrk", URL: ok.URL, Connections: 1, Duration: time.Second}); !errors.Is(err, ErrMissing) {
		t.Errorf("missing wrk: %v", err)
	}
}

// closingServer answers every request on a connection of its own with an
// HTTP/1.1 200 that promises keep-alive, then closes the connection.
func closingServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
				}
			}()
		}
	}()
	return "http://" + l.Addr().String()
}
