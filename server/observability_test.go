package server_test

// What an operator sees of the server: process titles, the error log (the
// app's own output and tracebacks included), the access log, /metrics.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var bootingRE = regexp.MustCompile(`booting worker with pid (\d+)`)

// workerPIDs are the pids of the workers the log says were started.
func (s *served) workerPIDs() []int {
	var pids []int
	for _, m := range bootingRE.FindAllStringSubmatch(s.Log(), -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	return pids
}

// procFile reads /proc/pid/name.
func procFile(pid int, name string) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
	return string(b)
}

// TestProcessTitles: ps shows each worker as "wsgikit worker N [app]" (its
// /proc cmdline), top as "wsgikit worker" (comm); the master's comm is
// "wsgikit master".
func TestProcessTitles(t *testing.T) {
	s := serve(t, "wkapp", "-w", "2")
	s.waitLogCount("booting worker with pid", 2)
	want := map[string]bool{"wsgikit worker 1 [wkapp]\x00": true, "wsgikit worker 2 [wkapp]\x00": true}
	for _, pid := range s.workerPIDs() {
		deadline := time.Now().Add(waitBound) // the title is set as boot.py starts
		for !want[procFile(pid, "cmdline")] && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cmdline := procFile(pid, "cmdline")
		if !want[cmdline] {
			t.Errorf("worker %d: cmdline %q, want one of %v", pid, cmdline, want)
		}
		delete(want, cmdline)
		if comm := procFile(pid, "comm"); comm != "wsgikit worker\n" {
			t.Errorf("worker %d: comm %q, want %q", pid, comm, "wsgikit worker\n")
		}
	}
	if comm := procFile(s.cmd.Process.Pid, "comm"); comm != "wsgikit master\n" {
		t.Errorf("master: comm %q, want %q", comm, "wsgikit master\n")
	}
	if r := s.get("/"); r.StatusCode != 200 {
		t.Errorf("GET / after the titles: %d", r.StatusCode)
	}
}

// logRecords parses a --log-json error log: every line must be a record.
func logRecords(t *testing.T, log string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("an error-log line is not a JSON record: %q\nlog:\n%s", l, log)
		}
		recs = append(recs, m)
	}
	return recs
}

// TestProcessAppOutputIsLogged: what the app writes to stderr (and stdout
// with --capture-output) and the tracebacks Python prints become error-log
// records with the worker's pid: a traceback, chained or from a thread, is
// one record; with --log-json no line of the log is anything but JSON.
func TestProcessAppOutputIsLogged(t *testing.T) {
	t.Run("json", func(t *testing.T) {
		s := serve(t, "wkapp", "--log-json", "--capture-output")
		for _, p := range []string{"/stderr?text=to-stderr", "/print?text=to-stdout", "/print-exc", "/thread-exc"} {
			if r := s.get(p); r.StatusCode != 200 {
				t.Fatalf("%s: %d", p, r.StatusCode)
			}
		}
		s.waitLog(`"msg":"ZeroDivisionError: division by zero"`)
		worker := float64(s.workerPIDs()[0])
		want := []struct {
			level, msg string
			traceback  []string // parts of it
			other      string   // in another record
		}{
			{"INFO", "to-stderr", nil, ""},
			{"INFO", "to-stdout", nil, ""},
			{"ERROR", "KeyError: 'outer'", []string{"ValueError: inner", "During handling of the above exception", "KeyError: 'outer'"}, "ZeroDivisionError"},
			{"ERROR", "ZeroDivisionError: division by zero", []string{"Exception in thread", "1 / 0"}, "KeyError"},
		}
		recs := logRecords(t, s.Log())
		for _, w := range want {
			found := false
			for _, r := range recs {
				if r["msg"] != w.msg {
					continue
				}
				found = true
				tb, _ := r["traceback"].(string)
				if r["level"] != w.level || r["pid"] != worker || (w.traceback == nil) != (tb == "") {
					t.Errorf("record %v: want level %s, pid %v, a traceback: %v", r, w.level, worker, w.traceback != nil)
				}
				for _, part := range w.traceback {
					if !strings.Contains(tb, part) {
						t.Errorf("record %q: traceback lacks %q:\n%s", w.msg, part, tb)
					}
				}
				if w.other != "" && strings.Contains(tb, w.other) {
					t.Errorf("record %q holds another traceback (%s):\n%s", w.msg, w.other, tb)
				}
			}
			if !found {
				t.Errorf("no record %q in:\n%s", w.msg, s.Log())
			}
		}
	})
	t.Run("text", func(t *testing.T) {
		s := serve(t, "wkapp")
		s.get("/stderr?text=to-stderr")
		s.waitLog("to-stderr")
		line := regexp.MustCompile(`(?m)^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[(\d+)\] \[INFO\] to-stderr$`).FindStringSubmatch(s.Log())
		if line == nil || line[1] != strconv.Itoa(s.workerPIDs()[0]) {
			t.Errorf("the app's stderr line is not a log line of the worker %v:\n%s", s.workerPIDs(), s.Log())
		}
	})
}

// TestServeImportErrorIsOneRecord: the traceback of an app that does not
// import is one record with the message naming the fix.
func TestServeImportErrorIsOneRecord(t *testing.T) {
	dir, _ := filepath.Abs("testdata/apps")
	out, code := runToExit(t, exec.Command(wsgikitBin(t), "serve", "-b", "127.0.0.1:0", "--log-json", "--chdir", dir, "no_such_module:app"))
	if code != 3 {
		t.Fatalf("exit %d, want 3:\n%s", code, out)
	}
	var log []string // the error log: the lines before the CLI's own last words
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(l, "wsgikit: ") {
			log = append(log, l)
		}
	}
	n := 0
	for _, r := range logRecords(t, strings.Join(log, "\n")) {
		if strings.Contains(fmt.Sprint(r["msg"]), "cannot import module 'no_such_module'") {
			n++
			if tb, _ := r["traceback"].(string); r["level"] != "ERROR" || !strings.Contains(tb, "ModuleNotFoundError: No module named 'no_such_module'") {
				t.Errorf("import error record %v: want ERROR with the traceback", r)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d import error records, want 1:\n%s", n, out)
	}
}

// TestProcessAccessLogJSON: JSON access-log lines use readable keys, and a
// HEAD logs the 0 body bytes it sent.
func TestProcessAccessLogJSON(t *testing.T) {
	logf := filepath.Join(t.TempDir(), "access.log")
	s := serve(t, "wkapp", "--log-json", "--access-logfile", logf)
	r, _, _ := s.roundTrip("HEAD / HTTP/1.1\r\nHost: t\r\nUser-Agent: probe/1\r\nConnection: close\r\n\r\n")
	if r.StatusCode != 200 {
		t.Fatalf("HEAD: %d", r.StatusCode)
	}
	deadline := time.Now().Add(waitBound)
	for {
		b, _ := os.ReadFile(logf)
		for _, l := range strings.Split(string(b), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) != nil || m["request_line"] != "HEAD / HTTP/1.1" {
				continue
			}
			if m["remote_addr"] != "127.0.0.1" || m["status"] != float64(200) || m["response_length"] != float64(0) || m["user_agent"] != "probe/1" {
				t.Fatalf("access log line %q: want remote_addr, status 200, response_length 0, user_agent", l)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HEAD line in the access log:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// boardMappings counts the scoreboards pid has mapped.
func boardMappings(pid int) int {
	return strings.Count(procFile(pid, "maps"), "wsgikit-board-")
}

// TestProcessMetricsBounded: requests the server refuses are counted by
// code; recycled workers leave no series (the RSS series are per worker
// number) and no scoreboard mapped in the master.
func TestProcessMetricsBounded(t *testing.T) {
	s := serve(t, "wkapp", "--metrics-bind", "127.0.0.1:0", "--max-requests", "2")
	s.waitLog("metrics at: http://")
	url := regexp.MustCompile(`metrics at: (http://\S+)`).FindStringSubmatch(s.Log())[1]
	for range 6 {
		s.getRetry("/")
	}
	for range 2 {
		c := s.dial()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n")
		io.ReadAll(c)
	}
	s.waitLog("recycling it")
	rss := regexp.MustCompile(`(?m)^wsgikit_worker_rss_bytes\{(\w+)="(\d+)"\}`)
	deadline := time.Now().Add(waitBound)
	for {
		body := ""
		if r, err := http.Get(url); err == nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			body = string(b)
		}
		series := rss.FindAllStringSubmatch(body, -1)
		boards := boardMappings(s.cmd.Process.Pid)
		ok := strings.Contains(body, `wsgikit_rejected_requests_total{code="400"} 2`) &&
			strings.Contains(body, "\nwsgikit_workers 1\n") && len(series) == 1 && boards == 1
		if ok {
			if series[0][1] != "worker" || (series[0][2] != "1" && series[0][2] != "2") {
				t.Errorf("RSS series %q: want worker=\"1\" or \"2\" (numbers, not pids)", series[0][0])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("want 2 rejected 400s, 1 worker, 1 RSS series, 1 scoreboard mapped (%d):\n%s\nlog:\n%s", boards, body, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
