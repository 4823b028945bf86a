// Command benchserve (make bench-serve) measures the reference server against
// Granian, bjoern, uWSGI, Gunicorn and Waitress with wrk: one worker each, the
// same apps, the server pinned to one CPU and wrk to another, rounds
// interleaved. It prints req/s, p99, RSS and server CPU per request, and
// wsgikit's ratios to each peer. Servers start through
// internal/harness, the one way any part of wsgikit starts a server.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
)

type target struct {
	label   string // row name
	profile string
	threads int
	app     string // builtin app name
	extra   []string
}

// scenarios map a row group to the app that serves it and the path asked.
var scenarios = map[string]struct{ app, path string }{
	"hello":  {"hello", "/"},
	"json":   {"bench", "/json"},
	"flask":  {"flask", "/json"},
	"django": {"django", "/json"},
}

type result struct {
	rps, p99ms, rssMB float64
	requests          int64
	clientCPU         float64 // wrk's CPU time over the run's wall time (1 = one core busy)
	cpuPerReqUS       float64 // the server tree's CPU time per request answered
	errs              string
}

func main() {
	dur := flag.Duration("d", 5*time.Second, "wrk duration per run")
	rounds := flag.Int("rounds", 2, "interleaved rounds")
	conns := flag.Int("c", 32, "wrk connections")
	only := flag.String("apps", "hello,json,flask,django", "scenarios to measure: hello, json (plain WSGI), flask, django (their JSON routes)")
	servers := flag.String("servers", "", "rows to measure, by label prefix (e.g. wsgikit,granian,bjoern); empty: all")
	flag.Parse()
	if _, err := exec.LookPath("wrk"); err != nil {
		fmt.Fprintln(os.Stderr, "benchserve: wrk not found; install it: apt-get install wrk (make setup does)")
		os.Exit(2)
	}
	pin := runtime.NumCPU() >= 2
	apps := strings.Split(*only, ",")
	fmt.Printf("# wsgikit bench-serve: wrk -t1 -c%d -d%v, %d rounds interleaved, 1 worker each; pinned: %v\n", *conns, *dur, *rounds, pin)
	for _, app := range apps {
		if _, ok := scenarios[app]; !ok {
			fmt.Fprintf(os.Stderr, "benchserve: unknown scenario %q; use hello, json, flask or django\n", app)
			os.Exit(2)
		}
		// One Python thread where the server lets us choose: the same work
		// per request, one core. bjoern has one thread by design.
		targets := []target{
			{"wsgikit", "wsgikit", 1, app, nil},
			{"granian", "granian", 1, app, nil},
			{"bjoern", "bjoern", 1, app, nil},
			{"uwsgi", "uwsgi", 1, app, nil},
			{"gunicorn-gthread-4", "gunicorn-gthread", 4, app, nil},
			{"waitress-4", "waitress", 4, app, nil},
		}
		if app == "hello" {
			targets = append(targets, target{"wsgikit-static (no Python)", "wsgikit", 1, app, nil})
			if _, err := exec.LookPath("nginx"); err == nil {
				targets = append(targets, target{"nginx-static (no Python)", "", 1, app, nil})
			}
		}
		targets = pick(targets, *servers)
		results := map[string][]result{}
		for r := 0; r < *rounds; r++ {
			for i := range targets {
				t := targets[(i+r)%len(targets)] // rotate the order each round
				res, err := measure(t, *dur, *conns, pin)
				if err != nil {
					fmt.Fprintf(os.Stderr, "benchserve: %s/%s: %v\n", t.label, app, err)
					continue
				}
				results[t.label] = append(results[t.label], res)
			}
		}
		report(app, targets, results)
	}
}

// pick keeps the targets whose label starts with one of the comma-separated
// prefixes in only (all when only is empty).
func pick(targets []target, only string) []target {
	if only == "" {
		return targets
	}
	var kept []target
	for _, t := range targets {
		for _, pre := range strings.Split(only, ",") {
			if pre != "" && strings.HasPrefix(t.label, pre) {
				kept = append(kept, t)
				break
			}
		}
	}
	return kept
}

// nginxStatic answers every request with a canned hello world from nginx
// itself: no Python, no proxying. It is the reference for how fast one core
// of wrk can go on this machine, so it shows when a row is client-bound.
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

func measure(t target, dur time.Duration, conns int, pin bool) (result, error) {
	p := nginxStatic
	var err error
	if t.profile != "" {
		if p, err = harness.Lookup(t.profile, nil); err != nil {
			return result{}, err
		}
	}
	if t.profile == "wsgikit" && strings.Contains(t.label, "static") {
		cp := *p
		cp.Command = append(append([]string{}, p.Command[:2]...), append([]string{"--static"}, p.Command[2:]...)...)
		p = &cp
	}
	sc := scenarios[t.app]
	app, err := harness.BuiltinApp(sc.app)
	if err != nil {
		return result{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := harness.Options{Workers: 1, Threads: t.threads}
	if pin {
		opts.CPUs = "0" // the whole tree, workers forked later included
	}
	inst, err := harness.Start(ctx, p, app, opts)
	if err != nil {
		return result{}, err
	}
	defer inst.Stop()
	wrk := []string{"wrk", "-t1", fmt.Sprintf("-c%d", conns), "--latency"}
	if pin {
		wrk = append([]string{"taskset", "-c", "1"}, wrk...)
	}
	url := inst.URL() + sc.path
	if out, err := exec.Command(wrk[0], append(wrk[1:], "-d1s", url)...).CombinedOutput(); err != nil { // warm-up
		return result{}, fmt.Errorf("wrk warm-up: %v: %s", err, out)
	}
	inst.ResetPeaks() // memory while serving, not during start-up
	cpu0 := inst.Usage().CPUSeconds
	cmd := exec.Command(wrk[0], append(wrk[1:], "-d"+dur.String(), url)...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	res := parseWrk(string(out))
	// wrk's own CPU: near 1 means the client, not the server, set the pace.
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.clientCPU = time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Seconds() / time.Since(start).Seconds()
	}
	u := inst.Usage()
	res.rssMB = u.PeakRSSMB
	if res.requests > 0 {
		res.cpuPerReqUS = (u.CPUSeconds - cpu0) / float64(res.requests) * 1e6
	}
	if res.requests == 0 || strings.Contains(res.errs, "Non-2xx") {
		return res, fmt.Errorf("wrk: no valid answers (%s): %s", res.errs, out)
	}
	return res, nil
}

var (
	reqsRE = regexp.MustCompile(`(\d+) requests in`)
	rpsRE  = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	p99RE  = regexp.MustCompile(`\s99%\s+([\d.]+)(us|ms|s)`)
	errsRE = regexp.MustCompile(`(Socket errors:.*|Non-2xx or 3xx responses: \d+)`)
)

func parseWrk(out string) result {
	var r result
	if m := rpsRE.FindStringSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reqsRE.FindStringSubmatch(out); m != nil {
		r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := p99RE.FindStringSubmatch(out); m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		switch m[2] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		r.p99ms = v
	}
	r.errs = strings.Join(errsRE.FindAllString(out, -1), "; ")
	return r
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64{}, xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(app string, targets []target, results map[string][]result) {
	med := func(label string, f func(result) float64) float64 {
		var xs []float64
		for _, r := range results[label] {
			xs = append(xs, f(r))
		}
		return median(xs)
	}
	ours := med("wsgikit", func(r result) float64 { return r.rps })
	ourCPU := med("wsgikit", func(r result) float64 { return r.cpuPerReqUS })
	fmt.Printf("\n## %s (GET %s)\n\n| server | req/s (median) | runs | p99 ms | RSS MB | server CPU µs/req | wrk CPU | wsgikit ÷ this (req/s) | wsgikit ÷ this (CPU/req) | notes |\n|---|---|---|---|---|---|---|---|---|---|\n", app, scenarios[app].path)
	for _, t := range targets {
		rs := results[t.label]
		if len(rs) == 0 {
			fmt.Printf("| %s | failed | | | | | | | | |\n", t.label)
			continue
		}
		rps := med(t.label, func(r result) float64 { return r.rps })
		var runs []string
		for _, r := range rs {
			runs = append(runs, fmt.Sprintf("%.0f", r.rps))
		}
		cpu := med(t.label, func(r result) float64 { return r.cpuPerReqUS })
		ratio, cpuRatio := "—", "—"
		if rps > 0 && t.label != "wsgikit" {
			ratio = fmt.Sprintf("%.2f×", ours/rps)
		}
		if cpu > 0 && t.label != "wsgikit" {
			cpuRatio = fmt.Sprintf("%.2f", ourCPU/cpu)
		}
		fmt.Printf("| %s | %.0f | %s | %.2f | %.0f | %.1f | %.0f%% | %s | %s | %s |\n", t.label, rps, strings.Join(runs, " / "),
			med(t.label, func(r result) float64 { return r.p99ms }), med(t.label, func(r result) float64 { return r.rssMB }),
			cpu, 100*med(t.label, func(r result) float64 { return r.clientCPU }), ratio, cpuRatio, rs[0].errs)
	}
}
