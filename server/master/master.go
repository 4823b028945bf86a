package master

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ExitError asks the caller to exit with Code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Master binds the listeners and supervises worker processes: each worker is
// the chosen Python interpreter, started with fork+exec, given the listener
// fds and its settings (workerproto). The master never imports Python and
// never links cgo. Its decisions are the supervisor's; Run feeds it signals,
// worker statuses and exits, and timer ticks.
type Master struct {
	cfg       Config
	log       *slog.Logger
	listeners []*listener
	events    chan any
	metrics   *metrics
	sup       *supervisor
	exec      *execProcs
}

// New validates cfg and binds its listeners.
func New(cfg Config, logger *slog.Logger) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	spec, _ := ParseAppSpec(cfg.App)
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
	m := &Master{cfg: cfg, log: logger, events: make(chan any, 64), metrics: newMetrics()}
	p := &execProcs{app: cfg.App, user: cfg.User, log: logger, capture: cfg.CaptureOutput, events: m.events}
	m.exec = p
	var err error
	if p.python, err = resolvePython(cfg.Python); err != nil {
		return nil, err
	}
	libdir, err := resolveLibDir(cfg.LibDir)
	if err != nil {
		return nil, err
	}
	if cfg.Chdir != "" {
		if st, err := os.Stat(cfg.Chdir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("--chdir %s: not a directory", cfg.Chdir)
		}
	}
	if p.cred, err = credential(cfg.User, cfg.Group); err != nil {
		return nil, err
	}
	if m.listeners, err = listen(cfg.Bind, listenOptions{Backlog: cfg.Backlog, Umask: cfg.Umask, TLS: cfg.TLS.Enabled()}); err != nil {
		return nil, err
	}
	if err := m.loadTLS(); err != nil {
		closeListeners(m.listeners)
		return nil, err
	}
	if cfg.PidFile != "" {
		if err := os.WriteFile(cfg.PidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			closeListeners(m.listeners)
			return nil, fmt.Errorf("--pid %s: %w", cfg.PidFile, err)
		}
	}
	for _, l := range m.listeners {
		p.listeners = append(p.listeners, l.File)
	}
	p.base = workerConfig(&cfg, spec, libdir)
	p.base.TLSListeners = m.tlsListeners()
	m.sup = newSupervisor(cfg, p, logger, m.metrics, sdNotify, rand.IntN)
	return m, nil
}

// Run supervises the workers until ctx ends or a stop signal.
//
//	TERM      graceful stop: stop accepting, finish in-flight requests (--graceful-timeout)
//	INT, QUIT fast stop
//	HUP       graceful reload: new workers (re-importing the code) first, then the old ones drain
//	TTIN/TTOU one worker more / less
//	USR1      reopen log files (forwarded to workers)
func (m *Master) Run(ctx context.Context) error {
	defer closeListeners(m.listeners)
	if m.cfg.PidFile != "" {
		defer os.Remove(m.cfg.PidFile)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	setProcName("wsgikit master")
	for _, l := range m.listeners {
		m.log.Info(fmt.Sprintf("listening at: %s (%d)", displayAddr(l.Addr, l.TLS), os.Getpid()))
	}
	if m.cfg.MetricsBind != "" {
		ln, err := m.metrics.serve(m.cfg.MetricsBind)
		if err != nil {
			return err
		}
		defer ln.Close()
		m.log.Info(fmt.Sprintf("metrics at: http://%s/metrics", ln.Addr()))
	}
	var watchDirs []string
	var sources map[string]sourceStamp
	if m.cfg.Reload {
		watchDirs = append([]string{m.cfg.Chdir}, m.cfg.PythonPath...)
		if watchDirs[0] == "" {
			watchDirs[0], _ = os.Getwd()
		}
		sources = scanSources(watchDirs)
	}
	if err := m.sup.start(time.Now()); err != nil {
		m.stop(syscall.SIGKILL, 0)
		return err
	}
	if m.cfg.Reload {
		go watchSources(ctx, watchDirs, sources, func(changed string) { m.events <- sourceChanged{changed} })
	}
	trimExecutable()
	tick := time.NewTicker(min(250*time.Millisecond, m.cfg.Heartbeat))
	defer tick.Stop()
	for {
		var ev any
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
				m.reloadTLS()
				ev = reloadEvent{}
			case syscall.SIGTTIN:
				ev = scaleEvent{+1}
			case syscall.SIGTTOU:
				ev = scaleEvent{-1}
			case syscall.SIGUSR1:
				if m.cfg.ErrorLog != nil {
					if err := m.cfg.ErrorLog.Reopen(); err != nil {
						m.log.Error(err.Error())
					}
				}
				m.log.Info("USR1: reopening log files")
				ev = forwardEvent{syscall.SIGUSR1}
			}
		case ev = <-m.events:
			if sc, ok := ev.(sourceChanged); ok {
				m.log.Info(fmt.Sprintf("%s changed: reloading (--reload)", sc.path))
				ev = reloadEvent{}
			}
		case <-tick.C:
			ev = tickEvent{}
		}
		respawnIn, err := m.sup.handle(ev, time.Now())
		if err != nil {
			m.stop(syscall.SIGTERM, m.cfg.GracefulTimeout)
			return err
		}
		if respawnIn > 0 {
			time.AfterFunc(respawnIn, func() { m.events <- respawnEvent{} })
		}
	}
}

// sourceChanged is the --reload watcher's news: path changed.
type sourceChanged struct{ path string }

func displayAddr(a string, tls bool) string {
	switch {
	case strings.HasPrefix(a, "unix:") && tls:
		return a + " (TLS)"
	case strings.HasPrefix(a, "unix:"):
		return a
	case tls:
		return "https://" + a
	}
	return "http://" + a
}

// stop signals every worker and waits up to grace, then kills what is left.
func (m *Master) stop(sig syscall.Signal, grace time.Duration) error {
	sdNotify("STOPPING=1")
	m.sup.signalAll(sig)
	deadline := time.After(grace + time.Second)
	for len(m.sup.workers) > 0 {
		select {
		case ev := <-m.events:
			if ex, ok := ev.(exitEvent); ok {
				m.sup.forget(ex.pid)
			}
		case <-deadline:
			m.log.Error(fmt.Sprintf("workers still running after %v: killing them", grace))
			m.sup.signalAll(syscall.SIGKILL)
			deadline = time.After(5 * time.Second)
		}
	}
	return nil
}
