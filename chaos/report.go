package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wsgikit/wsgikit/internal/wrk"
	"github.com/wsgikit/wsgikit/reports"
)

// Report is the whole of chaos.json (schema wsgikit.chaos/v1).
type Report struct {
	Schema      string           `json:"schema"`
	Started     time.Time        `json:"started"`
	Machine     *reports.Machine `json:"machine,omitempty"`
	Client      string           `json:"client"`
	Duration    float64          `json:"duration_s"` // of each cell's load
	FireAt      float64          `json:"fire_at_s"`  // when the operation happens in it
	Workers     int              `json:"workers"`
	Threads     int              `json:"threads"`
	Connections []int            `json:"connections"`
	Operations  []Operation      `json:"operations"`
	Servers     []ServerInfo     `json:"servers"`
	Skipped     []Skipped        `json:"skipped,omitempty"`
	Cells       []Cell           `json:"cells"`
}

// ServerInfo is one server of the run.
type ServerInfo struct {
	Name    string   `json:"name"`
	Version string   `json:"version,omitempty"`
	Args    []string `json:"args,omitempty"` // flags every cell adds
	ArgsWhy string   `json:"args_why,omitempty"`
}

// Skipped is a server left out (not installed) and why.
type Skipped struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Cell is one server × operation × connection count.
type Cell struct {
	Server      string   `json:"server"`
	Operation   string   `json:"operation"`
	Connections int      `json:"connections"`
	How         string   `json:"how,omitempty"`
	Unsupported string   `json:"unsupported,omitempty"` // why the cell is "—"
	ServerArgs  []string `json:"server_args,omitempty"`
	// Load is wrk's summary: complete responses and errors by kind.
	Load wrk.Summary `json:"load"`
	// Errors is the sum of Load's error kinds.
	Errors  uint64   `json:"errors"`
	Workers Workers  `json:"workers"`
	Target  *Target  `json:"target,omitempty"`
	Probe   *Probe   `json:"probe,omitempty"`
	Error   string   `json:"error,omitempty"` // the cell could not measure (start failed, wrk failed)
	Notes   []string `json:"notes,omitempty"`
	// ServerLog is the server's log file, when the run keeps logs.
	ServerLog string `json:"server_log,omitempty"`
}

// Ran reports whether the cell measured something.
func (c Cell) Ran() bool { return c.Unsupported == "" && c.Error == "" }

// Workers counts the worker processes seen during the load (sampled every
// 100 ms): proof that the operation happened.
type Workers struct {
	Before  int `json:"before"`
	After   int `json:"after"`
	Started int `json:"started"` // new worker processes seen
	Ended   int `json:"ended"`   // worker processes gone by the end
}

// Target is the process an operation hit: the signalled worker, or the one
// serving the probe; Conns are the client connections it held besides the
// probe's (those a worker-wide failure takes with it).
type Target struct {
	PID   int `json:"pid"`
	Conns int `json:"conns"`
}

// Probe is the one request of the timeout and reload-on-rss cells.
type Probe struct {
	Path string `json:"path"`
	// Outcome is the status code, or what happened to the socket: "reset",
	// "closed" (EOF before a response), "no answer", "refused".
	Outcome string  `json:"outcome"`
	Seconds float64 `json:"seconds"`
	target  *Target
}

// WriteFiles writes chaos.json and chaos.md into dir.
func WriteFiles(r *Report, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "chaos.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	WriteMarkdown(&md, r)
	return os.WriteFile(filepath.Join(dir, "chaos.md"), []byte(md.String()), 0o644)
}

// WriteText writes one line per cell: requests and errors by kind, the
// workers seen, what the operation hit.
func WriteText(w io.Writer, r *Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tconns\toperation\trequests\terrors\tconnect\tread\twrite\ttimeout\t4xx/5xx\tworkers\t  hit")
	for _, c := range r.Cells {
		if !c.Ran() {
			fmt.Fprintf(tw, "%s\t%d\t%s\t\t\t\t\t\t\t\t\t  %s\n", c.Server, c.Connections, c.Operation, c.status())
			continue
		}
		l := c.Load
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t  %s\n", c.Server, c.Connections, c.Operation,
			l.Requests, c.Errors, l.Connect, l.Read, l.Write, l.Timeout, l.Status, c.Workers, c.hit(true))
	}
	tw.Flush()
}

// status says why a cell did not run.
func (c Cell) status() string {
	if c.Error != "" {
		return "not measured: " + firstLine(c.Error)
	}
	return "— " + c.Unsupported
}

// String is "2→3 (+1 −0)".
func (w Workers) String() string {
	return fmt.Sprintf("%d→%d (+%d −%d)", w.Before, w.After, w.Started, w.Ended)
}

// hit says what the operation hit: the probe's answer, the connections of
// the worker it hit, and (withNotes) the cell's notes.
func (c Cell) hit(withNotes bool) string {
	var parts []string
	if c.Probe != nil {
		parts = append(parts, fmt.Sprintf("probe %s after %.1f s", c.Probe.Outcome, c.Probe.Seconds))
	}
	if c.Target != nil {
		other := ""
		if c.Probe != nil {
			other = " other"
		}
		parts = append(parts, fmt.Sprintf("its worker held %d%s conns", c.Target.Conns, other))
	}
	if withNotes {
		for _, n := range c.Notes {
			parts = append(parts, "note: "+firstLine(n))
		}
	}
	return strings.Join(parts, "; ")
}

// errorKinds is "13 read, 2 timeout", or "" without errors.
func errorKinds(s wrk.Summary) string {
	var parts []string
	for _, k := range []struct {
		n    uint64
		name string
	}{{s.Connect, "connect"}, {s.Read, "read"}, {s.Write, "write"}, {s.Timeout, "timeout"}, {s.Status, "4xx/5xx"}} {
		if k.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", k.n, k.name))
		}
	}
	return strings.Join(parts, ", ")
}

// WriteMarkdown writes, per connection count, a table with a row per
// operation and a column per server (errors by kind / complete responses,
// and what the operation hit), then every cell's details and how each
// server did each operation.
func WriteMarkdown(w io.Writer, r *Report) {
	fmt.Fprintf(w, "# wsgikit chaos\n\n%s; %d workers × %d threads; each cell a fresh server under %.0f s of load, the operation at %.0f s; started %s.\n",
		r.Client, r.Workers, r.Threads, r.Duration, r.FireAt, r.Started.Format("2006-01-02 15:04 MST"))
	if r.Machine != nil {
		fmt.Fprintf(w, "Machine: %d CPUs, %s, %s.\n", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.Kernel)
	}
	fmt.Fprintln(w)
	MarkdownTables(w, r)
	fmt.Fprintln(w, "\n## Every cell")
	fmt.Fprintln(w, "\n| server | conns | operation | requests | connect | read | write | timeout | 4xx/5xx | workers | hit |")
	fmt.Fprintln(w, "|---|--:|---|--:|--:|--:|--:|--:|--:|---|---|")
	for _, c := range r.Cells {
		if !c.Ran() {
			fmt.Fprintf(w, "| %s | %d | %s | | | | | | | | %s |\n", c.Server, c.Connections, c.Operation, mdEscape(c.status()))
			continue
		}
		l := c.Load
		fmt.Fprintf(w, "| %s | %d | %s | %d | %d | %d | %d | %d | %d | %s | %s |\n", c.Server, c.Connections, c.Operation,
			l.Requests, l.Connect, l.Read, l.Write, l.Timeout, l.Status, c.Workers, mdEscape(c.hit(true)))
	}
	fmt.Fprintln(w, "\n## How each operation was done")
	fmt.Fprintln(w)
	for _, s := range r.Servers {
		fmt.Fprintf(w, "- **%s**", s.Name)
		if len(s.Args) > 0 {
			fmt.Fprintf(w, " (every cell adds `%s`: %s)", strings.Join(s.Args, " "), s.ArgsWhy)
		}
		fmt.Fprintln(w, ":")
		for _, op := range r.Operations {
			if m, err := Lookup(s.Name, op.Name); err == nil {
				how := m.How
				if m.Unsupported != "" {
					how = "— " + m.Unsupported
				}
				fmt.Fprintf(w, "  - %s: %s\n", op.Name, how)
			}
		}
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintln(w, "\nSkipped:")
		for _, s := range r.Skipped {
			fmt.Fprintf(w, "- %s: %s\n", s.Name, s.Reason)
		}
	}
}

// MarkdownTables writes the side-by-side tables alone (one per connection
// count), as the README shows them.
func MarkdownTables(w io.Writer, r *Report) {
	fmt.Fprintln(w, "A cell reads: client-visible errors (by kind) / complete responses; \"—\": the server has no such operation.")
	for _, conns := range r.Connections {
		fmt.Fprintf(w, "\n**%d connections**\n\n| operation |", conns)
		for _, s := range r.Servers {
			fmt.Fprintf(w, " %s %s |", s.Name, s.Version)
		}
		fmt.Fprint(w, "\n|---|")
		for range r.Servers {
			fmt.Fprint(w, "---|")
		}
		fmt.Fprintln(w)
		for _, op := range r.Operations {
			fmt.Fprintf(w, "| %s |", op.Name)
			for _, s := range r.Servers {
				fmt.Fprintf(w, " %s |", markdownCell(r.cell(s.Name, op.Name, conns)))
			}
			fmt.Fprintln(w)
		}
	}
}

func (r *Report) cell(server, op string, conns int) *Cell {
	for i := range r.Cells {
		c := &r.Cells[i]
		if c.Server == server && c.Operation == op && c.Connections == conns {
			return c
		}
	}
	return nil
}

func markdownCell(c *Cell) string {
	switch {
	case c == nil:
		return ""
	case c.Unsupported != "":
		return "—"
	case c.Error != "":
		return mdEscape(c.status())
	}
	s := fmt.Sprintf("**%d** / %d", c.Errors, c.Load.Requests)
	if k := errorKinds(c.Load); k != "" {
		s = fmt.Sprintf("**%d** (%s) / %d", c.Errors, k, c.Load.Requests)
	}
	if h := c.hit(false); h != "" {
		s += "; " + h
	}
	return mdEscape(s)
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
