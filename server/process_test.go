package server_test

// The process model with real processes: timeouts, recycling, reloads under
// load, scaling, binds. No wall-clock assertions: every wait is for an event
// (a log line, an answer), bounded so a failure cannot hang.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// waitLog waits until the server's log contains want.
func (s *served) waitLog(want string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.Log(), want) {
		if time.Now().After(deadline) {
			s.t.Fatalf("log never showed %q:\n%s", want, s.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// getRetry GETs path until the server answers 200 (a replacement worker may
// still be booting) and returns the body.
func (s *served) getRetry(path string) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", s.addr)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path)
			r, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil && r.StatusCode == 200 {
				b, _ := io.ReadAll(r.Body)
				c.Close()
				return string(b)
			}
			c.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("no 200 for %s:\n%s", path, s.Log())
	return ""
}

func TestProcessTimeoutKillsWorker(t *testing.T) {
	s := serve(t, "wkapp", "--timeout", "0.5")
	gate := filepath.Join(t.TempDir(), "gate")
	os.WriteFile(gate, nil, 0o644) // never removed: the request is stuck
	c := s.dial()
	fmt.Fprintf(c, "GET /block?gate=%s HTTP/1.1\r\nHost: t\r\n\r\n", gate)
	s.waitLog(fmt.Sprintf(`request "GET /block?gate=%s HTTP/1.1" ran over --timeout`, gate))
	s.waitLog("killed by signal killed")
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Errorf("the stuck request got %q; want the connection cut", b)
	}
	if got := s.getRetry("/"); got != "Hello, World!" {
		t.Fatalf("after the timeout: %q", got)
	}
}

func TestProcessMaxRequestsRecycles(t *testing.T) {
	s := serve(t, "wkapp", "--max-requests", "5", "--max-requests-jitter", "2")
	pids := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for len(pids) < 2 && time.Now().Before(deadline) {
		// Strict: every request must succeed across the recycling.
		r, _, _ := s.roundTrip("GET /pid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
		if r.StatusCode != 200 || r.bodyErr != nil {
			t.Fatalf("request failed during recycling: %d %v", r.StatusCode, r.bodyErr)
		}
		pids[string(r.body)] = true
	}
	if len(pids) < 2 {
		t.Fatalf("worker never recycled:\n%s", s.Log())
	}
	s.waitLog("(--max-requests): recycling it")
}

func TestProcessCrashNamesTheRequest(t *testing.T) {
	s := serve(t, "wkapp")
	c := s.dial()
	io.WriteString(c, "GET /exit?why=test HTTP/1.1\r\nHost: t\r\n\r\n")
	io.ReadAll(c)
	s.waitLog(`(exit code 7)`)
	s.waitLog(`while serving "GET /exit?why=test HTTP/1.1"`)
	if got := s.getRetry("/"); got != "Hello, World!" {
		t.Fatal(got)
	}
}

// TestProcessReloadUnderLoad: HUP while clients hammer the server; not one
// request fails, and the new code answers afterwards.
func TestProcessReloadUnderLoad(t *testing.T) {
	vf := filepath.Join(t.TempDir(), "version")
	os.WriteFile(vf, []byte("v1"), 0o644)
	t.Setenv("VERSION_FILE", vf)
	s := serve(t, "reloadable", "-w", "2", "--threads", "2")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var ok, failed atomic.Int64
	var sawV2 atomic.Bool
	var firstErr atomic.Value
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				r, err := client.Get("http://" + s.addr + "/")
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				if r.StatusCode != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, r.Status)
					continue
				}
				ok.Add(1)
				if string(b) == "v2" {
					sawV2.Store(true)
				}
			}
		}()
	}
	for ok.Load() < 200 {
		time.Sleep(5 * time.Millisecond)
	}
	os.WriteFile(vf, []byte("v2"), 0o644)
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	s.waitLog("reload done")
	deadline := time.Now().Add(20 * time.Second)
	for !sawV2.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	n := ok.Load()
	for ok.Load() < n+200 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d requests failed during the reload (first: %v)\n%s", failed.Load(), ok.Load()+failed.Load(), firstErr.Load(), s.Log())
	}
	if !sawV2.Load() {
		t.Fatalf("new code never answered:\n%s", s.Log())
	}
}

func TestProcessTTINTTOU(t *testing.T) {
	s := serve(t, "wkapp")
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTTIN)
	s.waitLog("TTIN: 2 workers")
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(s.Log(), "booting worker") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no second worker:\n%s", s.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTTOU)
	s.waitLog("scale-down")
	if got := s.getRetry("/"); got != "Hello, World!" {
		t.Fatal(got)
	}
}

func TestProcessBinds(t *testing.T) {
	t.Run("unix", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "app.sock")
		bin := wsgikitBin(t)
		dir, _ := filepath.Abs("testdata/apps")
		cmd := exec.Command(bin, "serve", "-b", "unix:"+sock, "--umask", "077", "--chdir", dir, "wkapp")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() }()
		body := unixGet(t, sock)
		if body != "Hello, World!" {
			t.Fatalf("%q", body)
		}
		st, err := os.Stat(sock)
		if err != nil || st.Mode().Perm()&0o077 != 0 {
			t.Errorf("socket mode %v (err %v), want no group/other bits with --umask 077", st.Mode(), err)
		}
	})
	t.Run("systemd", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lf, _ := ln.(*net.TCPListener).File()
		addr := ln.Addr().String()
		ln.Close()
		notify := filepath.Join(t.TempDir(), "notify")
		nconn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		defer nconn.Close()
		bin := wsgikitBin(t)
		dir, _ := filepath.Abs("testdata/apps")
		// sh's $$ is the PID wsgikit keeps after exec, as systemd sets it.
		cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" serve --chdir "$1" wkapp`, bin, dir)
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify)
		cmd.ExtraFiles = []*os.File{lf}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lf.Close()
		defer func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() }()
		nconn.SetReadDeadline(time.Now().Add(20 * time.Second))
		buf := make([]byte, 64)
		n, err := nconn.Read(buf)
		if err != nil || string(buf[:n]) != "READY=1" {
			t.Fatalf("sd_notify: %q %v", buf[:n], err)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
		r, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("over the systemd socket: %v %v", r, err)
		}
	})
}

func unixGet(t *testing.T, sock string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("unix", sock)
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
		r, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			time.Sleep(20 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(r.Body)
		c.Close()
		return string(b)
	}
	t.Fatal("unix socket never answered")
	return ""
}
