package errorlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// levelCritical is gunicorn's "critical", above error.
const levelCritical = slog.LevelError + 4

// ParseLevel maps gunicorn's --log-level names to slog levels.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warning", "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	case "critical":
		return levelCritical, nil
	}
	return 0, fmt.Errorf("--log-level %q: want debug, info, warning, error or critical", s)
}

// PIDKey is the attribute that says which process a record is about: every
// record has it, this process's pid unless the record carries another (a
// worker's output, relayed by the master: Relay).
const PIDKey = "pid"

// New makes an error logger: gunicorn-style lines
// ("[2026-11-25 08:03:34 +0000] [1234] [INFO] message k=v"), or one JSON
// object per line with asJSON ({"time","level","msg","pid",...}). A
// "traceback" attribute is printed after the line, as is (in JSON, a key).
func New(w io.Writer, level slog.Level, asJSON bool) *slog.Logger {
	if asJSON {
		return slog.New(&pidHandler{next: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.LevelKey && a.Value.Any() == levelCritical {
				a.Value = slog.StringValue("CRITICAL")
			}
			return a
		}}), pid: os.Getpid()})
	}
	return slog.New(&lineHandler{w: w, level: level, pid: os.Getpid(), mu: new(sync.Mutex)})
}

// recordPID is the pid a record carries (PIDKey), or def.
func recordPID(r slog.Record, def int) int {
	pid := def
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == PIDKey && a.Value.Kind() == slog.KindInt64 {
			pid = int(a.Value.Int64())
			return false
		}
		return true
	})
	return pid
}

// pidHandler puts the pid first among a JSON record's attributes.
type pidHandler struct {
	next slog.Handler
	pid  int
}

func (h *pidHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *pidHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(slog.Int(PIDKey, recordPID(r, h.pid)))
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != PIDKey {
			out.AddAttrs(a)
		}
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *pidHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &pidHandler{next: h.next.WithAttrs(as), pid: h.pid}
}

func (h *pidHandler) WithGroup(name string) slog.Handler {
	return &pidHandler{next: h.next.WithGroup(name), pid: h.pid}
}

// lineHandler writes gunicorn's error-log format.
type lineHandler struct {
	w     io.Writer
	level slog.Level
	pid   int
	attrs []slog.Attr
	mu    *sync.Mutex
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	lvl := r.Level.String()
	switch {
	case r.Level >= levelCritical:
		lvl = "CRITICAL"
	case r.Level >= slog.LevelError:
		lvl = "ERROR"
	case r.Level >= slog.LevelWarn:
		lvl = "WARNING"
	}
	b := make([]byte, 0, 128+len(r.Message))
	b = append(b, '[')
	b = r.Time.AppendFormat(b, "2006-01-02 15:04:05 -0700")
	b = fmt.Appendf(b, "] [%d] [%s] %s", recordPID(r, h.pid), lvl, r.Message)
	add := func(a slog.Attr) bool {
		if a.Key == "traceback" || a.Key == PIDKey {
			return true // printed after the line, as is; in the [pid] slot
		}
		v := a.Value.String()
		if strings.ContainsAny(v, " \"=") || v == "" {
			b = fmt.Appendf(b, " %s=%q", a.Key, v)
		} else {
			b = fmt.Appendf(b, " %s=%s", a.Key, v)
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	var tb string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "traceback" {
			tb = a.Value.String()
		}
		return add(a)
	})
	b = append(b, '\n')
	if tb != "" {
		b = append(b, tb...)
		if !strings.HasSuffix(tb, "\n") {
			b = append(b, '\n')
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(b)
	return err
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), as...)
	return &c
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }
