package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
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
	cmd       string
	focus     string
	level     string
	strict    bool
	out       string
	workers   int
	threads   int
	quiet     bool
	parallel  int
	instances int
	failures  bool
}

func newCheckCmd() *cobra.Command {
	var fl checkFlags
	c := &cobra.Command{
		Use:   "check",
		Short: "PEP 3333 and RFC 9112 conformance verdicts for WSGI servers",
		Long: `Runs the conformance suite against each server in turn (fresh instances
serving apps/probe.py, sharing its specs) and writes check.json, junit-<server>.xml and
check.md. Exit 0 when no MUST failed (with --strict: and no SHOULD), 1 when
one did, 2 on usage or harness errors. A server that is not installed is
skipped with one warning line; 2 if none is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runCheck(cmd, fl) },
	}
	f := c.Flags()
	f.StringSliceVar(&fl.servers, "server", nil, "server profiles, comma-separated (default: wsgikit and every built-in peer; missing ones are skipped)")
	f.StringVar(&fl.profiles, "profiles", "", "TOML file of user server profiles")
	f.StringVar(&fl.cmd, "cmd", "", "ad-hoc server command template (profile name \"cmd\"), e.g. 'gunicorn -b {bind} {app}'")
	f.StringVar(&fl.focus, "focus", "", "spec IDs or regular expressions, comma-separated")
	f.StringVar(&fl.level, "level", "ALL", "MUST, SHOULD (MUST and SHOULD) or ALL")
	f.BoolVar(&fl.strict, "strict", false, "NON-STRICT verdicts (broken SHOULDs) fail the run too")
	f.StringVarP(&fl.out, "output", "o", "out/check", "output directory")
	f.IntVar(&fl.workers, "workers", 1, "worker processes per server instance")
	f.IntVar(&fl.threads, "threads", 4, "threads per worker")
	f.BoolVarP(&fl.quiet, "quiet", "q", false, "no per-server progress on stderr")
	f.IntVar(&fl.parallel, "parallel", 3, "servers checked at once")
	f.IntVar(&fl.instances, "instances", 3, "fresh instances per server, side by side, sharing its specs (each with its own event sink)")
	f.BoolVar(&fl.failures, "list-failures", true, "print each FAIL and ERROR as it happens")
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
	if fl.cmd != "" {
		p, err := harness.FromCmd(fl.cmd)
		if err != nil {
			return usageErr("%v", err)
		}
		user = append(user, p)
	}
	servers := fl.servers
	if len(servers) == 0 {
		if fl.cmd != "" {
			servers = []string{"cmd"}
		} else {
			servers = builtinPeers()
		}
	}
	for _, s := range servers {
		if err := conformance.CheckProfile(s, user); err != nil {
			return usageErr("%v", err)
		}
	}
	if _, err := framework.Select(conformance.Specs(), fl.focus, level); err != nil {
		return usageErr("--focus: %v", err)
	}
	stderr := cmd.ErrOrStderr()
	servers, skipped := skipMissing(stderr, "check", servers, user)
	if len(servers) == 0 {
		return usageErr("no server to check is installed; install one or name another with --server or --cmd (see: wsgikit servers)")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started, finished := map[string]time.Time{}, map[string]time.Time{}
	var mu sync.Mutex // servers run in parallel
	opts := conformance.Options{
		Servers: servers, Focus: fl.focus, Level: level, Parallel: fl.parallel, Instances: fl.instances,
		Start: conformance.HarnessStarter(conformance.HarnessConfig{User: user, Workers: fl.workers, Threads: fl.threads}),
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
	if err := reports.WriteCheck(fl.out, check, fl.strict); err != nil {
		return err
	}
	ran := 0
	for _, s := range check.Servers {
		n := conformance.Counts(s)
		ran += len(s.Results)
		if !fl.quiet {
			if s.Error != "" {
				fmt.Fprintf(stderr, "check: %s could not run: %s\n", s.Name, textutil.Clip(textutil.FirstLine(s.Error, ""), 200))
				continue
			}
			fmt.Fprintf(stderr, "check: %s %s: %d PASS, %d FAIL, %d NON-STRICT, %d INFO, %d UNSUPPORTED, %d ERROR (%s)\n",
				s.Name, s.Version, n[framework.PASS], n[framework.FAIL], n[framework.NONSTRICT], n[framework.VINFO], n[framework.UNSUPPORTED], n[framework.ERROR], elapsed(finished[s.Name].Sub(started[s.Name])))
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s/check.json, check.md and JUnit XML per server\n", fl.out)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted; partial results in %s", fl.out)
	}
	if ran == 0 {
		return fmt.Errorf("no spec ran (every server failed to start?); see %s/check.md", fl.out)
	}
	if errs := conformance.HarnessErrors(check); len(errs) > 0 {
		return fmt.Errorf("harness errors (not server verdicts): %s", strings.Join(errs, "; "))
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
