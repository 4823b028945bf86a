package master

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsgikit/wsgikit/server"
	"github.com/wsgikit/wsgikit/server/errorlog"
	"github.com/wsgikit/wsgikit/server/tlsconf"
	"github.com/wsgikit/wsgikit/server/workerproto"
)

// execProcs starts workers as real processes: the interpreter running
// boot.py (fork+exec, never a bare fork: the Go runtime is running) with the
// descriptors workerproto.Pass lays out. Each worker's status messages and
// its exit come back as events.
type execProcs struct {
	python    string
	app       string              // as given, for process titles
	cred      *syscall.Credential // --user/--group; nil: the master's
	user      string              // as given, for messages
	base      workerproto.Config  // every worker's, but for FDs and MaxRequests
	listeners []*os.File
	tls       *tlsconf.Bundle // what TLS listeners serve with (a HUP may replace it); nil: none
	log       *slog.Logger    // where the workers' output goes (errorlog.Relay)
	capture   bool            // the workers' stdout too (--capture-output)
	events    chan<- any      // statusEvent, exitEvent

	mu       sync.Mutex
	controls map[int]*os.File // pid -> the write end of its control pipe, while it lives
}

func (p *execProcs) start(num int, limit uint64) (int, *workerproto.Scoreboard, error) {
	var opened []io.Closer // closed if the start fails
	fail := func(err error) (int, *workerproto.Scoreboard, error) {
		for _, c := range opened {
			c.Close()
		}
		return 0, nil, err
	}
	pipes := make([]*os.File, 0, 6) // control, status, output: read and write ends
	for range 3 {
		r, w, err := os.Pipe()
		if err != nil {
			return fail(fmt.Errorf("spawn worker: %w", err))
		}
		pipes = append(pipes, r, w)
		opened = append(opened, r, w)
	}
	ctlR, ctlW, stR, stW, outR, outW := pipes[0], pipes[1], pipes[2], pipes[3], pipes[4], pipes[5]
	board, boardF, err := workerproto.NewScoreboard(p.base.Threads)
	if err != nil {
		return fail(err)
	}
	opened = append(opened, board, boardF)
	var secret *os.File
	if p.tls != nil {
		if secret, err = workerproto.SecretFile("wsgikit-tls", p.tls.Marshal()); err != nil {
			return fail(err)
		}
		defer secret.Close() // the worker has its own copy once started
	}
	files, fds := workerproto.Pass(p.listeners, ctlR, stW, boardF, secret)
	wc := p.base
	wc.FDs, wc.MaxRequests = fds, limit
	wc.ProcTitle = fmt.Sprintf("wsgikit worker %d [%s]", num, p.app)
	cmd := workerproto.Command(p.python, &wc)
	// The worker's stderr (Python's and the engine's log records) comes to
	// the master, which writes it to the error log in its format (Relay).
	cmd.Stdout, cmd.Stderr = os.Stdout, outW
	if p.capture {
		cmd.Stdout = outW
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: p.cred}
	cmd.ExtraFiles = files
	err = cmd.Start()
	ctlR.Close()
	stW.Close()
	outW.Close()
	if err != nil {
		if p.cred != nil && errors.Is(err, syscall.EACCES) {
			return fail(fmt.Errorf("spawn worker %s: %w: uid %d (--user %s) cannot run it; give an interpreter that user can read (e.g. not under /root) or another --user", p.python, err, p.cred.Uid, p.user))
		}
		return fail(fmt.Errorf("spawn worker %s: %w", p.python, err))
	}
	pid := cmd.Process.Pid
	p.mu.Lock()
	if p.controls == nil {
		p.controls = map[int]*os.File{}
	}
	p.controls[pid] = ctlW
	p.mu.Unlock()
	go p.readStatus(pid, stR)
	relayed := relay(outR, p.log, pid)
	go func() {
		cmd.Wait()
		p.mu.Lock()
		delete(p.controls, pid)
		p.mu.Unlock()
		ctlW.Close() // the worker is gone: its control pipe and board file too (the mapping stays)
		boardF.Close()
		awaitRelay(relayed) // its last words before the news of its exit
		p.events <- exitEvent{pid: pid, code: cmd.ProcessState.ExitCode(), how: describeExit(cmd.ProcessState)}
	}()
	return pid, board, nil
}

// relay logs what process pid writes on r (errorlog.Relay) until EOF, when
// the returned channel closes.
func relay(r *os.File, log *slog.Logger, pid int) <-chan struct{} {
	done := make(chan struct{})
	go func() { errorlog.Relay(r, log, pid); close(done) }()
	return done
}

// awaitRelay waits for a relay to end once its process exited; bounded, as
// a process it started may still hold the pipe.
func awaitRelay(done <-chan struct{}) {
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}

// readStatus forwards a worker's status messages to the master loop.
func (p *execProcs) readStatus(pid int, r *os.File) {
	defer r.Close()
	sr := workerproto.NewStatusReader(r)
	for {
		st, err := sr.Next()
		if err != nil {
			return
		}
		p.events <- statusEvent{pid: pid, status: st}
	}
}

func (p *execProcs) signal(pid int, sig syscall.Signal) { syscall.Kill(pid, sig) }

// notify writes n on the worker's control pipe. A worker reads it at once
// (a goroutine of its own); the deadline only keeps a wedged one from
// holding the master, which then kills it at the graceful timeout anyway.
func (p *execProcs) notify(pid int, n workerproto.Notice) {
	p.mu.Lock()
	f := p.controls[pid]
	p.mu.Unlock()
	if f == nil {
		return
	}
	f.SetWriteDeadline(time.Now().Add(time.Second))
	workerproto.NewNoticeWriter(f).Send(n) // an error: the worker is gone, its exit event comes
}

func (p *execProcs) rssMB(pid int) float64 {
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

// workerConfig is what every worker of cfg is told, but for its descriptors
// and its request limit (execProcs.start adds those).
func workerConfig(c *Config, spec AppSpec, libdir string) workerproto.Config {
	wc := workerproto.Config{
		Module: spec.Module, Callable: spec.Callable, Factory: spec.Factory,
		Chdir: c.Chdir, PythonPath: c.PythonPath, LibDir: libdir,
		Heartbeat: workerproto.Duration(c.Heartbeat), Threads: c.Threads, Multiprocess: c.Workers > 1,
		KeepAlive: workerproto.Duration(c.KeepAlive), HeaderTimeout: workerproto.Duration(c.HeaderTimeout),
		GracefulTimeout: workerproto.Duration(c.GracefulTimeout), Limits: c.Limits(),
		ScriptName: c.ScriptName, LogLevel: c.LogLevel, LogJSON: c.LogJSON, AccessLog: c.AccessLog,
		AccessLogFormat: c.AccessLogFormat, Software: server.Version, Static: c.Static,
		ForwardedAllow: c.ForwardedAllowIPs, ProxyProtocol: c.ProxyProtocol, ProxyAllowFrom: c.ProxyAllowFrom,
		MaxConnections: c.MaxConnections, CaptureOutput: c.CaptureOutput,
	}
	return wc
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
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, outW
	err = cmd.Start()
	outW.Close()
	if err != nil {
		outR.Close()
	} else {
		level, _ := errorlog.ParseLevel(cfg.LogLevel)
		relayed := relay(outR, errorlog.New(os.Stderr, level, cfg.LogJSON), cmd.Process.Pid)
		err = cmd.Wait()
		awaitRelay(relayed)
	}
	if err != nil {
		code := cmd.ProcessState.ExitCode()
		if workerproto.Permanent(code) {
			return &ExitError{Code: code, Err: fmt.Errorf("check failed (see above)")}
		}
		return fmt.Errorf("check: worker %s: %v", python, err)
	}
	return nil
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
