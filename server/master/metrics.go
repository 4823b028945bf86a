package master

import (
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wsgikit/wsgikit/server/workerproto"
)

// metrics aggregates the workers' snapshots in the master and serves them
// to Prometheus. Counters stay monotonic across worker restarts: a worker's
// last snapshot moves into "retired" when it exits. The only per-worker
// series is labelled by worker number, not pid, so recycling workers does
// not make new series.
type metrics struct {
	mu       sync.Mutex
	live     map[int]workerproto.Snapshot // by pid
	rss      map[int]liveRSS              // by pid
	retired  workerproto.Snapshot
	restarts map[string]uint64

	descRequests, descRejected, descLatency, descInflight, descQueued, descThreads, descRestarts, descRSS, descWorkers *prometheus.Desc
}

// liveRSS is a live worker's resident memory and number.
type liveRSS struct {
	num   int
	bytes float64
}

func newSnapshot() workerproto.Snapshot {
	return workerproto.Snapshot{Requests: map[string]uint64{}, Rejected: map[string]uint64{}, Latency: make([]uint64, len(workerproto.LatencyBuckets)+1)}
}

func newMetrics() *metrics {
	return &metrics{
		live: map[int]workerproto.Snapshot{}, rss: map[int]liveRSS{}, restarts: map[string]uint64{},
		retired:      newSnapshot(),
		descRequests: prometheus.NewDesc("wsgikit_requests_total", "Requests answered, by method and status.", []string{"method", "status"}, nil),
		descRejected: prometheus.NewDesc("wsgikit_rejected_requests_total", "Requests the server refused itself (malformed, over a limit, too slow), by status; the application never saw them.", []string{"code"}, nil),
		descLatency:  prometheus.NewDesc("wsgikit_request_duration_seconds", "Time from a parsed request to the end of its response.", nil, nil),
		descInflight: prometheus.NewDesc("wsgikit_requests_in_flight", "Requests running in Python now.", nil, nil),
		descQueued:   prometheus.NewDesc("wsgikit_requests_queued", "Parsed requests waiting for a free Python thread.", nil, nil),
		descThreads:  prometheus.NewDesc("wsgikit_python_threads", "Python threads (request slots) by state.", []string{"state"}, nil),
		descRestarts: prometheus.NewDesc("wsgikit_worker_restarts_total", "Workers replaced, by cause.", []string{"cause"}, nil),
		descRSS:      prometheus.NewDesc("wsgikit_worker_rss_bytes", "Resident memory per live worker, by worker number (the lowest free when it started: few series, unlike pids).", []string{"worker"}, nil),
		descWorkers:  prometheus.NewDesc("wsgikit_workers", "Live worker processes.", nil, nil),
	}
}

func (m *metrics) update(pid, num int, s workerproto.Snapshot, rssBytes float64) {
	m.mu.Lock()
	m.live[pid] = s
	m.rss[pid] = liveRSS{num, rssBytes}
	m.mu.Unlock()
}

func (m *metrics) exited(pid int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.live[pid]; ok {
		addSnapshot(&m.retired, s)
	}
	delete(m.live, pid)
	delete(m.rss, pid)
}

func (m *metrics) restart(cause string) {
	m.mu.Lock()
	m.restarts[cause]++
	m.mu.Unlock()
}

func addSnapshot(dst *workerproto.Snapshot, s workerproto.Snapshot) {
	dst.Served += s.Served
	for k, v := range s.Requests {
		dst.Requests[k] += v
	}
	for k, v := range s.Rejected {
		dst.Rejected[k] += v
	}
	for i := range s.Latency {
		if i < len(dst.Latency) {
			dst.Latency[i] += s.Latency[i]
		}
	}
	dst.LatencyNS += s.LatencyNS
	dst.Inflight += s.Inflight
	dst.Waiting += s.Waiting
	dst.Threads += s.Threads
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.descRequests, m.descRejected, m.descLatency, m.descInflight, m.descQueued, m.descThreads, m.descRestarts, m.descRSS, m.descWorkers} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	total := newSnapshot()
	addSnapshot(&total, m.retired)
	total.Inflight, total.Waiting, total.Threads = 0, 0, 0 // gauges: live workers only
	for _, s := range m.live {
		addSnapshot(&total, s)
	}
	for _, k := range sortedKeys(total.Requests) {
		method, status, _ := strings.Cut(k, " ")
		ch <- prometheus.MustNewConstMetric(m.descRequests, prometheus.CounterValue, float64(total.Requests[k]), method, status)
	}
	for _, code := range sortedKeys(total.Rejected) {
		ch <- prometheus.MustNewConstMetric(m.descRejected, prometheus.CounterValue, float64(total.Rejected[code]), code)
	}
	buckets := map[float64]uint64{}
	var cum uint64
	for i, ub := range workerproto.LatencyBuckets {
		cum += total.Latency[i]
		buckets[ub] = cum
	}
	count := cum + total.Latency[len(workerproto.LatencyBuckets)]
	ch <- prometheus.MustNewConstHistogram(m.descLatency, count, float64(total.LatencyNS)/1e9, buckets)
	ch <- prometheus.MustNewConstMetric(m.descInflight, prometheus.GaugeValue, float64(total.Inflight))
	ch <- prometheus.MustNewConstMetric(m.descQueued, prometheus.GaugeValue, float64(total.Waiting))
	ch <- prometheus.MustNewConstMetric(m.descThreads, prometheus.GaugeValue, float64(total.Inflight), "busy")
	ch <- prometheus.MustNewConstMetric(m.descThreads, prometheus.GaugeValue, float64(total.Threads-int(total.Inflight)), "idle")
	for cause, n := range m.restarts {
		ch <- prometheus.MustNewConstMetric(m.descRestarts, prometheus.CounterValue, float64(n), cause)
	}
	for _, r := range m.rss {
		ch <- prometheus.MustNewConstMetric(m.descRSS, prometheus.GaugeValue, r.bytes, strconv.Itoa(r.num))
	}
	ch <- prometheus.MustNewConstMetric(m.descWorkers, prometheus.GaugeValue, float64(len(m.live)))
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// serve serves /metrics on addr (its own listener: never the app's).
func (m *metrics) serve(addr string) (net.Listener, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-bind %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	go http.Serve(ln, mux)
	return ln, nil
}
