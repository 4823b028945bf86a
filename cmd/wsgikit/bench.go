package main

import (
	"context"
	"encoding/json"
	"errors"
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

	"github.com/wsgikit/wsgikit/loadgen"
	"github.com/wsgikit/wsgikit/reports"
)

func init() { verbs = append(verbs, newBenchCmd) }

type benchFlags struct {
	servers, scenarios []string
	scenarioFile       string
	appSpec            string
	env                envFlags
	paths, headers     []string
	method, body       string
	allowDifferent     bool
	profilesFile       string
	cmds               []string
	urls               []string
	conc               string
	rate               float64
	slo                string
	capStart           float64
	mode               string
	rounds             int
	duration, warmup   time.Duration
	timeout            time.Duration
	maxRequests        uint64
	workers, threads   int
	pin                string
	transport          string
	crossCheck         string
	saveBaseline       string
	baseline           string
	threshold          string
	outDir             string
	allowRemote        bool
	progress           string
	agent, startAt     string
	tls, newConn       bool
	caCerts            string

	skipped []reports.SkippedServer // named but not installed
	started bool                    // some server is started here (not only --url ones)
}

func newBenchCmd() *cobra.Command {
	f := &benchFlags{}
	c := &cobra.Command{
		Use:   "bench --server NAME[,NAME…] [--app module:callable --path /P…] [--scenario hello,json,…]",
		Short: "Load-test servers side by side on your app or ours: interleaved rounds, medians with CIs, U tests, a regression gate",
		Long: `Start each server with the app, check that they all answer alike, drive
them (the closed model over keep-alive http on an event loop as lean as
wrk; everything else with vegeta as a library, through a lean HTTP/1.1
transport; results in vegeta's encoding either way), and compare.

Your app, on your interpreter and your servers' versions:
  wsgikit bench --app myproject.wsgi:application --chdir ~/src/myproject \
      --virtualenv ~/src/myproject/.venv --server wsgikit,gunicorn-gthread,uwsgi \
      --path / --path /api/items
--app is imported from --chdir (default: here) by every server; --python or
--virtualenv is the interpreter of every server (the venv's own Gunicorn,
uWSGI, Granian… and our server's workers). Each --path is a scenario of its
own (default: GET /); --method, -H and --body apply to each. A vegeta
"http" targets file or a TOML file of scenarios (--scenario-file) runs on
--app too.

Same work: before measuring, every server answers each distinct request
twice; servers whose status or body differ (an error page on one, the page
on another) are not compared: exit 2, unless --allow-different. A body that
differs between two answers of one server (a timestamp) is compared by
status. The answers (status, size, sha256 digest) are in bench.json
("targets" per server) and the report.

Built-in scenarios (on wsgikit's own apps): hello json upload stream file
sleep cpu flask django.

Scenario file (--scenario-file FILE.toml):
  [[scenario]]
  name = "login"
  app = "myproject.wsgi:application"   # default: --app, else wsgikit's bench app
  [[scenario.request]]
  method = "POST"                     # default GET
  path = "/login"                     # or an http:// URL (loopback unless --allow-remote)
  body = "user=a&pass=b"              # or body_file = "payload.bin" (next to FILE)
  headers = { "Content-Type" = "application/x-www-form-urlencoded" }
  weight = 3                          # share of the mix, default 1
Any other file is read as vegeta "http" targets ("GET /path" lines, headers,
@body files), one scenario named after the file.

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

Regression gate: --baseline FILE compares with an earlier run (a bench.json
or --save-baseline file). A FILE that does not exist yet is a first run: no
gate, a note saying so, and this run is written to FILE for the next one.

` + cmdHelp() + `

Exit status: 0 done; 1 a significant regression against --baseline beyond
--threshold; 2 usage or harness errors, servers that do not do the same
work, or every run failed. A server that is not installed is skipped with
one warning line; 2 if none is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runBench(cmd, f) },
	}
	fl := c.Flags()
	fl.StringSliceVar(&f.servers, "server", nil, "server profiles to compare, comma-separated (see: wsgikit servers)")
	fl.StringVar(&f.appSpec, "app", "", "your app, module:callable (e.g. myproject.wsgi:application), imported from --chdir")
	f.env.add(fl, "your project's directory, where --app is imported from (default: the working directory)")
	fl.StringArrayVar(&f.paths, "path", nil, "a request to --app, path and query: one scenario each (repeatable; default /)")
	fl.StringVar(&f.method, "method", "GET", "the method of each --path request")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "a header of each --path request, 'Name: value' (repeatable)")
	fl.StringVar(&f.body, "body", "", "the body of each --path request: text, or @FILE")
	fl.BoolVar(&f.allowDifferent, "allow-different", false, "measure even when the servers answer a request differently (or cannot start the app)")
	fl.StringSliceVar(&f.scenarios, "scenario", []string{"hello"}, "built-in scenarios (or names from --scenario-file) to run")
	fl.StringVar(&f.scenarioFile, "scenario-file", "", "file of scenarios: .toml ([[scenario]] tables), or vegeta http targets; on --app")
	fl.StringVar(&f.scenarioFile, "scenarios", "", "old name of --scenario-file")
	_ = fl.MarkDeprecated("scenarios", "use --scenario-file (--scenario names scenarios)")
	fl.StringVar(&f.profilesFile, "profiles", "", "TOML file of user server profiles")
	fl.StringArrayVar(&f.cmds, "cmd", nil, "ad-hoc server command template, [NAME=]TEMPLATE (repeatable; unnamed: server \"cmd\"; placeholders above)")
	fl.StringArrayVar(&f.urls, "url", nil, "an already running server, NAME=http://127.0.0.1:PORT or NAME=https://… (repeatable; no cost figures)")
	fl.StringVar(&f.caCerts, "ca-certs", "", "PEM file of the CA certificates that https:// --url servers are checked against (default: the system's)")
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
	fl.StringVar(&f.transport, "transport", "lean", "lean (ours: an event loop in the closed model over keep-alive http, vegeta's Attacker with our transport otherwise), vegeta (vegeta's Attacker with our transport for every run), stock (vegeta's Attacker with its net/http), or wrk (Debian's wrk measures each run: closed model, one plain GET)")
	fl.StringVar(&f.crossCheck, "cross-check", "", "wrk: also run wrk on each server (closed model) and print both throughputs")
	fl.StringVar(&f.saveBaseline, "save-baseline", "", "write this run as a baseline file")
	fl.StringVar(&f.baseline, "baseline", "", "compare with a baseline (or an earlier bench.json); exit 1 on a significant regression; a missing FILE is written for next time")
	fl.StringVar(&f.threshold, "threshold", "5%", "smallest change called a regression (with --baseline)")
	fl.StringVarP(&f.outDir, "output", "o", "out/bench", "directory for bench.json, the report and vegeta result files")
	fl.BoolVar(&f.allowRemote, "allow-remote", false, "allow targets that are not loopback")
	fl.StringVar(&f.progress, "progress", "auto", "auto, tty or plain")
	fl.StringVar(&f.agent, "agent", "", "run as this agent of a coordinated run on several hosts (with --url, --start-at, -o; see: wsgikit bench merge)")
	fl.StringVar(&f.startAt, "start-at", "", "agent: when every agent starts, RFC 3339 (e.g. 2026-12-08T10:00:00Z)")
	c.AddCommand(newBenchMergeCmd())
	fl.BoolVar(&f.tls, "tls", false, "start the servers with TLS (a throw-away CA's certificate) and drive https:// (TLS sessions resumed); servers without TLS are skipped")
	fl.BoolVar(&f.newConn, "new-conn", false, "a new connection per request (over --tls: a handshake each, resumed)")
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
	base, firstNote, err := f.loadBaseline(cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out, err := loadgen.Bench(ctx, *plan)
	if err != nil && out == nil {
		return err
	}
	out.Skipped = f.skipped
	if errors.Is(err, loadgen.ErrDifferentWork) {
		out.Notes = append(out.Notes, "refused: "+err.Error())
		if werr := f.write(stdout, out, false); werr != nil {
			return werr
		}
		return usageErr("%v", err)
	}
	if err != nil {
		out.Notes = append(out.Notes, "interrupted: "+err.Error())
	}
	fmt.Fprintln(stdout)
	loadgen.WriteText(stdout, out)
	for _, cc := range out.CrossChecks {
		fmt.Fprintln(stdout, cc.Line())
	}
	regressed := 0
	if base != nil {
		out.Regressions = loadgen.Gate(out, base, threshold)
		uncompared := loadgen.Uncompared(out, base)
		regressed = loadgen.WriteGate(stdout, out.Regressions, uncompared, threshold)
		if len(out.Regressions) == 0 && len(uncompared) > 0 {
			// A gate that compared nothing must not pass as green.
			if werr := f.write(stdout, out, false); werr != nil {
				return werr
			}
			return usageErr("--baseline %s has no run of the same server, scenario, mode and concurrency as this one (%s); save a new one with --save-baseline",
				f.baseline, strings.Join(uncompared, ", "))
		}
		for _, u := range uncompared {
			out.Notes = append(out.Notes, "not gated: "+u+" (the baseline has no run of it)")
		}
	} else if firstNote != "" {
		out.Notes = append(out.Notes, firstNote)
	}
	if werr := f.write(stdout, out, err == nil && firstNote != ""); werr != nil {
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

// loadBaseline reads --baseline; nil and the note when it does not exist
// yet (see missingBaseline).
func (f *benchFlags) loadBaseline(w io.Writer) (*reports.Bench, string, error) {
	if f.baseline == "" {
		return nil, "", nil
	}
	if note, missing := missingBaseline(w, "bench", f.baseline); missing {
		return nil, note, nil
	}
	base, err := loadgen.LoadBaseline(f.baseline)
	if err != nil {
		return nil, "", usageErr("--baseline: %v", err)
	}
	return base, "", nil
}

// write writes bench.json, the report rendered from it and the vegeta
// result files into --output, and the baseline files (--save-baseline, and
// --baseline when first is set: its first run); then says what it wrote.
func (f *benchFlags) write(stdout io.Writer, out *reports.Bench, first bool) error {
	var wrote []string
	path := filepath.Join(f.outDir, "bench.json")
	if err := writeJSON(path, out); err != nil {
		return err
	}
	wrote = append(wrote, path)
	if err := reports.WriteDir(f.outDir, nil, []*reports.Bench{out}, reports.Written(&wrote)); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	results := 0
	for _, r := range out.Runs {
		if r.ResultsFile != "" {
			results++
		}
	}
	if results > 0 {
		wrote = append(wrote, fmt.Sprintf("%s/ (%d vegeta result files)", filepath.Join(f.outDir, "results"), results))
	}
	for _, b := range []struct {
		path string
		do   bool
	}{{f.saveBaseline, f.saveBaseline != ""}, {f.baseline, first && f.baseline != f.saveBaseline}} {
		if !b.do {
			continue
		}
		if err := loadgen.SaveBaseline(b.path, out); err != nil {
			return err
		}
		wrote = append(wrote, b.path+" (baseline)")
	}
	fmt.Fprintf(stdout, "\nwrote %s\n", strings.Join(wrote, ", "))
	fmt.Fprintf(stdout, "report: %s\n", filepath.Join(f.outDir, "index.html"))
	return nil
}

// plan maps the flags to a loadgen.Plan, which checks them: its errors
// become usage errors.
func (f *benchFlags) plan(cmd *cobra.Command, stdout io.Writer) (*loadgen.Plan, error) {
	if f.outDir == "" {
		return nil, usageErr("-o/--output: give a directory for bench.json and the report")
	}
	p := &loadgen.Plan{Mode: f.mode, Rounds: f.rounds, Duration: f.duration, Warmup: f.warmup, Timeout: f.timeout,
		MaxRequests: f.maxRequests, Transport: f.transport, TLS: f.tls, AllowRemote: f.allowRemote, OutDir: f.outDir,
		CrossCheck: f.crossCheck, Rate: f.rate, CapStart: f.capStart, Log: stdout, AllowDifferent: f.allowDifferent, NewConn: f.newConn,
		Command: "wsgikit bench " + strings.Join(os.Args[min(2, len(os.Args)):], " ")}
	if err := f.refuseIdle(cmd); err != nil {
		return nil, err
	}
	if err := f.env.usePython(); err != nil {
		return nil, err
	}
	if err := f.load(cmd, p); err != nil {
		return nil, err
	}
	if err := f.targets(cmd, p); err != nil {
		return nil, err
	}
	if err := f.scenarioList(cmd, p); err != nil {
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

// refuseIdle refuses flags that would do nothing with the others given:
// every flag acts, or says in one line why it cannot.
func (f *benchFlags) refuseIdle(cmd *cobra.Command) error {
	changed := cmd.Flags().Changed
	if len(f.urls) > 0 && len(f.servers) == 0 && len(f.cmds) == 0 {
		for _, name := range []string{"app", "chdir", "python", "virtualenv", "workers", "threads", "profiles"} {
			if changed(name) {
				return usageErr("--%s: every server is a --url you run, so nothing here starts one; drop --%s", name, name)
			}
		}
	}
	if changed("rate") && changed("slo") {
		return usageErr("give --rate (the open model) or --slo (a capacity search), not both")
	}
	if changed("capacity-start") && !changed("slo") {
		return usageErr("--capacity-start: it is the first rate of a capacity search; add --slo")
	}
	if changed("threshold") && f.baseline == "" {
		return usageErr("--threshold: it is the gate's against --baseline; add --baseline FILE")
	}
	return nil
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
