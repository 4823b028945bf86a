package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wsgikit/wsgikit/conformance/framework"
	"github.com/wsgikit/wsgikit/reports"
)

// WriteOutputs writes check.json, junit-<server>.xml per server (the
// report's JUnit writer: NON-STRICT fails only when strict) and check.md
// into dir (created if missing).
func WriteOutputs(c *reports.Check, dir string, strict bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output dir: %w", err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("check.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "check.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("check.json: %w", err)
	}
	for _, s := range c.Servers {
		f, err := os.Create(filepath.Join(dir, reports.JUnitFileName(s.Name)))
		if err != nil {
			return fmt.Errorf("junit: %w", err)
		}
		err = reports.WriteJUnit(f, s, strict)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("junit %s: %w", s.Name, err)
		}
	}
	f, err := os.Create(filepath.Join(dir, "check.md"))
	if err != nil {
		return fmt.Errorf("check.md: %w", err)
	}
	defer f.Close()
	if err := WriteMarkdown(f, c); err != nil {
		return fmt.Errorf("check.md: %w", err)
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// verdictMark is the short cell text of the Markdown matrix.
var verdictMark = map[string]string{
	framework.PASS: "PASS", framework.FAIL: "**FAIL**", framework.NONSTRICT: "NON-STRICT",
	framework.VINFO: "INFO", framework.UNSUPPORTED: "n/a", framework.ERROR: "ERROR",
}

// WriteMarkdown writes the matrix: a summary table per server, then one
// row per spec with a column per server.
func WriteMarkdown(w io.Writer, c *reports.Check) error {
	var sb strings.Builder
	sb.WriteString("# wsgikit check\n\n")
	sb.WriteString("| server | version | PASS | FAIL | NON-STRICT | INFO | UNSUPPORTED | ERROR |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range c.Servers {
		n := Counts(s)
		ver := s.Version
		if s.Error != "" {
			ver = "could not run: " + firstLine(s.Error)
		}
		fmt.Fprintf(&sb, "| %s | %s | %d | %d | %d | %d | %d | %d |\n", s.Name, mdEscape(ver), n[framework.PASS], n[framework.FAIL], n[framework.NONSTRICT], n[framework.VINFO], n[framework.UNSUPPORTED], n[framework.ERROR])
	}
	// One row per spec, in the order of the first server that ran it.
	type row struct {
		id, level string
		cells     map[string]string
	}
	rows := map[string]*row{}
	var order []string
	for _, s := range c.Servers {
		for _, r := range s.Results {
			rw, ok := rows[r.ID]
			if !ok {
				rw = &row{id: r.ID, level: r.Level, cells: map[string]string{}}
				rows[r.ID] = rw
				order = append(order, r.ID)
			}
			rw.cells[s.Name] = r.Verdict
		}
	}
	sb.WriteString("\n## Matrix\n\n| spec | level |")
	for _, s := range c.Servers {
		sb.WriteString(" " + s.Name + " |")
	}
	sb.WriteString("\n|---|---|" + strings.Repeat("---|", len(c.Servers)) + "\n")
	for _, id := range order {
		rw := rows[id]
		fmt.Fprintf(&sb, "| `%s` | %s |", rw.id, rw.level)
		for _, s := range c.Servers {
			sb.WriteString(" " + verdictMark[rw.cells[s.Name]] + " |")
		}
		sb.WriteString("\n")
	}
	// Failures with their details, so a CI summary explains itself.
	sb.WriteString("\n## Failures\n\n")
	any := false
	for _, s := range c.Servers {
		var lines []string
		if s.Error != "" {
			lines = append(lines, "- could not run: "+mdEscape(firstLine(s.Error)))
		}
		for _, r := range s.Results {
			if r.Verdict == framework.FAIL || r.Verdict == framework.ERROR {
				lines = append(lines, fmt.Sprintf("- `%s` %s — %s", r.ID, r.Verdict, mdEscape(firstLine(r.Detail))))
			}
		}
		if len(lines) == 0 {
			continue
		}
		any = true
		sort.Strings(lines)
		fmt.Fprintf(&sb, "### %s\n\n%s\n\n", s.Name, strings.Join(lines, "\n"))
	}
	if !any {
		sb.WriteString("None.\n")
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}
