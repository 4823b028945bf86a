package engine

// Handing parsed requests to Python threads: with one thread the loop runs
// them itself; with more, runner goroutines (one per busy slot) take them
// and give each connection back to the loop when it must wait.

// enqueue queues c's parsed request for a Python thread.
func (l *loop) enqueue(c *conn) {
	c.busy = true // it stays in the epoll set: edges only mark it (event)
	l.e.stats.Waiting.Add(1)
	l.mu.Lock()
	l.ready.push(c)
	l.mu.Unlock()
}

// dispatch starts queued requests. With one thread the loop runs them
// itself, each connection one request per round (then the loop looks for
// new events again); otherwise runners take them. It reports whether
// another goroutine took the loop over during a request (replace).
func (l *loop) dispatch() (detached bool) {
	if l.inline.Load() != inlineOff {
		for round := l.ready.len(); round > 0 && l.ready.len() > 0; round-- {
			if l.serveInline(l.popReady()) {
				return true
			}
			l.maybeYield()
		}
		return false
	}
	l.mu.Lock()
	for l.ready.len() > 0 && len(l.free) > 0 {
		c := l.popReady()
		slot := l.free[len(l.free)-1]
		l.free = l.free[:len(l.free)-1]
		l.runners++
		go l.runner(slot, c)
	}
	l.mu.Unlock()
	return false
}

// popReady takes the oldest queued request (l.mu held).
func (l *loop) popReady() *conn {
	l.e.stats.Waiting.Add(-1)
	return l.ready.pop()
}

// connQueue is a FIFO of connections that reuses its array.
type connQueue struct {
	q    []*conn
	head int
}

func (q *connQueue) len() int { return len(q.q) - q.head }
func (q *connQueue) push(c *conn) {
	if q.head > 0 && len(q.q) == cap(q.q) { // reuse the room popped at the front
		n := copy(q.q, q.q[q.head:])
		clear(q.q[n:])
		q.q, q.head = q.q[:n], 0
	}
	q.q = append(q.q, c)
}

func (q *connQueue) pop() *conn {
	c := q.q[q.head]
	q.q[q.head] = nil
	q.head++
	if q.head == len(q.q) {
		q.q, q.head = q.q[:0], 0
	}
	return c
}

// serveInline runs c's request on the loop's own thread (Threads == 1), then
// any pipelined one while nobody else waits. It reports whether the loop
// was taken over meanwhile (replace): this goroutine is then no longer the
// loop's.
func (l *loop) serveInline(c *conn) (detached bool) {
	for {
		l.inline.Store(inlineBusy)
		keep, end := c.handle(0)
		if !l.inline.CompareAndSwap(inlineBusy, inlineIdle) {
			l.handBack(c, 0)
			return true
		}
		l.now = end
		if !keep {
			c.busy = false
			l.finish(c)
			return false
		}
		if c.edged {
			c.edged = false
			c.nc.drained = false
		}
		s := c.next()
		if s == stepReady && l.ready.len() == 0 {
			continue // responses go out together
		}
		c.busy = false
		switch s {
		case stepReady:
			c.flushNow()
			l.enqueue(c)
		case stepWait:
			l.park(c)
		case stepClose:
			l.finish(c)
		}
		return false
	}
}

// runner runs requests on slot (Threads > 1) until none is queued; each
// connection goes back to the loop when it must wait.
func (l *loop) runner(slot int, c *conn) {
	for {
		s := stepClose
		if keep, _ := c.handle(slot); keep {
			s = c.next()
		}
		if s == stepReady {
			l.mu.Lock()
			if l.ready.len() > 0 { // take turns with the connections waiting
				c.flushNow()
				l.ready.push(c)
				l.e.stats.Waiting.Add(1)
				c = l.popReady()
			}
			l.mu.Unlock()
			continue
		}
		if s == stepWait {
			c.flushNow()
		} else {
			c.closing = true
		}
		l.mu.Lock()
		l.back = append(l.back, c)
		l.nback.Add(1)
		c = nil
		if l.ready.len() > 0 {
			c = l.popReady()
		} else {
			l.free = append(l.free, slot)
			l.runners--
		}
		l.mu.Unlock()
		if l.sleeping.Load() {
			l.wake()
		}
		if c == nil {
			return
		}
	}
}

// takeBack takes the connections runners are done with.
func (l *loop) takeBack() {
	l.mu.Lock()
	back := l.back
	l.back = nil
	l.nback.Store(0)
	l.mu.Unlock()
	for _, c := range back {
		c.busy = false
		switch {
		case c.closing:
			l.finish(c)
		case c.edged: // bytes came while the runner had it
			c.edged = false
			c.nc.drained = false
			l.advance(c)
		default:
			l.park(c)
		}
	}
}
