package loadgen

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkClientCPU measures the driver's own CPU per request (getrusage of
// this process; the Go server runs in a child process, so it is not counted)
// for each way of sending: vegeta's Attacker with its stock net/http
// transport, the Attacker with the lean transport, the event loop, and wrk
// (its CPU from the child's rusage; hello only, and timed: 3 s whatever N),
// same load, against a server faster than any of them (serveFastFixture),
// so that each client is measured saturated rather than waiting:
//
//	go test ./loadgen -run '^$' -bench ClientCPU -benchtime 100000x -count 6
//
// The figure to compare is cpu-ns/req; ns/op is wall time and depends on
// the server.
func BenchmarkClientCPU(b *testing.B) {
	base := startFastFixtureProcess(b)
	if os.Getenv("LOADGEN_BENCH_PIN") != "" && runtime.NumCPU() >= 2 {
		// As `wsgikit bench --pin server=1 client=0`: no contention between
		// the two, and the driver runs with GOMAXPROCS=1.
		if err := PinProcesses([]int{fixturePID}, []int{1}); err != nil {
			b.Fatal(err)
		}
		if err := PinSelf([]int{0}); err != nil {
			b.Fatal(err)
		}
	}
	conc := 8
	if c, err := strconv.Atoi(os.Getenv("LOADGEN_BENCH_C")); err == nil && c > 0 {
		conc = c
	}
	hello, _ := LookupScenario("hello", nil)
	upload, _ := LookupScenario("upload", nil)
	for _, sc := range []*Scenario{hello, upload} {
		for _, tc := range []struct {
			name            string
			stock, attacker bool
			wrk             string
		}{{"stock", true, true, ""}, {"lean", false, true, ""}, {"loop", false, false, ""}, {"wrk", false, false, "wrk"}} {
			if tc.wrk != "" && sc != hello {
				continue
			}
			b.Run(sc.Name+"/"+tc.name, func(b *testing.B) {
				if tc.wrk != "" {
					if _, err := exec.LookPath(tc.wrk); err != nil {
						b.Skipf("%s not installed (make setup)", tc.wrk)
					}
				}
				var ru0, ru1 syscall.Rusage
				syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
				cfg := RunConfig{
					BaseURL: base, Scenario: sc, Load: Load{Mode: Closed, Concurrency: conc},
					Duration: 10 * time.Minute, MaxRequests: uint64(b.N), Stock: tc.stock, Attacker: tc.attacker,
				}
				if tc.wrk != "" {
					cfg.Wrk, cfg.Duration, cfg.Timeout = tc.wrk, 3*time.Second, 10*time.Second
				}
				r, err := Run(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if r.Errors > 0 {
					b.Fatalf("%d errors: %v %v", r.Errors, r.Status, r.ErrorsByText)
				}
				syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
				n := float64(r.Requests)
				b.ReportMetric(r.ClientCPU*1e9/n, "cpu-ns/req")
				if tc.wrk == "" {
					b.ReportMetric(float64(ru1.Utime.Nano()-ru0.Utime.Nano())/n, "user-ns/req")
					b.ReportMetric(float64(ru1.Stime.Nano()-ru0.Stime.Nano())/n, "sys-ns/req")
				}
				b.ReportMetric(r.RPS, "req/s")
			})
		}
	}
}

// loopReader yields data over and over, as a server answering a keep-alive
// connection forever would.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

// loopConn is a kept connection whose server answers raw to every request.
func loopConn(raw string) (*conn, *http.Request) {
	p := &connPool{idle: make(chan *conn, 1)}
	c := &conn{nc: &byteConn{}, pool: p, t: &Transport{}}
	c.setReader(&loopReader{data: []byte(raw)})
	req, _ := http.NewRequest("GET", "http://127.0.0.1/", nil)
	return c, req
}

// exchange reads one response on c, body included, and takes the
// connection back from its pool.
func exchange(c *conn, req *http.Request) error {
	resp, body, err := c.readResponse(req)
	if err != nil {
		return err
	}
	if body.done {
		body.finish(nil)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	resp.Body.Close()
	<-c.pool.idle
	return nil
}

var (
	helloLength  = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
	helloChunked = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n8\r\n, World!\r\n0\r\n\r\n"
)

// BenchmarkReadResponse measures reading one response and its body on a
// kept connection, without a socket: the parsing cost alone. cpu-ns/op
// (getrusage) is steadier than ns/op on a busy machine.
//
//	go test ./loadgen -run '^$' -bench ReadResponse -count 10
func BenchmarkReadResponse(b *testing.B) {
	for _, tc := range []struct{ name, raw string }{{"length", helloLength}, {"chunked", helloChunked}} {
		b.Run(tc.name, func(b *testing.B) {
			c, req := loopConn(tc.raw)
			b.ReportAllocs()
			cpu0 := cpuNs()
			for b.Loop() {
				if err := exchange(c, req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuNs()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuNs is this process's CPU time so far (user and system).
func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
