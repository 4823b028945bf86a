package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/wsgikit/wsgikit/conformance/framework"
	"github.com/wsgikit/wsgikit/internal/harness"
)

// HarnessConfig tunes HarnessStarter.
type HarnessConfig struct {
	// User profiles (from --profiles) and the ad-hoc --cmd profile, looked
	// up before the built-ins.
	User []*harness.Profile
	// Workers and Threads for every instance (defaults 1 and 4: the
	// harness's defaults, so sync servers see the single-worker case).
	Workers, Threads int
	// LogDir keeps server logs there (default: the instance's temp dir).
	LogDir string
	// TLS starts every server with TLS (harness.Options.TLS).
	TLS bool
}

// proxyOf describes the generated nginx in front of a behind-nginx
// instance (nil for any other): specs credit the proxy with what it
// rewrites.
func proxyOf(inst *harness.Instance) *framework.Proxy {
	in := inst.Inner()
	if in == nil {
		return nil
	}
	p := &framework.Proxy{Name: "nginx", Upstream: in.Addr, Version: harness.NginxUpstreamVersion}
	for _, h := range harness.NginxAddedHeaders {
		p.Adds = append(p.Adds, h[0])
	}
	return p
}

// HarnessStarter starts servers through internal/harness, serving
// apps/probe.py.
func HarnessStarter(cfg HarnessConfig) Starter {
	return func(ctx context.Context, name string, env []string) (*harness.Instance, error) {
		p, err := harness.Lookup(name, cfg.User)
		if err != nil {
			return nil, err
		}
		if _, err := p.Version(); err != nil {
			return nil, err
		}
		app, err := harness.BuiltinApp("probe")
		if err != nil {
			return nil, err
		}
		inst, err := harness.Start(ctx, p, app, harness.Options{
			Workers: cfg.Workers, Threads: cfg.Threads, Env: env, LogDir: cfg.LogDir,
			SampleInterval: -1, TLS: cfg.TLS,
		})
		if err != nil {
			return nil, err
		}
		return inst, nil
	}
}

// InstalledPeers lists the built-in profiles whose server is installed,
// wsgikit first when it is built: the servers of today (the plain names),
// not Debian's older builds, which are asked for by name (<name>@debian).
func InstalledPeers() []string { return installed(false) }

// InstalledDebianPeers lists the installed <name>@debian profiles.
func InstalledDebianPeers() []string { return installed(true) }

func installed(debian bool) []string {
	var out []string
	for _, p := range harness.Builtin() {
		if strings.HasSuffix(p.Name, harness.DebianSuffix) != debian {
			continue
		}
		if _, err := p.Version(); err == nil {
			out = append(out, p.Name)
		} else if !errors.Is(err, harness.ErrNotInstalled) {
			out = append(out, p.Name) // installed but odd: let the run report it
		}
	}
	return out
}

// CheckProfile validates server names before a run, so a typo is a usage
// error with close matches, not a row of ERRORs.
func CheckProfile(name string, user []*harness.Profile) error {
	if _, err := harness.Lookup(name, user); err != nil {
		return fmt.Errorf("%w", err)
	}
	return nil
}
