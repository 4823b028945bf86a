// Package reports owns the result schemas (wsgikit.check/v1, wsgikit.bench/v1)
// and renders them as HTML, Markdown and JUnit.
//
// The JSON field names below are contracts with users' CI: add fields freely,
// never rename or drop one without a new schema version.
package reports

import "time"

// Schema identifiers written into the "schema" field.
const (
	CheckSchema = "wsgikit.check/v1"
	BenchSchema = "wsgikit.bench/v1"
)

// Verdicts a conformance spec can earn on one server.
const (
	VerdictPass        = "PASS"
	VerdictFail        = "FAIL"       // a MUST broken
	VerdictNonStrict   = "NON-STRICT" // a SHOULD broken
	VerdictInfo        = "INFO"       // records the option a server took
	VerdictUnsupported = "UNSUPPORTED"
	VerdictError       = "ERROR" // the harness failed; never blamed on the server
)

// Machine describes where results were measured, so numbers are never read
// without their context.
type Machine struct {
	Hostname  string `json:"hostname,omitempty"`
	CPUModel  string `json:"cpu_model,omitempty"`
	CPUs      int    `json:"cpus,omitempty"`
	Kernel    string `json:"kernel,omitempty"`
	OS        string `json:"os,omitempty"`
	Python    string `json:"python,omitempty"`
	GoVersion string `json:"go_version,omitempty"`
}

// Check is the whole of check.json.
type Check struct {
	Schema    string        `json:"schema"`
	Generated time.Time     `json:"generated,omitempty"`
	Machine   *Machine      `json:"machine,omitempty"`
	Servers   []CheckServer `json:"servers"`
	// Skipped are servers asked for but not installed, with why.
	Skipped []SkippedServer `json:"skipped,omitempty"`
}

// SkippedServer is a server a run left out because it is not installed.
type SkippedServer struct {
	Name   string `json:"name"`
	Reason string `json:"reason"` // what is missing (pip's failure when setup recorded one) and the fix
}

// CheckServer holds one server's verdicts.
type CheckServer struct {
	Name    string        `json:"name"`
	Version string        `json:"version"`
	Error   string        `json:"error,omitempty"` // set when the server could not be run at all
	Results []CheckResult `json:"results"`
}

// CheckResult is one spec's verdict on one server.
type CheckResult struct {
	ID         string  `json:"id"`
	Level      string  `json:"level"` // MUST, SHOULD, MAY, INFO
	Verdict    string  `json:"verdict"`
	Detail     string  `json:"detail"`
	Transcript string  `json:"transcript"`
	Section    string  `json:"section,omitempty"`  // e.g. "PEP 3333 / start_response" or "RFC 9112 / framing"
	Sentence   string  `json:"sentence,omitempty"` // the spec sentence the case tests
	Stimulus   string  `json:"stimulus,omitempty"`
	Seconds    float64 `json:"seconds,omitempty"`
}

// Bench is the whole of bench.json.
type Bench struct {
	Schema      string         `json:"schema"`
	Generated   time.Time      `json:"generated,omitempty"`
	Machine     *Machine       `json:"machine,omitempty"`
	Servers     []BenchServ    `json:"servers,omitempty"`
	Runs        []BenchRun     `json:"runs"`
	Summary     []BenchSum     `json:"summary"`
	Comparisons []Comparison   `json:"comparisons"`
	Regressions []Regression   `json:"regressions,omitempty"`
	Settings    *BenchSettings `json:"settings,omitempty"`
	CrossChecks []CrossCheck   `json:"cross_checks,omitempty"`
	Notes       []string       `json:"notes,omitempty"`
	// Different lists the targets the servers answered differently, one
	// line each (empty: the same work everywhere); the run was refused
	// unless --allow-different.
	Different []string `json:"different,omitempty"`
	// Skipped are servers named but not installed, with why.
	Skipped []SkippedServer `json:"skipped,omitempty"`
	// Agent marks one agent's part of a coordinated run; Fleet, a merge of
	// such parts.
	Agent *BenchAgent `json:"agent,omitempty"`
	Fleet *BenchFleet `json:"fleet,omitempty"`
}

// BenchSettings records how the numbers were made.
type BenchSettings struct {
	Mode        string   `json:"mode"`
	Rounds      int      `json:"rounds"`
	DurationS   float64  `json:"duration_s"`
	WarmupS     float64  `json:"warmup_s"`
	Concurrency []int    `json:"concurrency,omitempty"`
	Rate        float64  `json:"rate,omitempty"`
	SLO         string   `json:"slo,omitempty"`
	Transport   string   `json:"transport"`
	TLS         bool     `json:"tls,omitempty"`      // the servers served TLS and the driver spoke https
	NewConn     bool     `json:"new_conn,omitempty"` // a new connection per request
	Pin         string   `json:"pin,omitempty"`
	Command     string   `json:"command,omitempty"`
	Servers     []string `json:"servers"`
	Scenarios   []string `json:"scenarios"`
}

// CrossCheck is a wrk run next to the driver's, on the same server.
type CrossCheck struct {
	Server      string  `json:"server"`
	Scenario    string  `json:"scenario"`
	Concurrency int     `json:"concurrency"`
	VegetaRPS   float64 `json:"vegeta_rps"` // the driver's rate, whatever its engine (the name predates the event loop)
	WrkRPS      float64 `json:"wrk_rps"`
	Engine      string  `json:"engine,omitempty"`                // what sent the driver's requests: loop or vegeta
	ClientCPUus float64 `json:"client_cpu_us_per_req,omitempty"` // the driver's CPU per request
	WrkCPUus    float64 `json:"wrk_cpu_us_per_req,omitempty"`    // wrk's CPU per request, same server and load
	Error       string  `json:"error,omitempty"`
}

// BenchServ names a server and its version as benchmarked, and what it
// answered each target before the measurement.
type BenchServ struct {
	Name    string        `json:"name"`
	Version string        `json:"version"`
	Targets []BenchTarget `json:"targets,omitempty"`
}

// BenchTarget is one distinct request of a scenario and a server's answer
// to it before anything was measured: servers are compared only when they
// answer every target alike (the same status, and the same body digest
// unless a body varies between two requests).
type BenchTarget struct {
	Scenario string `json:"scenario"`
	Method   string `json:"method"`
	Path     string `json:"path"`
	Status   int    `json:"status"`           // 0: no answer (Error says why)
	Bytes    int64  `json:"bytes"`            // body length
	Digest   string `json:"digest,omitempty"` // "sha256:" and the first 16 hex digits of the body's
	Varies   bool   `json:"varies,omitempty"` // two answers of this server differed: compared by status only
	Error    string `json:"error,omitempty"`
}

// Same reports whether two servers did the same work for a target: both
// answered, with the same status and, unless either body varies by
// itself, the same body.
func (t BenchTarget) Same(o BenchTarget) bool {
	if t.Error != "" || o.Error != "" || t.Status != o.Status {
		return false
	}
	return t.Varies || o.Varies || t.Digest == o.Digest
}

// Latency percentiles in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// BenchRun is one (server, scenario, mode, concurrency, round) measurement.
type BenchRun struct {
	Server       string            `json:"server"`
	Scenario     string            `json:"scenario"`
	Mode         string            `json:"mode"` // closed, open, sweep, capacity
	Concurrency  int               `json:"concurrency"`
	Rate         float64           `json:"rate,omitempty"` // asked rate, open model
	Round        int               `json:"round"`
	Requests     uint64            `json:"requests"`
	Errors       uint64            `json:"errors"`
	RPS          float64           `json:"rps"`
	Latency      Latency           `json:"latency_ms"`
	Uncorrected  *Latency          `json:"latency_uncorrected_ms,omitempty"` // open model: from actual send time
	ServerCPU    float64           `json:"server_cpu_s"`
	ServerRSS    float64           `json:"server_rss_mb"`
	ServerPSS    float64           `json:"server_pss_mb,omitempty"`
	ClientCPU    float64           `json:"client_cpu_s"`
	ClientBound  bool              `json:"client_bound"`
	Failed       string            `json:"failed,omitempty"` // why the run failed (server crash), with log tail
	Seconds      float64           `json:"seconds,omitempty"`
	StatusCounts map[string]uint64 `json:"status_counts,omitempty"`
	Timeline     []TimePoint       `json:"timeline,omitempty"` // latency over time
	Percentiles  []PctPoint        `json:"percentiles,omitempty"`

	Transport   string            `json:"transport"`        // lean, vegeta, stock (vegeta's net/http) or wrk
	Engine      string            `json:"engine,omitempty"` // what sent the requests: loop (the event loop), vegeta (its Attacker) or wrk
	SendRate    float64           `json:"send_rate,omitempty"`
	LatenessP99 float64           `json:"lateness_p99_ms,omitempty"` // open model: how late the generator sent
	ClientWhy   string            `json:"client_bound_reason,omitempty"`
	ReqPerCPU   float64           `json:"req_per_cpu_s,omitempty"`         // 2xx answers per server CPU-second
	CPUPerReq   float64           `json:"server_cpu_us_per_req,omitempty"` // server CPU µs per request answered
	ErrorTexts  map[string]uint64 `json:"error_texts,omitempty"`
	ConnsOpened uint64            `json:"connections_opened,omitempty"`
	BytesIn     uint64            `json:"bytes_in,omitempty"`
	BytesOut    uint64            `json:"bytes_out,omitempty"`
	ResultsFile string            `json:"results_file,omitempty"` // vegeta gob file, relative to bench.json
	Capacity    *CapacitySearch   `json:"capacity,omitempty"`
	ServerVer   string            `json:"server_version,omitempty"`
	ClientCPUs  float64           `json:"client_cpus,omitempty"`
	MachineIdle *float64          `json:"machine_idle_pct,omitempty"`
	ServerProcs int               `json:"server_procs,omitempty"`
}

// CapacitySearch is one capacity search of a run.
type CapacitySearch struct {
	SLO    string          `json:"slo"`
	Rate   float64         `json:"rate"`
	Lo     float64         `json:"bracket_lo"`
	Hi     float64         `json:"bracket_hi"` // 0 when the capacity is above the largest rate tried
	Probes []CapacityProbe `json:"probes"`
}

// CapacityProbe is one fixed-rate run of a capacity search.
type CapacityProbe struct {
	Rate     float64 `json:"rate"`
	Latency  float64 `json:"latency_ms"` // at the SLO's percentile, CO-corrected
	Errors   uint64  `json:"errors"`
	SendRate float64 `json:"send_rate"`
	Pass     bool    `json:"pass"`
	Why      string  `json:"why,omitempty"`
}

// TimePoint is one bucket of latency over time.
type TimePoint struct {
	T   float64 `json:"t_s"`
	RPS float64 `json:"rps"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
}

// PctPoint is one point of a latency percentile curve.
type PctPoint struct {
	Q  float64 `json:"q"` // 0..100
	Ms float64 `json:"ms"`
}

// BenchSum reduces the rounds of one (server, scenario, mode, concurrency).
type BenchSum struct {
	Server      string     `json:"server"`
	Scenario    string     `json:"scenario"`
	Mode        string     `json:"mode,omitempty"`
	Concurrency int        `json:"concurrency,omitempty"`
	RPSMedian   float64    `json:"rps_median"`
	RPSCI       [2]float64 `json:"rps_ci"`
	P99Median   float64    `json:"p99_ms_median"`
	P99CI       [2]float64 `json:"p99_ms_ci,omitempty"`
	ReqPerCPU   float64    `json:"req_per_cpu_s"`
	RSSMB       float64    `json:"rss_mb,omitempty"`
	Rounds      int        `json:"rounds,omitempty"`
	ClientBound bool       `json:"client_bound,omitempty"`

	ReqPerCPUCI [2]float64 `json:"req_per_cpu_s_ci,omitempty"`
	Errors      uint64     `json:"errors"`
	Failed      int        `json:"failed_runs,omitempty"`
	CIFinite    bool       `json:"ci_finite"` // false: too few rounds, the CI is the sample range
	// P99Uncorrected is the open model's median p99 from the actual send
	// time (service time); P99Median is from the intended send time.
	P99Uncorrected float64 `json:"p99_uncorrected_ms_median,omitempty"`
	CPUPerReq      float64 `json:"server_cpu_us_per_req,omitempty"` // median of the runs'
}

// Comparison of server A against server B on one metric (ratio = A/B).
type Comparison struct {
	A           string  `json:"a"`
	B           string  `json:"b"`
	Scenario    string  `json:"scenario"`
	Metric      string  `json:"metric"`
	Ratio       float64 `json:"ratio"`
	P           float64 `json:"p"`
	Significant bool    `json:"significant"`

	Mode        string  `json:"mode,omitempty"`
	Concurrency int     `json:"concurrency,omitempty"`
	U           float64 `json:"u"`
	N           [2]int  `json:"n"`
	MedianA     float64 `json:"median_a"`
	MedianB     float64 `json:"median_b"`
	Delta       string  `json:"delta"` // benchstat style: "~" or "+12.34%"
}

// Regression is one metric judged against a saved baseline.
type Regression struct {
	Server      string  `json:"server"`
	Scenario    string  `json:"scenario"`
	Metric      string  `json:"metric"`
	Baseline    float64 `json:"baseline"`
	Current     float64 `json:"current"`
	Change      float64 `json:"change"` // fraction, positive = worse
	P           float64 `json:"p"`
	Significant bool    `json:"significant"`
	Regressed   bool    `json:"regressed"`
}
