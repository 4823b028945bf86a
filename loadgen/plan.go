package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/reports"
)

// StartFunc starts the named server running app; StartTargets makes one
// from harness profiles.
type StartFunc func(ctx context.Context, server string, app harness.App) (srv harness.Server, version string, err error)

// Modes of a bench.
const (
	ModeClosed   = "closed"
	ModeOpen     = "open"
	ModeSweep    = "sweep"
	ModeCapacity = "capacity"
)

// Transports: who sends the requests of a run.
const (
	// TransportLean: the event loop where it applies (closed model,
	// keep-alive, plain HTTP to one address), vegeta's Attacker with our
	// HTTP/1.1 transport everywhere else.
	TransportLean   = "lean"
	TransportVegeta = "vegeta" // vegeta's Attacker with our transport for every run
	TransportStock  = "stock"  // vegeta's Attacker with its own net/http transport
	TransportWrk    = "wrk"    // Debian's wrk measures each run (closed model only)
)

// Plan is everything one `wsgikit bench` does.
type Plan struct {
	Servers   []string
	Scenarios []*Scenario
	// Mode is closed, sweep, open or capacity; "" picks it from the other
	// fields: an SLO is a capacity search, a rate the open model, several
	// concurrencies a sweep.
	Mode string
	// Concurrency: closed, one value; sweep, the levels; open and capacity,
	// the bound on requests in flight (one value). Empty: 32 connections
	// closed, 256 in flight open (room for queueing without a worker spiral).
	Concurrency []int
	Rate        float64 // open model
	SLO         SLO     // capacity
	CapStart    float64 // capacity: first rate (0: from a closed probe)
	CapProbes   int     // capacity: most probes per search (0: 16)
	Rounds      int
	Duration    time.Duration
	Warmup      time.Duration
	Timeout     time.Duration
	MaxRequests uint64 // per run
	Transport   string // lean (default), stock or wrk
	// NewConn opens a new connection per request: over https, a TLS
	// handshake each (resumed when the server allows).
	NewConn bool
	// TLS says the servers are started with TLS (by Start) and driven over
	// https; recorded in the settings.
	TLS         bool
	Pin         *Pinning
	OutDir      string // result files; "" keeps none
	AllowRemote bool
	CrossCheck  string // "wrk" or ""
	// AllowDifferent measures even when the servers answer a target
	// differently before the measurement (see ErrDifferentWork).
	AllowDifferent bool
	WrkPath        string // default /usr/bin/wrk
	Start          StartFunc
	Progress       Progress
	Log            io.Writer // plain progress lines and notes (default io.Discard)
	Command        string    // recorded in the output

	// Agent, when set, makes this bench one agent of a coordinated run
	// starting at StartAt (see agent.go).
	Agent   string
	StartAt time.Time
	fleet   *agentState
}

// Validate checks the plan and fills its defaults; Bench calls it too. Its
// errors are one line each, naming the flag that fixes them.
func (p *Plan) Validate() error {
	if len(p.Servers) == 0 || len(p.Scenarios) == 0 {
		return errors.New("bench needs at least one server and one scenario")
	}
	if p.Start == nil {
		return errors.New("bench: no way to start servers")
	}
	seen := map[string]bool{}
	for _, s := range p.Servers {
		if seen[s] {
			return fmt.Errorf("server %q is named twice", s)
		}
		seen[s] = true
	}
	if p.Rounds < 1 || p.Rounds > 1000 {
		return fmt.Errorf("--rounds %d: want 1..1000", p.Rounds)
	}
	if p.Duration <= 0 || p.Duration > time.Hour {
		return fmt.Errorf("--duration %v: want more than 0, at most 1h", p.Duration)
	}
	if p.Warmup < 0 || p.Warmup > time.Hour {
		return fmt.Errorf("--warmup %v: want 0 to 1h", p.Warmup)
	}
	for _, s := range p.Scenarios {
		a, err := ResolveApp(s.App, s.AppDir)
		if err != nil {
			return fmt.Errorf("scenario %q: %w", s.Name, err)
		}
		s.app = a
	}
	if err := p.checkLoad(); err != nil {
		return err
	}
	if err := p.checkClient(); err != nil {
		return err
	}
	if err := p.checkAgent(); err != nil {
		return err
	}
	if !p.AllowRemote {
		for _, s := range p.Scenarios {
			for _, h := range s.remoteHosts() {
				if !isLoopbackHost(h) {
					return fmt.Errorf("scenario %q targets %s, not loopback; pass --allow-remote to allow it", s.Name, h)
				}
			}
		}
	}
	if p.Log == nil {
		p.Log = io.Discard
	}
	if p.Progress == nil {
		p.Progress = NewPlainProgress(p.Log)
	}
	return nil
}

// checkLoad picks the mode and checks what it needs.
func (p *Plan) checkLoad() error {
	if p.Mode == "" {
		switch {
		case p.SLO.Max > 0:
			p.Mode = ModeCapacity
		case p.Rate > 0:
			p.Mode = ModeOpen
		case len(p.Concurrency) > 1:
			p.Mode = ModeSweep
		default:
			p.Mode = ModeClosed
		}
	}
	switch p.Mode {
	case ModeClosed, ModeSweep:
	case ModeOpen:
		if p.Rate <= 0 {
			return errors.New("open model needs --rate")
		}
	case ModeCapacity:
		if p.SLO.Max <= 0 {
			return errors.New("capacity search needs --slo, e.g. p99=20ms")
		}
	default:
		return fmt.Errorf("--mode %q: want closed, sweep, open or capacity", p.Mode)
	}
	if len(p.Concurrency) == 0 {
		p.Concurrency = []int{32}
		if p.Mode == ModeOpen || p.Mode == ModeCapacity {
			p.Concurrency = []int{256}
		}
	}
	for _, c := range p.Concurrency {
		if c < 1 || c > 10000 {
			return fmt.Errorf("-c %d: want concurrency 1..10000, or a list like 1,8,32", c)
		}
	}
	if p.Mode != ModeSweep && len(p.Concurrency) > 1 {
		return errors.New("-c takes a list only for a sweep")
	}
	return nil
}

// checkClient checks the transport and the wrk cross-check.
func (p *Plan) checkClient() error {
	if p.WrkPath == "" {
		p.WrkPath = "/usr/bin/wrk"
	}
	if p.CrossCheck != "" && p.CrossCheck != "wrk" {
		return fmt.Errorf("--cross-check %q: only wrk is supported", p.CrossCheck)
	}
	switch p.Transport {
	case "":
		p.Transport = TransportLean
	case TransportLean, TransportVegeta, TransportStock:
	case TransportWrk:
		if p.NewConn {
			return errors.New("--new-conn: wrk keeps its connections alive; use lean or stock")
		}
		if p.Mode != ModeClosed && p.Mode != ModeSweep {
			return fmt.Errorf("--transport wrk measures the closed model only, not %s; use lean or stock", p.Mode)
		}
		if p.CrossCheck != "" {
			return errors.New("--cross-check wrk next to --transport wrk compares wrk with itself; drop one")
		}
		for _, s := range p.Scenarios {
			if err := wrkScenario(s); err != nil {
				return fmt.Errorf("--transport wrk: %w; use lean or stock for it", err)
			}
		}
		if _, err := exec.LookPath(p.WrkPath); err != nil {
			return fmt.Errorf("--transport wrk: %s not found; install it: apt-get install wrk (make setup does)", p.WrkPath)
		}
	default:
		return fmt.Errorf("--transport %q: want lean, vegeta, stock or wrk", p.Transport)
	}
	return nil
}

// isLoopbackHost accepts loopback IPs and "localhost" only.
func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// CheckLoopback refuses a base URL that is not on this machine.
func CheckLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	if !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("target %s is not loopback; pass --allow-remote to allow it", u.Host)
	}
	return nil
}

func (p *Plan) settings() *reports.BenchSettings {
	s := &reports.BenchSettings{Mode: p.Mode, Rounds: p.Rounds, DurationS: p.Duration.Seconds(), WarmupS: p.Warmup.Seconds(),
		Concurrency: p.Concurrency, Rate: p.Rate, Transport: p.Transport, Command: p.Command, Servers: p.Servers,
		TLS: p.TLS, NewConn: p.NewConn}
	if p.Mode == ModeCapacity {
		s.SLO = p.SLO.String()
	}
	if p.Pin != nil {
		s.Pin = fmt.Sprintf("server=%v client=%v", p.Pin.Server, p.Pin.Client)
	}
	for _, sc := range p.Scenarios {
		s.Scenarios = append(s.Scenarios, sc.Name)
	}
	return s
}

// points are the loads run per scenario.
func (p *Plan) points() []Load {
	switch p.Mode {
	case ModeClosed:
		return []Load{{Mode: Closed, Concurrency: p.Concurrency[0]}}
	case ModeSweep:
		var ls []Load
		for _, c := range p.Concurrency {
			ls = append(ls, Load{Mode: Closed, Concurrency: c})
		}
		return ls
	case ModeOpen:
		return []Load{{Mode: Open, Concurrency: p.Concurrency[0], Rate: p.Rate}}
	case ModeCapacity:
		return []Load{{Mode: Open, Concurrency: p.Concurrency[0]}}
	}
	return nil
}

// Target is how one named server of a plan starts: a harness profile
// with its options, or the URL of a server someone else runs.
type Target struct {
	Profile *harness.Profile
	Options harness.Options
	URL     string
	// TLS is the client configuration of an https:// URL (nil: the
	// system's roots).
	TLS *tls.Config
}

// externalTLS is a server someone else runs at an https:// URL, with the
// client configuration that trusts it (see clientTLS).
type externalTLS struct {
	harness.Server
	tls *tls.Config
}

func (e externalTLS) ClientTLS() *tls.Config { return e.tls.Clone() }

// StartTargets starts each named server as targets says, running the
// scenario's app; a start is bounded to a minute.
func StartTargets(targets map[string]Target) StartFunc {
	return func(ctx context.Context, server string, app harness.App) (harness.Server, string, error) {
		t, ok := targets[server]
		if !ok {
			return nil, "", fmt.Errorf("no target named %q", server)
		}
		if t.URL != "" {
			srv := harness.External(t.URL)
			if strings.HasPrefix(t.URL, "https://") {
				conf := t.TLS
				if conf == nil {
					conf = &tls.Config{MinVersion: tls.VersionTLS12}
				}
				return externalTLS{srv, conf}, "", nil
			}
			return srv, "", nil
		}
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		inst, err := harness.Start(sctx, t.Profile, app, t.Options)
		if err != nil {
			return nil, "", err
		}
		return inst, inst.Version, nil
	}
}
