package harness

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wsgikit/wsgikit/internal/httpresp"
)

// Options tune one server instance. Zero values mean the defaults.
type Options struct {
	Workers, Threads int           // defaults 1 and 4
	Env              []string      // extra env for the server (e.g. WSGIKIT_SINK=127.0.0.1:PORT)
	LogDir           string        // where the server's log file goes (default: the instance's temp dir, removed at Stop)
	StartTimeout     time.Duration // default 20s
	SampleInterval   time.Duration // /proc sampling period, default 100ms; <0 disables
	Host             string        // default 127.0.0.1
	// Port is a fixed port to listen on; 0 picks a free one (and picks
	// another if the server finds it taken).
	Port int
	// KeepRundir leaves the instance's temp dir (generated configs, log)
	// in place after Stop, for debugging.
	KeepRundir bool
	// CPUs pins the server to a CPU list ("0", "0-1", "2,3") from its
	// first instruction on, so every process it forks inherits it (the
	// command runs under taskset, which execs it: the PID is the same).
	CPUs string
	// TLS starts the server listening with TLS, its certificate signed by
	// a throw-away CA made in the instance's temp dir (Instance.ClientTLS
	// trusts it); a profile without TLS is ErrUnsupported.
	TLS bool
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Threads <= 0 {
		o.Threads = 4
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 20 * time.Second
	}
	if o.SampleInterval == 0 {
		o.SampleInterval = 100 * time.Millisecond
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
}

// portAttempts is how many ports Start tries when a server reports its
// port taken (it is free when picked, but anyone may bind it before the
// server does).
const portAttempts = 3

// pickPort returns a loopback port free at the time of the call. A
// variable so that tests can hand out a taken port.
var pickPort = func(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs the app under the profile's server and returns once the app
// answers an HTTP request on the instance's port. ctx bounds the start-up
// only; the caller must Stop the instance. A server that exits during
// start-up, or is not ready by the deadline, is an error carrying the last
// lines of its log (its process group is killed first).
func Start(ctx context.Context, p *Profile, app App, opts Options) (*Instance, error) {
	opts.defaults()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.Name, err)
	}
	if app.Module == "" {
		return nil, fmt.Errorf("start %s: no app module given", p.Name)
	}
	if app.Callable == "" {
		app.Callable = "application"
	}
	if app.Dir == "" {
		return nil, fmt.Errorf("start %s: app %s has no directory", p.Name, app)
	}
	for _, e := range opts.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return nil, fmt.Errorf("start %s: Options.Env entry %q is not KEY=VALUE", p.Name, e)
		}
	}
	version, err := p.Version()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", p.Name, err)
	}
	if opts.TLS {
		if ok, why := p.SupportsTLS(); !ok {
			return nil, fmt.Errorf("start %s over TLS: %w", p.Name, p.unsupported(why))
		}
	}
	var inner *Instance
	extra := map[string]string{}
	if p.inner != nil {
		innerOpts := opts
		innerOpts.Port = 0
		innerOpts.TLS = false
		inner, err = Start(ctx, p.inner, app, innerOpts)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", p.Name, err)
		}
		extra["inner_host"] = inner.Host
		extra["inner_port"] = strconv.Itoa(inner.Port)
	}
	attempts := portAttempts
	if opts.Port != 0 {
		attempts = 1
	}
	var lastErr error
	for a := 0; a < attempts; a++ {
		port := opts.Port
		if port == 0 {
			if port, err = pickPort(opts.Host); err != nil {
				lastErr = fmt.Errorf("start %s: pick a port on %s: %w", p.Name, opts.Host, err)
				break
			}
		}
		inst, retry, err := startOnce(ctx, p, app, opts, port, extra)
		if err == nil {
			inst.Version = version
			inst.inner = inner
			return inst, nil
		}
		lastErr = err
		if !retry {
			break
		}
	}
	if inner != nil {
		if err := inner.Stop(); err != nil {
			lastErr = errors.Join(lastErr, err)
		}
	}
	return nil, lastErr
}

// errPortTaken marks a start that failed because the port was not ours.
var errPortTaken = errors.New("port taken")

// addrInUse matches what the servers print when they cannot bind.
var addrInUse = regexp.MustCompile(`(?i)address already in use|EADDRINUSE|errno 98|\(98\)|connection in use|address in use`)

func startOnce(ctx context.Context, p *Profile, app App, opts Options, port int, extra map[string]string) (*Instance, bool, error) {
	fail := func(err error) (*Instance, bool, error) {
		return nil, false, fmt.Errorf("start %s: %w", p.Name, err)
	}
	rundir, err := os.MkdirTemp("", "wsgikit-"+fileName(p.Name)+"-")
	if err != nil {
		return fail(err)
	}
	// Servers that drop privileges (Apache, nginx as root) read their
	// generated files as another user.
	if err := os.Chmod(rundir, 0o755); err != nil {
		return fail(err)
	}
	cleanup := func() {
		if !opts.KeepRundir {
			os.RemoveAll(rundir)
		}
	}
	command := p.Command
	var clientTLS *tls.Config
	if opts.TLS {
		extra = maps.Clone(extra)
		if _, clientTLS, err = prepareTLS(rundir, extra); err != nil {
			cleanup()
			return fail(err)
		}
		command = p.tlsCommand()
	}
	vars, env, err := instanceVars(p, app, opts, port, rundir, extra)
	if err != nil {
		cleanup()
		return fail(err)
	}
	argv := make([]string, len(command))
	for i, a := range command {
		if argv[i], err = expand(a, vars); err != nil {
			cleanup()
			return fail(fmt.Errorf("command: %w", err))
		}
	}
	dir := p.Dir
	if dir == "" {
		dir = "{appdir}"
	}
	if dir, err = expand(dir, vars); err != nil {
		cleanup()
		return fail(fmt.Errorf("dir: %w", err))
	}
	for name, tmpl := range p.Files {
		text, err := expand(tmpl, vars)
		if err != nil {
			cleanup()
			return fail(fmt.Errorf("files.%s: %w", name, err))
		}
		if err := os.WriteFile(filepath.Join(rundir, name), []byte(text), 0o644); err != nil {
			cleanup()
			return fail(err)
		}
	}
	logPath := filepath.Join(rundir, "server.log")
	if opts.LogDir != "" {
		if err := os.MkdirAll(opts.LogDir, 0o755); err != nil {
			cleanup()
			return fail(err)
		}
		logPath = filepath.Join(opts.LogDir, fmt.Sprintf("%s-%d-%s.log", fileName(p.Name), port, time.Now().Format("150405.000")))
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		cleanup()
		return fail(err)
	}
	if opts.CPUs != "" {
		argv = append([]string{"taskset", "-c", opts.CPUs}, argv...)
	}
	fmt.Fprintf(logFile, "# wsgikit: %s\n", strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Pdeathsig: if the harness process dies without Stop (killed, a test
	// timeout), the server gets its stop signal at once; the watchdog
	// (watchdog.go) then makes sure its whole tree ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: p.stopSignal()}
	if err := spawn(cmd); err != nil {
		logFile.Close()
		cleanup()
		return fail(err)
	}
	// Not reaped before inst.wait runs, so its stat is there to read.
	var rootStat procStat
	_, err = readStat(cmd.Process.Pid, nil, &rootStat)
	keptDir := rundir
	if opts.KeepRundir {
		keptDir = ""
	}
	var wd *watchdog
	if err == nil {
		wd, err = startWatchdog(p, cmd.Process.Pid, rootStat.start, keptDir)
	}
	if err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		logFile.Close()
		cleanup()
		return fail(err)
	}
	host := opts.Host
	inst := &Instance{
		Profile: p,
		Host:    host,
		Port:    port,
		Addr:    net.JoinHostPort(host, strconv.Itoa(port)),
		LogPath: logPath,
		cmd:     cmd,
		logFile: logFile,
		rundir:  rundir,
		keep:    opts.KeepRundir,
		tree:    newTree(cmd.Process.Pid),
		wd:      wd,
		exited:  make(chan struct{}),
		stopped: make(chan struct{}),

		clientTLS: clientTLS,
	}
	inst.tree.escaped = wd.adopt
	go inst.wait()
	_ = inst.tree.sample(false)

	status, err := inst.awaitReady(ctx, opts.StartTimeout)
	if err != nil {
		tail := inst.LogTail(20)
		stopErr := inst.Stop()
		retry := errors.Is(err, errPortTaken) || (opts.Port == 0 && addrInUse.MatchString(tail))
		msg := fmt.Errorf("start %s on %s: %w", p.Name, inst.Addr, err)
		if stopErr != nil {
			msg = errors.Join(msg, stopErr)
		}
		return nil, retry, fmt.Errorf("%w\n--- last 20 lines of %s ---\n%s", msg, p.Name+" log", tail)
	}
	inst.ReadyStatus = status
	inst.startSampler(opts.SampleInterval)
	return inst, false, nil
}

// instanceVars fills every placeholder for one instance and returns the
// extra environment (profile's, then the caller's).
func instanceVars(p *Profile, app App, opts Options, port int, rundir string, extra map[string]string) (map[string]string, []string, error) {
	appdir, err := filepath.Abs(app.Dir)
	if err != nil {
		return nil, nil, err
	}
	bind := net.JoinHostPort(opts.Host, strconv.Itoa(port))
	vars := map[string]string{
		"module":   app.Module,
		"callable": app.Callable,
		"app":      app.Module + ":" + app.Callable,
		"appdir":   appdir,
		"host":     opts.Host,
		"port":     strconv.Itoa(port),
		"bind":     bind,
		"workers":  strconv.Itoa(opts.Workers),
		"threads":  strconv.Itoa(opts.Threads),
		"rundir":   rundir,
	}
	pythonVars(vars, p.python())
	for k, v := range extra {
		vars[k] = v
	}
	if p.usesWsgikit() {
		b, err := WsgikitBin()
		if err != nil {
			return nil, nil, err
		}
		vars["wsgikit"] = b
	}
	if p.usesVar("launchers") {
		d, err := AppsDir()
		if err != nil {
			return nil, nil, err
		}
		vars["launchers"] = d
	}
	var env []string
	for _, e := range p.Env {
		s, err := expand(e, vars)
		if err != nil {
			return nil, nil, fmt.Errorf("env: %w", err)
		}
		env = append(env, s)
	}
	env = append(env, opts.Env...)
	if p.prepare != nil {
		if err := p.prepare(vars, env); err != nil {
			return nil, nil, err
		}
	}
	return vars, env, nil
}

// fileName makes a profile name safe for a file name.
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ':' || r == ' ' {
			return '_'
		}
		return r
	}, name)
}

// awaitReady polls the ready path until the server answers with an HTTP
// status line from a socket it owns. It returns the status code.
func (i *Instance) awaitReady(ctx context.Context, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	path := i.Profile.readyPath()
	var lastErr error
	for {
		select {
		case <-i.exited:
			return 0, fmt.Errorf("server exited during start-up (%v)", i.exitErr())
		case <-ctx.Done():
			if lastErr == nil {
				lastErr = errors.New("no answer yet")
			}
			return 0, fmt.Errorf("start-up cancelled (%w): GET %s: %v", ctx.Err(), path, lastErr)
		default:
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			if lastErr == nil {
				lastErr = errors.New("no answer")
			}
			return 0, fmt.Errorf("not ready after %s: GET %s: %v", timeout, path, lastErr)
		}
		status, err := httpProbe(ctx, i.Addr, path, min(remaining, 5*time.Second), i.clientTLS)
		if err == nil {
			if i.impostor() {
				return 0, fmt.Errorf("%w: another process answers on port %d", errPortTaken, i.Port)
			}
			return status, nil
		}
		if ctx.Err() == nil { // a probe cut short by the cancel says nothing of the server
			lastErr = err
		}
		// Track children from their first moments (a process that leaves
		// the group is still found by identity once seen).
		_ = i.tree.sample(false)
		select {
		case <-i.exited:
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// impostor reports whether the server that answered on the instance's
// port was another process. The verdict must hold for a bounded while: a
// server that exits right after answering (its socket closing, its process
// finishing) looks foreign for a moment, so an instance that has exited
// leaving nothing on the port is no impostor (its death is reported by
// what uses it next). The port staying foreign is, and so is nothing
// listening while the instance still runs (another process answered and
// went away: a server retrying its bind looks just like that); Start then
// retries on another port.
func (i *Instance) impostor() bool {
	for tries := 0; ; tries++ {
		_ = i.tree.sample(false)
		owned, known, listening := i.ownsListener()
		if owned || !known {
			return false
		}
		select {
		case <-i.exited:
			if !listening {
				return false
			}
		default:
		}
		if tries == 10 {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ownsListener reports whether a running process of the instance holds the
// socket listening on its port, and whether anything listens there. known
// is false when /proc does not tell.
func (i *Instance) ownsListener() (owned, known, listening bool) {
	inodes := listeningInodes(i.Port)
	if len(inodes) == 0 {
		return false, true, false
	}
	var buf []byte
	var st procStat
	for _, pid := range i.tree.livePIDs() {
		var err error
		if buf, err = readStat(pid, buf, &st); err != nil || st.state == 'Z' || st.state == 'X' {
			continue // exited: its fds are gone while its socket may linger
		}
		fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
		if errors.Is(err, fs.ErrPermission) {
			return false, false, true // another user's process of ours (not root): /proc does not tell
		}
		if err != nil {
			// Exiting between the two reads (a server that failed to bind
			// the port someone else holds): it holds nothing. Taking the
			// error for "unknown" let a foreign listener pass as ours.
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name())
			if err != nil {
				continue
			}
			if ino, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(ino, "]")] {
				return true, true, true
			}
		}
	}
	return false, true, true
}

// listeningInodes returns the socket inodes listening on port (IPv4/IPv6).
func listeningInodes(port int) map[string]bool {
	out := map[string]bool{}
	for _, s := range tcpSockets() {
		if s.state == tcpListen && s.localPort == port {
			out[s.inode] = true
		}
	}
	return out
}

// httpProbe sends one GET over a raw socket and returns the status code of
// the status line that comes back (any code counts as "answering"; the
// line is read leniently: judging the server is the suite's business). A
// cancelled ctx cuts it short. With tc, it speaks TLS.
func httpProbe(ctx context.Context, addr, path string, timeout time.Duration, tc *tls.Config) (int, error) {
	d := net.Dialer{Timeout: min(timeout, time.Second)}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	defer context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })()
	if tc != nil {
		tconn := tls.Client(conn, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			return 0, fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tconn
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: wsgikit-harness\r\nConnection: close\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return 0, err
	}
	rd := httpresp.NewReader(bufio.NewReaderSize(conn, 256), httpresp.Lenient)
	st, err := rd.ReadStatus()
	switch {
	case st.Line != nil && err != nil:
		return 0, fmt.Errorf("not an HTTP status line: %q", st.Line)
	case errors.Is(err, bufio.ErrBufferFull):
		return 0, errors.New("not an HTTP status line: no line end in the first 256 bytes")
	case err != nil && rd.Consumed() == 0:
		return 0, fmt.Errorf("connection closed without an answer: %w", err)
	case err != nil:
		return 0, fmt.Errorf("no whole status line: %w", err)
	}
	return st.Code, nil
}
