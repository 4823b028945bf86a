package engine

// A request over --timeout (the master's notice, workerproto.Notice): the
// engine answers it without Python, gives itself a thread for the one the
// request keeps, and drains.

import (
	"slices"
	"time"

	"github.com/wsgikit/wsgikit/server/http1"
	"golang.org/x/sys/unix"
)

// TimeOut ends the request running in slot since startNS (Unix ns, as the
// scoreboard says), which ran over --timeout: the client gets 504 with
// "Connection: close" when no response began (answered), else a reset.
// Neither needs Python, nor the GIL. The application keeps its thread until
// it returns, if ever; its calls on the exchange do nothing from now on.
// The engine drains meanwhile, running its other requests (on the spare
// slot when the stuck one held the only thread), and stops without waiting
// for that one (Abandoned). ok is false when the request already ended.
func (e *Engine) TimeOut(slot int, startNS int64) (line string, answered, ok bool) {
	if slot < 0 || slot >= len(e.running) {
		return "", false, false
	}
	x := e.running[slot].Load()
	if x == nil {
		return "", false, false
	}
	x.seize()
	defer x.mu.Unlock()
	if x.ended || x.timedOut || x.startNS != startNS {
		return "", false, false
	}
	x.timedOut, x.close = true, true
	c := x.c
	if !x.headSent {
		x.headSent, x.status, answered = true, 504, true
		c.hbuf = http1.AppendError(c.hbuf[:0], 504)
		c.write(c.hbuf)
		c.flush()
		c.nc.shut(unix.SHUT_WR) // the client has its whole answer; the descriptor stays the request's
	} else {
		c.abort = true
		c.nc.reset()
	}
	e.stuck.Add(1)
	e.draining.Store(true)
	e.mu.Lock()
	l := e.loop
	e.mu.Unlock()
	if l != nil {
		l.replace(slot)
	}
	return x.requestLine(), answered, true
}

// Abandoned is the number of requests TimeOut answered that are still in
// the application: a stopped engine did not wait for them, and the process
// must exit without waiting for them either.
func (e *Engine) Abandoned() int { return int(e.stuck.Load()) }

// seize takes mu from the application's thread for TimeOut: at once between
// two of its calls (mu is also held an instant as a request begins and
// ends); during one that waits on the client (a body read, a response
// write), once the call gives up: a read does when the socket's read side
// shuts, a write when all of it does.
func (x *Exchange) seize() {
	for range 10 {
		if x.mu.TryLock() {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
	x.c.nc.shut(unix.SHUT_RD)
	for range 20 {
		if x.mu.TryLock() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	x.c.nc.cut()
	x.mu.Lock()
}

// Inline states (loop.inline): whether the loop runs requests itself (one
// thread), and whether it is inside one.
const (
	inlineOff  int32 = iota // runners run the requests
	inlineIdle              // the loop runs them, and is between two
	inlineBusy              // the loop is inside one
)

// replace gives the engine a Python thread for the one a timed-out request
// in slot keeps: the spare slot (once). When that request is the one the
// loop runs itself (one thread), the loop's goroutine is stuck in it, so
// another goroutine takes the loop over and hands requests to runners from
// then on; the stuck one hands its connection back when the application
// returns (serveInline). An application of one thread (wsgi.multithread
// false) then runs a request on a second thread while the first is stuck:
// the alternative is failing the requests already on their way. Called
// with the request's exchange locked: it has not ended, so the loop cannot
// leave it meanwhile.
func (l *loop) replace(slot int) {
	l.mu.Lock()
	if !l.spareUsed {
		l.spareUsed = true
		l.free = append(l.free, l.e.cfg.Threads) // the spare's slot
	}
	l.free = slices.DeleteFunc(l.free, func(s int) bool { return s == slot }) // an inline loop keeps its slot listed
	l.mu.Unlock()
	if l.inline.CompareAndSwap(inlineBusy, inlineOff) {
		go l.serve()
	}
	l.wake()
}

// handBack gives c, whose request ran on slot after the loop was taken over
// (replace), to the loop that runs now, and frees slot.
func (l *loop) handBack(c *conn, slot int) {
	c.closing = true // TimeOut answered it with Connection: close
	l.mu.Lock()
	l.back = append(l.back, c)
	l.nback.Add(1)
	l.free = append(l.free, slot)
	l.mu.Unlock()
	l.wake()
}
