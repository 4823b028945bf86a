package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wsgikit/wsgikit/loadgen"
	"github.com/wsgikit/wsgikit/reports"
)

// agentPlan maps --agent and --start-at onto the plan (which checks the
// rest): an agent loads servers someone else runs, named by --url.
func (f *benchFlags) agentPlan(p *loadgen.Plan) error {
	if f.startAt != "" {
		t, err := time.Parse(time.RFC3339, f.startAt)
		if err != nil {
			return usageErr("--start-at %q: want an RFC 3339 time like 2026-12-08T10:00:00Z", f.startAt)
		}
		p.StartAt = t
	}
	p.Agent = f.agent
	if f.agent != "" && len(p.Servers) != len(f.urls) {
		return usageErr("--agent loads servers that run elsewhere: name them with --url NAME=URL only")
	}
	return nil
}

// newBenchMergeCmd is `wsgikit bench merge`: the agents' parts of one
// coordinated run become one bench.json and report.
func newBenchMergeCmd() *cobra.Command {
	var (
		out     string
		maxSkew time.Duration
	)
	c := &cobra.Command{
		Use:   "merge AGENT-DIR… -o DIR",
		Short: "Merge the agents' parts of a coordinated run on several load hosts",
		Long: `Combine the parts that agents (wsgikit bench --agent ID --start-at T -o DIR on
each load host) wrote for one run into one bench.json, report and merged HDR
histogram logs in DIR:
  throughput    the requests every agent answered inside the window where all
                of them were loading, over that window
  percentiles   from the sum of the agents' HDR histograms: exact, not averaged
  client-bound  per agent, and the merged run when any agent was
  clock skew    each agent's clock against the target's Date header; the spread
                between agents, and how far apart each run began

Parts of different runs (another --start-at or load, an agent twice, runs
missing) are refused with the reason, and so are agents whose clocks or
starts are further apart than --max-skew. Concurrency and rate in the merged
bench.json are the fleet's totals.

Each agent's vegeta result files stay readable together:
  vegeta report parts/*/results/NAME.bin

Exit status: 0 merged; 2 refused or unreadable parts.`,
		Example: `  wsgikit bench merge parts/load1 parts/load2 parts/load3 -o merged`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErr("bench merge: no output directory (add -o DIR)")
			}
			var parts []*loadgen.Part
			for _, a := range args {
				p, err := loadgen.LoadPart(a)
				if err != nil {
					return usageErr("bench merge: %v", err)
				}
				parts = append(parts, p)
			}
			m, err := loadgen.MergeParts(parts, maxSkew, "wsgikit bench merge "+strings.Join(args, " "))
			if err != nil {
				return usageErr("bench merge: refused: %v", err)
			}
			stdout := cmd.OutOrStdout()
			loadgen.WriteFleetText(stdout, m.Bench.Fleet)
			fmt.Fprintln(stdout)
			loadgen.WriteText(stdout, m.Bench)
			if err := m.WriteLogs(out); err != nil {
				return err
			}
			path := filepath.Join(out, "bench.json")
			if err := writeJSON(path, m.Bench); err != nil {
				return err
			}
			if err := reports.WriteDir(out, nil, []*reports.Bench{m.Bench}); err != nil {
				return fmt.Errorf("render report: %w", err)
			}
			fmt.Fprintf(stdout, "\nwrote %s\nreport: %s\n", path, filepath.Join(out, "index.html"))
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "directory for the merged bench.json, report and HDR logs")
	c.Flags().DurationVar(&maxSkew, "max-skew", loadgen.DefaultMaxSkew, "refuse agents whose clocks, or whose starts of a run, are further apart")
	return c
}
