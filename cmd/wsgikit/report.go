package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wsgikit/wsgikit/reports"
)

func init() { verbs = append(verbs, newReportCmd) }

// newReportCmd (re)renders saved results: any mix of check.json and
// bench.json files becomes one report directory.
func newReportCmd() *cobra.Command {
	var (
		out     string
		strict  bool
		summary bool
	)
	cmd := &cobra.Command{
		Use:   "report RESULTS.json... -o DIR",
		Short: "Render check.json and bench.json results as HTML, Markdown and JUnit",
		Long: `Render one or many check.json and bench.json files into DIR:
  index.html          one self-contained page (no network needed): conformance
                      matrix, benchmark charts, the machine they ran on
  summary.md          a compact summary for a CI job summary or a PR comment
  junit-<server>.xml  conformance verdicts per server, for CI test dashboards
  check.json, bench.json  the merged inputs (re-render or use as a baseline)

Several inputs are merged: a server that appears again replaces the earlier
results (the newest input wins).`,
		Example: `  wsgikit report out/check/check.json out/bench/bench.json -o out/report
  wsgikit report check-*.json -o report --strict
  wsgikit report out/check/check.json -o report --summary >> "$GITHUB_STEP_SUMMARY"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr("report: no input files (usage: wsgikit report RESULTS.json... -o DIR)")
			}
			if out == "" {
				return usageErr("report: no output directory (add -o DIR)")
			}
			in, err := reports.Load(args...)
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			var wrote []string
			if err := reports.WriteDir(out, in.Checks, in.Benches, reports.Strict(strict), reports.SourceFiles(in.Files...), reports.MergedJSON(true), reports.Written(&wrote)); err != nil {
				return fmt.Errorf("report: %w", err)
			}
			sort.Strings(wrote)
			index, _ := filepath.Abs(filepath.Join(out, "index.html"))
			if !summary {
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\nreport: %s\n", strings.Join(wrote, ", "), index)
				return nil
			}
			// The Markdown goes to stdout (for $GITHUB_STEP_SUMMARY or a
			// terminal), the path to stderr so it does not pollute it.
			md, err := os.ReadFile(filepath.Join(out, "summary.md"))
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			if _, err := cmd.OutOrStdout().Write(md); err != nil {
				return fmt.Errorf("report: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\nreport: %s\n", strings.Join(wrote, ", "), index)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "directory to write index.html, summary.md and junit-*.xml into")
	cmd.Flags().StringVar(&out, "out", "", "old name of --output")
	_ = cmd.Flags().MarkDeprecated("out", "use -o/--output, as check and bench do")
	cmd.Flags().BoolVar(&summary, "summary", false, "also print summary.md to stdout (the report's path then goes to stderr)")
	cmd.Flags().BoolVar(&strict, "strict", false, "count NON-STRICT verdicts as JUnit failures (as check --strict does)")
	return cmd
}
