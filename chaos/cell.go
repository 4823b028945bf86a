package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/wrk"
)

// cellPlan is one cell: one server, one operation, one connection count.
type cellPlan struct {
	profile     *harness.Profile
	server      Server
	op          string
	method      Method
	connections int
	plan        *Plan
}

// runCell starts a fresh server, keeps wrk's load on it for the plan's
// duration, does the operation at the fire time and stops the server.
// Every wait is bounded: a server that hangs or dies ends up in Cell.Error
// or Cell.Notes, never in a stuck run.
func runCell(ctx context.Context, cp cellPlan) (c Cell) {
	c = Cell{Server: cp.profile.Name, Operation: cp.op, Connections: cp.connections, How: cp.method.How}
	if cp.method.Unsupported != "" {
		c.Unsupported = cp.method.Unsupported
		return c
	}
	args := append(slices.Clone(cp.server.Args), cp.method.Args...)
	c.ServerArgs = args
	app, err := chaosApp()
	if err != nil {
		c.Error = err.Error()
		return c
	}
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	inst, err := harness.Start(startCtx, cp.profile.WithArgs(args...), app, harness.Options{
		Workers: cp.plan.Workers, Threads: cp.plan.Threads, LogDir: cp.plan.LogDir,
	})
	cancel()
	if err != nil {
		c.Error = err.Error()
		return c
	}
	if cp.plan.LogDir != "" {
		c.ServerLog = inst.LogPath
	}
	defer func() { // c is the named result: the note reaches the caller
		if err := inst.Stop(); err != nil {
			c.Notes = append(c.Notes, err.Error())
		}
	}()
	before, err := awaitWorkers(ctx, inst, cp.plan.Workers)
	if err != nil {
		c.Error = err.Error()
		return c
	}
	watch := watchWorkers(inst, before)

	var wg sync.WaitGroup
	var sum wrk.Summary
	var out []byte
	var wrkErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		wctx, cancel := context.WithTimeout(ctx, cp.plan.Duration+30*time.Second)
		defer cancel()
		sum, out, wrkErr = wrk.Run(wctx, wrk.Options{Path: cp.plan.WrkPath, URL: inst.URL() + "/",
			Connections: cp.connections, Duration: cp.plan.Duration})
	}()
	select {
	case <-time.After(cp.plan.FireAt):
	case <-ctx.Done():
	}
	var probe *Probe
	var probeDone chan struct{}
	switch {
	case ctx.Err() != nil:
	case cp.method.Request != "":
		probe = &Probe{Path: cp.method.Request}
		probeDone = make(chan struct{})
		go func() { defer close(probeDone); runProbe(ctx, inst, probe) }()
	case cp.method.Signal != 0:
		t, err := fire(inst, cp.method)
		if err != nil {
			c.Notes = append(c.Notes, err.Error())
		}
		c.Target = t
	}
	wg.Wait()
	if probeDone != nil {
		<-probeDone // bounded by the probe's own deadline
		c.Probe = probe
		c.Target = probe.target
	}
	c.Workers = watch.stop()
	select {
	case <-inst.Exited():
		c.Notes = append(c.Notes, "the server exited during the cell; its log ends:\n"+inst.LogTail(10))
	default:
	}
	if wrkErr != nil {
		c.Error = wrkErr.Error()
		if len(out) > 0 {
			c.Error += "\n" + string(out)
		}
		return c
	}
	c.Load = sum
	c.Errors = sum.Errors()
	return c
}

// chaosApp is apps/chaos.py.
func chaosApp() (harness.App, error) {
	dir, err := harness.AppsDir()
	if err != nil {
		return harness.App{}, err
	}
	if _, err := os.Stat(dir + "/chaos.py"); err != nil {
		return harness.App{}, fmt.Errorf("apps/chaos.py not found in %s: %w", dir, err)
	}
	return harness.App{Dir: dir, Module: "chaos", Callable: "application"}, nil
}

// awaitWorkers waits until the server has n workers (ready: one answered
// when Start returned; the others are forked by then or soon after).
func awaitWorkers(ctx context.Context, inst *harness.Instance, n int) ([]int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ws := inst.Workers()
		if len(ws) >= n {
			return ws, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("%s has %d worker processes (%v) 30 s after start, want %d", inst.Profile.Name, len(ws), ws, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fire sends the method's signal. A worker target is the busiest worker
// (most connections; the oldest on a tie), so that the operation hits
// clients: with the load's connections all on one worker, the other may
// have none to lose.
func fire(inst *harness.Instance, m Method) (*Target, error) {
	if m.To != Worker {
		return nil, inst.Signal(inst.MainPID(), m.Signal)
	}
	var t *Target
	for _, pid := range inst.Workers() {
		n, err := inst.Conns(pid)
		if err == nil && (t == nil || n > t.Conns) {
			t = &Target{PID: pid, Conns: n}
		}
	}
	if t == nil {
		return nil, errors.New("no worker to signal")
	}
	return t, inst.Signal(t.PID, m.Signal)
}

// workerWatch samples the workers while the load runs: which were there
// first, which started and which ended.
type workerWatch struct {
	inst   *harness.Instance
	before []int
	mu     sync.Mutex
	seen   map[int]bool
	last   []int
	done   chan struct{}
	ended  chan struct{}
}

func watchWorkers(inst *harness.Instance, before []int) *workerWatch {
	w := &workerWatch{inst: inst, before: before, seen: map[int]bool{}, last: before,
		done: make(chan struct{}), ended: make(chan struct{})}
	for _, p := range before {
		w.seen[p] = true
	}
	go func() {
		defer close(w.ended)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				w.sample()
			}
		}
	}()
	return w
}

func (w *workerWatch) sample() {
	ws := w.inst.Workers()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = ws
	for _, p := range ws {
		w.seen[p] = true
	}
}

func (w *workerWatch) stop() Workers {
	close(w.done)
	<-w.ended
	w.sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	r := Workers{Before: len(w.before), After: len(w.last)}
	for p := range w.seen {
		if !slices.Contains(w.before, p) {
			r.Started++
		}
		if !slices.Contains(w.last, p) {
			r.Ended++
		}
	}
	return r
}

// runProbe sends one GET on a connection of its own (Connection: close) and
// records what came back; it waits at most the sleep plus 5 s.
func runProbe(ctx context.Context, inst *harness.Instance, p *Probe) {
	start := time.Now()
	defer func() { p.Seconds = time.Since(start).Seconds() }()
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", inst.Addr)
	if err != nil {
		p.Outcome = outcome(err)
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(start.Add(time.Duration(SleepMS)*time.Millisecond + 5*time.Second))
	req := "GET " + p.Path + " HTTP/1.1\r\nHost: " + inst.Addr + "\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		p.Outcome = outcome(err)
		return
	}
	p.target = probeTarget(inst, conn.LocalAddr())
	// net/http's reader, not its client: one response on our own socket,
	// nothing retried.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		p.Outcome = outcome(err)
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	p.Outcome = strconv.Itoa(resp.StatusCode)
	if err != nil {
		p.Outcome += " (body cut: " + outcome(err) + ")"
	}
}

// probeTarget finds the worker serving the probe's connection (it may sit
// in the accept queue for a moment) and counts its other connections.
func probeTarget(inst *harness.Instance, local net.Addr) *Target {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		pid, err := inst.ConnOwner(local)
		if err != nil {
			continue
		}
		n, _ := inst.Conns(pid)
		return &Target{PID: pid, Conns: max(0, n-1)}
	}
	return nil
}

// outcome names a socket error the way the report does.
func outcome(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer"
	}
	return err.Error()
}
