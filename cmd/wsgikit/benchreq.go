package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/loadgen"
	"github.com/wsgikit/wsgikit/reports"
)

// scenarioList builds what bench asks: the --path requests and the
// --scenario-file scenarios on --app, or the named scenarios (built-in, or
// from the file). Flags that would not act are refused, each in one line.
func (f *benchFlags) scenarioList(cmd *cobra.Command, p *loadgen.Plan) error {
	changed := cmd.Flags().Changed
	dir, err := f.env.projectDir()
	if err != nil {
		return err
	}
	reqFlag := ""
	for _, name := range []string{"method", "header", "body"} {
		if changed(name) {
			reqFlag = name
		}
	}
	if reqFlag != "" && len(f.paths) == 0 && f.appSpec == "" {
		return usageErr("--%s: it applies to each --path request on --app; add --app module:callable (and --path)", reqFlag)
	}
	if f.appSpec == "" && len(f.paths) > 0 && f.started {
		return usageErr("--path: the servers started here need your app to answer it; add --app module:callable (or bench servers you run with --url)")
	}
	if f.appSpec != "" {
		if loadgen.IsBuiltinApp(f.appSpec) {
			return usageErr("--app %q: want module:callable, e.g. myproject.wsgi:application (wsgikit's own apps are run by --scenario)", f.appSpec)
		}
		if _, err := loadgen.ResolveApp(f.appSpec, dir); err != nil {
			return usageErr("--app: %v", err)
		}
		if changed("scenario") && f.scenarioFile == "" {
			return usageErr("--scenario %s: the built-in scenarios run wsgikit's own apps, not --app; give your app's requests with --path (or --scenario-file)", strings.Join(f.scenarios, ","))
		}
	}
	var user []*loadgen.Scenario
	if f.scenarioFile != "" {
		if user, err = loadgen.LoadScenarios(f.scenarioFile, f.appSpec, dir); err != nil {
			return usageErr("--scenario-file: %v", err)
		}
	}
	switch {
	case changed("scenario"):
		for _, name := range f.scenarios {
			s, err := loadgen.LookupScenario(strings.TrimSpace(name), user)
			if err != nil {
				return usageErr("%v", err)
			}
			p.Scenarios = append(p.Scenarios, s)
		}
	case f.scenarioFile != "":
		p.Scenarios = user // a scenario file replaces the default list
	case f.appSpec == "" && len(f.paths) == 0:
		s, _ := loadgen.LookupScenario("hello", nil)
		p.Scenarios = []*loadgen.Scenario{s}
	}
	if len(f.paths) > 0 || (f.appSpec != "" && f.scenarioFile == "") {
		paths := f.paths
		if len(paths) == 0 {
			paths = []string{"/"}
		}
		app := f.appSpec
		if app == "" {
			app = "bench" // every server is a --url: the app is theirs
		}
		header, body, err := f.request()
		if err != nil {
			return err
		}
		scs, err := loadgen.PathScenarios(app, dir, paths, f.method, header, body)
		if err != nil {
			return usageErr("%v", err)
		}
		p.Scenarios = append(p.Scenarios, scs...)
	}
	return f.refuseUnused(p, dir)
}

// refuseUnused refuses --app and --chdir when no scenario runs the user's
// app (every scenario of the file names another).
func (f *benchFlags) refuseUnused(p *loadgen.Plan, dir string) error {
	usesApp, usesDir := false, false
	for _, s := range p.Scenarios {
		usesApp = usesApp || (f.appSpec != "" && s.App == f.appSpec)
		usesDir = usesDir || !loadgen.IsBuiltinApp(s.App)
	}
	if f.appSpec != "" && !usesApp {
		return usageErr("--app: no scenario chosen runs it (each names its own app); drop --app or choose others with --scenario")
	}
	if dir != "" && !usesDir {
		return usageErr("--chdir: it is where --app is imported from, and no scenario runs an app of yours; add --app module:callable")
	}
	return nil
}

// request reads -H and --body for the --path requests.
func (f *benchFlags) request() (http.Header, []byte, error) {
	var header http.Header
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, nil, usageErr("-H %q: want 'Name: value'", h)
		}
		if header == nil {
			header = http.Header{}
		}
		header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	body := []byte(f.body)
	if file, ok := strings.CutPrefix(f.body, "@"); ok {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, usageErr("--body: %v", err)
		}
		body = b
	}
	return header, body, nil
}

// targets resolves the servers: running URLs, ad-hoc --cmd commands, and
// harness profiles (a profile that is not installed is skipped with a
// warning; an ad-hoc command that cannot run is refused).
func (f *benchFlags) targets(cmd *cobra.Command, p *loadgen.Plan) error {
	opts := harness.Options{Workers: f.workers, Threads: f.threads, TLS: f.tls}
	if p.Pin != nil && len(p.Pin.Server) > 0 {
		opts.CPUs = cpuList(p.Pin.Server)
	}
	targets := map[string]loadgen.Target{}
	urlTLS, err := f.urlTLS()
	if err != nil {
		return err
	}
	for _, u := range f.urls {
		name, raw, ok := strings.Cut(u, "=")
		if !ok || name == "" || !(strings.HasPrefix(raw, "http://") || strings.HasPrefix(raw, "https://")) {
			return usageErr("--url %q: want NAME=http://127.0.0.1:PORT (or https://)", u)
		}
		if err := loadgen.CheckLoopback(raw); err != nil && !f.allowRemote {
			return usageErr("%v", err)
		}
		t := loadgen.Target{URL: raw}
		if strings.HasPrefix(raw, "https://") {
			t.TLS = urlTLS
			p.TLS = true
		}
		targets[name] = t
		p.Servers = append(p.Servers, name)
	}
	cmds, err := cmdProfiles(f.cmds, "")
	if err != nil {
		return err
	}
	var lines []string
	for _, prof := range cmds {
		v, err := prof.Version()
		if err != nil {
			return usageErr("--cmd %s: %v", prof.Name, err)
		}
		lines = append(lines, prof.Name+" "+v)
		targets[prof.Name] = loadgen.Target{Profile: prof, Options: opts}
		p.Servers = append(p.Servers, prof.Name)
	}
	var profiles []*harness.Profile
	if f.profilesFile != "" {
		if profiles, err = harness.LoadProfiles(f.profilesFile); err != nil {
			return usageErr("%v", err)
		}
	}
	var names []string
	for _, name := range f.servers {
		name = strings.TrimSpace(name)
		if _, err := harness.Lookup(name, profiles); err != nil {
			return usageErr("%v", err)
		}
		names = append(names, name)
	}
	var noTLS []reports.SkippedServer
	if f.tls {
		names, noTLS = skipNoTLS(cmd.ErrOrStderr(), "bench", names, profiles)
	}
	names, f.skipped = skipMissing(cmd.ErrOrStderr(), "bench", names, profiles)
	f.skipped = append(noTLS, f.skipped...)
	for _, name := range names {
		prof, _ := harness.Lookup(name, profiles) // looked up above
		v, err := prof.Version()
		if err != nil {
			return usageErr("server %s: %v", name, err)
		}
		lines = append(lines, name+" "+v)
		targets[name] = loadgen.Target{Profile: prof, Options: opts}
		p.Servers = append(p.Servers, name)
	}
	if len(p.Servers) == 0 && len(f.skipped) > 0 {
		return usageErr("no server to bench is installed; install one or name another (see `wsgikit servers`)")
	}
	if len(p.Servers) == 0 {
		return usageErr("no server: give --server NAME[,NAME…] (see `wsgikit servers`), --cmd or --url")
	}
	f.started = len(p.Servers) > len(f.urls)
	if f.started {
		fmt.Fprintf(p.Log, "bench: %s; Python servers on %s\n", strings.Join(lines, ", "), harness.Python())
	}
	p.Start = loadgen.StartTargets(targets)
	return nil
}

// urlTLS is the client configuration of https:// --url servers: the
// system's roots, or --ca-certs'.
func (f *benchFlags) urlTLS() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.caCerts == "" {
		return conf, nil
	}
	https := false
	for _, u := range f.urls {
		_, raw, _ := strings.Cut(u, "=")
		https = https || strings.HasPrefix(raw, "https://")
	}
	if !https {
		return nil, usageErr("--ca-certs: no --url NAME=https://… to check against it")
	}
	b, err := os.ReadFile(f.caCerts)
	if err != nil {
		return nil, usageErr("--ca-certs: %v", err)
	}
	conf.RootCAs = x509.NewCertPool()
	if !conf.RootCAs.AppendCertsFromPEM(b) {
		return nil, usageErr("--ca-certs %s: no PEM certificate in it", f.caCerts)
	}
	return conf, nil
}
