package master

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"syscall"
	"time"

	"github.com/wsgikit/wsgikit/server/workerproto"
)

// Why a worker was retired or replaced (logs and the restarts metric).
const (
	causeCrash        = "crash"
	causeExit         = "exit" // exited 0 unasked: a TERM sent to the worker directly
	causeTimeout      = "timeout"
	causeMaxRequests  = "max-requests"
	causeRSS          = "rss"
	causeReload       = "reload"
	causeScaleDown    = "scale-down"
	causeUnresponsive = "unresponsive"
	causeGrace        = "graceful-timeout" // asked to stop, still there after --graceful-timeout
)

// Backoff between replacements of workers that keep crashing.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	stableUp   = 10 * time.Second // a worker up this long resets the backoff
)

// exitMargin is what a worker asked to stop gets beyond --graceful-timeout
// to exit (it cuts what is left at the graceful timeout, then exits) before
// the master kills it.
const exitMargin = time.Second

// procs starts, signals and notifies worker processes: the supervisor's
// only way to act on the system (execProcs; a fake in the tests).
type procs interface {
	// start starts worker number num (its process title and metrics label)
	// that recycles after limit requests (0: never).
	start(num int, limit uint64) (pid int, board *workerproto.Scoreboard, err error)
	signal(pid int, sig syscall.Signal)
	// notify sends the worker a notice on its control pipe.
	notify(pid int, n workerproto.Notice)
	// rssMB is the worker's resident memory in MB (0 when unknown).
	rssMB(pid int) float64
}

// The events the supervisor handles.
type (
	statusEvent struct {
		pid    int
		status workerproto.Status
	}
	exitEvent struct {
		pid  int
		code int    // -1 when a signal killed it
		how  string // "exit code 1", "killed by signal killed"
	}
	respawnEvent struct{}                     // a backoff delay passed
	reloadEvent  struct{}                     // HUP, or a source file changed (--reload)
	tickEvent    struct{}                     // time to check timeouts, heartbeats and RSS
	scaleEvent   struct{ delta int }          // TTIN +1, TTOU -1
	forwardEvent struct{ sig syscall.Signal } // a signal every worker gets (USR1)
)

// worker is what the supervisor knows of one worker process.
type worker struct {
	pid         int
	num         int // 1..: the lowest no live worker had when it started (title, metrics label)
	board       *workerproto.Scoreboard
	gen         int
	started     time.Time
	lastBeat    time.Time
	ready       bool
	retiring    string        // cause, once asked to stop
	pendingTerm bool          // retiring, TERM not sent yet (waits for a ready replacement)
	limit       uint64        // max requests for this worker (with jitter), 0 none
	killedBy    string        // set when the supervisor killed it (unresponsive, did not stop)
	killAt      time.Time     // asked to stop: killed if still there then
	timedOut    map[int]int64 // slot -> start of the request it was told ran over --timeout
}

// supervisor is the master's decisions as a state machine: events go in
// (handle), actions come out through procs, notify and the returned respawn
// delay. It reads no clock: every event comes with its time.
type supervisor struct {
	cfg     Config // Workers, MaxRequests(Jitter), Timeout, ReloadOnRSSMB, Heartbeat
	procs   procs
	log     *slog.Logger
	metrics *metrics
	notify  func(state string) error // systemd's sd_notify
	jitter  func(n int) int          // a random 0..n-1

	target    int
	workers   map[int]*worker
	gen       int           // bumps on every reload; workers of older generations retire
	ready     bool          // systemd was told READY=1
	backoff   time.Duration // before replacing the next crashed worker
	respawnAt time.Time     // no replacement starts before
	timerSet  bool          // a respawnEvent is on its way
}

func newSupervisor(cfg Config, p procs, log *slog.Logger, m *metrics, notify func(string) error, jitter func(int) int) *supervisor {
	return &supervisor{cfg: cfg, procs: p, log: log, metrics: m, notify: notify, jitter: jitter,
		target: cfg.Workers, workers: map[int]*worker{}, backoff: minBackoff}
}

// start starts the first workers.
func (s *supervisor) start(now time.Time) error {
	for range s.target {
		if err := s.spawn(now); err != nil {
			return err
		}
	}
	return nil
}

// handle applies ev, which happened at now, then starts the workers the
// current generation lacks. It returns how long until a respawnEvent must be
// sent (0: none), and an *ExitError when the server must stop.
func (s *supervisor) handle(ev any, now time.Time) (respawnIn time.Duration, err error) {
	switch ev := ev.(type) {
	case statusEvent:
		s.onStatus(ev, now)
	case exitEvent:
		if err := s.onExit(ev, now); err != nil {
			return 0, err
		}
	case respawnEvent:
		s.timerSet = false
	case reloadEvent:
		s.reload(now)
	case tickEvent:
		s.check(now)
	case scaleEvent:
		s.scale(ev.delta, now)
	case forwardEvent:
		s.signalAll(ev.sig)
	}
	return s.reconcile(now), nil
}

// spawn starts one worker of the current generation.
func (s *supervisor) spawn(now time.Time) error {
	var limit uint64
	if s.cfg.MaxRequests > 0 {
		limit = uint64(s.cfg.MaxRequests)
		if s.cfg.MaxRequestsJitter > 0 {
			limit += uint64(s.jitter(s.cfg.MaxRequestsJitter + 1))
		}
	}
	num := s.freeNum()
	pid, board, err := s.procs.start(num, limit)
	if err != nil {
		return err
	}
	s.workers[pid] = &worker{pid: pid, num: num, board: board, gen: s.gen, started: now, lastBeat: now, limit: limit}
	s.log.Info(fmt.Sprintf("booting worker with pid %d", pid))
	return nil
}

// reload starts a new generation of workers (re-importing the code); the old
// ones are retired once all new ones are ready (see onStatus).
func (s *supervisor) reload(now time.Time) {
	s.notify("RELOADING=1")
	s.gen++
	for range s.target {
		if err := s.spawn(now); err != nil {
			s.log.Error(err.Error())
		}
	}
}

func (s *supervisor) scale(delta int, now time.Time) {
	switch {
	case delta > 0:
		s.target++
		s.log.Info(fmt.Sprintf("TTIN: %d workers", s.target))
	case delta < 0 && s.target > 1:
		s.target--
		s.log.Info(fmt.Sprintf("TTOU: %d workers", s.target))
		for _, w := range s.byPID() {
			if w.retiring == "" {
				s.retire(w, causeScaleDown, now)
				return
			}
		}
	}
}

func (s *supervisor) onStatus(ev statusEvent, now time.Time) {
	w, ok := s.workers[ev.pid]
	if !ok {
		return
	}
	w.lastBeat = now
	if ev.status == workerproto.Ready && !w.ready {
		w.ready = true
		if !s.ready {
			s.ready = true
			s.notify("READY=1")
		}
		// A reload completes when every worker of the new generation is up:
		// only then do the old ones stop accepting.
		if w.gen == s.gen && s.readyInGen(s.gen) >= s.target {
			retired := 0
			for _, o := range s.byPID() {
				if o.gen < s.gen && o.retiring == "" {
					s.retire(o, causeReload, now)
					retired++
				}
			}
			if retired > 0 {
				s.log.Info(fmt.Sprintf("reload done: %d new workers serving, %d old ones draining", s.target, retired))
				s.notify("READY=1")
			}
		}
	}
	if ev.status == workerproto.Recycle && w.retiring == "" {
		s.log.Info(fmt.Sprintf("worker %d served %d requests (--max-requests): recycling it", w.pid, w.limit))
		s.retire(w, causeMaxRequests, now)
	}
	s.termPending(now)
}

// retire asks a worker to stop gracefully: it stops accepting and finishes
// what it serves. The TERM waits until enough other workers are ready (its
// replacement, for recycling), so there is never a moment with nobody accepting.
func (s *supervisor) retire(w *worker, cause string, now time.Time) {
	if w.retiring != "" {
		return
	}
	w.retiring = cause
	w.pendingTerm = true
	s.metrics.restart(cause)
	s.termPending(now)
}

func (s *supervisor) termPending(now time.Time) {
	for _, w := range s.byPID() {
		if w.pendingTerm && s.readyInGen(s.gen) >= min(s.target, 1) {
			w.pendingTerm = false
			s.procs.signal(w.pid, syscall.SIGTERM)
			s.killBy(w, now.Add(s.cfg.GracefulTimeout+exitMargin))
		}
	}
}

// killBy makes sure w is killed if it is still there at t.
func (s *supervisor) killBy(w *worker, t time.Time) {
	if w.killAt.IsZero() || t.Before(w.killAt) {
		w.killAt = t
	}
}

func (s *supervisor) onExit(ev exitEvent, now time.Time) error {
	w, ok := s.workers[ev.pid]
	if !ok {
		return nil
	}
	delete(s.workers, ev.pid)
	defer s.release(w) // after the crash report below has read its board
	if workerproto.Permanent(ev.code) && !w.ready {
		if w.gen > 0 && s.liveInGen(w.gen-1) > 0 {
			// A reload whose new code does not import: keep serving the old.
			s.log.Error(fmt.Sprintf("reload failed: worker %d could not start (exit code %d); the previous workers keep serving", ev.pid, ev.code))
			s.gen--
			for _, o := range s.byPID() {
				if o.gen > s.gen {
					s.release(o)
					s.procs.signal(o.pid, syscall.SIGKILL)
				}
			}
			return nil
		}
		what := "the application could not be imported (see the traceback above)"
		if ev.code == workerproto.ExitNoExt {
			what = "the worker extension is missing for this interpreter (see above)"
		}
		return &ExitError{Code: ev.code, Err: errors.New(what)}
	}
	up := now.Sub(w.started)
	if w.retiring != "" {
		s.log.Info(fmt.Sprintf("worker %d stopped (%s, %s) after %v", ev.pid, w.retiring, ev.how, up.Round(time.Millisecond)))
		return nil
	}
	cause := causeCrash
	switch {
	case w.killedBy != "":
		cause = w.killedBy
	case ev.code == workerproto.ExitOK:
		// A clean exit the master did not ask for: a TERM sent to the
		// worker itself (it drained first), not a failure.
		cause = causeExit
	}
	s.metrics.restart(cause)
	serving := ""
	for i := 0; i < w.board.Slots(); i++ {
		if _, line, ok := w.board.Read(i); ok {
			serving += fmt.Sprintf(" while serving %q", line)
		}
	}
	if cause == causeExit {
		s.log.Info(fmt.Sprintf("worker %d stopped by itself (%s, e.g. a TERM sent to it) after %v; replacing it", ev.pid, ev.how, up.Round(time.Millisecond)))
	} else {
		s.log.Error(fmt.Sprintf("worker %d died (%s) after %v%s; replacing it", ev.pid, ev.how, up.Round(time.Millisecond), serving))
	}
	if up > stableUp {
		s.backoff = minBackoff
	}
	s.respawnAt = now.Add(s.backoff)
	s.backoff = min(2*s.backoff, maxBackoff)
	return nil
}

// check enforces --timeout, --reload-on-rss, --graceful-timeout and
// liveness, and refreshes the metrics from the scoreboards.
func (s *supervisor) check(now time.Time) {
	for _, w := range s.byPID() {
		rss := s.procs.rssMB(w.pid)
		s.metrics.update(w.pid, w.num, w.board.Snapshot(), rss*(1<<20))
		if stale := max(10*s.cfg.Heartbeat, 30*time.Second); w.killedBy == "" && now.Sub(w.lastBeat) > stale {
			s.log.Error(fmt.Sprintf("worker %d sent no heartbeat for %v: killing it", w.pid, stale))
			w.killedBy = causeUnresponsive
			s.procs.signal(w.pid, syscall.SIGKILL)
		}
		if s.cfg.Timeout > 0 && w.killedBy == "" {
			s.checkTimeouts(w, now)
		}
		if !w.killAt.IsZero() && now.After(w.killAt) && w.killedBy == "" {
			s.log.Error(fmt.Sprintf("worker %d (%s) still running past --graceful-timeout %v: killing it", w.pid, w.retiring, s.cfg.GracefulTimeout))
			w.killedBy = causeGrace
			s.procs.signal(w.pid, syscall.SIGKILL)
		}
		if w.retiring != "" || !w.ready {
			continue
		}
		if s.cfg.ReloadOnRSSMB > 0 && rss > s.cfg.ReloadOnRSSMB {
			s.log.Info(fmt.Sprintf("worker %d uses %.0f MB RSS (--reload-on-rss %.0f): recycling it", w.pid, rss, s.cfg.ReloadOnRSSMB))
			s.retire(w, causeRSS, now)
		}
	}
}

// checkTimeouts tells w about each request of it over --timeout, once: the
// worker answers it 504 (the engine does, without the GIL), stops
// accepting and lets its other requests finish. It is replaced meanwhile,
// and killed only if it is still there after --graceful-timeout.
func (s *supervisor) checkTimeouts(w *worker, now time.Time) {
	for i := 0; i < w.board.Slots(); i++ {
		st, line, ok := w.board.Read(i)
		if !ok || now.Sub(time.Unix(0, st)) <= s.cfg.Timeout || w.timedOut[i] == st {
			continue
		}
		s.log.Error(fmt.Sprintf("worker %d: request %q ran over --timeout %v: it gets 504; the worker drains and is replaced", w.pid, line, s.cfg.Timeout))
		if w.timedOut == nil {
			w.timedOut = map[int]int64{}
		}
		w.timedOut[i] = st
		s.procs.notify(w.pid, workerproto.Notice{TimedOut: true, Slot: i, Start: st})
		s.retire(w, causeTimeout, now)
		s.killBy(w, now.Add(s.cfg.GracefulTimeout+exitMargin))
	}
}

// reconcile starts workers until the current generation has target live
// ones; after a crash not before respawnAt, for which it returns the delay
// when no respawnEvent is on its way yet.
func (s *supervisor) reconcile(now time.Time) time.Duration {
	live := s.liveInGen(s.gen)
	if live >= s.target {
		return 0
	}
	if d := s.respawnAt.Sub(now); d > 0 {
		if s.timerSet {
			return 0
		}
		s.timerSet = true
		return d
	}
	for ; live < s.target; live++ {
		if err := s.spawn(now); err != nil {
			s.log.Error(err.Error())
			return 0
		}
	}
	return 0
}

// release forgets a worker that is gone (or being killed): its exact final
// counts move to the metrics' retired totals (the board outlives the
// process), then the master's mapping of its board is unmapped.
func (s *supervisor) release(w *worker) {
	delete(s.workers, w.pid)
	s.metrics.update(w.pid, w.num, w.board.Snapshot(), 0)
	s.metrics.exited(w.pid)
	w.board.Close()
}

// freeNum is the lowest worker number no live worker has.
func (s *supervisor) freeNum() int {
	used := map[int]bool{}
	for _, w := range s.workers {
		used[w.num] = true
	}
	n := 1
	for used[n] {
		n++
	}
	return n
}

func (s *supervisor) readyInGen(gen int) int {
	n := 0
	for _, w := range s.workers {
		if w.gen == gen && w.ready && w.retiring == "" {
			n++
		}
	}
	return n
}

func (s *supervisor) liveInGen(gen int) int {
	n := 0
	for _, w := range s.workers {
		if w.gen == gen && w.retiring == "" {
			n++
		}
	}
	return n
}

// byPID lists the workers in pid order, so that what the supervisor picks
// among them (TTOU's victim, the order of signals) does not depend on map order.
func (s *supervisor) byPID() []*worker {
	ws := make([]*worker, 0, len(s.workers))
	for _, w := range s.workers {
		ws = append(ws, w)
	}
	slices.SortFunc(ws, func(a, b *worker) int { return a.pid - b.pid })
	return ws
}

func (s *supervisor) signalAll(sig syscall.Signal) {
	for _, w := range s.byPID() {
		s.procs.signal(w.pid, sig)
	}
}

// forget drops a worker that exited while the master stops.
func (s *supervisor) forget(pid int) {
	if w, ok := s.workers[pid]; ok {
		s.release(w)
	}
}
