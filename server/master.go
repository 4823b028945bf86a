package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wsgikit/wsgikit/server/workerproto"
)

// ExitError asks the caller to exit with Code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Release is wsgikit's version; Version is what the server reports as
// SERVER_SOFTWARE.
const (
	Release = "0.1.0"
	Version = "wsgikit/" + Release
)

// Why a worker was retired or replaced (logs and metrics).
const (
	CauseCrash        = "crash"
	CauseTimeout      = "timeout"
	CauseMaxRequests  = "max-requests"
	CauseRSS          = "rss"
	CauseReload       = "reload"
	CauseScaleDown    = "scale-down"
	CauseUnresponsive = "unresponsive"
)

// Master binds the listeners and supervises worker processes: each worker is
// the chosen Python interpreter, started with fork+exec (never a bare fork:
// the Go runtime is running), given the listener fds and its settings. The
// master never imports Python and never links cgo.
type Master struct {
	cfg       Config
	spec      AppSpec
	python    string
	libdir    string
	log       *slog.Logger
	listeners []*Listener

	target       int
	workers      map[int]*workerProc
	gen          int // bumps on every reload; workers of older generations retire
	events       chan any
	metrics      *metrics
	cred         *syscall.Credential // --user/--group
	ready        bool                // systemd told READY=1
	respawnTimer bool                // a delayed respawn is pending
}

type workerProc struct {
	pid         int
	cmd         *exec.Cmd
	ctl         *os.File // write end of the control pipe: closing it stops the worker
	board       *workerproto.Scoreboard
	boardF      *os.File
	gen         int
	started     time.Time
	ready       bool
	retiring    string // cause, once asked to stop
	pendingTerm bool   // retiring, TERM not sent yet (waits for a ready replacement)
	limit       uint64 // max requests for this worker (with jitter), 0 none
	lastBeat    time.Time
	killedBy    string // set when the master killed it (timeout)
}

type exitEvent struct {
	pid   int
	state *os.ProcessState
}

type respawnEvent struct{}

type reloadEvent struct{ changed string }

// reload starts a new generation of workers (re-importing the code); the old
// ones are retired once all new ones are ready (see onStatus).
func (m *Master) reload() {
	Notify("RELOADING=1")
	m.gen++
	for i := 0; i < m.target; i++ {
		if err := m.spawn(); err != nil {
			m.log.Error(err.Error())
		}
	}
}

type statusEvent struct {
	pid    int
	status workerproto.Status
}

// NewMaster validates cfg and binds its listeners.
func NewMaster(cfg Config, logger *slog.Logger) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	spec, _ := ParseAppSpec(cfg.App)
	var err error
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 1
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.GracefulTimeout <= 0 {
		cfg.GracefulTimeout = 30 * time.Second
	}
	if len(cfg.Bind) == 0 {
		cfg.Bind = []string{"127.0.0.1:8000"}
	}
	m := &Master{cfg: cfg, spec: spec, log: logger, target: cfg.Workers, workers: map[int]*workerProc{},
		events: make(chan any, 64), metrics: newMetrics()}
	if m.python, err = resolvePython(cfg.Python); err != nil {
		return nil, err
	}
	if m.libdir, err = resolveLibDir(cfg.LibDir); err != nil {
		return nil, err
	}
	if cfg.Chdir != "" {
		if st, err := os.Stat(cfg.Chdir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("--chdir %s: not a directory", cfg.Chdir)
		}
	}
	if m.cred, err = credential(cfg.User, cfg.Group); err != nil {
		return nil, err
	}
	if m.cred != nil && cfg.ErrorLog != nil {
		cfg.ErrorLog.SetOwner(int(m.cred.Uid), int(m.cred.Gid))
	}
	if m.listeners, err = Listen(cfg.Bind, ListenOptions{Backlog: cfg.Backlog, Umask: cfg.Umask}); err != nil {
		return nil, err
	}
	if cfg.PidFile != "" {
		if err := os.WriteFile(cfg.PidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			CloseListeners(m.listeners)
			return nil, fmt.Errorf("--pid %s: %w", cfg.PidFile, err)
		}
	}
	return m, nil
}

// CheckConfig validates cfg and starts one worker that imports the app and
// loads the extension, then exits: --check-config.
func CheckConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	spec, _ := ParseAppSpec(cfg.App)
	python, err := resolvePython(cfg.Python)
	if err != nil {
		return err
	}
	libdir, err := resolveLibDir(cfg.LibDir)
	if err != nil {
		return err
	}
	wc := workerproto.Config{Module: spec.Module, Callable: spec.Callable, Factory: spec.Factory, Chdir: cfg.Chdir,
		PythonPath: cfg.PythonPath, LibDir: libdir, CheckOnly: true}
	cmd := workerproto.Command(python, &wc)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		code := cmd.ProcessState.ExitCode()
		if workerproto.Permanent(code) {
			return &ExitError{Code: code, Err: fmt.Errorf("check failed (see above)")}
		}
		return fmt.Errorf("check: worker %s: %v", python, err)
	}
	return nil
}

// Addrs are the bound addresses (with the real port when 0 was asked).
func (m *Master) Addrs() []string {
	var out []string
	for _, l := range m.listeners {
		out = append(out, l.Addr)
	}
	return out
}

func resolvePython(p string) (string, error) {
	if p == "" {
		p = "/usr/bin/python3"
	}
	if !strings.Contains(p, "/") {
		lp, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("--python %s: not found on PATH; give the interpreter's path, e.g. /usr/bin/python3", p)
		}
		p = lp
	}
	abs, err := filepath.Abs(p) // not EvalSymlinks: a venv's bin/python is a symlink that must stay one
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(abs); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("--python %s: not an executable interpreter", p)
	}
	return abs, nil
}

func resolveLibDir(d string) (string, error) {
	if d == "" {
		d = os.Getenv("WSGIKIT_LIBDIR")
	}
	if d == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find the worker library: %w", err)
		}
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		d = filepath.Join(filepath.Dir(exe), "lib")
	}
	return filepath.Abs(d)
}

// spawn starts one worker, with the descriptors workerproto.Pass lays out.
func (m *Master) spawn() error {
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("spawn worker: %w", err)
	}
	stR, stW, err := os.Pipe()
	if err != nil {
		ctlR.Close()
		ctlW.Close()
		return fmt.Errorf("spawn worker: %w", err)
	}
	board, boardF, err := workerproto.NewScoreboard(m.cfg.Threads)
	if err != nil {
		ctlR.Close()
		ctlW.Close()
		stR.Close()
		stW.Close()
		return err
	}
	c := m.cfg
	var lfiles []*os.File
	for _, l := range m.listeners {
		lfiles = append(lfiles, l.File)
	}
	extra, fds := workerproto.Pass(lfiles, ctlR, stW, boardF)
	wc := workerproto.Config{
		Module: m.spec.Module, Callable: m.spec.Callable, Factory: m.spec.Factory,
		Chdir: c.Chdir, PythonPath: c.PythonPath, LibDir: m.libdir, FDs: fds,
		Heartbeat: workerproto.Duration(c.Heartbeat), Threads: c.Threads, Multiprocess: c.Workers > 1,
		KeepAlive: workerproto.Duration(c.KeepAlive), HeaderTimeout: workerproto.Duration(c.HeaderTimeout),
		GracefulTimeout: workerproto.Duration(c.GracefulTimeout), Limits: c.Limits(),
		ScriptName: c.ScriptName, LogLevel: c.LogLevel, LogJSON: c.LogJSON, AccessLog: c.AccessLog,
		AccessLogFormat: c.AccessLogFormat, Software: Version, Static: c.Static,
		ForwardedAllow: c.ForwardedAllowIPs, ProxyProtocol: c.ProxyProtocol, ProxyAllowFrom: c.ProxyAllowFrom,
		MaxConnections: c.MaxConnections,
	}
	var limit uint64
	if c.MaxRequests > 0 {
		limit = uint64(c.MaxRequests)
		if c.MaxRequestsJitter > 0 {
			limit += uint64(rand.IntN(c.MaxRequestsJitter + 1))
		}
	}
	wc.MaxRequests = limit
	if c.ErrorLog != nil {
		wc.ErrorLogPath = c.ErrorLog.Path()
	}
	cmd := workerproto.Command(m.python, &wc)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if c.ErrorLog != nil {
		cmd.Stderr = c.ErrorLog.File()
	}
	if m.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: m.cred}
	}
	cmd.ExtraFiles = extra
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
	err = cmd.Start()
	ctlR.Close()
	stW.Close()
	if err != nil {
		ctlW.Close()
		stR.Close()
		boardF.Close()
		if m.cred != nil && errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("spawn worker %s: %w: uid %d (--user %s) cannot run it; give an interpreter that user can read (e.g. not under /root) or another --user", m.python, err, m.cred.Uid, c.User)
		}
		return fmt.Errorf("spawn worker %s: %w", m.python, err)
	}
	w := &workerProc{pid: cmd.Process.Pid, cmd: cmd, ctl: ctlW, board: board, boardF: boardF, gen: m.gen, started: time.Now(), lastBeat: time.Now(), limit: limit}
	m.workers[w.pid] = w
	m.log.Info(fmt.Sprintf("booting worker with pid %d", w.pid))
	go m.readStatus(w.pid, stR)
	go func() {
		cmd.Wait()
		m.events <- exitEvent{pid: w.pid, state: cmd.ProcessState}
	}()
	return nil
}

// readStatus forwards a worker's status messages to the master loop.
func (m *Master) readStatus(pid int, r *os.File) {
	defer r.Close()
	sr := workerproto.NewStatusReader(r)
	for {
		st, err := sr.Next()
		if err != nil {
			return
		}
		m.events <- statusEvent{pid: pid, status: st}
	}
}

// Run supervises the workers until ctx ends or a stop signal.
//
//	TERM      graceful stop: stop accepting, finish in-flight requests (--graceful-timeout)
//	INT, QUIT fast stop
//	HUP       graceful reload: new workers (re-importing the code) first, then the old ones drain
//	TTIN/TTOU one worker more / less
//	USR1      reopen log files (forwarded to workers)
func (m *Master) Run(ctx context.Context) error {
	defer CloseListeners(m.listeners)
	if m.cfg.PidFile != "" {
		defer os.Remove(m.cfg.PidFile)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	for _, a := range m.Addrs() {
		m.log.Info(fmt.Sprintf("listening at: %s (%d)", displayAddr(a), os.Getpid()))
	}
	if m.cfg.MetricsBind != "" {
		ln, err := m.metrics.serve(m.cfg.MetricsBind)
		if err != nil {
			return err
		}
		defer ln.Close()
		m.log.Info(fmt.Sprintf("metrics at: http://%s/metrics", ln.Addr()))
	}
	for i := 0; i < m.target; i++ {
		if err := m.spawn(); err != nil {
			m.stop(syscall.SIGKILL, 0)
			return err
		}
	}
	if m.cfg.Reload {
		dirs := append([]string{m.cfg.Chdir}, m.cfg.PythonPath...)
		if dirs[0] == "" {
			dirs[0], _ = os.Getwd()
		}
		go watchSources(ctx, dirs, func(changed string) { m.events <- reloadEvent{changed} })
	}
	TrimExecutable()
	tick := time.NewTicker(min(250*time.Millisecond, m.cfg.Heartbeat))
	defer tick.Stop()
	backoff := 100 * time.Millisecond
	var respawnAt time.Time
	for {
		select {
		case <-ctx.Done():
			return m.stop(syscall.SIGTERM, m.cfg.GracefulTimeout)
		case s := <-sigs:
			switch s {
			case syscall.SIGTERM:
				m.log.Info(fmt.Sprintf("TERM: graceful stop (in-flight requests get %v)", m.cfg.GracefulTimeout))
				return m.stop(syscall.SIGTERM, m.cfg.GracefulTimeout)
			case syscall.SIGINT, syscall.SIGQUIT:
				m.log.Info(fmt.Sprintf("%v: fast stop", s))
				return m.stop(syscall.SIGINT, 2*time.Second)
			case syscall.SIGHUP:
				m.log.Info("HUP: reloading: new workers first, then the old ones drain")
				m.reload()
			case syscall.SIGTTIN:
				m.target++
				m.log.Info(fmt.Sprintf("TTIN: %d workers", m.target))
			case syscall.SIGTTOU:
				if m.target > 1 {
					m.target--
					m.log.Info(fmt.Sprintf("TTOU: %d workers", m.target))
					m.scaleDown()
				}
			case syscall.SIGUSR1:
				if m.cfg.ErrorLog != nil {
					if err := m.cfg.ErrorLog.Reopen(); err != nil {
						m.log.Error(err.Error())
					}
				}
				m.log.Info("USR1: reopening log files")
				m.signalAll(syscall.SIGUSR1)
			}
		case ev := <-m.events:
			switch ev := ev.(type) {
			case statusEvent:
				m.onStatus(ev)
			case exitEvent:
				if err := m.onExit(ev, &backoff, &respawnAt); err != nil {
					return err
				}
			case respawnEvent:
				m.respawnTimer = false
			case reloadEvent:
				m.log.Info(fmt.Sprintf("%s changed: reloading (--reload)", ev.changed))
				m.reload()
			}
		case now := <-tick.C:
			m.check(now)
		}
		m.reconcile(&respawnAt)
	}
}

func displayAddr(a string) string {
	if strings.HasPrefix(a, "unix:") {
		return a
	}
	return "http://" + a
}

func (m *Master) onStatus(ev statusEvent) {
	w, ok := m.workers[ev.pid]
	if !ok {
		return
	}
	w.lastBeat = time.Now()
	if ev.status == workerproto.Ready && !w.ready {
		w.ready = true
		if !m.ready {
			m.ready = true
			Notify("READY=1")
		}
		// A reload completes when every worker of the new generation is up:
		// only then do the old ones stop accepting.
		if w.gen == m.gen && m.readyInGen(m.gen) >= m.target {
			retired := 0
			for _, o := range m.workers {
				if o.gen < m.gen && o.retiring == "" {
					m.retire(o, CauseReload)
					retired++
				}
			}
			if retired > 0 {
				m.log.Info(fmt.Sprintf("reload done: %d new workers serving, %d old ones draining", m.target, retired))
				Notify("READY=1")
			}
		}
	}
	if ev.status == workerproto.Recycle && w.retiring == "" {
		m.log.Info(fmt.Sprintf("worker %d served %d requests (--max-requests): recycling it", w.pid, w.limit))
		m.retire(w, CauseMaxRequests)
	}
	m.termPending()

}

func (m *Master) readyInGen(gen int) int {
	n := 0
	for _, w := range m.workers {
		if w.gen == gen && w.ready && w.retiring == "" {
			n++
		}
	}
	return n
}

// retire asks a worker to stop gracefully: it stops accepting and finishes
// what it serves. The TERM waits until enough other workers are ready (its
// replacement, for recycling), so there is never a moment with nobody accepting.
func (m *Master) retire(w *workerProc, cause string) {
	if w.retiring != "" {
		return
	}
	w.retiring = cause
	w.pendingTerm = true
	m.metrics.restart(cause)
	m.termPending()
}

func (m *Master) termPending() {
	for _, w := range m.workers {
		if w.pendingTerm && m.readyInGen(m.gen) >= min(m.target, 1) {
			w.pendingTerm = false
			syscall.Kill(w.pid, syscall.SIGTERM)
		}
	}
}

func (m *Master) scaleDown() {
	for _, w := range m.workers {
		if w.retiring == "" {
			m.retire(w, CauseScaleDown)
			return
		}
	}
}

func (m *Master) onExit(ev exitEvent, backoff *time.Duration, respawnAt *time.Time) error {
	w, ok := m.workers[ev.pid]
	if !ok {
		return nil
	}
	delete(m.workers, ev.pid)
	w.ctl.Close()
	w.boardF.Close()
	m.metrics.update(ev.pid, w.board.Snapshot(), 0) // exact final counts: the board outlives the worker
	m.metrics.exited(ev.pid)
	code := ev.state.ExitCode()
	if workerproto.Permanent(code) && !w.ready {
		if w.gen > 0 && m.liveInGen(w.gen-1) > 0 {
			// A reload whose new code does not import: keep serving the old.
			m.log.Error(fmt.Sprintf("reload failed: worker %d could not start (exit code %d); the previous workers keep serving", ev.pid, code))
			m.gen--
			for pid, o := range m.workers {
				if o.gen > m.gen {
					delete(m.workers, pid)
					o.ctl.Close()
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		}
		m.stop(syscall.SIGTERM, m.cfg.GracefulTimeout)
		what := "the application could not be imported (see the traceback above)"
		if code == workerproto.ExitNoExt {
			what = "the worker extension is missing for this interpreter (see above)"
		}
		return &ExitError{Code: code, Err: errors.New(what)}
	}
	up := time.Since(w.started)
	if w.retiring != "" {
		m.log.Info(fmt.Sprintf("worker %d stopped (%s, %s) after %v", ev.pid, w.retiring, describeExit(ev.state), up.Round(time.Millisecond)))
		return nil
	}
	cause := CauseCrash
	if w.killedBy != "" {
		cause = w.killedBy
	}
	m.metrics.restart(cause)
	serving := ""
	for i := 0; i < w.board.Slots(); i++ {
		if _, line, ok := w.board.Read(i); ok {
			serving += fmt.Sprintf(" while serving %q", line)
		}
	}
	m.log.Error(fmt.Sprintf("worker %d died (%s) after %v%s; replacing it", ev.pid, describeExit(ev.state), up.Round(time.Millisecond), serving))
	if up > 10*time.Second {
		*backoff = 100 * time.Millisecond
	}
	*respawnAt = time.Now().Add(*backoff)
	*backoff = min(2**backoff, 5*time.Second)
	return nil
}

func (m *Master) liveInGen(gen int) int {
	n := 0
	for _, w := range m.workers {
		if w.gen == gen && w.retiring == "" {
			n++
		}
	}
	return n
}

// check enforces --timeout, --reload-on-rss and liveness, and refreshes
// the metrics from the scoreboards.
func (m *Master) check(now time.Time) {
	for _, w := range m.workers {
		rss := processRSSMB(w.pid)
		m.metrics.update(w.pid, w.board.Snapshot(), rss*(1<<20))
		if stale := max(10*m.cfg.Heartbeat, 30*time.Second); w.killedBy == "" && now.Sub(w.lastBeat) > stale {
			m.log.Error(fmt.Sprintf("worker %d sent no heartbeat for %v: killing it", w.pid, stale))
			w.killedBy = CauseUnresponsive
			syscall.Kill(w.pid, syscall.SIGKILL)
		}
		if m.cfg.Timeout > 0 && w.killedBy == "" {
			for i := 0; i < w.board.Slots(); i++ {
				st, line, ok := w.board.Read(i)
				if ok && now.Sub(time.Unix(0, st)) > m.cfg.Timeout {
					m.log.Error(fmt.Sprintf("worker %d: request %q ran over --timeout %v; killing the worker", w.pid, line, m.cfg.Timeout))
					w.killedBy = CauseTimeout
					syscall.Kill(w.pid, syscall.SIGKILL)
					break
				}
			}
		}
		if w.retiring != "" || !w.ready {
			continue
		}
		if m.cfg.ReloadOnRSSMB > 0 {
			if rss > m.cfg.ReloadOnRSSMB {
				m.log.Info(fmt.Sprintf("worker %d uses %.0f MB RSS (--reload-on-rss %.0f): recycling it", w.pid, rss, m.cfg.ReloadOnRSSMB))
				m.retire(w, CauseRSS)
			}
		}
	}
}

// reconcile starts workers until the current generation has target live
// ones (after a crash: not before respawnAt).
func (m *Master) reconcile(respawnAt *time.Time) {
	live := m.liveInGen(m.gen)
	if live >= m.target {
		return
	}
	if d := time.Until(*respawnAt); d > 0 {
		if !m.respawnTimer {
			m.respawnTimer = true
			time.AfterFunc(d, func() { m.events <- respawnEvent{} })
		}
		return
	}
	for ; live < m.target; live++ {
		if err := m.spawn(); err != nil {
			m.log.Error(err.Error())
			return
		}
	}
}

// credential resolves --user/--group for the workers.
func credential(u, g string) (*syscall.Credential, error) {
	if u == "" && g == "" {
		return nil, nil
	}
	if os.Getuid() != 0 {
		return nil, fmt.Errorf("--user/--group: the master must run as root to start workers as another user")
	}
	cred := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid()), NoSetGroups: true}
	if u != "" {
		usr, err := user.Lookup(u)
		if err != nil {
			if usr, err = user.LookupId(u); err != nil {
				return nil, fmt.Errorf("--user %s: no such user", u)
			}
		}
		uid, _ := strconv.Atoi(usr.Uid)
		gid, _ := strconv.Atoi(usr.Gid)
		cred.Uid, cred.Gid = uint32(uid), uint32(gid)
	}
	if g != "" {
		grp, err := user.LookupGroup(g)
		if err != nil {
			if grp, err = user.LookupGroupId(g); err != nil {
				return nil, fmt.Errorf("--group %s: no such group", g)
			}
		}
		gid, _ := strconv.Atoi(grp.Gid)
		cred.Gid = uint32(gid)
	}
	return cred, nil
}

func processRSSMB(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseFloat(f[1], 64)
	return pages * float64(os.Getpagesize()) / (1 << 20)
}

func describeExit(st *os.ProcessState) string {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by signal " + ws.Signal().String()
	}
	return fmt.Sprintf("exit code %d", st.ExitCode())
}

func (m *Master) signalAll(sig syscall.Signal) {
	for pid := range m.workers {
		syscall.Kill(pid, sig)
	}
}

// stop signals every worker and waits up to grace, then kills what is left.
func (m *Master) stop(sig syscall.Signal, grace time.Duration) error {
	Notify("STOPPING=1")
	m.signalAll(sig)
	deadline := time.After(grace + time.Second)
	for len(m.workers) > 0 {
		select {
		case ev := <-m.events:
			if ex, ok := ev.(exitEvent); ok {
				if w, ok := m.workers[ex.pid]; ok {
					w.ctl.Close()
					w.boardF.Close()
					delete(m.workers, ex.pid)
				}
			}
		case <-deadline:
			m.log.Error(fmt.Sprintf("workers still running after %v: killing them", grace))
			m.signalAll(syscall.SIGKILL)
			deadline = time.After(5 * time.Second)
		}
	}
	return nil
}
