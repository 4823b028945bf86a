package workerproto

import (
	"bufio"
	"encoding/json"
	"io"
)

// Status is one message a worker sends its master on the status pipe.
type Status uint8

const (
	// Ready: the application is imported and the worker accepts. Sent once, first.
	Ready Status = iota + 1
	// Beat: the worker is alive; sent every Config.Heartbeat. Any status counts as one.
	Beat
	// Recycle: the worker served Config.MaxRequests; it keeps serving until
	// the master has a replacement ready and stops it.
	Recycle
)

func (s Status) String() string {
	switch s {
	case Ready:
		return "ready"
	case Beat:
		return "beat"
	case Recycle:
		return "recycle"
	}
	return "unknown"
}

// statusLine is a Status on the wire: one JSON object per line, e.g.
// {"ready":true}.
type statusLine struct {
	Ready   bool `json:"ready,omitempty"`
	Beat    bool `json:"beat,omitempty"`
	Recycle bool `json:"recycle,omitempty"`
}

// StatusWriter is the worker's end of the status pipe.
type StatusWriter struct{ w io.Writer }

// NewStatusWriter writes statuses to w.
func NewStatusWriter(w io.Writer) *StatusWriter { return &StatusWriter{w: w} }

// Send writes one status in one write; an error means the master is gone.
func (sw *StatusWriter) Send(s Status) error {
	return writeLine(sw.w, statusLine{Ready: s == Ready, Beat: s == Beat, Recycle: s == Recycle})
}

// writeLine writes v as one JSON object and a newline, in one write (a
// pipe write that small is atomic).
func writeLine(w io.Writer, v any) error {
	line, _ := json.Marshal(v) // plain fields only: it cannot fail
	_, err := w.Write(append(line, '\n'))
	return err
}

// lineScanner reads lines of at most max bytes.
func lineScanner(r io.Reader, max int) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, min(max, 64<<10)), max)
	return sc
}

// scanEnd is a reader's error once sc has no more lines: io.EOF at the end
// of the pipe.
func scanEnd(sc *bufio.Scanner) error {
	if err := sc.Err(); err != nil {
		return err
	}
	return io.EOF
}

// StatusReader is the master's end of the status pipe.
type StatusReader struct{ sc *bufio.Scanner }

// NewStatusReader reads statuses from r.
func NewStatusReader(r io.Reader) *StatusReader {
	return &StatusReader{sc: lineScanner(r, 1<<20)}
}

// Next returns the next status, skipping lines that are not JSON; a JSON
// object that names no known status is a Beat. At the end of the pipe (the
// worker is gone) it returns io.EOF.
func (sr *StatusReader) Next() (Status, error) {
	for sr.sc.Scan() {
		var l statusLine
		if json.Unmarshal(sr.sc.Bytes(), &l) != nil {
			continue
		}
		switch {
		case l.Ready:
			return Ready, nil
		case l.Recycle:
			return Recycle, nil
		}
		return Beat, nil
	}
	return 0, scanEnd(sr.sc)
}
