package master

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wsgikit/wsgikit/server/workerproto"
)

// exposition is what /metrics shows for m.
func exposition(t *testing.T, m *metrics) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// sample is the exposition's lines for metric name (comments left out).
func sample(body, name string) []string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			out = append(out, l)
		}
	}
	return out
}

func snapshotWith(rejected map[string]uint64) workerproto.Snapshot {
	s := newSnapshot()
	s.Rejected = rejected
	return s
}

// TestMetricsSeries: rejections are counted by code across worker exits; the
// per-worker series is labelled by worker number, so a worker taking a
// freed number reuses its series, and an exited worker leaves none.
func TestMetricsSeries(t *testing.T) {
	m := newMetrics()
	m.update(101, 1, snapshotWith(map[string]uint64{"400": 2, "431": 1}), 1<<20)
	m.update(102, 2, snapshotWith(map[string]uint64{"400": 1}), 2<<20)
	m.exited(101) // recycled: its counts stay, its series goes
	m.update(103, 1, snapshotWith(map[string]uint64{"408": 1}), 3<<20)
	body := exposition(t, m)
	for name, want := range map[string][]string{
		"wsgikit_rejected_requests_total": {
			`wsgikit_rejected_requests_total{code="400"} 3`,
			`wsgikit_rejected_requests_total{code="408"} 1`,
			`wsgikit_rejected_requests_total{code="431"} 1`,
		},
		"wsgikit_worker_rss_bytes": {
			`wsgikit_worker_rss_bytes{worker="1"} 3.145728e+06`,
			`wsgikit_worker_rss_bytes{worker="2"} 2.097152e+06`,
		},
		"wsgikit_workers": {`wsgikit_workers 2`},
	} {
		if got := sample(body, name); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", name, got, want)
		}
	}
}

// TestSupervisorWorkerNumbers: a worker takes the lowest number free, a
// replacement its predecessor's; workers killed in a reload rollback leave
// the metrics like exited ones.
func TestSupervisorWorkerNumbers(t *testing.T) {
	r := newRig(t, Config{Workers: 2})
	r.run(t, []step{
		{ev: ready(1)}, {ev: ready(2)},
		{at: time.Second, ev: killed(1), respawn: minBackoff},
		{at: 2 * time.Second, ev: respawnEvent{}, started: 1}, // 3 takes number 1
		{at: 2 * time.Second, ev: ready(3)},
		{at: 3 * time.Second, ev: reloadEvent{}, started: 2}, // 4 and 5: numbers 3 and 4
		{at: 4 * time.Second, ev: ready(5)},
		{at: 4 * time.Second, ev: tickEvent{}}, // the metrics see 2, 3, 4, 5
		{at: 4 * time.Second, ev: exited(4, workerproto.ExitImport), signals: []string{"KILL 5"}},
	})
	nums := map[int]int{}
	for _, w := range r.s.workers {
		nums[w.pid] = w.num
	}
	if want := map[int]int{2: 2, 3: 1}; len(nums) != len(want) || nums[2] != 2 || nums[3] != 1 {
		t.Errorf("workers (pid: number) %v, want %v", nums, want)
	}
	if len(r.s.metrics.live) != 2 || len(r.s.metrics.rss) != 2 {
		t.Errorf("metrics keep %d live workers (%d rss series) after the rollback, want 2", len(r.s.metrics.live), len(r.s.metrics.rss))
	}
	if got := sample(exposition(t, r.s.metrics), "wsgikit_workers"); len(got) != 1 || got[0] != "wsgikit_workers 2" {
		t.Errorf("exposition: %q, want wsgikit_workers 2", got)
	}
}
