package conformance

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// HarnessConfig tunes HarnessStarter.
type HarnessConfig struct {
	AppsDir string // default: <module root>/apps
}

// localProfiles is a stop-gap until internal/harness lands: argv templates
// for a few peers, with {python} {appdir} {port} placeholders.
var localProfiles = map[string][]string{
	"gunicorn-sync":    {"/usr/bin/python3", "-m", "gunicorn", "-b", "127.0.0.1:{port}", "-w", "2", "--chdir", "{appdir}", "probe:application"},
	"gunicorn-gthread": {"/usr/bin/python3", "-m", "gunicorn", "-b", "127.0.0.1:{port}", "-w", "1", "--threads", "4", "-k", "gthread", "--chdir", "{appdir}", "probe:application"},
	"waitress":         {"/usr/bin/python3", "-m", "waitress", "--listen=127.0.0.1:{port}", "--threads=4", "probe:application"},
	"wsgiref":          {"/usr/bin/python3", "-c", "import sys; sys.path.insert(0, '{appdir}'); from wsgiref.simple_server import make_server, WSGIServer; from socketserver import ThreadingMixIn\nclass S(ThreadingMixIn, WSGIServer): daemon_threads = True\nimport probe; make_server('127.0.0.1', {port}, probe.application, server_class=S).serve_forever()"},
}

type localServer struct {
	cmd     *exec.Cmd
	addr    string
	logPath string
	exited  chan struct{}
	version string
}

func (s *localServer) Addr() string            { return s.addr }
func (s *localServer) Version() string         { return s.version }
func (s *localServer) Exited() <-chan struct{} { return s.exited }
func (s *localServer) LogTail(n int) string {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (s *localServer) Stop() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) // stray children
	return nil
}

// HarnessStarter starts servers for Run.
func HarnessStarter(cfg HarnessConfig) Starter {
	return func(ctx context.Context, name string, env []string) (Server, error) {
		argv, ok := localProfiles[name]
		if !ok {
			return nil, fmt.Errorf("unknown server %q", name)
		}
		appdir := cfg.AppsDir
		if appdir == "" {
			root, err := repoRoot()
			if err != nil {
				return nil, err
			}
			appdir = filepath.Join(root, "apps")
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		var args []string
		for _, a := range argv {
			a = strings.ReplaceAll(a, "{port}", strconv.Itoa(port))
			a = strings.ReplaceAll(a, "{appdir}", appdir)
			args = append(args, a)
		}
		logf, err := os.CreateTemp("", "wsgikit-"+name+"-*.log")
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = appdir
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		s := &localServer{cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port), logPath: logf.Name(), exited: make(chan struct{}), version: "local"}
		go func() { _ = cmd.Wait(); logf.Close(); close(s.exited) }()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				_, _ = c.Write([]byte("GET / HTTP/1.0\r\nHost: x\r\n\r\n"))
				var buf [64]byte
				n, _ := c.Read(buf[:])
				c.Close()
				if bytes.HasPrefix(buf[:n], []byte("HTTP/")) {
					return s, nil
				}
			}
			select {
			case <-s.exited:
				return nil, fmt.Errorf("%s exited before ready: %s", name, s.LogTail(10))
			default:
			}
			if time.Now().After(deadline) {
				s.Stop()
				return nil, fmt.Errorf("%s not ready after 20s: %s", name, s.LogTail(10))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
