package harness

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/testenv"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		line string
		want procStat
		err  bool
	}{
		{
			line: "42 (python3) S 1 42 42 0 -1 4194560 100 0 0 0 150 50 7 3 20 0 3 0 12345 100000 2500 18446744073709551615",
			want: procStat{pid: 42, ppid: 1, pgrp: 42, state: 'S', comm: "python3", ticks: 200, childTicks: 10, start: 12345, rssPages: 2500},
		},
		{
			// Command names may contain spaces and parentheses.
			line: "7 (a) b (c)) R 3 5 5 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0 99 0 10",
			want: procStat{pid: 7, ppid: 3, pgrp: 5, state: 'R', comm: "a) b (c)", ticks: 3, childTicks: 7, start: 99, rssPages: 10},
		},
		{line: "7 (short) S 1 2 3", err: true},
		{line: "garbage", err: true},
	}
	for _, tt := range tests {
		var st procStat
		err := parseStat([]byte(tt.line), &st)
		if (err != nil) != tt.err {
			t.Errorf("parseStat(%q) error %v", tt.line, err)
			continue
		}
		if !tt.err && st != tt.want {
			t.Errorf("parseStat(%q) = %+v, want %+v", tt.line, st, tt.want)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("42 (python3) S 1 42 42 0 -1 4194560 100 0 0 0 150 50 7 3 20 0 3 0 12345 100000 2500 1"))
	f.Add([]byte("7 (a) b (c)) R 3 5 5"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var st procStat
		_ = parseStat(b, &st) // must not panic
	})
}

func FuzzExpand(f *testing.F) {
	f.Add("{host}:{port} events { x } %{GLOBAL}")
	f.Fuzz(func(t *testing.T, s string) {
		vars := map[string]string{"host": "h", "port": "1"}
		out, err := expand(s, vars)
		if err == nil && !strings.Contains(s, "{") && out != s {
			t.Fatalf("expand changed brace-free %q to %q", s, out)
		}
	})
}

func FuzzSplitCommand(f *testing.F) {
	f.Add(`sh -c 'echo "a b"' x\ y`)
	f.Fuzz(func(t *testing.T, s string) {
		argv, err := splitCommand(s)
		if err == nil && len(argv) == 0 {
			t.Fatalf("no error and no argv for %q", s)
		}
	})
}

// TestUsageCountsExitedChildren: CPU burnt by a child that exited (reaped
// by the server) and by an orphan (reaped by init) is still counted.
func TestUsageCountsExitedChildren(t *testing.T) {
	t.Parallel()
	// The server burns ~0.4 s of CPU in a child it waits for, and ~0.4 s in
	// a grandchild orphaned to init, before it starts serving.
	p := cmdProfile(t, `{python} -c 'import os, time, http.server, sys
def burn(sec):
    end = time.process_time() + sec
    while time.process_time() < end:
        pass
pid = os.fork()
if pid == 0:
    burn(0.4); os._exit(0)
os.waitpid(pid, 0)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("{host}", {port}), H)
if os.fork() == 0:
    if os.fork() == 0:
        time.sleep(0.3); burn(0.4); os._exit(0)
    os._exit(0)
srv.serve_forever()' {app}`)
	inst, err := Start(context.Background(), p, helloApp(t), Options{SampleInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop()
	// Wait (bounded; the machine may be busy) until the orphan has burnt
	// its CPU and gone.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && inst.Usage().CPUSeconds < 0.65 {
		time.Sleep(50 * time.Millisecond)
	}
	u := inst.Usage()
	// 0.8 s burnt in exited processes; sampling at 20 ms may miss the
	// orphan's last tick or so.
	if u.CPUSeconds < 0.65 {
		t.Errorf("CPUSeconds = %.2f, want ≥ 0.65 (children's CPU lost)", u.CPUSeconds)
	}
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	after := inst.Usage()
	if after.CPUSeconds < u.CPUSeconds {
		t.Errorf("CPU after Stop %.2f < before %.2f", after.CPUSeconds, u.CPUSeconds)
	}
	if after.CPUSeconds > u.CPUSeconds+0.5 {
		t.Errorf("CPU after Stop %.2f jumped from %.2f: double counting", after.CPUSeconds, u.CPUSeconds)
	}
	if u.PeakRSSMB <= 0 || u.PeakProcs < 1 || u.Samples < 2 {
		t.Errorf("usage %+v", u)
	}
	if os.Geteuid() == 0 && (!u.PSSValid || u.PeakPSSMB <= 0) {
		t.Errorf("PSS not read as root: %+v", u)
	}
}

// BenchmarkSample measures one /proc scan of a small tree (a shell with
// four children), as the sampler runs it every 100 ms during a benchmark.
func BenchmarkSample(b *testing.B) {
	for _, pss := range []bool{false, true} {
		name := "rss"
		if pss {
			name = "rss+pss"
		}
		b.Run(name, func(b *testing.B) {
			cmd := exec.Command("sh", "-c", "sleep 60 & sleep 60 & sleep 60 & sleep 60 & wait")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			defer func() {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				cmd.Wait()
			}()
			tr := newTree(cmd.Process.Pid)
			for tr.snapshot().Procs < 5 {
				if err := tr.sample(pss); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				if err := tr.sample(pss); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tr.snapshot().Procs), "procs")
		})
	}
}

// TestCPUsPinsTheTree: with Options.CPUs every process of the server,
// including workers forked after start, has that affinity.
func TestCPUsPinsTheTree(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("taskset"); err != nil {
		testenv.Missing(t, "taskset not installed: apt-get install util-linux")
	}
	p, err := Lookup("gunicorn-sync", nil)
	if err != nil {
		t.Fatal(err)
	}
	requireInstalled(t, p)
	inst, err := Start(context.Background(), p, helloApp(t), Options{Workers: 2, CPUs: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop()
	deadline := time.Now().Add(time.Minute) // bounds the workers' boot on a busy machine
	for len(inst.PIDs()) < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	pids := inst.PIDs()
	if len(pids) < 3 {
		t.Fatalf("PIDs %v: want master and 2 workers", pids)
	}
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok && strings.TrimSpace(v) != "0" {
				t.Errorf("pid %d allowed on CPUs %q, want 0", pid, strings.TrimSpace(v))
			}
		}
	}
}
