package framework

import (
	"bufio"
	"fmt"
	"net"
	"testing"
	"time"
)

// TestSinkOrderAndAsk: events of one request arrive in order over one
// connection, each answered with a receipt once recorded; an ask blocks the
// sender until the suite replies.
func TestSinkOrderAndAsk(t *testing.T) {
	s, err := NewSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(c, `{"id":"r1","seq":%d,"pid":1,"ev":"step","n":%d}`+"\n", i, i)
		// The receipt comes once the event is on record: no wait needed.
		if line, err := r.ReadString('\n'); err != nil || line != "{}\n" {
			t.Fatalf("receipt for step %d: %q %v", i, line, err)
		}
		if n := s.Count("r1", "step"); n != i {
			t.Fatalf("receipt for step %d with %d steps on record", i, n)
		}
	}
	fmt.Fprintf(c, `{"id":"r1","seq":4,"pid":1,"ev":"ask","q":"seen"}`+"\n")
	// The bound only ends a wait that then fails; the ask arrives at once.
	ask, ok := s.WaitEv("r1", time.Minute, "ask")
	if !ok {
		t.Fatalf("ask not received within a minute; %d step events seen", s.Count("r1", "step"))
	}
	if n := s.Count("r1", "step"); n != 3 {
		t.Fatalf("%d step events before the ask, want 3", n)
	}
	ask.Reply(map[string]any{"bytes": 0})
	line, err := r.ReadString('\n')
	if err != nil || line != "{\"bytes\":0}\n" {
		t.Fatalf("reply %q %v", line, err)
	}
	if ev, _ := s.Find("r1", "step"); ev.Int("n") != 1 {
		t.Errorf("first step n=%d", ev.Int("n"))
	}
	// Everything that arrived is r1's: nothing is filed under another id.
	if ev, ok := s.Find("other", "step"); ok {
		t.Errorf("r1's event filed under another id: %+v", ev)
	}
}
