package loadgen

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/reports"
)

// An agent is one load host of a coordinated run: several hosts started by
// a fan-out tool (pdsh, a Kubernetes Indexed Job) with the same flags and
// start time, each loading the same servers; `wsgikit bench merge` then
// combines their parts. wsgikit schedules nothing across hosts: each agent
// waits for its own clock to reach the start, and runs run k at
// start + k × slot, so every agent's k-th run overlaps the others'.

// agentSettle is the slack after each run's warm-up and measurement before
// the next run's slot: in-flight answers finish, connections close.
const agentSettle = time.Second

// agentMaxLate is how long after --start-at an agent may still begin.
const agentMaxLate = time.Second

var agentIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// agentState is an agent's progress through its slots.
type agentState struct {
	part  *reports.BenchAgent
	slot  int       // the next run's slot
	at    time.Time // the current run's slot time
	clock bool      // the clock probe ran
}

// checkAgent checks an agent's plan: an ID fit for a file name, a start
// not yet past, result files to write, and a load every agent can repeat
// in step (not a capacity search, whose probes depend on what one agent
// sees; not wrk, which keeps no per-request latencies).
func (p *Plan) checkAgent() error {
	if p.Agent == "" {
		if !p.StartAt.IsZero() {
			return errors.New("--start-at is for an agent of a coordinated run: give --agent ID too")
		}
		return nil
	}
	if !agentIDRe.MatchString(p.Agent) {
		return fmt.Errorf("--agent %q: want letters, digits, '.', '_' or '-' (at most 63)", p.Agent)
	}
	if p.StartAt.IsZero() {
		return errors.New("--agent needs --start-at, the same RFC 3339 time for every agent (e.g. $(date -u -d '+20 seconds' +%FT%TZ))")
	}
	if late := time.Since(p.StartAt); late > agentMaxLate {
		return fmt.Errorf("--start-at %s passed %s ago; give every agent a later one", p.StartAt.Format(time.RFC3339), late.Round(time.Millisecond))
	}
	if p.OutDir == "" {
		return errors.New("--agent writes its part for the merge: give -o DIR")
	}
	if p.Mode == ModeCapacity {
		return errors.New("--agent runs a fixed load (closed, sweep or open); a capacity search adapts to what one agent sees")
	}
	if p.Transport == TransportWrk {
		return errors.New("--agent needs per-request latencies for its HDR log; use --transport lean or stock")
	}
	if p.CrossCheck != "" {
		return errors.New("--cross-check would load the target between an agent's runs; drop it")
	}
	if p.fleet != nil {
		return nil // validated before (Bench validates again)
	}
	p.fleet = &agentState{part: &reports.BenchAgent{ID: p.Agent, StartAt: p.StartAt.UTC(), Launched: time.Now().UTC(),
		SlotS: p.slot().Seconds()}}
	return nil
}

// slot is each run's share of an agent's schedule.
func (p *Plan) slot() time.Duration { return p.Warmup + p.Duration + agentSettle }

// awaitSlot waits for the next run's slot; before the first, it measures
// the clock against the target and says when the run starts (after the
// last request before the measured ones: the line a caller may wait for).
func (r *runner) awaitSlot(ctx context.Context, srv harness.Server) error {
	a := r.fleet
	if a == nil {
		return nil
	}
	if r.out.Agent == nil {
		r.out.Agent = a.part
	}
	if !a.clock {
		a.clock = true
		a.part.ClockTarget = srv.URL() + "/"
		off, ok, err := ProbeClock(ctx, a.part.ClockTarget, clientTLS(srv))
		switch {
		case err != nil:
			r.out.Notes = append(r.out.Notes, "agent clock: "+err.Error())
		case !ok:
			r.out.Notes = append(r.out.Notes, "agent clock: the target sends no Date that ticks; clock skew between agents cannot be measured")
		default:
			ms := float64(off.Offset) / 1e6
			a.part.ClockOffsetMs, a.part.ClockErrMs = &ms, float64(off.Err)/1e6
			fmt.Fprintf(r.Log, "agent %s: clock %+.1f ms ± %.1f ms against %s\n", r.Agent, ms, a.part.ClockErrMs, a.part.ClockTarget)
		}
	}
	a.at = r.StartAt.Add(time.Duration(a.slot) * r.slot())
	a.slot++
	wait := time.Until(a.at)
	fmt.Fprintf(r.Log, "agent %s: run %d starts at %s (in %s)\n", r.Agent, a.slot, a.at.UTC().Format(time.RFC3339Nano), wait.Round(time.Millisecond))
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// agentRun records a measured run in the agent's part and writes its HDR
// log next to its vegeta result file; a failure becomes a note.
func (r *runner) agentRun(row *reports.BenchRun, res *RunResult) {
	a := r.fleet
	if a == nil || res == nil || res.Requests == 0 {
		return
	}
	ar := reports.AgentRun{Server: row.Server, Scenario: row.Scenario, Mode: row.Mode, Concurrency: row.Concurrency,
		Round: row.Round, Began: res.Began.UTC(), Ended: res.Began.Add(time.Duration(res.Seconds * 1e9)).UTC(),
		LateMs: float64(res.Began.Sub(a.at.Add(r.Warmup))) / 1e6}
	name := runFileName(row) + ".hlog"
	comment := fmt.Sprintf("wsgikit agent %s: %s %s %s c=%d round %d", r.Agent, row.Server, row.Scenario, row.Mode, row.Concurrency, row.Round)
	if err := histLogOf(res).WriteFile(filepath.Join(r.OutDir, "results", name), comment); err != nil {
		r.out.Notes = append(r.out.Notes, err.Error())
	} else {
		ar.HistLog = filepath.Join("results", name)
	}
	a.part.Runs = append(a.part.Runs, ar)
}
