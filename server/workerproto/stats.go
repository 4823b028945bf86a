package workerproto

import (
	"sync/atomic"
	"time"
)

// LatencyBuckets are the upper bounds (seconds) of the request-duration
// histogram, Prometheus-style.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// methodNames index the per-method counters; anything else is "other".
var methodNames = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"}

// Stats are a worker's counters, cheap to bump per request (atomics, fixed
// arrays, no pointers: it lives in the scoreboard's shared memory).
type Stats struct {
	byMethodStatus [8][600]atomic.Uint64
	latency        [14]atomic.Uint64 // len(LatencyBuckets)+1: the last is +Inf
	latencySumNS   atomic.Uint64
	rejected       [200]atomic.Uint64 // by status - 400: requests the server refused itself
	Inflight       atomic.Int64       // requests running in Python
	Waiting        atomic.Int64       // parsed requests waiting for a slot
}

func methodIndex(m []byte) int {
	for i, n := range methodNames[:7] {
		if string(m) == n {
			return i
		}
	}
	return 7
}

// Observe counts one answered request that took d.
func (s *Stats) Observe(method []byte, status int, d time.Duration) {
	if status < 100 || status >= 600 {
		status = 0
	}
	s.byMethodStatus[methodIndex(method)][status].Add(1)
	sec := d.Seconds()
	i := 0
	for i < len(LatencyBuckets) && sec > LatencyBuckets[i] {
		i++
	}
	s.latency[i].Add(1)
	s.latencySumNS.Add(uint64(d))
}

// Reject counts a request the server answered itself with status (400,
// 408, 413, 414, 417, 431...: the application never saw it).
func (s *Stats) Reject(status int) {
	if status >= 400 && status < 600 {
		s.rejected[status-400].Add(1)
	}
}

// Snapshot is a copy of a worker's counters, as the master's metrics use them.
type Snapshot struct {
	Served    uint64
	Inflight  int64
	Waiting   int64
	Threads   int
	Requests  map[string]uint64 // "GET 200" -> count
	Rejected  map[string]uint64 // "400" -> count (Reject)
	Latency   []uint64          // non-cumulative, per LatencyBuckets (+Inf last)
	LatencyNS uint64
}

func (st *Stats) snapshot() Snapshot {
	s := Snapshot{Inflight: st.Inflight.Load(), Waiting: st.Waiting.Load()}
	s.Requests = map[string]uint64{}
	for m := range st.byMethodStatus {
		for code := range st.byMethodStatus[m] {
			if n := st.byMethodStatus[m][code].Load(); n > 0 {
				s.Requests[methodNames[m]+" "+itoa3(code)] = n
				s.Served += n
			}
		}
	}
	s.Rejected = map[string]uint64{}
	for i := range st.rejected {
		if n := st.rejected[i].Load(); n > 0 {
			s.Rejected[itoa3(400+i)] = n
		}
	}
	s.Latency = make([]uint64, len(st.latency))
	for i := range st.latency {
		s.Latency[i] = st.latency[i].Load()
	}
	s.LatencyNS = st.latencySumNS.Load()
	return s
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}
