// Package loadgen is wsgikit's load driver: vegeta v12 used as a library,
// with a lean HTTP/1.1 keep-alive transport plugged into its Client option,
// exact HdrHistogram latencies, and benchstat's statistics.
//
// One measurement (Run) is a warm-up and a measured attack. The closed
// model over keep-alive plain HTTP runs on the event loop (evloop.go: one
// epoll loop per client CPU, wrk's way of sending, results recorded as the
// Attacker's would be and written in vegeta's encoding); everything else
// runs on a new vegeta Attacker per phase (an Attacker is single use) whose
// MaxWorkers is always bounded. The closed model gives every one of N
// workers its own connection;
// the open model sends at a fixed rate and measures latency from each
// request's intended send time, so that a stalled server or client cannot
// hide its queue (coordinated omission); the service time from the actual
// send is reported next to it. SearchCapacity finds the highest rate that
// meets a latency objective by bracketing and bisection. With Wrk set, a
// run is measured by Debian's wrk instead (closed model, one plain GET),
// read back through a Lua script as its exact latency histogram.
//
// Bench runs a Plan (checked by Plan.Validate, the one place a bench's
// settings are judged) into a reports.Bench, bench.json's one schema:
// rounds that start every server afresh in rotated order, each run reduced
// to one value per metric, then medians with confidence intervals from
// order statistics and Mann–Whitney U tests between servers
// (golang.org/x/perf/benchmath), never on pooled per-request samples. Gate
// judges a run against a saved baseline: a regression must be both beyond
// the threshold and significant.
//
// The driver measures itself too: its CPU (getrusage), the machine's idle
// time, Little's law in the closed model and the achieved rate in the open
// one; a run where the client rather than the server was the limit is
// flagged client_bound, with the reason.
package loadgen
