package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/reports"
)

func init() { verbs = append(verbs, newServersCmd) }

// serverRow is one line of `wsgikit servers` (and one object of --json).
type serverRow struct {
	Name        string `json:"name"`
	Installed   bool   `json:"installed"`
	Unsupported bool   `json:"unsupported,omitempty"` // installed, but it cannot run with this interpreter here (the hint says why)
	Version     string `json:"version,omitempty"`
	Description string `json:"description"`
	Package     string `json:"package,omitempty"`
	Python      string `json:"python,omitempty"` // the interpreter it runs on
	KeepAlive   bool   `json:"keep_alive"`
	Source      string `json:"source"` // "builtin", "user" or "proxy"
	Hint        string `json:"install_hint,omitempty"`
}

func newServersCmd() *cobra.Command {
	var profilesFile string
	var asJSON bool
	c := &cobra.Command{
		Use:   "servers",
		Short: "List the server profiles: installed or not, versions, install hints",
		Long: `List every server profile wsgikit can start: the built-ins, your own from
--profiles FILE, and nginx in front of any of them (behind-nginx:<profile>).

A profile file holds [[profile]] tables, for example:
` + exampleProfile + `
Other fields: env (["KEY=VALUE"]), ready_path ("/"), dir ("{appdir}"),
py_modules (modules that must import under {python}), version_cmd and
version_regexp (how to read the version), files (name = template, written
into {rundir} before start).
Placeholders (in command, env, dir, files; requires and version_cmd take
only {python}, {pybin}, {pyhome}, {wsgikit} and {launchers}):` + placeholderHelp(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var user []*harness.Profile
			if profilesFile != "" {
				var err error
				if user, err = harness.LoadProfiles(profilesFile); err != nil {
					return usageErr("%v", err)
				}
			}
			rows := listServers(user)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			return writeServerTable(cmd.OutOrStdout(), rows)
		},
	}
	c.Flags().StringVar(&profilesFile, "profiles", "", "TOML file with your own server profiles")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return c
}

// exampleProfile is shown in --help (and parsed in the tests).
const exampleProfile = `
  [[profile]]
  name = "granian-2rt"
  description = "Granian, WSGI interface, two runtime threads"
  package = "pip install granian"
  command = ["{pybin}/granian", "--interface", "wsgi", "--host", "{host}", "--port", "{port}",
             "--workers", "{workers}", "--runtime-threads", "2",
             "--blocking-threads", "{threads}", "{app}"]
  requires = ["{pybin}/granian"] # executables or files that must exist
  keep_alive = true
  stop_signal = "SIGINT"         # default SIGTERM
  stop_grace = "10s"
`

func placeholderHelp() string {
	var b strings.Builder
	names := []string{"python", "pybin", "pyhome", "module", "callable", "app", "appdir", "host", "port", "bind", "workers", "threads", "rundir", "wsgikit", "launchers"}
	for _, n := range names {
		fmt.Fprintf(&b, "\n  %-12s %s", "{"+n+"}", harness.Placeholders[n])
	}
	return b.String()
}

// listServers detects every profile's version, in parallel (each detection
// runs a small command or an interpreter).
func listServers(user []*harness.Profile) []serverRow {
	var ps []*harness.Profile
	var sources []string
	shadowed := map[string]bool{}
	for _, p := range user {
		ps = append(ps, p)
		sources = append(sources, "user")
		shadowed[p.Name] = true
	}
	for _, p := range harness.Builtin() {
		if shadowed[p.Name] {
			continue
		}
		ps = append(ps, p)
		sources = append(sources, "builtin")
	}
	rows := make([]serverRow, len(ps)+1)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rows[i] = describe(p, sources[i])
		}()
	}
	// nginx in front of any profile: one row for the proxy itself.
	wg.Add(1)
	go func() {
		defer wg.Done()
		rows[len(ps)] = nginxRow()
	}()
	wg.Wait()
	return rows
}

func describe(p *harness.Profile, source string) serverRow {
	r := serverRow{Name: p.Name, Description: p.Description, Package: p.Package, KeepAlive: p.KeepAlive, Source: source, Python: p.Interpreter()}
	v, err := p.Version()
	if err != nil {
		r.Hint = installHint(err)
		r.Unsupported = errors.Is(err, harness.ErrUnsupported)
		return r
	}
	r.Installed, r.Version = true, v
	return r
}

// installHint is the part of a not-installed error after the profile's
// name: what is missing and what to do.
func installHint(err error) string {
	msg := err.Error()
	if errors.Is(err, harness.ErrUnsupported) {
		_, why, _ := strings.Cut(msg, ": ")
		return why
	}
	if !errors.Is(err, harness.ErrNotInstalled) {
		return msg
	}
	if i := strings.Index(msg, harness.ErrNotInstalled.Error()+" "); i >= 0 {
		return msg[i+len(harness.ErrNotInstalled.Error())+1:]
	}
	return msg
}

// nginxRow describes behind-nginx:<profile> through a probe profile
// wrapping a built-in (its own version part is nginx's).
func nginxRow() serverRow {
	r := serverRow{
		Name:        harness.NginxPrefix + "<profile>",
		Description: "nginx reverse proxy (keep-alive upstream, X-Forwarded-For, Host) in front of any profile",
		Package:     "nginx-light",
		KeepAlive:   true,
		Source:      "proxy",
	}
	v, err := harness.NginxVersion()
	if err != nil {
		r.Hint = installHint(err)
		return r
	}
	r.Installed, r.Version = true, "nginx "+v
	return r
}

func writeServerTable(w io.Writer, rows []serverRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tINSTALLED\tVERSION\tPYTHON\tKEEP-ALIVE\tDESCRIPTION")
	for _, r := range rows {
		inst, ver := "yes", r.Version
		if !r.Installed {
			inst, ver = "no", "-"
		}
		if r.Unsupported {
			inst = "unsupported"
		}
		ka := "no"
		if r.KeepAlive {
			ka = "yes"
		}
		desc := r.Description
		if r.Source == "user" {
			desc = "[user] " + desc
		}
		py := r.Python
		if py == "" {
			py = "-"
		} else if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, py); err == nil && !strings.HasPrefix(rel, "..") {
				py = rel
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, inst, ver, py, ka, desc)
		if !r.Installed && r.Hint != "" {
			fmt.Fprintf(tw, "\t\t\t\t\t  → %s\n", r.Hint)
		}
	}
	return tw.Flush()
}

// skipMissing leaves out the named servers that are not installed, with
// one warning line each on w (what is missing, pip's failure when `make
// setup` recorded one, the fix), so a run goes on with the others. A server
// whose detection fails otherwise is kept: its run reports what is wrong.
func skipMissing(w io.Writer, verb string, names []string, user []*harness.Profile) ([]string, []reports.SkippedServer) {
	var kept []string
	var skipped []reports.SkippedServer
	for _, name := range names {
		p, err := harness.Lookup(name, user)
		if err == nil {
			_, err = p.Version()
		}
		if errors.Is(err, harness.ErrNotInstalled) {
			why := "not installed " + installHint(err)
			fmt.Fprintf(w, "%s: skipping %s: %s\n", verb, name, why)
			skipped = append(skipped, reports.SkippedServer{Name: name, Reason: why})
			continue
		}
		kept = append(kept, name)
	}
	return kept, skipped
}

// builtinPeers are the built-in profiles of today's servers (not Debian's
// <name>@debian builds), wsgikit first: check's default list.
func builtinPeers() []string {
	var out []string
	for _, p := range harness.Builtin() {
		if !strings.HasSuffix(p.Name, harness.DebianSuffix) {
			out = append(out, p.Name)
		}
	}
	return out
}
