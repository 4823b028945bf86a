package errorlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// RecordMark starts a line of a worker's stderr that is a log record (a JSON
// object: time, level, msg and attributes) rather than the application's
// output. NewRelayed writes such lines, and boot.py for its own messages.
const RecordMark = "\x1e"

// NewRelayed makes the logger of a process whose stderr the master relays (a
// worker): one RecordMark line per record, which Relay writes to the error
// log in its format, with the worker's pid.
func NewRelayed(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(markWriter{w}, &slog.HandlerOptions{Level: level}))
}

// markWriter prefixes each record (one Write from slog) with RecordMark, in
// one write: a pipe keeps a write of up to 4 KiB whole.
type markWriter struct{ w io.Writer }

func (m markWriter) Write(p []byte) (int, error) {
	if _, err := m.w.Write(append([]byte(RecordMark), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// How long Relay waits for the rest of a block before logging what it has.
const (
	partWait      = 100 * time.Millisecond // a line without its newline yet; a traceback's possible chained part
	tracebackWait = 2 * time.Second        // frames of a traceback whose exception line has not come
	crashWait     = 500 * time.Millisecond // a crash dump: everything until the output pauses
	maxBlock      = 64 << 10               // a block is logged when it grows this large
)

// Relay logs what a worker writes on r (its stderr, and its stdout with
// --capture-output) until EOF, as records of pid in log's format, whatever
// log's level: RecordMark lines are the records they hold; the rest is the
// application's output, a record per line (INFO), with indented lines
// continuing the line before. A Python traceback, chained ones included, is
// one ERROR record whose message is its exception line and whose
// "traceback" is the whole; a Go or CPython crash dump is one ERROR record.
func Relay(r *os.File, log *slog.Logger, pid int) {
	g := &grouper{emit: func(rec slog.Record) {
		rec.AddAttrs(slog.Int(PIDKey, pid))
		log.Handler().Handle(context.Background(), rec)
	}}
	buf := make([]byte, 32<<10)
	var part []byte // output after the last newline
	for {
		wait := g.wait()
		if len(part) > 0 && (wait == 0 || wait > partWait) {
			wait = partWait
		}
		var deadline time.Time
		if wait > 0 {
			deadline = time.Now().Add(wait)
		}
		r.SetReadDeadline(deadline)
		n, err := r.Read(buf)
		now := time.Now()
		part = append(part, buf[:n]...)
		lines := part
		for {
			i := bytes.IndexByte(lines, '\n')
			if i < 0 {
				break
			}
			g.line(string(lines[:i]), now)
			lines = lines[i+1:]
		}
		if len(lines) >= maxBlock || (err != nil && len(lines) > 0) {
			g.line(string(lines), now)
			lines = nil
		}
		part = append(part[:0], lines...) // the unfinished line, moved to the front
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			g.flush()
		case err != nil:
			g.flush()
			r.Close()
			return
		default:
			g.chunkEnd()
		}
	}
}

// blockKind is what the lines held so far are.
type blockKind uint8

const (
	blockNone      blockKind = iota
	blockLines               // output: a line and its indented continuation
	blockFrames              // a traceback before its exception line
	blockException           // a traceback after its exception line: a chained one may follow
	blockChained             // after "During handling of the above exception...": its traceback follows
	blockCrash               // a crash dump: everything until the output pauses
)

// grouper turns output lines into records (Relay feeds it and keeps time).
type grouper struct {
	emit  func(slog.Record)
	kind  blockKind
	lines []string
	size  int
	at    time.Time // when the block's first line came
}

// wait is how long to hold the block for more lines (0: no need to wait).
func (g *grouper) wait() time.Duration {
	switch g.kind {
	case blockFrames, blockChained:
		return tracebackWait
	case blockException:
		return partWait
	case blockCrash:
		return crashWait
	}
	return 0
}

func indented(l string) bool { return l != "" && (l[0] == ' ' || l[0] == '\t') }

// Python's traceback header, also "  + Exception Group Traceback (...)".
func tracebackHeader(l string) bool {
	return strings.HasSuffix(strings.TrimRight(l, " "), "Traceback (most recent call last):")
}

// Python's lines before a traceback: threading's excepthook, and
// sys.unraisablehook's (an exception in __del__ or a callback).
func tracebackIntro(l string) bool {
	return strings.HasPrefix(l, "Exception in thread ") || strings.HasPrefix(l, "Exception ignored in")
}

// Python's lines between chained tracebacks.
func chainLine(l string) bool {
	return l == "During handling of the above exception, another exception occurred:" ||
		l == "The above exception was the direct cause of the following exception:"
}

func crashLine(l string) bool {
	return strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") || strings.HasPrefix(l, "Fatal Python error: ")
}

// line takes one line of output (without its newline) that came at now.
func (g *grouper) line(l string, now time.Time) {
	if strings.HasPrefix(l, RecordMark) {
		g.flush()
		g.emit(decodeRecord(l[len(RecordMark):], now))
		return
	}
	switch g.kind {
	case blockCrash:
		g.add(l)
		return
	case blockFrames:
		g.add(l)
		if l != "" && !indented(l) && !tracebackHeader(l) {
			g.kind = blockException
		}
		return
	case blockException:
		if l == "" || indented(l) || chainLine(l) {
			g.add(l)
			if chainLine(l) {
				g.kind = blockChained
			}
			return
		}
	case blockChained:
		if l == "" || tracebackHeader(l) {
			g.add(l)
			if l != "" {
				g.kind = blockFrames
			}
			return
		}
	case blockLines:
		if indented(l) {
			g.add(l)
			return
		}
	}
	g.flush()
	g.at, g.kind = now, blockLines
	switch {
	case tracebackHeader(l), tracebackIntro(l):
		g.kind = blockFrames
	case crashLine(l):
		g.kind = blockCrash
	}
	g.add(l)
}

func (g *grouper) add(l string) {
	g.lines = append(g.lines, l)
	g.size += len(l) + 1
	if g.size >= maxBlock {
		g.flush()
	}
}

// chunkEnd is the end of what one read returned: lines are complete then;
// a traceback or crash dump waits for the rest.
func (g *grouper) chunkEnd() {
	if g.kind == blockLines {
		g.flush()
	}
}

// flush logs the block held.
func (g *grouper) flush() {
	lines := g.lines
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	kind := g.kind
	g.kind, g.lines, g.size = blockNone, nil, 0
	if len(lines) == 0 {
		return
	}
	text := strings.Join(lines, "\n")
	switch kind {
	case blockFrames, blockException, blockChained, blockCrash:
		msg := lines[0]
		if kind != blockCrash {
			for i := len(lines) - 1; i >= 0; i-- {
				if l := lines[i]; i > 0 && l != "" && !indented(l) && !tracebackHeader(l) && !chainLine(l) {
					msg = l // the exception that propagated: the last one
					break
				}
			}
		}
		rec := slog.NewRecord(g.at, slog.LevelError, msg, 0)
		rec.AddAttrs(slog.String("traceback", text+"\n"))
		g.emit(rec)
	default:
		g.emit(slog.NewRecord(g.at, slog.LevelInfo, text, 0))
	}
}

// decodeRecord reads a RecordMark line's JSON (keys in order); what does not
// decode is logged as the text it is.
func decodeRecord(js string, now time.Time) slog.Record {
	plain := slog.NewRecord(now, slog.LevelInfo, js, 0)
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return plain
	}
	at, level, msg := now, slog.LevelInfo, ""
	var attrs []slog.Attr
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		var v any
		if err != nil || !ok || dec.Decode(&v) != nil {
			return plain
		}
		s, _ := v.(string)
		switch key {
		case slog.TimeKey:
			if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
				at = ts
			}
		case slog.LevelKey:
			level.UnmarshalText([]byte(s))
		case slog.MessageKey:
			msg = s
		case PIDKey: // the relay knows whose it is
		default:
			attrs = append(attrs, slog.Any(key, v))
		}
	}
	rec := slog.NewRecord(at, level, msg, 0)
	rec.AddAttrs(attrs...)
	return rec
}
