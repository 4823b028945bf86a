package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/textutil"
	"github.com/wsgikit/wsgikit/reports"
)

// wrkScenario accepts what wrk can send without a Lua request script:
// one GET without a body.
func wrkScenario(sc *Scenario) error {
	if len(sc.Requests) != 1 || sc.Requests[0].Method != "GET" || len(sc.Requests[0].Body) > 0 || len(sc.Requests[0].Header) > 0 {
		return fmt.Errorf("scenario %q is not one plain GET request, which is all wrk sends", sc.Name)
	}
	return nil
}

// crossCheckWrk runs wrk against the server right after the driver's run
// of the same load point (row), through Run as --transport wrk does, so
// that the two throughputs, and the client CPU each spent per request,
// can be read side by side. Only single-request GET scenarios without a
// body: wrk needs a Lua script for anything else.
func (p *Plan) crossCheckWrk(srv harness.Server, sc *Scenario, conc int, row reports.BenchRun) reports.CrossCheck {
	cc := reports.CrossCheck{VegetaRPS: row.RPS, Engine: row.Engine}
	if wrkScenario(sc) != nil {
		cc.Error = "skipped: wrk cross-check runs single-request GET scenarios only"
		return cc
	}
	if row.Requests > 0 {
		cc.ClientCPUus = row.ClientCPU / float64(row.Requests) * 1e6
	}
	res, err := Run(RunConfig{BaseURL: srv.URL(), Scenario: sc, Load: Load{Mode: Closed, Concurrency: conc},
		Duration: min(p.Duration, 10*time.Second), Timeout: p.Timeout, Server: srv, PinnedApart: p.Pin.Apart(), Wrk: p.WrkPath})
	switch {
	case err != nil:
		cc.Error = err.Error()
	case res.Failed != "":
		cc.Error = res.Failed
	default:
		cc.WrkRPS = res.RPS
		if res.Requests > 0 {
			cc.WrkCPUus = res.ClientCPU / float64(res.Requests) * 1e6
		}
	}
	return cc
}

// wrkScript makes wrk print, after its own report, its totals and its
// exact latency histogram (µs, count): the stats object's call returns the
// i-th recorded value and its count.
const wrkScript = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wsgikit-wrk summary %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
  for i = 1, #latency do
    local v, c = latency(i)
    io.write(string.format("wsgikit-wrk latency %d %d\n", v, c))
  end
end
`

// runWrk is Run with wrk sending the requests: its warm-up, then the
// measured run, one thread on cfg.Load.Concurrency connections. wrk counts
// whole seconds, so durations round up to one.
func runWrk(cfg RunConfig) (*RunResult, error) {
	if cfg.Load.Mode != Closed {
		return nil, fmt.Errorf("wrk runs the closed model only, not %s", cfg.Load.Mode)
	}
	if err := wrkScenario(cfg.Scenario); err != nil {
		return nil, err
	}
	script, err := os.CreateTemp("", "wsgikit-wrk-*.lua")
	if err != nil {
		return nil, fmt.Errorf("wrk script: %w", err)
	}
	defer os.Remove(script.Name())
	if _, err := script.WriteString(wrkScript); err != nil {
		script.Close()
		return nil, fmt.Errorf("wrk script: %w", err)
	}
	if err := script.Close(); err != nil {
		return nil, fmt.Errorf("wrk script: %w", err)
	}
	url := cfg.Scenario.targets(cfg.BaseURL)[0].URL
	args := func(d time.Duration) []string {
		return []string{"-t1", "-c" + strconv.Itoa(cfg.Load.Concurrency), "-d" + wrkSeconds(d),
			"--timeout", wrkSeconds(cfg.Timeout), "-s", script.Name(), url}
	}
	if cfg.Warmup > 0 {
		_, _, err := execWrk(cfg.Wrk, cfg.Server, args(cfg.Warmup))
		if exited(cfg.Server) {
			return cfg.serverExited("during warm-up"), nil
		}
		if err != nil {
			return nil, fmt.Errorf("wrk warm-up: %w", err)
		}
	}
	m := startMeter(cfg.Server)
	if cfg.Progress != nil {
		cfg.Progress(0) // the measured part starts
	}
	out, wrkCPU, err := execWrk(cfg.Wrk, cfg.Server, args(cfg.Duration))
	res := &RunResult{Load: cfg.Load, Latency: newHist(), Began: m.start, Engine: EngineWrk}
	res.Service = res.Latency
	if err == nil {
		err = parseWrk(out, res)
	}
	if err != nil && !exited(cfg.Server) {
		return nil, err
	}
	if cfg.Progress != nil {
		cfg.Progress(res.Requests)
	}
	m.finish(cfg, res, wrkCPU)
	return res, nil
}

// wrkSeconds is d in whole seconds, at least one, as wrk's flags take it.
func wrkSeconds(d time.Duration) string {
	return strconv.Itoa(max(int(math.Ceil(d.Seconds())), 1)) + "s"
}

// execWrk runs wrk, stopping it if srv exits, and returns its output and
// the CPU seconds it used.
func execWrk(path string, srv harness.Server, args []string) (out []byte, cpu float64, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if srv != nil {
		go func() {
			select {
			case <-srv.Exited():
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	cmd := exec.CommandContext(ctx, path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
	}
	if err != nil {
		if _, lerr := exec.LookPath(path); lerr != nil {
			return nil, 0, fmt.Errorf("%s not found; install Debian's wrk package (apt-get install wrk)", path)
		}
		return nil, cpu, fmt.Errorf("%s: %v: %s", path, err, textutil.FirstLine(strings.TrimSpace(stderr.String()+string(out)), ""))
	}
	return out, cpu, nil
}

// parseWrk reads the lines of wrkScript into res: counts, errors by kind
// (wrk has no status codes, only "status >= 400"), the latency histogram.
func parseWrk(out []byte, res *RunResult) error {
	var sum []uint64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "wsgikit-wrk" {
			continue
		}
		var n []uint64
		for _, s := range f[2:] {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil || v > 1<<53 { // no run counts that far: keeps sums exact
				return fmt.Errorf("wrk: bad line %q", sc.Text())
			}
			n = append(n, v)
		}
		switch {
		case f[1] == "summary" && len(n) == 8:
			sum = n
		case f[1] == "latency" && len(n) == 2:
			us := min(max(int64(n[0]), histMinUS), histMaxUS)
			if err := res.Latency.RecordValues(us, int64(n[1])); err != nil {
				return fmt.Errorf("wrk latency %d µs: %w", us, err)
			}
		}
	}
	if sum == nil {
		return errors.New("wrk printed no summary; is it Debian's wrk 4, with Lua scripting?")
	}
	complete, usec, bytesIn := sum[0], sum[1], sum[2]
	errs := map[string]uint64{"connect": sum[3], "read": sum[4], "write": sum[5], "status >= 400": sum[6], "timeout": sum[7]}
	res.ErrorsByText = map[string]uint64{}
	failed := uint64(0)
	for k, v := range errs {
		if v > 0 {
			res.ErrorsByText["wrk: "+k] = v
			if k != "status >= 400" {
				failed += v // requests that got no answer
			}
		}
	}
	res.Requests = complete + failed
	res.Successes = complete - min(complete, errs["status >= 400"])
	res.Errors = res.Requests - res.Successes
	res.Seconds = float64(usec) / 1e6
	if res.Seconds > 0 {
		res.RPS = float64(res.Successes) / res.Seconds
		res.SendRate = float64(res.Requests) / res.Seconds
	}
	res.Transport.BytesIn = bytesIn
	return nil
}
