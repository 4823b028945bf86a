package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wsgikit/wsgikit/conformance"
	"github.com/wsgikit/wsgikit/conformance/framework"
	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/textutil"
	"github.com/wsgikit/wsgikit/reports"
)

func init() { verbs = append(verbs, newCheckCmd) }

type checkFlags struct {
	servers   []string
	profiles  string
	cmds      []string
	env       envFlags
	focus     string
	level     string
	strict    bool
	out       string
	baseline  string
	workers   int
	threads   int
	quiet     bool
	parallel  int
	instances int
	failures  bool
	tls       bool
}

func newCheckCmd() *cobra.Command {
	var fl checkFlags
	c := &cobra.Command{
		Use:   "check",
		Short: "PEP 3333 and RFC 9112 conformance verdicts for WSGI servers",
		Long: `Runs the conformance suite against each server in turn (fresh instances
serving apps/probe.py, sharing its specs) and writes check.json, check.md,
junit-<server>.xml and the report (index.html, summary.md) into -o DIR.

Your setup: --python or --virtualenv is the interpreter every server runs
on, so the peers checked are the versions installed there (your pinned
Gunicorn, uWSGI, Granian…) and our server's workers run on it too:
  wsgikit check --virtualenv ~/src/myproject/.venv --server wsgikit,gunicorn-gthread,uwsgi
A server that cannot start prints its own last lines here.

` + cmdHelp() + `

--chdir DIR runs the --cmd commands in DIR (your project, where their
relative paths point); the probe app is still found ({appdir} is put on
PYTHONPATH).

In CI, --baseline FILE (an earlier check.json) gates on change: exit 1 only
for verdicts worse than FILE's, so a server's known failures pass. A FILE
that does not exist yet is a first run: no gate, a note, and this run is
written to FILE for the next one.

Exit 0 when no MUST failed (with --strict: and no SHOULD; with --baseline:
no verdict got worse), 1 when one did, 2 on usage or harness errors. A
server that is not installed is skipped with one warning line; 2 if none is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runCheck(cmd, fl) },
	}
	f := c.Flags()
	f.StringSliceVar(&fl.servers, "server", nil, "server profiles, comma-separated, checked with the --cmd ones (default without --cmd: wsgikit and every built-in peer; missing ones are skipped)")
	f.StringVar(&fl.profiles, "profiles", "", "TOML file of user server profiles")
	f.StringArrayVar(&fl.cmds, "cmd", nil, "ad-hoc server command template, [NAME=]TEMPLATE, e.g. 'gunicorn -b {bind} {app}' (repeatable; unnamed: server \"cmd\"; placeholders above)")
	fl.env.add(f, "run the --cmd commands in this directory (your project), not in the probe app's")
	f.StringVar(&fl.focus, "focus", "", "spec IDs or regular expressions, comma-separated")
	f.StringVar(&fl.level, "level", "ALL", "MUST, SHOULD (MUST and SHOULD) or ALL")
	f.BoolVar(&fl.strict, "strict", false, "NON-STRICT verdicts (broken SHOULDs) fail the run too")
	f.StringVarP(&fl.out, "output", "o", "out/check", "output directory")
	f.StringVar(&fl.baseline, "baseline", "", "an earlier check.json: exit 1 only for verdicts worse than its (the servers' known failures pass); a missing FILE is written for next time")
	f.IntVar(&fl.workers, "workers", 1, "worker processes per server instance")
	f.IntVar(&fl.threads, "threads", 4, "threads per worker")
	f.BoolVarP(&fl.quiet, "quiet", "q", false, "no per-server progress on stderr")
	f.IntVar(&fl.parallel, "parallel", 3, "servers checked at once")
	f.IntVar(&fl.instances, "instances", 3, "fresh instances per server, side by side, sharing its specs (each with its own event sink)")
	f.BoolVar(&fl.failures, "list-failures", true, "print each FAIL and ERROR as it happens")
	f.BoolVar(&fl.tls, "tls", false, "run over TLS: servers start with a throw-away CA's certificate, every connection handshakes first, and the TLS specs (pep3333/tls/…) replace wsgi.url_scheme's plaintext one; servers without TLS are skipped")
	return c
}

func runCheck(cmd *cobra.Command, fl checkFlags) error {
	level := strings.ToUpper(fl.level)
	if level != "MUST" && level != "SHOULD" && level != "ALL" {
		return usageErr("--level %q: want MUST, SHOULD or ALL", fl.level)
	}
	if fl.parallel < 1 || fl.instances < 1 {
		return usageErr("--parallel %d, --instances %d: want 1 or more each", fl.parallel, fl.instances)
	}
	var user []*harness.Profile
	if fl.profiles != "" {
		ps, err := harness.LoadProfiles(fl.profiles)
		if err != nil {
			return usageErr("--profiles: %v", err)
		}
		user = append(user, ps...)
	}
	workdir, err := fl.env.projectDir()
	if err != nil {
		return err
	}
	if workdir != "" && len(fl.cmds) == 0 {
		return usageErr("--chdir: check serves wsgikit's probe app, not yours; --chdir is where --cmd commands run, and there is none")
	}
	if err := fl.env.usePython(); err != nil {
		return err
	}
	cmds, err := cmdProfiles(fl.cmds, workdir)
	if err != nil {
		return err
	}
	user = append(user, cmds...)
	// The --cmd servers, and those --server names; without either, every
	// built-in peer.
	servers := fl.servers
	if len(servers) == 0 && len(cmds) == 0 {
		servers = builtinPeers()
	}
	for _, p := range cmds {
		if !slices.Contains(servers, p.Name) {
			servers = append(servers, p.Name)
		}
	}
	for _, s := range servers {
		if err := conformance.CheckProfile(s, user); err != nil {
			return usageErr("%v", err)
		}
	}
	if _, err := framework.Select(conformance.SpecsOver(fl.tls), fl.focus, level); err != nil {
		return usageErr("--focus: %v", err)
	}
	stderr := cmd.ErrOrStderr()
	var base *reports.Check
	_, first := missingBaseline(stderr, "check", fl.baseline)
	if fl.baseline != "" && !first {
		in, err := reports.Load(fl.baseline)
		if err != nil || len(in.Checks) != 1 {
			return usageErr("--baseline %s: want a check.json (%v)", fl.baseline, err)
		}
		base = in.Checks[0]
	}
	var noTLS []reports.SkippedServer
	if fl.tls {
		servers, noTLS = skipNoTLS(stderr, "check", servers, user)
	}
	servers, skipped := skipMissing(stderr, "check", servers, user)
	skipped = append(noTLS, skipped...)
	if len(servers) == 0 {
		return usageErr("no server to check is installed; install one or name another with --server or --cmd (see: wsgikit servers)")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started, finished := map[string]time.Time{}, map[string]time.Time{}
	var mu sync.Mutex // servers run in parallel
	opts := conformance.Options{
		Servers: servers, Focus: fl.focus, Level: level, Parallel: fl.parallel, Instances: fl.instances,
		TLS:   fl.tls,
		Start: conformance.HarnessStarter(conformance.HarnessConfig{User: user, Workers: fl.workers, Threads: fl.threads, TLS: fl.tls}),
		Progress: func(server string, v framework.Verdict) {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			finished[server] = now
			if _, ok := started[server]; !ok {
				started[server] = now
				if !fl.quiet {
					fmt.Fprintf(stderr, "check: %s …\n", server)
				}
			}
			if !fl.quiet && fl.failures && (v.Verdict == framework.FAIL || v.Verdict == framework.ERROR) {
				fmt.Fprintf(stderr, "  %-10s %s %s: %s\n", v.Verdict, server, v.Spec.ID, textutil.Clip(textutil.FirstLine(v.Detail, ""), 200))
			}
		},
	}
	check, err := conformance.Run(ctx, opts)
	if err != nil {
		return usageErr("%v", err)
	}
	check.Skipped = skipped
	var wrote []string
	if err := reports.WriteCheck(fl.out, check, fl.strict, reports.Written(&wrote)); err != nil {
		return err
	}
	ran := 0
	for _, s := range check.Servers {
		n := conformance.Counts(s)
		ran += len(s.Results)
		if !fl.quiet {
			if s.Error != "" {
				writeStartFailure(stderr, s.Name, s.Error)
				continue
			}
			fmt.Fprintf(stderr, "check: %s %s: %d PASS, %d FAIL, %d NON-STRICT, %d INFO, %d UNSUPPORTED, %d ERROR (%s)\n",
				s.Name, s.Version, n[framework.PASS], n[framework.FAIL], n[framework.NONSTRICT], n[framework.VINFO], n[framework.UNSUPPORTED], n[framework.ERROR], elapsed(finished[s.Name].Sub(started[s.Name])))
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", strings.Join(wrote, ", "))
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted; partial results in %s", fl.out)
	}
	if ran == 0 {
		return fmt.Errorf("no spec ran (every server failed to start?); see %s/check.md", fl.out)
	}
	if errs := conformance.HarnessErrors(check); len(errs) > 0 {
		return fmt.Errorf("harness errors (not server verdicts): %s", strings.Join(errs, "; "))
	}
	switch {
	case first:
		if err := writeJSON(fl.baseline, check); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (baseline)\n", fl.baseline)
		return nil
	case base != nil:
		return gateCheck(stderr, check, base, fl)
	}
	if conformance.Failed(check, fl.strict) {
		what := "a MUST failed"
		if fl.strict {
			what = "a MUST or SHOULD failed"
		}
		return &exitError{code: 1, err: fmt.Errorf("%s; see %s/check.md", what, fl.out)}
	}
	return nil
}

// elapsed prints a progress duration in whole seconds, never "-0s": a
// server that reported once (or never) took no time, not a negative one.
func elapsed(d time.Duration) string {
	return fmt.Sprintf("%ds", max(d, 0).Round(time.Second)/time.Second)
}

// writeStartFailure says why a server could not run: the error's first
// line, then the rest of it (the server's own last lines of output), so
// that a start-up failure explains itself in the terminal.
func writeStartFailure(w io.Writer, server, why string) {
	first, rest, _ := strings.Cut(strings.TrimRight(why, "\n"), "\n")
	fmt.Fprintf(w, "check: %s could not run: %s\n", server, textutil.Clip(first, 300))
	for _, l := range strings.Split(rest, "\n") {
		if l != "" {
			fmt.Fprintf(w, "  | %s\n", l)
		}
	}
}

// gateCheck judges the run against --baseline: exit 1 only for verdicts
// worse than the baseline's.
func gateCheck(w io.Writer, check, base *reports.Check, fl checkFlags) error {
	worse, notes := conformance.Worse(check, base, fl.strict)
	for _, n := range notes {
		fmt.Fprintf(w, "check: %s\n", n)
	}
	for _, l := range worse {
		fmt.Fprintf(w, "  WORSE      %s\n", l)
	}
	if len(worse) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d verdict(s) worse than %s; see %s/check.md", len(worse), fl.baseline, fl.out)}
	}
	fmt.Fprintf(w, "check: no verdict worse than %s\n", fl.baseline)
	return nil
}
