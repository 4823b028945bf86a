package framework

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"
)

// Event is one report from the probe app: what happened (Ev), for which
// request (ID, from the X-Probe-Id header), in which process, in order (Seq
// counts per request inside the app).
type Event struct {
	ID   string         `json:"id"`
	Seq  int            `json:"seq"`
	PID  int            `json:"pid"`
	Ev   string         `json:"ev"`
	Data map[string]any `json:"-"`

	reply chan []byte // set for "ask" events: the app waits for one line
}

// Str returns a string field of the event ("" if absent).
func (e Event) Str(k string) string {
	s, _ := e.Data[k].(string)
	return s
}

// Int returns a numeric field of the event (-1 if absent).
func (e Event) Int(k string) int {
	f, ok := e.Data[k].(float64)
	if !ok {
		return -1
	}
	return int(f)
}

// Bool returns a boolean field of the event.
func (e Event) Bool(k string) bool {
	b, _ := e.Data[k].(bool)
	return b
}

// Reply answers an "ask" event; the probe app is blocked until it does.
// Replying twice or to a non-ask event is a no-op.
func (e Event) Reply(v any) {
	if e.reply == nil {
		return
	}
	b, _ := json.Marshal(v)
	select {
	case e.reply <- b:
	default:
	}
}

func (e Event) String() string {
	b, _ := json.Marshal(e.Data)
	return string(b)
}

// Sink is the TCP listener the probe app reports to (env WSGIKIT_SINK). It
// works across processes, which shared memory would not: Gunicorn workers,
// uWSGI and mod_wsgi daemons each connect on their own.
type Sink struct {
	ln     net.Listener
	mu     sync.Mutex
	cond   *sync.Cond
	events map[string][]Event
	closed bool
	wg     sync.WaitGroup
	conns  map[net.Conn]struct{}
}

// NewSink listens on 127.0.0.1 on a free port.
func NewSink() (*Sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("event sink: %w", err)
	}
	s := &Sink{ln: ln, events: map[string][]Event{}, conns: map[net.Conn]struct{}{}}
	s.cond = sync.NewCond(&s.mu)
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is host:port for WSGIKIT_SINK.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Close stops the listener, unblocks pending asks and waits for handlers.
func (s *Sink) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Sink) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

// serve reads JSON lines from one probe connection and answers each once it
// is recorded: an "ask" with the suite's reply (the handler blocks until the
// suite replies, or 30 s pass: the app then sees {"timeout": true} and
// carries on), any other event with {}. The app waits for that answer, so an
// event it reported before the server responded is on record by the time the
// suite has the response: "did the app run for this request?" is then a
// lookup, not a wait.
func (s *Sink) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			return
		}
		var ev Event
		if json.Unmarshal(line, &ev) != nil {
			continue
		}
		_ = json.Unmarshal(line, &ev.Data)
		if ev.Ev == "ask" {
			ev.reply = make(chan []byte, 1)
		}
		s.mu.Lock()
		s.events[ev.ID] = append(s.events[ev.ID], ev)
		s.cond.Broadcast()
		s.mu.Unlock()
		ans := []byte(`{}`)
		if ev.reply != nil {
			select {
			case ans = <-ev.reply:
			case <-time.After(30 * time.Second):
				ans = []byte(`{"timeout":true}`)
			}
		}
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write(append(ans, '\n'))
		if err != nil {
			return
		}
	}
}

// Events returns the events of one request so far, in the app's order.
func (s *Sink) Events(id string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]Event(nil), s.events[id]...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// Has reports whether an event named ev arrived for id.
func (s *Sink) Has(id, ev string) bool {
	_, ok := s.Find(id, ev)
	return ok
}

// Find returns the first event named ev for id.
func (s *Sink) Find(id, ev string) (Event, bool) {
	for _, e := range s.Events(id) {
		if e.Ev == ev {
			return e, true
		}
	}
	return Event{}, false
}

// Count counts events named ev for id.
func (s *Sink) Count(id, ev string) int {
	n := 0
	for _, e := range s.Events(id) {
		if e.Ev == ev {
			n++
		}
	}
	return n
}

// Wait blocks until an event for id satisfies match, or d passes. Waiting
// for a positive event is not a timing oracle: the deadline only bounds a
// hang.
func (s *Sink) Wait(id string, d time.Duration, match func(Event) bool) (Event, bool) {
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(d, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := 0
	for {
		evs := s.events[id]
		for ; seen < len(evs); seen++ {
			if match(evs[seen]) {
				// Events of one request travel on one connection, in order;
				// still, wait for any gap below the match to fill so callers
				// see everything that happened before it.
				m := evs[seen]
				for !contiguous(s.events[id], m.Seq) && !s.closed && time.Now().Before(deadline) {
					s.cond.Wait()
				}
				return m, true
			}
		}
		if s.closed || !time.Now().Before(deadline) {
			return Event{}, false
		}
		s.cond.Wait()
	}
}

// WaitEv waits for an event named one of names.
func (s *Sink) WaitEv(id string, d time.Duration, names ...string) (Event, bool) {
	return s.Wait(id, d, func(e Event) bool {
		for _, n := range names {
			if e.Ev == n {
				return true
			}
		}
		return false
	})
}

// forget drops the events of a finished request.
func (s *Sink) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.events, id)
}

// contiguous reports whether events 1..upto are all present.
func contiguous(evs []Event, upto int) bool {
	have := make(map[int]bool, len(evs))
	for _, e := range evs {
		have[e.Seq] = true
	}
	for i := 1; i <= upto; i++ {
		if !have[i] {
			return false
		}
	}
	return true
}
