package loadgen

import (
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkClientCPU measures the driver's own CPU per request (getrusage of
// this process; the Go server runs in a child process, so it is not counted)
// for vegeta's stock net/http transport and the lean one, same load, against
// a server faster than either client (serveFastFixture), so that each client
// is measured saturated rather than waiting:
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
			name  string
			stock bool
		}{{"stock", true}, {"lean", false}} {
			b.Run(sc.Name+"/"+tc.name, func(b *testing.B) {
				var ru0, ru1 syscall.Rusage
				syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
				r, err := Run(RunConfig{
					BaseURL: base, Scenario: sc, Load: Load{Mode: Closed, Concurrency: conc},
					Duration: 10 * time.Minute, MaxRequests: uint64(b.N), Stock: tc.stock,
				})
				if err != nil {
					b.Fatal(err)
				}
				if r.Errors > 0 {
					b.Fatalf("%d errors: %v %v", r.Errors, r.Status, r.ErrorsByText)
				}
				syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
				n := float64(r.Requests)
				b.ReportMetric(r.ClientCPU*1e9/n, "cpu-ns/req")
				b.ReportMetric(float64(ru1.Utime.Nano()-ru0.Utime.Nano())/n, "user-ns/req")
				b.ReportMetric(float64(ru1.Stime.Nano()-ru0.Stime.Nano())/n, "sys-ns/req")
				b.ReportMetric(r.RPS, "req/s")
			})
		}
	}
}
