package master

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/server/workerproto"
)

// fakeProcs stands in for worker processes: pids count from 1, every
// action is recorded.
type fakeProcs struct {
	threads int
	pids    int
	limits  []uint64 // per start
	signals []string // "TERM 1", "KILL 3", and notices: "TIMEOUT 1 slot 0"
	boards  map[int]*workerproto.Scoreboard
	rss     map[int]float64
	fail    bool // start fails
}

func (f *fakeProcs) start(num int, limit uint64) (int, *workerproto.Scoreboard, error) {
	if f.fail {
		return 0, nil, fmt.Errorf("spawn worker: no interpreter")
	}
	f.pids++
	f.limits = append(f.limits, limit)
	b := workerproto.PrivateScoreboard(f.threads)
	f.boards[f.pids] = b
	return f.pids, b, nil
}

var sigNames = map[syscall.Signal]string{syscall.SIGTERM: "TERM", syscall.SIGKILL: "KILL", syscall.SIGUSR1: "USR1"}

func (f *fakeProcs) signal(pid int, sig syscall.Signal) {
	f.signals = append(f.signals, fmt.Sprintf("%s %d", sigNames[sig], pid))
}

func (f *fakeProcs) notify(pid int, n workerproto.Notice) {
	f.signals = append(f.signals, fmt.Sprintf("TIMEOUT %d slot %d", pid, n.Slot))
}

func (f *fakeProcs) rssMB(pid int) float64 { return f.rss[pid] }

// Shorthands for the events of a table.
func ready(pid int) statusEvent   { return statusEvent{pid, workerproto.Ready} }
func recycle(pid int) statusEvent { return statusEvent{pid, workerproto.Recycle} }
func exited(pid, code int) exitEvent {
	return exitEvent{pid: pid, code: code, how: fmt.Sprintf("exit code %d", code)}
}
func killed(pid int) exitEvent { return exitEvent{pid: pid, code: -1, how: "killed by signal killed"} }

// step is one event at a time since the start, and what it must cause.
type step struct {
	at      time.Duration
	ev      any
	started int           // workers started
	signals []string      // signals sent, in order
	respawn time.Duration // a respawnEvent asked for in this long
	exit    int           // the *ExitError's code (0: none)
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// rig is a supervisor on fake processes, a log buffer, and the systemd
// notifications it sent.
type rig struct {
	s       *supervisor
	p       *fakeProcs
	log     bytes.Buffer
	notices []string
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = time.Second
	}
	r := &rig{p: &fakeProcs{threads: 2, boards: map[int]*workerproto.Scoreboard{}, rss: map[int]float64{}}}
	logger := slog.New(slog.NewTextHandler(&r.log, nil))
	notify := func(s string) error { r.notices = append(r.notices, s); return nil }
	jitter := func(n int) int { return n - 1 } // the most jitter allowed
	r.s = newSupervisor(cfg, r.p, logger, newMetrics(), notify, jitter)
	if err := r.s.start(t0); err != nil {
		t.Fatal(err)
	}
	return r
}

// run plays steps, checking what each caused.
func (r *rig) run(t *testing.T, steps []step) {
	t.Helper()
	for i, st := range steps {
		pids, nsig := r.p.pids, len(r.p.signals)
		respawn, err := r.s.handle(st.ev, t0.Add(st.at))
		what := fmt.Sprintf("step %d (%T%+v at %v)", i, st.ev, st.ev, st.at)
		if got := r.p.pids - pids; got != st.started {
			t.Errorf("%s: %d workers started, want %d", what, got, st.started)
		}
		if got := r.p.signals[nsig:]; !slices.Equal(got, st.signals) {
			t.Errorf("%s: signals %q, want %q", what, got, st.signals)
		}
		if respawn != st.respawn {
			t.Errorf("%s: respawn in %v, want %v", what, respawn, st.respawn)
		}
		code := 0
		if ee, ok := err.(*ExitError); ok {
			code = ee.Code
		} else if err != nil {
			t.Errorf("%s: error %v, want an *ExitError or none", what, err)
		}
		if code != st.exit {
			t.Errorf("%s: exit %d (%v), want %d", what, code, err, st.exit)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", r.log.String())
	}
}

// live lists the pids of the workers not retiring.
func (r *rig) live() []int {
	var pids []int
	for _, w := range r.s.byPID() {
		if w.retiring == "" {
			pids = append(pids, w.pid)
		}
	}
	return pids
}

func TestSupervisor(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		steps []step
		live  []int  // workers serving at the end
		log   string // the log says so
	}{
		{
			name: "reload rollback: the new code does not import, the old workers keep serving",
			cfg:  Config{Workers: 2},
			steps: []step{
				{ev: ready(1)}, {ev: ready(2)},
				{at: time.Second, ev: reloadEvent{}, started: 2}, // 3 and 4
				{at: 2 * time.Second, ev: ready(4)},
				{at: 2 * time.Second, ev: exited(3, workerproto.ExitImport), signals: []string{"KILL 4"}},
				{at: 3 * time.Second, ev: tickEvent{}},
				{at: 3 * time.Second, ev: exited(4, -1)}, // the kill's exit: already forgotten
			},
			live: []int{1, 2},
			log:  "reload failed: worker 3 could not start (exit code 3); the previous workers keep serving",
		},
		{
			name: "reload: the old workers stop once every new one is ready",
			cfg:  Config{Workers: 2},
			steps: []step{
				{ev: ready(1)}, {ev: ready(2)},
				{at: time.Second, ev: reloadEvent{}, started: 2},
				{at: 2 * time.Second, ev: ready(3)},
				{at: 2 * time.Second, ev: ready(4), signals: []string{"TERM 1", "TERM 2"}},
				{at: 3 * time.Second, ev: exited(1, 0)},
				{at: 3 * time.Second, ev: exited(2, 0)},
			},
			live: []int{3, 4},
			log:  "reload done: 2 new workers serving, 2 old ones draining",
		},
		{
			name:  "start-up: the application does not import, the server stops",
			steps: []step{{ev: exited(1, workerproto.ExitImport), exit: workerproto.ExitImport}},
			log:   "",
		},
		{
			name:  "start-up: no extension for the interpreter, the server stops",
			steps: []step{{ev: exited(1, workerproto.ExitNoExt), exit: workerproto.ExitNoExt}},
		},
		{
			name: "a worker that was serving and exits 3 is a crash, not a bad import",
			steps: []step{
				{ev: ready(1)},
				{at: time.Second, ev: exited(1, workerproto.ExitImport), respawn: 100 * time.Millisecond},
				{at: time.Second + 100*time.Millisecond, ev: respawnEvent{}, started: 1},
			},
			live: []int{2},
			log:  "worker 1 died (exit code 3)",
		},
		{
			name: "a worker that exits 0 unasked (a TERM sent to it) is replaced, and it is no crash",
			steps: []step{
				{ev: ready(1)},
				{at: time.Second, ev: exited(1, 0), respawn: 100 * time.Millisecond},
				{at: time.Second + 100*time.Millisecond, ev: respawnEvent{}, started: 1},
			},
			live: []int{2},
			log:  "worker 1 stopped by itself (exit code 0, e.g. a TERM sent to it) after 1s; replacing it",
		},
		{
			name: "max-requests: the replacement starts first, the old worker stops once it is ready",
			cfg:  Config{MaxRequests: 100, MaxRequestsJitter: 10},
			steps: []step{
				{ev: ready(1)},
				{at: time.Second, ev: recycle(1), started: 1},
				{at: time.Second, ev: recycle(1)}, // said twice: nothing more
				{at: 2 * time.Second, ev: ready(2), signals: []string{"TERM 1"}},
				{at: 3 * time.Second, ev: exited(1, 0)},
			},
			live: []int{2},
			log:  "worker 1 served 110 requests (--max-requests): recycling it",
		},
		{
			name: "backoff: each quick crash doubles the wait before the replacement",
			steps: []step{
				{ev: ready(1)},
				{at: 1 * time.Second, ev: killed(1), respawn: 100 * time.Millisecond},
				{at: 1*time.Second + 50*time.Millisecond, ev: tickEvent{}}, // too early; the timer is set
				{at: 1*time.Second + 100*time.Millisecond, ev: respawnEvent{}, started: 1},
				{at: 2 * time.Second, ev: killed(2), respawn: 200 * time.Millisecond},
				{at: 2*time.Second + 200*time.Millisecond, ev: respawnEvent{}, started: 1},
				{at: 3 * time.Second, ev: killed(3), respawn: 400 * time.Millisecond},
				{at: 3*time.Second + 400*time.Millisecond, ev: respawnEvent{}, started: 1},
				// Up more than 10 s: the next crash waits the least again.
				{at: 20 * time.Second, ev: killed(4), respawn: 100 * time.Millisecond},
			},
			log: "worker 1 died (killed by signal killed) after 1s; replacing it",
		},
		{
			name: "TTIN starts one more worker",
			steps: []step{
				{ev: ready(1)},
				{at: time.Second, ev: scaleEvent{+1}, started: 1},
			},
			live: []int{1, 2},
			log:  "TTIN: 2 workers",
		},
		{
			name: "TTOU retires the oldest worker at once when another is ready",
			cfg:  Config{Workers: 2},
			steps: []step{
				{ev: ready(1)}, {ev: ready(2)},
				{at: time.Second, ev: scaleEvent{-1}, signals: []string{"TERM 1"}},
				{at: time.Second, ev: scaleEvent{-1}}, // one worker is the least
			},
			live: []int{2},
			log:  "TTOU: 1 workers",
		},
		{
			name: "no heartbeat for 30 s: the worker is killed and replaced",
			steps: []step{
				{ev: ready(1)},
				{at: 20 * time.Second, ev: statusEvent{1, workerproto.Beat}},
				{at: 49 * time.Second, ev: tickEvent{}},
				{at: 51 * time.Second, ev: tickEvent{}, signals: []string{"KILL 1"}},
				{at: 52 * time.Second, ev: tickEvent{}}, // killed once
				{at: 52 * time.Second, ev: killed(1), respawn: 100 * time.Millisecond},
			},
			log: "worker 1 sent no heartbeat for 30s: killing it",
		},
		{
			name: "USR1 goes to every worker",
			cfg:  Config{Workers: 2},
			steps: []step{
				{ev: forwardEvent{syscall.SIGUSR1}, signals: []string{"USR1 1", "USR1 2"}},
			},
			live: []int{1, 2},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.cfg)
			r.run(t, tc.steps)
			if tc.live != nil && !slices.Equal(r.live(), tc.live) {
				t.Errorf("serving: %v, want %v", r.live(), tc.live)
			}
			if !strings.Contains(r.log.String(), tc.log) {
				t.Errorf("log lacks %q:\n%s", tc.log, r.log.String())
			}
		})
	}
}

// TestSupervisorBackoffCap: workers that crash at once wait twice as long
// each time for their replacement, up to 5 s.
func TestSupervisorBackoffCap(t *testing.T) {
	r := newRig(t, Config{})
	at := time.Duration(0)
	for i, want := range []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000} {
		want *= time.Millisecond
		r.run(t, []step{{at: at, ev: killed(i + 1), respawn: want}})
		at += want
		r.run(t, []step{{at: at, ev: respawnEvent{}, started: 1}})
	}
}

// TestSupervisorTimeout: a request past --timeout is told to its worker
// (which answers it 504 and drains), once; the worker is replaced, TERMed
// once the replacement is ready, and killed only if it is still there
// after --graceful-timeout. The log names the request; the restart counts
// as a timeout.
func TestSupervisorTimeout(t *testing.T) {
	r := newRig(t, Config{Timeout: time.Second, GracefulTimeout: 10 * time.Second})
	r.run(t, []step{{ev: ready(1)}})
	r.p.boards[1].Begin(1, t0.UnixNano(), []byte("GET"), []byte("/slow"), 1)
	r.run(t, []step{
		{at: 500 * time.Millisecond, ev: tickEvent{}},
		{at: 2 * time.Second, ev: tickEvent{}, signals: []string{"TIMEOUT 1 slot 1"}, started: 1},
		{at: 3 * time.Second, ev: tickEvent{}}, // told once
		{at: 3 * time.Second, ev: ready(2), signals: []string{"TERM 1"}},
		{at: 12 * time.Second, ev: tickEvent{}},                                               // within --graceful-timeout of the notice
		{at: 13*time.Second + time.Millisecond, ev: tickEvent{}, signals: []string{"KILL 1"}}, // 2 s + 10 s + the exit margin
		{at: 14 * time.Second, ev: tickEvent{}},                                               // killed once
		{at: 14 * time.Second, ev: killed(1)},                                                 // retiring: no crash, no backoff
	})
	for _, want := range []string{`request \"GET /slow HTTP/1.1\" ran over --timeout 1s: it gets 504`, `worker 1 (timeout) still running past --graceful-timeout 10s: killing it`, `worker 1 stopped (timeout, killed by signal killed)`} {
		if !strings.Contains(r.log.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, r.log.String())
		}
	}
	if got := r.s.metrics.restarts[causeTimeout]; got != 1 {
		t.Errorf("timeout restarts %d, want 1", got)
	}
	if !slices.Equal(r.live(), []int{2}) {
		t.Errorf("serving: %v, want [2]", r.live())
	}
}

// TestSupervisorTimeoutDrained: a worker told of a timeout that exits by
// itself (its other requests done) is not killed, and a later request over
// --timeout in another slot is told too.
func TestSupervisorTimeoutDrained(t *testing.T) {
	r := newRig(t, Config{Workers: 2, Timeout: time.Second, GracefulTimeout: 10 * time.Second})
	r.run(t, []step{{ev: ready(1)}, {ev: ready(2)}})
	r.p.boards[1].Begin(0, t0.UnixNano(), []byte("GET"), []byte("/a"), 1)
	r.run(t, []step{
		// Another worker is ready: the TERM goes at once, the replacement starts.
		{at: 2 * time.Second, ev: tickEvent{}, signals: []string{"TIMEOUT 1 slot 0", "TERM 1"}, started: 1},
	})
	r.p.boards[1].Begin(1, t0.Add(time.Second).UnixNano(), []byte("GET"), []byte("/b"), 1) // the spare slot
	r.run(t, []step{
		{at: 3 * time.Second, ev: tickEvent{}, signals: []string{"TIMEOUT 1 slot 1"}},
		{at: 4 * time.Second, ev: exited(1, 0)},
		{at: 20 * time.Second, ev: tickEvent{}},
	})
}

// TestSupervisorStopDeadline: a worker asked to stop (here by TTOU) that is
// still there after --graceful-timeout (a request stuck in Python holds it)
// is killed; one that exits in time is not.
func TestSupervisorStopDeadline(t *testing.T) {
	r := newRig(t, Config{Workers: 3, GracefulTimeout: 5 * time.Second})
	r.run(t, []step{
		{ev: ready(1)}, {ev: ready(2)}, {ev: ready(3)},
		{at: time.Second, ev: scaleEvent{-1}, signals: []string{"TERM 1"}},
		{at: time.Second, ev: scaleEvent{-1}, signals: []string{"TERM 2"}},
		{at: 2 * time.Second, ev: exited(2, 0)},
		{at: 7 * time.Second, ev: tickEvent{}},
		{at: 7*time.Second + time.Millisecond, ev: tickEvent{}, signals: []string{"KILL 1"}},
		{at: 8 * time.Second, ev: killed(1)},
	})
	if want := "worker 1 (scale-down) still running past --graceful-timeout 5s: killing it"; !strings.Contains(r.log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, r.log.String())
	}
}

// TestSupervisorRSS: a worker over --reload-on-rss is recycled like one
// that reached --max-requests: replacement first.
func TestSupervisorRSS(t *testing.T) {
	r := newRig(t, Config{ReloadOnRSSMB: 100})
	r.p.rss[1] = 150
	r.run(t, []step{
		{ev: ready(1)},
		{at: time.Second, ev: tickEvent{}, started: 1},
		{at: 2 * time.Second, ev: tickEvent{}}, // retiring already
		{at: 2 * time.Second, ev: ready(2), signals: []string{"TERM 1"}},
	})
	if got := r.s.metrics.restarts[causeRSS]; got != 1 {
		t.Errorf("rss restarts %d, want 1", got)
	}
}

// TestSupervisorSpawnFailure: a worker that cannot be started is logged
// and tried again at the next event.
func TestSupervisorSpawnFailure(t *testing.T) {
	r := newRig(t, Config{})
	r.p.fail = true
	r.run(t, []step{
		{ev: ready(1)},
		{at: time.Second, ev: exited(1, 0), respawn: 100 * time.Millisecond},
		{at: 2 * time.Second, ev: respawnEvent{}},
		{at: 2 * time.Second, ev: tickEvent{}},
	})
	if n := strings.Count(r.log.String(), "no interpreter"); n != 2 {
		t.Errorf("%d failed starts logged, want 2:\n%s", n, r.log.String())
	}
	r.p.fail = false
	r.run(t, []step{{at: 3 * time.Second, ev: tickEvent{}, started: 1}})
}

// TestSupervisorNotifiesSystemd: READY once the first worker is up,
// RELOADING then READY around a reload.
func TestSupervisorNotifiesSystemd(t *testing.T) {
	r := newRig(t, Config{})
	r.run(t, []step{
		{ev: ready(1)},
		{at: time.Second, ev: reloadEvent{}, started: 1},
		{at: 2 * time.Second, ev: ready(2), signals: []string{"TERM 1"}},
	})
	if want := []string{"READY=1", "RELOADING=1", "READY=1"}; !slices.Equal(r.notices, want) {
		t.Errorf("notified %q, want %q", r.notices, want)
	}
}
