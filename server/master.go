package server

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

//go:embed boot.py
var bootPy string

// Worker exit codes that mean "restarting cannot help".
const (
	ExitImport = 3 // the application could not be imported
	ExitNoExt  = 4 // no _wsgikit build for the interpreter
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

// Master binds the listeners and supervises worker processes: each worker is
// the chosen Python interpreter, started with fork+exec (never a bare fork:
// the Go runtime is running), given the listener fds and its settings.
type Master struct {
	cfg    Config
	spec   AppSpec
	python string
	libdir string
	log    *log.Logger

	listeners []*os.File
	addrs     []string

	mu       sync.Mutex
	workers  map[int]*workerProc
	stopping bool
	exits    chan workerExit
}

type workerProc struct {
	cmd     *exec.Cmd
	ctl     *os.File // write end of the control pipe: closing it stops the worker
	started time.Time
}

type workerExit struct {
	pid   int
	state *os.ProcessState
	err   error
	up    time.Duration
}

// NewMaster validates cfg and binds its listeners.
func NewMaster(cfg Config, logger *log.Logger) (*Master, error) {
	spec, err := ParseAppSpec(cfg.App)
	if err != nil {
		return nil, err
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 1
	}
	if len(cfg.Bind) == 0 {
		cfg.Bind = []string{"127.0.0.1:8000"}
	}
	m := &Master{cfg: cfg, spec: spec, log: logger, workers: map[int]*workerProc{}, exits: make(chan workerExit, 16)}
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
	for _, b := range cfg.Bind {
		f, addr, err := listen(b)
		if err != nil {
			m.closeListeners()
			return nil, err
		}
		m.listeners = append(m.listeners, f)
		m.addrs = append(m.addrs, addr)
	}
	return m, nil
}

// Addrs are the bound addresses (with the real port when 0 was asked).
func (m *Master) Addrs() []string { return m.addrs }

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

// listen binds HOST:PORT (or [v6]:PORT) and returns the socket as a file to
// pass to workers.
func listen(bind string) (*os.File, string, error) {
	if strings.HasPrefix(bind, "unix:") || strings.HasPrefix(bind, "fd://") {
		return nil, "", fmt.Errorf("bind %s: only HOST:PORT binds are supported so far", bind)
	}
	if !strings.Contains(bind, ":") {
		bind += ":8000"
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, "", fmt.Errorf("bind %s: %w", bind, err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, "", fmt.Errorf("bind %s: %w", bind, err)
	}
	return f, ln.Addr().String(), nil
}

func (m *Master) closeListeners() {
	for _, f := range m.listeners {
		f.Close()
	}
}

func (m *Master) workerConfig(ctlFD int) WorkerConfig {
	c := m.cfg
	return WorkerConfig{
		Module: m.spec.Module, Callable: m.spec.Callable, Factory: m.spec.Factory,
		Chdir: c.Chdir, PythonPath: c.PythonPath, LibDir: m.libdir,
		ListenFD: 3, ControlFD: ctlFD, Threads: c.Threads, Multiprocess: c.Workers > 1,
		KeepAlive: Duration(c.KeepAlive), HeaderTimeout: Duration(c.HeaderTimeout),
		GracefulTimeout: Duration(c.GracefulTimeout), Limits: c.Limits(),
		ScriptName: c.ScriptName, Debug: c.Debug, Software: Version, Static: c.Static,
	}
}

func (m *Master) spawn() error {
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("spawn worker: %w", err)
	}
	// fd 3: the listener; fd 4: the control pipe (EOF = the master is gone).
	wc := m.workerConfig(4)
	raw, _ := json.Marshal(wc)
	cmd := exec.Command(m.python, "-c", bootPy)
	cmd.Args[0] = m.python
	cmd.Env = append(os.Environ(), "WSGIKIT_WORKER="+string(raw))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{m.listeners[0], ctlR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		ctlR.Close()
		ctlW.Close()
		return fmt.Errorf("spawn worker %s: %w", m.python, err)
	}
	ctlR.Close()
	w := &workerProc{cmd: cmd, ctl: ctlW, started: time.Now()}
	m.mu.Lock()
	m.workers[cmd.Process.Pid] = w
	m.mu.Unlock()
	m.log.Printf("booting worker with pid %d", cmd.Process.Pid)
	go func() {
		err := cmd.Wait()
		m.exits <- workerExit{pid: cmd.Process.Pid, state: cmd.ProcessState, err: err, up: time.Since(w.started)}
	}()
	return nil
}

func (m *Master) signalAll(sig syscall.Signal) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for pid := range m.workers {
		syscall.Kill(pid, sig)
	}
}

// Run supervises the workers until ctx ends or a stop signal: TERM is a
// graceful stop (in-flight requests finish within the graceful timeout),
// INT and QUIT are fast stops.
func (m *Master) Run(ctx context.Context) error {
	defer m.closeListeners()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	for _, a := range m.addrs {
		m.log.Printf("listening at: http://%s (%d)", a, os.Getpid())
	}
	for i := 0; i < m.cfg.Workers; i++ {
		if err := m.spawn(); err != nil {
			m.stop(syscall.SIGKILL, 0)
			return err
		}
	}
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return m.stop(syscall.SIGTERM, m.cfg.GracefulTimeout)
		case s := <-sigs:
			switch s {
			case syscall.SIGTERM:
				m.log.Printf("TERM: graceful stop")
				return m.stop(syscall.SIGTERM, m.cfg.GracefulTimeout)
			case syscall.SIGHUP:
				m.log.Printf("HUP: starting new workers, then stopping the old ones")
				m.reload()
			default:
				m.log.Printf("%v: fast stop", s)
				return m.stop(syscall.SIGINT, 2*time.Second)
			}
		case ex := <-m.exits:
			m.mu.Lock()
			w, known := m.workers[ex.pid]
			delete(m.workers, ex.pid)
			m.mu.Unlock()
			if !known {
				continue // an old worker retired by a reload
			}
			w.ctl.Close()
			code := ex.state.ExitCode()
			if code == ExitImport || code == ExitNoExt {
				m.stop(syscall.SIGTERM, m.cfg.GracefulTimeout)
				what := "the application could not be imported (see the traceback above)"
				if code == ExitNoExt {
					what = "the worker extension is missing for this interpreter (see above)"
				}
				return &ExitError{Code: code, Err: errors.New(what)}
			}
			m.log.Printf("worker %d exited (%s) after %v; starting a new one", ex.pid, describeExit(ex.state), ex.up.Round(time.Millisecond))
			if ex.up > 10*time.Second {
				backoff = 100 * time.Millisecond
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return m.stop(syscall.SIGTERM, m.cfg.GracefulTimeout)
			}
			backoff = min(2*backoff, 5*time.Second)
			if err := m.spawn(); err != nil {
				m.log.Print(err)
			}
		}
	}
}

// reload starts a fresh set of workers (re-importing the code), then retires
// the old ones gracefully; the listener never closes, so no request is refused.
func (m *Master) reload() {
	m.mu.Lock()
	old := make(map[int]*workerProc, len(m.workers))
	for pid, w := range m.workers {
		old[pid] = w
	}
	m.mu.Unlock()
	for i := 0; i < m.cfg.Workers; i++ {
		if err := m.spawn(); err != nil {
			m.log.Print(err)
			return
		}
	}
	m.mu.Lock()
	for pid, w := range old {
		delete(m.workers, pid)
		syscall.Kill(pid, syscall.SIGTERM)
		w.ctl.Close()
	}
	m.mu.Unlock()
}

func describeExit(st *os.ProcessState) string {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by signal " + ws.Signal().String()
	}
	return fmt.Sprintf("exit code %d", st.ExitCode())
}

// stop signals every worker and waits up to grace, then kills what is left.
func (m *Master) stop(sig syscall.Signal, grace time.Duration) error {
	m.mu.Lock()
	m.stopping = true
	m.mu.Unlock()
	m.signalAll(sig)
	deadline := time.After(grace + time.Second)
	for {
		m.mu.Lock()
		n := len(m.workers)
		m.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case ex := <-m.exits:
			m.mu.Lock()
			if w, ok := m.workers[ex.pid]; ok {
				w.ctl.Close()
				delete(m.workers, ex.pid)
			}
			m.mu.Unlock()
		case <-deadline:
			m.log.Printf("workers still running after %v: killing them", grace)
			m.signalAll(syscall.SIGKILL)
			deadline = time.After(5 * time.Second)
		}
	}
}
