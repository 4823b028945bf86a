package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/loadgen"
	"github.com/wsgikit/wsgikit/reports"
)

func init() { verbs = append(verbs, newBenchCmd) }

type benchFlags struct {
	servers, scenarios    []string
	scenarioFile, appSpec string
	profilesFile, cmdTmpl string
	urls                  []string
	conc                  string
	rate                  float64
	slo                   string
	capStart              float64
	mode                  string
	rounds                int
	duration, warmup      time.Duration
	timeout               time.Duration
	maxRequests           uint64
	workers, threads      int
	pin                   string
	transport             string
	crossCheck            string
	saveBaseline          string
	baseline              string
	threshold             string
	outDir                string
	allowRemote           bool
	progress              string
	agent, startAt        string

	skipped []reports.SkippedServer // named but not installed
}

func newBenchCmd() *cobra.Command {
	f := &benchFlags{}
	c := &cobra.Command{
		Use:   "bench --server NAME[,NAME…] --scenario hello[,json,…]",
		Short: "Load-test servers side by side: interleaved rounds, medians with CIs, U tests, a regression gate",
		Long: `Start each server with each scenario's app, drive it with vegeta (as a library,
through a lean HTTP/1.1 keep-alive transport), and compare.

Modes (picked from the flags, or --mode):
  closed    -c N              N connections, each waits for its answer (max throughput)
  sweep     -c 1,8,32,128     the closed model at several concurrencies
  open      --rate R          R requests/s whatever the server does; latency from the
                              intended send time (coordinated omission corrected), and
                              the uncorrected service time next to it; -c bounds in-flight
  capacity  --slo p99=20ms    highest rate with p99 under the SLO and no errors:
                              bracketing and bisection, each round a new search

Fairness: a warm-up at the same load, --rounds N interleaving the servers in
rotated order (A B C, B C A, …) with each server started afresh per round;
each run reduced to one value per metric; medians with 95% CIs and
Mann–Whitney U (benchstat's method; "~" = not significant, need ≥4 rounds
to ever see a difference, ≥6 for finite CIs).

Scenarios: hello json upload stream file sleep cpu flask django, or your own
with --scenarios FILE (a .toml file of [[scenario]] tables, or a vegeta
"http" target file run against --app).

Exit status: 0 done; 1 a significant regression against --baseline beyond
--threshold; 2 usage or harness errors (or every run failed). A server that
is not installed is skipped with one warning line; 2 if none is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runBench(cmd, f) },
	}
	fl := c.Flags()
	fl.StringSliceVar(&f.servers, "server", nil, "server profiles to compare (see `wsgikit servers`)")
	fl.StringSliceVar(&f.scenarios, "scenario", []string{"hello"}, "scenarios to run")
	fl.StringVar(&f.scenarioFile, "scenarios", "", "file of user scenarios (.toml, or vegeta http targets)")
	fl.StringVar(&f.appSpec, "app", "", "app for a vegeta target file: builtin name or module:callable (default bench)")
	fl.StringVar(&f.profilesFile, "profiles", "", "TOML file of user server profiles")
	fl.StringVar(&f.cmdTmpl, "cmd", "", "ad-hoc server command template, benchmarked as server \"cmd\"")
	fl.StringArrayVar(&f.urls, "url", nil, "an already running server, NAME=http://127.0.0.1:PORT (repeatable; no cost figures)")
	fl.StringVarP(&f.conc, "concurrency", "c", "32", "connections: one value, or a list for a sweep (1,8,32,128); open/capacity: max in flight")
	fl.Float64Var(&f.rate, "rate", 0, "open model: requests per second")
	fl.StringVar(&f.slo, "slo", "", "capacity search objective, e.g. p99=20ms")
	fl.Float64Var(&f.capStart, "capacity-start", 0, "capacity search: first rate (default: half a short closed probe's throughput)")
	fl.StringVar(&f.mode, "mode", "", "closed, sweep, open or capacity (default: from the other flags)")
	fl.IntVar(&f.rounds, "rounds", 3, "rounds; each runs every server once, in rotated order")
	fl.DurationVarP(&f.duration, "duration", "d", 10*time.Second, "measurement per run")
	fl.DurationVar(&f.warmup, "warmup", 2*time.Second, "warm-up per run, same load, not measured")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "per request")
	fl.Uint64Var(&f.maxRequests, "max-requests", loadgen.DefaultMaxRequests, "per run, a hard bound")
	fl.IntVarP(&f.workers, "workers", "w", 1, "server worker processes")
	fl.IntVar(&f.threads, "threads", 4, "server threads per worker")
	fl.StringVar(&f.pin, "pin", "", `CPU pinning, taskset lists: "server=0 client=1"`)
	fl.StringVar(&f.transport, "transport", "lean", "lean (ours), stock (vegeta's net/http), or wrk (Debian's wrk measures each run: closed model, one plain GET)")
	fl.StringVar(&f.crossCheck, "cross-check", "", "wrk: also run wrk on each server (closed model) and print both throughputs")
	fl.StringVar(&f.saveBaseline, "save-baseline", "", "write this run as a baseline file")
	fl.StringVar(&f.baseline, "baseline", "", "compare with a baseline (or an earlier bench.json); exit 1 on a significant regression")
	fl.StringVar(&f.threshold, "threshold", "5%", "smallest change called a regression")
	fl.StringVarP(&f.outDir, "output", "o", "", "directory for bench.json and vegeta result files")
	fl.BoolVar(&f.allowRemote, "allow-remote", false, "allow targets that are not loopback")
	fl.StringVar(&f.progress, "progress", "auto", "auto, tty or plain")
	fl.StringVar(&f.agent, "agent", "", "run as this agent of a coordinated run on several hosts (with --url, --start-at, -o; see: wsgikit bench merge)")
	fl.StringVar(&f.startAt, "start-at", "", "agent: when every agent starts, RFC 3339 (e.g. 2026-12-08T10:00:00Z)")
	c.AddCommand(newBenchMergeCmd())
	return c
}

func runBench(cmd *cobra.Command, f *benchFlags) error {
	stdout := cmd.OutOrStdout()
	if os.Getenv("GOGC") == "" {
		// Every request leaves ~2 KB of garbage (vegeta's request and
		// result, our response) over a live heap of a few MB: at the default
		// GOGC the collector runs every couple of thousand requests and
		// costs the driver CPU that the server could use.
		debug.SetGCPercent(400)
	}
	plan, err := f.plan(cmd, stdout)
	if err != nil {
		return err
	}
	threshold, err := parsePercent(f.threshold)
	if err != nil {
		return usageErr("--threshold: %v", err)
	}
	var base *reports.Bench
	if f.baseline != "" {
		if base, err = loadgen.LoadBaseline(f.baseline); err != nil {
			return usageErr("%v", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out, err := loadgen.Bench(ctx, *plan)
	if err != nil && out == nil {
		return err
	}
	if err != nil {
		out.Notes = append(out.Notes, "interrupted: "+err.Error())
	}
	out.Skipped = f.skipped
	fmt.Fprintln(stdout)
	loadgen.WriteText(stdout, out)
	for _, cc := range out.CrossChecks {
		if cc.Error != "" {
			fmt.Fprintf(stdout, "wrk cross-check %s %s c=%d: %s\n", cc.Server, cc.Scenario, cc.Concurrency, cc.Error)
			continue
		}
		fmt.Fprintf(stdout, "wrk cross-check %s %s c=%d: vegeta %.0f req/s, wrk %.0f req/s (round 1)\n",
			cc.Server, cc.Scenario, cc.Concurrency, cc.VegetaRPS, cc.WrkRPS)
	}
	regressed := 0
	if base != nil {
		out.Regressions = loadgen.Gate(out, base, threshold)
		regressed = loadgen.WriteGate(stdout, out.Regressions, threshold)
	}
	if werr := f.write(stdout, out); werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	if regressed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d significant regression(s) beyond %s against %s", regressed, f.threshold, f.baseline)}
	}
	for _, r := range out.Runs {
		if r.Failed == "" {
			return nil
		}
	}
	return fmt.Errorf("every run failed; see the FAILED lines above")
}

// write writes bench.json and the report rendered from it into --output,
// and the baseline file.
func (f *benchFlags) write(stdout io.Writer, out *reports.Bench) error {
	if f.outDir != "" {
		path := filepath.Join(f.outDir, "bench.json")
		if err := writeJSON(path, out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", path)
		if err := reports.WriteDir(f.outDir, nil, []*reports.Bench{out}); err != nil {
			return fmt.Errorf("render report: %w", err)
		}
		fmt.Fprintf(stdout, "report: %s\n", filepath.Join(f.outDir, "index.html"))
	}
	if f.saveBaseline != "" {
		if err := loadgen.SaveBaseline(f.saveBaseline, out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "saved baseline %s\n", f.saveBaseline)
	}
	return nil
}

// plan maps the flags to a loadgen.Plan, which checks them: its errors
// become usage errors.
func (f *benchFlags) plan(cmd *cobra.Command, stdout io.Writer) (*loadgen.Plan, error) {
	p := &loadgen.Plan{Mode: f.mode, Rounds: f.rounds, Duration: f.duration, Warmup: f.warmup, Timeout: f.timeout,
		MaxRequests: f.maxRequests, Transport: f.transport, AllowRemote: f.allowRemote, OutDir: f.outDir,
		CrossCheck: f.crossCheck, Rate: f.rate, CapStart: f.capStart, Log: stdout,
		Command: "wsgikit bench " + strings.Join(os.Args[min(2, len(os.Args)):], " ")}
	if err := f.load(cmd, p); err != nil {
		return nil, err
	}
	if err := f.scenarioList(cmd, p); err != nil {
		return nil, err
	}
	if err := f.targets(cmd, p); err != nil {
		return nil, err
	}
	if err := f.agentPlan(p); err != nil {
		return nil, err
	}
	switch f.progress {
	case "tty":
		p.Progress = loadgen.NewTTYProgress(os.Stderr)
	case "plain":
		p.Progress = loadgen.NewPlainProgress(stdout)
	case "auto":
		if isTerminal(os.Stderr) && os.Getenv("CI") == "" {
			p.Progress = loadgen.NewTTYProgress(os.Stderr)
		} else {
			p.Progress = loadgen.NewPlainProgress(stdout)
		}
	default:
		return nil, usageErr("--progress %q: want auto, tty or plain", f.progress)
	}
	if err := p.Validate(); err != nil {
		return nil, usageErr("%v", err)
	}
	return p, nil
}

// load parses -c, --slo and --pin (the plan's default concurrency
// depends on the mode, so -c is passed only when given).
func (f *benchFlags) load(cmd *cobra.Command, p *loadgen.Plan) error {
	if cmd.Flags().Changed("concurrency") {
		for _, s := range strings.Split(f.conc, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return usageErr("-c %q: want concurrency 1..10000, or a list like 1,8,32", f.conc)
			}
			p.Concurrency = append(p.Concurrency, n)
		}
	}
	if f.slo != "" {
		slo, err := loadgen.ParseSLO(f.slo)
		if err != nil {
			return usageErr("--slo: %v", err)
		}
		p.SLO = slo
	}
	if f.pin != "" {
		pin, err := loadgen.ParsePinning(f.pin)
		if err != nil {
			return usageErr("--pin: %v", err)
		}
		p.Pin = pin
	}
	return nil
}

// scenarioList looks up --scenario among the builtins and --scenarios.
func (f *benchFlags) scenarioList(cmd *cobra.Command, p *loadgen.Plan) error {
	var user []*loadgen.Scenario
	if f.scenarioFile != "" {
		var err error
		if user, err = loadgen.LoadScenarios(f.scenarioFile, f.appSpec); err != nil {
			return usageErr("%v", err)
		}
		// A scenario file replaces the default list unless --scenario was given.
		if !cmd.Flags().Changed("scenario") {
			f.scenarios = nil
			for _, s := range user {
				f.scenarios = append(f.scenarios, s.Name)
			}
		}
	}
	for _, name := range f.scenarios {
		s, err := loadgen.LookupScenario(strings.TrimSpace(name), user)
		if err != nil {
			return usageErr("%v", err)
		}
		p.Scenarios = append(p.Scenarios, s)
	}
	return nil
}

// targets resolves the servers: running URLs, an ad-hoc --cmd, and
// harness profiles (a profile that is not installed is skipped with a
// warning).
func (f *benchFlags) targets(cmd *cobra.Command, p *loadgen.Plan) error {
	opts := harness.Options{Workers: f.workers, Threads: f.threads}
	if p.Pin != nil && len(p.Pin.Server) > 0 {
		opts.CPUs = cpuList(p.Pin.Server)
	}
	targets := map[string]loadgen.Target{}
	for _, u := range f.urls {
		name, raw, ok := strings.Cut(u, "=")
		if !ok || name == "" {
			return usageErr("--url %q: want NAME=http://127.0.0.1:PORT", u)
		}
		if err := loadgen.CheckLoopback(raw); err != nil && !f.allowRemote {
			return usageErr("%v", err)
		}
		targets[name] = loadgen.Target{URL: raw}
		p.Servers = append(p.Servers, name)
	}
	if f.cmdTmpl != "" {
		prof, err := harness.FromCmd(f.cmdTmpl)
		if err != nil {
			return usageErr("--cmd: %v", err)
		}
		targets["cmd"] = loadgen.Target{Profile: prof, Options: opts}
		p.Servers = append(p.Servers, "cmd")
	}
	var profiles []*harness.Profile
	if f.profilesFile != "" {
		var err error
		if profiles, err = harness.LoadProfiles(f.profilesFile); err != nil {
			return usageErr("%v", err)
		}
	}
	var names []string
	for _, name := range f.servers {
		name = strings.TrimSpace(name)
		if _, err := harness.Lookup(name, profiles); err != nil {
			return usageErr("%v", err)
		}
		names = append(names, name)
	}
	names, f.skipped = skipMissing(cmd.ErrOrStderr(), "bench", names, profiles)
	for _, name := range names {
		prof, _ := harness.Lookup(name, profiles) // looked up above
		if _, err := prof.Version(); err != nil {
			return usageErr("server %s: %v", name, err)
		}
		targets[name] = loadgen.Target{Profile: prof, Options: opts}
		p.Servers = append(p.Servers, name)
	}
	if len(p.Servers) == 0 && len(f.skipped) > 0 {
		return usageErr("no server to bench is installed; install one or name another (see `wsgikit servers`)")
	}
	if len(p.Servers) == 0 {
		return usageErr("no server: give --server NAME[,NAME…] (see `wsgikit servers`), --cmd or --url")
	}
	p.Start = loadgen.StartTargets(targets)
	return nil
}

func cpuList(cpus []int) string {
	var s []string
	for _, c := range cpus {
		s = append(s, strconv.Itoa(c))
	}
	return strings.Join(s, ",")
}

func parsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || v < 0 || v > 1000 {
		return 0, fmt.Errorf("want a percentage like 5%%, got %q", s)
	}
	return v / 100, nil
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
