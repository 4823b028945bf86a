// Command benchserve (make bench-serve) measures the reference server against
// Granian, bjoern, uWSGI, Gunicorn and Waitress: one worker each, the same
// apps, the server pinned to one CPU and the client to another, rounds
// interleaved, each run measured by wrk. It only says what runs: the
// servers (one Python thread where the server lets us choose, the no-Python
// rows for hello) and the apps; loadgen.Bench runs it with --transport wrk,
// as `wsgikit bench` would, and prints the same summary and comparisons.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/loadgen"
	"github.com/wsgikit/wsgikit/reports"
)

// scenarios: hello on the hello app, and the JSON route of the plain WSGI,
// Flask and Django apps.
var scenarios = []*loadgen.Scenario{
	{Name: "hello", App: "hello", Description: "GET / on the hello app", Requests: get("/")},
	{Name: "json", App: "bench", Description: "GET /json, plain WSGI", Requests: get("/json")},
	{Name: "flask", App: "flask", Description: "GET /json, Flask", Requests: get("/json")},
	{Name: "django", App: "django", Description: "GET /json, Django", Requests: get("/json")},
}

func get(path string) []loadgen.Request { return []loadgen.Request{{Method: "GET", Path: path}} }

// server is one row: a profile, its threads, and whether it runs only
// for hello (the rows that run no Python).
type server struct {
	name, profile string
	threads       int
	helloOnly     bool
}

// servers: one Python thread where the server lets us choose (the same
// work per request, one core; bjoern has one thread by design), and the
// two rows that run no Python: wsgikit --static (the same engine
// answering by itself) and nginx answering by itself, the reference for
// how fast one core of the client can go.
var servers = []server{
	{"wsgikit", "wsgikit", 1, false},
	{"granian", "granian", 1, false},
	{"bjoern", "bjoern", 1, false},
	{"uwsgi", "uwsgi", 1, false},
	{"gunicorn-gthread-4", "gunicorn-gthread", 4, false},
	{"waitress-4", "waitress", 4, false},
	{"wsgikit-static", "wsgikit", 1, true},
	{"nginx-static", "", 1, true},
}

func main() {
	dur := flag.Duration("d", 5*time.Second, "measurement per run")
	rounds := flag.Int("rounds", 2, "interleaved rounds")
	conns := flag.Int("c", 32, "connections")
	apps := flag.String("apps", "hello,json,flask,django", "scenarios to measure: hello, json (plain WSGI), flask, django (their JSON routes)")
	only := flag.String("servers", "", "rows to measure, by name prefix (e.g. wsgikit,granian,bjoern); empty: all")
	outDir := flag.String("o", "", "directory for each scenario's bench.json (<dir>/<scenario>/) and one report of them all")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *dur, *rounds, *conns, *apps, *only, *outDir); err != nil {
		fmt.Fprintln(os.Stderr, "benchserve:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, dur time.Duration, rounds, conns int, apps, only, outDir string) error {
	var pin *loadgen.Pinning
	if runtime.NumCPU() >= 2 {
		pin = &loadgen.Pinning{Server: []int{0}, Client: []int{1}}
	}
	var benches []*reports.Bench
	for _, app := range strings.Split(apps, ",") {
		sc, err := loadgen.LookupScenario(app, scenarios)
		if err != nil {
			return err
		}
		names, targets, err := pick(only, app == "hello", pin)
		if err != nil {
			return err
		}
		p := loadgen.Plan{Servers: names, Scenarios: []*loadgen.Scenario{sc}, Concurrency: []int{conns},
			Rounds: rounds, Duration: dur, Warmup: time.Second, Transport: loadgen.TransportWrk, Pin: pin,
			Start: loadgen.StartTargets(targets), Log: os.Stdout, Command: "benchserve " + strings.Join(os.Args[1:], " ")}
		if outDir != "" {
			p.OutDir = filepath.Join(outDir, app)
		}
		fmt.Printf("\n## %s (GET %s): wrk -t1 -c%d -d%v, %d rounds interleaved, 1 worker each; pinned: %v\n\n",
			app, sc.Requests[0].Path, conns, dur, rounds, pin != nil)
		out, err := loadgen.Bench(ctx, p)
		if err != nil {
			return err
		}
		fmt.Println()
		loadgen.WriteText(os.Stdout, out)
		benches = append(benches, out)
		if outDir != "" {
			if err := loadgen.SaveBaseline(filepath.Join(outDir, app, "bench.json"), out); err != nil {
				return err
			}
		}
	}
	if outDir != "" {
		if err := reports.WriteDir(outDir, nil, benches); err != nil {
			return err
		}
		fmt.Printf("\nreport: %s\n", filepath.Join(outDir, "index.html"))
	}
	return nil
}

// pick returns the rows whose name starts with one of the comma-separated
// prefixes in only (all when only is empty), installed here, and how
// each starts; a row not installed is skipped with a line saying so.
func pick(only string, hello bool, pin *loadgen.Pinning) ([]string, map[string]loadgen.Target, error) {
	var names []string
	targets := map[string]loadgen.Target{}
	for _, s := range servers {
		if (s.helloOnly && !hello) || !wanted(s.name, only) {
			continue
		}
		p, err := profile(s)
		if err != nil {
			return nil, nil, err
		}
		if _, err := p.Version(); errors.Is(err, harness.ErrNotInstalled) {
			fmt.Printf("benchserve: skipping %s: %v\n", s.name, err)
			continue
		}
		opts := harness.Options{Workers: 1, Threads: s.threads}
		if pin != nil {
			opts.CPUs = "0" // the whole tree, workers forked later included
		}
		names = append(names, s.name)
		targets[s.name] = loadgen.Target{Profile: p, Options: opts}
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("no server named by -servers %q is installed", only)
	}
	return names, targets, nil
}

func wanted(name, only string) bool {
	if only == "" {
		return true
	}
	for _, pre := range strings.Split(only, ",") {
		if pre != "" && strings.HasPrefix(name, pre) {
			return true
		}
	}
	return false
}

// profile is the row's harness profile: wsgikit-static is wsgikit with
// --static, nginx-static answers by itself.
func profile(s server) (*harness.Profile, error) {
	if s.profile == "" {
		return nginxStatic, nil
	}
	p, err := harness.Lookup(s.profile, nil)
	if err != nil || s.name != "wsgikit-static" {
		return p, err
	}
	cp := *p
	cp.Command = append(append([]string{}, p.Command[:2]...), append([]string{"--static"}, p.Command[2:]...)...)
	return &cp, nil
}

// nginxStatic answers every request with a canned hello world from nginx
// itself: no Python, no proxying. It is the reference for how fast one core
// of the client can go on this machine, so it shows when a row is
// client-bound.
var nginxStatic = &harness.Profile{
	Name:        "nginx-static",
	Description: "nginx answering hello world itself (reference for the client's ceiling)",
	Package:     "nginx-light",
	Command:     []string{"nginx", "-p", "{rundir}", "-c", "{rundir}/nginx.conf", "-e", "stderr"},
	Dir:         "{rundir}",
	Files: map[string]string{"nginx.conf": `# {app} is not loaded: nginx answers by itself
daemon off;
worker_processes 1;
pid {rundir}/nginx.pid;
error_log stderr warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    keepalive_requests 1000000000;
    client_body_temp_path {rundir}/client_body;
    server {
        listen {bind};
        location / {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
`},
	KeepAlive:  true,
	StopSignal: syscall.SIGTERM, StopGrace: 5 * time.Second,
	Requires: []string{"nginx"},
}
