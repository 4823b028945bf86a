package reports

import "time"

// BenchAgent marks a bench.json as one agent's part of a coordinated run
// (`wsgikit bench --agent ID --start-at T`): which agent, its clock, and
// each run's times by that clock and its HDR histogram log.
type BenchAgent struct {
	ID       string    `json:"id"`
	StartAt  time.Time `json:"start_at"` // the coordinated start every agent was given
	Launched time.Time `json:"launched"` // the agent's clock when it was started
	// SlotS is the time each run has: run k starts at start_at + k × slot_s.
	SlotS float64 `json:"slot_s"`
	// ClockOffsetMs is this agent's clock minus the target's, from when
	// the target's Date header ticked over a second, ± ClockErrMs; absent
	// when the target sent no Date.
	ClockOffsetMs *float64   `json:"clock_offset_ms,omitempty"`
	ClockErrMs    float64    `json:"clock_offset_err_ms,omitempty"`
	ClockTarget   string     `json:"clock_target,omitempty"` // the URL asked
	Host          string     `json:"host,omitempty"`         // in a merge: the part's machine
	Dir           string     `json:"dir,omitempty"`          // in a merge: the part's directory
	Runs          []AgentRun `json:"runs"`
}

// AgentRun is one run of an agent, timed by the agent's own clock.
type AgentRun struct {
	Server      string    `json:"server"`
	Scenario    string    `json:"scenario"`
	Mode        string    `json:"mode"`
	Concurrency int       `json:"concurrency"`
	Round       int       `json:"round"`
	Began       time.Time `json:"began"` // the measured attack's start
	Ended       time.Time `json:"ended"` // its last answer
	LateMs      float64   `json:"late_ms"`
	// HistLog is the run's HdrHistogram log (format 1.3, values in µs),
	// relative to bench.json.
	HistLog string `json:"hist_log,omitempty"`
}

// BenchFleet says how a merged bench.json was put together from the parts
// of one coordinated run (`wsgikit bench merge`).
type BenchFleet struct {
	StartAt time.Time    `json:"start_at"`
	Agents  []BenchAgent `json:"agents"`
	// ClockSkewMs is the spread of the agents' clock offsets, ±
	// ClockSkewErrMs; absent unless every agent measured its offset.
	ClockSkewMs    *float64   `json:"clock_skew_ms,omitempty"`
	ClockSkewErrMs float64    `json:"clock_skew_err_ms,omitempty"`
	MaxSkewMs      float64    `json:"max_skew_ms"` // the bound beyond which the merge refuses
	Runs           []FleetRun `json:"runs"`
}

// FleetRun is one merged run: the window every agent was loading, and each
// agent's share.
type FleetRun struct {
	Server      string    `json:"server"`
	Scenario    string    `json:"scenario"`
	Mode        string    `json:"mode"`
	Concurrency int       `json:"concurrency"` // the fleet's total
	Round       int       `json:"round"`
	From        time.Time `json:"window_from"` // on the target's clock when every offset is known
	To          time.Time `json:"window_to"`
	// StartSpreadMs and EndSpreadMs are how far apart the agents began
	// and ended this run.
	StartSpreadMs float64         `json:"start_spread_ms"`
	EndSpreadMs   float64         `json:"end_spread_ms"`
	HistLog       string          `json:"hist_log,omitempty"` // the merged log, relative to bench.json
	Agents        []FleetAgentRun `json:"agents"`
}

// FleetAgentRun is one agent's part of a merged run.
type FleetAgentRun struct {
	ID          string  `json:"id"`
	Requests    uint64  `json:"requests"`
	InWindow    float64 `json:"requests_in_window"` // answered inside the common window (edge buckets prorated)
	RPS         float64 `json:"rps"`                // over its own run
	P99         float64 `json:"p99_ms"`
	ClientBound bool    `json:"client_bound"`
	ClientWhy   string  `json:"client_bound_reason,omitempty"`
	Failed      string  `json:"failed,omitempty"`
}
