package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wsgikit/wsgikit/chaos"
	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/textutil"
)

func init() { verbs = append(verbs, newChaosCmd) }

type chaosFlags struct {
	servers     []string
	ops         []string
	connections []int
	duration    time.Duration
	fireAt      time.Duration
	workers     int
	threads     int
	out         string
	wrkPath     string
	quiet       bool
}

func newChaosCmd() *cobra.Command {
	var fl chaosFlags
	c := &cobra.Command{
		Use:   "chaos",
		Short: "Client-visible errors while a server reloads, recycles, adds, removes and loses workers",
		Long: `Keeps wrk's keep-alive load (GET / of apps/chaos.py) on each server while it does
one operation of its process management at a time, each on a fresh instance:
graceful reload (HUP), worker recycling (max-requests), a worker added and
removed (TTIN/TTOU), a request over the timeout, a worker killed with SIGKILL,
reload-on-rss, a worker's graceful stop; "baseline" is the same load with
nothing done. Prints per server, connection count and operation the complete
responses and the errors wrk's connections saw (connect, read — a connection
closed or reset under a request —, write, timeout, 4xx/5xx), and writes
chaos.json (schema wsgikit.chaos/v1), chaos.md and the servers' logs to the
output directory. An operation a server does not have is "—", with the reason.
Exit 0 when every cell ran (errors are results), 2 on usage errors or when a
cell could not be measured. A server that is not installed is skipped with one
warning line.`,
		Example: "  wsgikit chaos --server wsgikit --op hup,max-requests --connections 16",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return runChaos(cmd, fl) },
	}
	f := c.Flags()
	f.StringSliceVar(&fl.servers, "server", chaos.DefaultServers, "server profiles, comma-separated, of: "+strings.Join(chaos.ServerNames(), ", "))
	f.StringSliceVar(&fl.ops, "op", nil, "operations, comma-separated (default all): "+strings.Join(chaos.OperationNames(), ", "))
	f.IntSliceVar(&fl.connections, "connections", []int{16, 64}, "wrk keep-alive connections per cell, comma-separated")
	f.DurationVarP(&fl.duration, "duration", "d", 5*time.Second, "load per cell (whole seconds, at least 4s)")
	f.DurationVar(&fl.fireAt, "fire-at", time.Second, "when, in the load, the operation happens")
	f.IntVar(&fl.workers, "workers", 2, "worker processes per server")
	f.IntVar(&fl.threads, "threads", 4, "threads per worker")
	f.StringVarP(&fl.out, "output", "o", "out/chaos", "output directory")
	f.StringVar(&fl.wrkPath, "wrk", "", "the wrk executable (default /usr/bin/wrk)")
	f.BoolVarP(&fl.quiet, "quiet", "q", false, "no per-cell progress on stderr")
	return c
}

func runChaos(cmd *cobra.Command, fl chaosFlags) error {
	for _, s := range fl.servers {
		if _, err := harness.Lookup(s, nil); err != nil {
			return usageErr("%v", err)
		}
		if err := chaos.CheckServer(s); err != nil {
			return usageErr("%v", err)
		}
	}
	stderr := cmd.ErrOrStderr()
	plan := chaos.Plan{
		Servers: fl.servers, Operations: fl.ops, Connections: fl.connections,
		Duration: fl.duration, FireAt: fl.fireAt, Workers: fl.workers, Threads: fl.threads,
		WrkPath: fl.wrkPath, LogDir: fl.out + "/logs",
		Progress: func(c chaos.Cell) {
			if fl.quiet {
				return
			}
			switch {
			case c.Unsupported != "":
				fmt.Fprintf(stderr, "chaos: %s %d %s: — (%s)\n", c.Server, c.Connections, c.Operation, c.Unsupported)
			case c.Error != "":
				fmt.Fprintf(stderr, "chaos: %s %d %s: not measured: %s\n", c.Server, c.Connections, c.Operation, textutil.FirstLine(c.Error, ""))
			default:
				fmt.Fprintf(stderr, "chaos: %s %d %s: %d errors / %d requests, workers %s\n", c.Server, c.Connections, c.Operation, c.Errors, c.Load.Requests, c.Workers)
			}
		},
	}
	if err := plan.Validate(); err != nil {
		return usageErr("%v", err)
	}
	servers, skipped := skipMissing(stderr, "chaos", plan.Servers, nil)
	if len(servers) == 0 {
		return usageErr("no server to run is installed; install one or name another with --server (see: wsgikit servers)")
	}
	plan.Servers = servers
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, runErr := chaos.Run(ctx, plan)
	if r == nil {
		return usageErr("%v", runErr)
	}
	for _, s := range skipped {
		r.Skipped = append(r.Skipped, chaos.Skipped{Name: s.Name, Reason: s.Reason})
	}
	chaos.WriteText(cmd.OutOrStdout(), r)
	if err := chaos.WriteFiles(r, fl.out); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s/chaos.json, chaos.md and the servers' logs in %s/logs\n", fl.out, fl.out)
	if runErr != nil {
		return fmt.Errorf("interrupted (%v); partial results in %s", runErr, fl.out)
	}
	failed := 0
	for _, c := range r.Cells {
		if c.Error != "" {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d cell(s) could not be measured; see %s/chaos.md", failed, fl.out)
	}
	return nil
}
