package errorlog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

const tb1 = "Traceback (most recent call last):\n  File \"app.py\", line 3, in f\n    raise ValueError(\"x\")\nValueError: x"

// TestGrouper: the records a worker's output makes. Each input is a read's
// worth of lines ("" ends a line), "|" between reads, "~" a pause long enough
// for the block held to be logged.
func TestGrouper(t *testing.T) {
	chained := tb1 + "\n\nDuring handling of the above exception, another exception occurred:\n\n" +
		"Traceback (most recent call last):\n  File \"app.py\", line 5, in f\n    raise KeyError(1)\nKeyError: 1"
	cases := []struct {
		name  string
		reads []string
		want  []string // "LEVEL msg" and, for tracebacks, " | " the traceback
	}{
		{"lines", []string{"hello\nworld\n"}, []string{"INFO hello", "INFO world"}},
		{"indented continues", []string{"app.py:3: UserWarning: w\n  warnings.warn('w')\nnext\n"},
			[]string{"INFO app.py:3: UserWarning: w\n  warnings.warn('w')", "INFO next"}},
		{"traceback in one read", []string{tb1 + "\n", "~"}, []string{"ERROR ValueError: x | " + tb1 + "\n"}},
		{"traceback a line per read", append(strings.SplitAfter(tb1+"\n", "\n")[:4], "~"), []string{"ERROR ValueError: x | " + tb1 + "\n"}},
		{"chained traceback, written piecewise", append(strings.SplitAfter(chained+"\n", "\n"), "~"),
			[]string{"ERROR KeyError: 1 | " + chained + "\n"}},
		{"thread's traceback", []string{"Exception in thread T:\n", tb1 + "\n", "~"},
			[]string{"ERROR ValueError: x | Exception in thread T:\n" + tb1 + "\n"}},
		{"two tracebacks in a row", []string{tb1 + "\n", tb1 + "\n", "~"},
			[]string{"ERROR ValueError: x | " + tb1 + "\n", "ERROR ValueError: x | " + tb1 + "\n"}},
		{"line after a traceback", []string{tb1 + "\n", "served\n"}, []string{"ERROR ValueError: x | " + tb1 + "\n", "INFO served"}},
		{"traceback cut by a pause", []string{"Traceback (most recent call last):\n  File \"a.py\", line 1\n", "~"},
			[]string{"ERROR Traceback (most recent call last): | Traceback (most recent call last):\n  File \"a.py\", line 1\n"}},
		{"go crash dump", []string{"panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n", "\tmain.go:5\n", "~", "after\n"},
			[]string{"ERROR panic: boom | panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\tmain.go:5\n", "INFO after"}},
		{"worker record", []string{"out\n" + RecordMark + `{"time":"2026-11-25T08:03:34Z","level":"ERROR+4","msg":"m","request":"GET / HTTP/1.1","n":3}` + "\n"},
			[]string{"INFO out", "ERROR+4 m request=GET / HTTP/1.1 n=3"}},
		{"bad worker record", []string{RecordMark + "{nope\n"}, []string{"INFO {nope"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			g := &grouper{emit: func(r slog.Record) {
				s := r.Level.String() + " " + r.Message
				r.Attrs(func(a slog.Attr) bool {
					if a.Key == "traceback" {
						s += " | " + a.Value.String()
					} else {
						s += " " + a.Key + "=" + a.Value.String()
					}
					return true
				})
				got = append(got, s)
			}}
			now := time.Unix(0, 0)
			for _, rd := range tc.reads {
				if rd == "~" {
					g.flush()
					continue
				}
				for _, l := range strings.SplitAfter(rd, "\n") {
					if l != "" {
						g.line(strings.TrimSuffix(l, "\n"), now)
					}
				}
				g.chunkEnd()
			}
			if strings.Join(got, "\n---\n") != strings.Join(tc.want, "\n---\n") {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n---\n"), strings.Join(tc.want, "\n---\n"))
			}
		})
	}
}

// TestRelay: a worker's output through a real pipe, to the JSON error log:
// one object per record, the worker's pid, the traceback whole; a line with
// no newline is logged at EOF.
func TestRelay(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { Relay(r, New(&out, slog.LevelError, true), 4242); close(done) }()
	w.WriteString("print\n" + tb1 + "\n") // piecewise writes: TestGrouper
	NewRelayed(w, slog.LevelInfo).Warn("from the engine", "request", "GET /")
	w.WriteString("no newline")
	w.Close()
	<-done
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if m["pid"] != float64(4242) {
			t.Errorf("pid %v, want 4242: %q", m["pid"], l)
		}
		recs = append(recs, m)
	}
	want := []struct{ level, msg, traceback string }{
		{"INFO", "print", ""}, // app output is logged whatever --log-level
		{"ERROR", "ValueError: x", tb1 + "\n"},
		{"WARN", "from the engine", ""},
		{"INFO", "no newline", ""},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d:\n%s", len(recs), len(want), out.String())
	}
	for i, w := range want {
		tb, _ := recs[i]["traceback"].(string)
		if recs[i]["level"] != w.level || recs[i]["msg"] != w.msg || tb != w.traceback {
			t.Errorf("record %d: %v, want %+v", i, recs[i], w)
		}
	}
	if recs[2]["request"] != "GET /" {
		t.Errorf("the engine's record lost its attributes: %v", recs[2])
	}
}

// TestLoggerPID: records carry this process's pid unless they name another.
func TestLoggerPID(t *testing.T) {
	at := time.Date(2026, 11, 25, 8, 3, 34, 0, time.UTC)
	for _, asJSON := range []bool{false, true} {
		var out bytes.Buffer
		h := New(&out, slog.LevelInfo, asJSON).Handler()
		r := slog.NewRecord(at, slog.LevelInfo, "m", 0)
		r.AddAttrs(slog.String("k", "v"), slog.Int(PIDKey, 7))
		h.Handle(t.Context(), r)
		want := "[2026-11-25 08:03:34 +0000] [7] [INFO] m k=v\n"
		if asJSON {
			want = `{"time":"2026-11-25T08:03:34Z","level":"INFO","msg":"m","pid":7,"k":"v"}` + "\n"
		}
		if out.String() != want {
			t.Errorf("JSON %v:\n got %q\nwant %q", asJSON, out.String(), want)
		}
	}
}
