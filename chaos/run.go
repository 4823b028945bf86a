// Package chaos is the chaos benchmark: it keeps wrk's keep-alive load on a
// server while it does, one at a time and on a fresh instance each, every
// operation of a server's process management that the server supports —
// graceful reload, worker recycling, adding and removing workers, a request
// over the timeout, a killed worker, reload-on-rss, a worker's graceful stop
// — and reports per server, operation and connection count the requests
// completed and the errors the clients saw, by kind. Servers are started
// through internal/harness only; what each server supports, and how, is the
// table in ops.go.
package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/wrk"
)

// Schema names the chaos.json format.
const Schema = "wsgikit.chaos/v1"

// Plan is one chaos run.
type Plan struct {
	Servers     []string // profile names of the table (default DefaultServers)
	Operations  []string // default every operation
	Connections []int    // wrk connections per cell (default 16 and 64)
	Duration    time.Duration
	FireAt      time.Duration // when the operation happens in the load (default 1 s)
	Workers     int           // default 2
	Threads     int           // default 4
	WrkPath     string        // default wrk.DefaultPath
	LogDir      string        // where the servers' logs stay ("": removed)
	// Progress hears of each cell when it is done.
	Progress func(Cell)
}

// MinDuration leaves the timeout cell room: the slow request starts at the
// fire time and the server must have acted on it before the load ends.
const MinDuration = 4 * time.Second

func (p *Plan) defaults() {
	if len(p.Servers) == 0 {
		p.Servers = DefaultServers
	}
	if len(p.Operations) == 0 {
		p.Operations = OperationNames()
	}
	if len(p.Connections) == 0 {
		p.Connections = []int{16, 64}
	}
	if p.Duration == 0 {
		p.Duration = 5 * time.Second
	}
	if p.FireAt == 0 {
		p.FireAt = time.Second
	}
	if p.Workers == 0 {
		p.Workers = 2
	}
	if p.Threads == 0 {
		p.Threads = 4
	}
}

// Validate checks a plan before anything starts; errors name the fix.
func (p *Plan) Validate() error {
	p.defaults()
	for _, s := range p.Servers {
		if err := CheckServer(s); err != nil {
			return err
		}
	}
	for _, o := range p.Operations {
		if err := CheckOperation(o); err != nil {
			return err
		}
	}
	for _, c := range p.Connections {
		if c < 1 || c > 10000 {
			return fmt.Errorf("--connections %d: want 1 to 10000", c)
		}
	}
	if p.Duration < MinDuration || p.Duration%time.Second != 0 {
		return fmt.Errorf("--duration %v: want whole seconds, at least %v (the timeout cell needs them)", p.Duration, MinDuration)
	}
	if p.FireAt <= 0 || p.FireAt > p.Duration-3*time.Second {
		return fmt.Errorf("--fire-at %v: want more than 0 and at most the duration minus 3 s", p.FireAt)
	}
	if p.Workers < 2 || p.Threads < 1 {
		return fmt.Errorf("--workers %d, --threads %d: want 2 or more workers (one is killed or removed) and 1 or more threads", p.Workers, p.Threads)
	}
	if _, err := wrk.Lookup(p.WrkPath); err != nil {
		return err
	}
	return nil
}

// Run does every cell of the plan, servers in the order given, then
// connection counts, then operations, each on a fresh instance. A server
// whose profile is not installed must be left out by the caller (the CLI
// skips it with a warning). A cancelled ctx ends the run after the cell in
// progress, with the cells done so far.
func Run(ctx context.Context, p Plan) (*Report, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	r := &Report{
		Schema: Schema, Started: time.Now().UTC().Truncate(time.Second), Machine: harness.Machine(),
		Client:   "wrk (GET / on keep-alive connections, 2 threads, --timeout 2s)",
		Duration: p.Duration.Seconds(), FireAt: p.FireAt.Seconds(), Workers: p.Workers, Threads: p.Threads,
		Connections: p.Connections, Operations: selectedOps(p.Operations),
	}
	for _, name := range p.Servers {
		prof, err := harness.Lookup(name, nil)
		if err != nil {
			return nil, err
		}
		info := ServerInfo{Name: name, Args: Servers[name].Args, ArgsWhy: Servers[name].ArgsWhy}
		info.Version, _ = prof.Version()
		r.Servers = append(r.Servers, info)
		for _, conns := range p.Connections {
			for _, op := range p.Operations {
				if ctx.Err() != nil {
					return r, ctx.Err()
				}
				m, _ := Lookup(name, op)
				c := runCell(ctx, cellPlan{profile: prof, server: Servers[name], op: op, method: m, connections: conns, plan: &p})
				r.Cells = append(r.Cells, c)
				if p.Progress != nil {
					p.Progress(c)
				}
			}
		}
	}
	return r, ctx.Err()
}

func selectedOps(names []string) []Operation {
	var out []Operation
	for _, o := range Operations {
		for _, n := range names {
			if o.Name == n {
				out = append(out, o)
			}
		}
	}
	return out
}
