package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wsgikit/wsgikit/server/master"
	"github.com/wsgikit/wsgikit/server/tlsconf"
)

// gunicornCompat holds the Gunicorn flags `serve` accepts so that a
// Gunicorn command line runs unchanged where the flag has a meaning here,
// and is refused with the reason (and the alternative) where it has none.
type gunicornCompat struct {
	workerClass       string
	preload           bool
	logFile           string
	env               []string
	workerConnections int
	captureOutput     bool
	statsdHost        string
	sslVersion        string
	handshakeOnConn   bool
	raggedEOFs        bool
}

func (g *gunicornCompat) register(f *pflag.FlagSet) {
	f.StringVarP(&g.workerClass, "worker-class", "k", "", `Gunicorn's worker class: "sync" and "gthread" are accepted (every wsgikit worker runs its connections on a Go event loop and requests on --threads Python threads); others are refused`)
	f.BoolVar(&g.preload, "preload", false, "Gunicorn's --preload: accepted; each worker imports the app (the master is Go), and an app that does not import still stops the start (exit 3)")
	f.StringVar(&g.logFile, "log-file", "", "Gunicorn's name for --error-logfile")
	f.StringArrayVarP(&g.env, "env", "e", nil, "KEY=VALUE set in the workers' environment (repeatable)")
	f.IntVar(&g.workerConnections, "worker-connections", 0, "Gunicorn's name for --max-connections (simultaneous connections per worker)")
	f.BoolVar(&g.captureOutput, "capture-output", false, "send the workers' stdout to the error log too (their stderr always goes there)")
	f.StringVar(&g.statsdHost, "statsd-host", "", "refused: wsgikit exports Prometheus metrics (--metrics-bind) instead of StatsD")
	f.StringVar(&g.sslVersion, "ssl-version", "", "Gunicorn's deprecated --ssl-version: accepted and ignored, as Gunicorn does (TLS 1.2 at least, 1.3 preferred)")
	f.BoolVar(&g.handshakeOnConn, "do-handshake-on-connect", false, "Gunicorn's --do-handshake-on-connect: accepted; the TLS handshake always completes right after accept, off the Python threads")
	f.BoolVar(&g.raggedEOFs, "suppress-ragged-eofs", true, "Gunicorn's --suppress-ragged-eofs: accepted; a client closing without close_notify between requests is a clean close, within a request an error")
}

// apply maps the accepted flags onto cfg (a flag of wsgikit's own wins over
// its Gunicorn alias); notes are what the user should know, one line each.
func (g *gunicornCompat) apply(f *pflag.FlagSet, cfg *master.Config, errorLog *string) (notes []string, err error) {
	switch g.workerClass {
	case "", "sync", "gthread":
		if g.workerClass != "" {
			notes = append(notes, fmt.Sprintf("-k %s: every wsgikit worker keeps connections on a Go event loop and runs requests on --threads Python threads (%d here)", g.workerClass, cfg.Threads))
		}
	default:
		return nil, fmt.Errorf("-k/--worker-class %s: wsgikit has no worker classes (a Go event loop holds the connections, --threads Python threads run requests); drop -k, and use --threads N for concurrency within a worker", g.workerClass)
	}
	if g.statsdHost != "" {
		return nil, fmt.Errorf("--statsd-host: wsgikit does not send StatsD; serve Prometheus metrics with --metrics-bind 127.0.0.1:9100 and scrape http://127.0.0.1:9100/metrics")
	}
	if g.logFile != "" {
		if f.Changed("error-logfile") && *errorLog != g.logFile {
			return nil, fmt.Errorf("--log-file and --error-logfile name the same log: give one")
		}
		*errorLog = g.logFile
	}
	if g.workerConnections < 0 {
		return nil, fmt.Errorf("--worker-connections must not be negative")
	}
	if g.workerConnections > 0 && !f.Changed("max-connections") {
		cfg.MaxConnections = g.workerConnections
	}
	for _, kv := range g.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-e/--env %q: want KEY=VALUE", kv)
		}
		// The workers inherit the master's environment.
		if err := os.Setenv(k, v); err != nil {
			return nil, fmt.Errorf("-e/--env %q: %w", kv, err)
		}
	}
	cfg.CaptureOutput = g.captureOutput
	if g.sslVersion != "" {
		notes = append(notes, fmt.Sprintf("--ssl-version %s: ignored, as by Gunicorn since 21.0; wsgikit speaks TLS 1.2 and 1.3", g.sslVersion))
	}
	if f.Changed("do-handshake-on-connect") || f.Changed("suppress-ragged-eofs") {
		notes = append(notes, "--do-handshake-on-connect, --suppress-ragged-eofs: accepted; wsgikit always completes the TLS handshake right after accept, off the Python threads, and takes an EOF without close_notify between requests for a clean close")
	}
	if _, ignored, err := tlsconf.ParseCiphers(cfg.TLS.Ciphers); err == nil && len(ignored) > 0 {
		notes = append(notes, fmt.Sprintf("--ciphers: skipped what crypto/tls does not have (as OpenSSL skips unknown names): %s", strings.Join(ignored, ", ")))
	}
	return notes, nil
}

// gunicornSettings maps Gunicorn's config-file setting names to serve's
// flag names (the keys of wsgikit's TOML config).
var gunicornSettings = map[string]string{
	"bind": "bind", "workers": "workers", "threads": "threads", "timeout": "timeout",
	"graceful_timeout": "graceful-timeout", "keepalive": "keep-alive", "max_requests": "max-requests",
	"max_requests_jitter": "max-requests-jitter", "backlog": "backlog", "chdir": "chdir",
	"pythonpath": "pythonpath", "user": "user", "group": "group", "umask": "umask", "pidfile": "pid",
	"accesslog": "access-logfile", "access_log_format": "access-logformat", "errorlog": "error-logfile",
	"loglevel": "log-level", "reload": "reload", "limit_request_line": "limit-request-line",
	"limit_request_fields": "limit-request-fields", "limit_request_field_size": "limit-request-field_size",
	"forwarded_allow_ips": "forwarded-allow-ips", "proxy_protocol": "proxy-protocol",
	"proxy_allow_ips": "proxy-allow-from", "worker_connections": "max-connections",
	"capture_output": "capture-output", "preload_app": "preload", "raw_env": "env",
	"worker_class": "worker-class", "wsgi_app": "app", "certfile": "certfile", "keyfile": "keyfile",
	"ca_certs": "ca-certs", "cert_reqs": "cert-reqs", "ciphers": "ciphers", "ssl_version": "ssl-version",
	"do_handshake_on_connect": "do-handshake-on-connect", "suppress_ragged_eofs": "suppress-ragged-eofs",
}

var pyAssign = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+?)\s*(#.*)?$`)

// gunicornConfHint is the error for `-c gunicorn.conf.py`: wsgikit's config
// is TOML, and here is what the file's simple assignments become.
func gunicornConfHint(path string) error {
	var keys, skipped []string
	if f, err := os.Open(path); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			m := pyAssign.FindStringSubmatch(strings.TrimSpace(sc.Text()))
			if m == nil {
				continue
			}
			name, ok := gunicornSettings[m[1]]
			if !ok {
				skipped = append(skipped, m[1])
				continue
			}
			keys = append(keys, fmt.Sprintf("  %s = %s", tomlKey(name), tomlValue(m[2])))
		}
	}
	msg := fmt.Sprintf("config %s is Python (Gunicorn's format); wsgikit reads TOML whose keys are serve's flag names", path)
	if len(keys) > 0 {
		msg += "; its settings as TOML:\n" + strings.Join(keys, "\n")
	}
	if len(skipped) > 0 {
		sort.Strings(skipped)
		msg += "\n  (no wsgikit equivalent: " + strings.Join(skipped, ", ") + ")"
	}
	return fmt.Errorf("%s", msg)
}

func tomlKey(name string) string {
	if strings.ContainsAny(name, "-") {
		return `"` + name + `"`
	}
	return name
}

// tomlValue turns a simple Python literal into TOML: True/False, quotes,
// lists; anything else is kept as written (an expression to evaluate by hand).
func tomlValue(v string) string {
	switch v {
	case "True":
		return "true"
	case "False":
		return "false"
	}
	v = strings.ReplaceAll(v, "'", `"`)
	if strings.HasPrefix(v, "(") && strings.HasSuffix(v, ")") {
		v = "[" + strings.TrimSuffix(strings.TrimPrefix(v, "("), ")") + "]"
	}
	return v
}
