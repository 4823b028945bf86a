package workerproto

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestStatusRoundTrip: what the worker writes, the master reads, on the
// wire format both sides have always used.
func TestStatusRoundTrip(t *testing.T) {
	var pipe bytes.Buffer
	w := NewStatusWriter(&pipe)
	sent := []Status{Ready, Beat, Beat, Recycle, Beat}
	for _, s := range sent {
		if err := w.Send(s); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.HasPrefix(pipe.String(), "{\"ready\":true}\n{\"beat\":true}\n") {
		t.Fatalf("wire format %q", pipe.String())
	}
	r := NewStatusReader(&pipe)
	for i, want := range sent {
		got, err := r.Next()
		if err != nil || got != want {
			t.Fatalf("status %d: %v (%v), want %v", i, got, err, want)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last: %v, want EOF", err)
	}
}

// TestStatusReaderSkipsNoise: a line that is not JSON is skipped; an object
// with no known status still proves the worker alive.
func TestStatusReaderSkipsNoise(t *testing.T) {
	r := NewStatusReader(strings.NewReader("garbage\n{\"other\":1}\n{\"recycle\":true}\n"))
	for _, want := range []Status{Beat, Recycle} {
		if got, err := r.Next(); err != nil || got != want {
			t.Fatalf("got %v (%v), want %v", got, err, want)
		}
	}
}

// TestNoticeRoundTrip: the master's notices reach the worker as sent; lines
// it does not understand are skipped; the pipe's end is io.EOF.
func TestNoticeRoundTrip(t *testing.T) {
	var pipe bytes.Buffer
	w := NewNoticeWriter(&pipe)
	sent := []Notice{{TimedOut: true, Slot: 1, Start: 1234567890123}, {TimedOut: true, Slot: 0, Start: 42}}
	w.Send(sent[0])
	pipe.WriteString("garbage\n{\"future\":true}\n")
	w.Send(sent[1])
	if !strings.HasPrefix(pipe.String(), "{\"timed_out\":true,\"slot\":1,\"start\":1234567890123}\n") {
		t.Fatalf("wire format %q", pipe.String())
	}
	r := NewNoticeReader(&pipe)
	for i, want := range sent {
		if got, err := r.Next(); err != nil || got != want {
			t.Fatalf("notice %d: %+v (%v), want %+v", i, got, err, want)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last: %v, want EOF", err)
	}
}
