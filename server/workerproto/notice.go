package workerproto

import (
	"bufio"
	"encoding/json"
	"io"
)

// Notice is one message the master sends a worker on the control pipe (the
// pipe whose EOF means the master is gone), one JSON object per line.
type Notice struct {
	// TimedOut: the request in Slot, begun at Start (Unix ns, as the
	// scoreboard says), ran over --timeout. The worker answers it 504 (or
	// cuts it when its response began), stops accepting, lets its other
	// requests finish and exits; the master kills it only if it is still
	// there after --graceful-timeout.
	TimedOut bool  `json:"timed_out,omitempty"`
	Slot     int   `json:"slot"`
	Start    int64 `json:"start"`
}

// NoticeWriter is the master's end of the control pipe.
type NoticeWriter struct{ w io.Writer }

// NewNoticeWriter writes notices to w.
func NewNoticeWriter(w io.Writer) *NoticeWriter { return &NoticeWriter{w: w} }

// Send writes one notice in one write; an error means the worker is gone.
func (nw *NoticeWriter) Send(n Notice) error { return writeLine(nw.w, n) }

// NoticeReader is the worker's end of the control pipe.
type NoticeReader struct{ sc *bufio.Scanner }

// NewNoticeReader reads notices from r.
func NewNoticeReader(r io.Reader) *NoticeReader {
	return &NoticeReader{sc: lineScanner(r, 64<<10)}
}

// Next returns the next notice, skipping lines it does not understand. At
// the end of the pipe (the master is gone) it returns io.EOF.
func (nr *NoticeReader) Next() (Notice, error) {
	for nr.sc.Scan() {
		var n Notice
		if json.Unmarshal(nr.sc.Bytes(), &n) == nil && n.TimedOut {
			return n, nil
		}
	}
	return Notice{}, scanEnd(nr.sc)
}
