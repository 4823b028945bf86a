package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wsgikit/wsgikit/server/accesslog"
	"github.com/wsgikit/wsgikit/server/errorlog"
	"github.com/wsgikit/wsgikit/server/master"
)

func init() { verbs = append(verbs, newServeCmd) }

func newServeCmd() *cobra.Command {
	var cfg master.Config
	var keepAlive, headerTimeout, graceful, timeout float64
	var pythonPath, logLevel, umask, configFile, virtualenv string
	var checkConfig bool
	var errorLog string
	var gc gunicornCompat
	cmd := &cobra.Command{
		Use:   "serve [flags] module:callable",
		Short: "Run the reference WSGI server",
		Long: `Run a WSGI application on the reference server: a Go master supervising
worker processes, each the chosen Python interpreter running wsgikit's Go HTTP/1.1
engine as a CPython extension. The callable defaults to "application";
"module:factory()" calls a factory once per worker.`,
		Example: "  wsgikit serve -b 127.0.0.1:8000 -w 2 --threads 4 myproject.wsgi:application",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErr("serve takes one module:callable, e.g. wsgikit serve hello:application")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				cfg.App = args[0]
			}
			if strings.HasSuffix(configFile, ".py") {
				return usageErr("%v", gunicornConfHint(configFile))
			}
			if err := applyConfig(c.Flags(), configFile, &cfg.App); err != nil {
				return usageErr("%v", err)
			}
			for _, w := range unknownEnv(c.Flags(), os.Environ()) {
				fmt.Fprintln(c.ErrOrStderr(), w)
			}
			if cfg.App == "" {
				return usageErr("serve needs a module:callable (argument, \"app\" in the config file, or WSGIKIT_APP), e.g. wsgikit serve hello:application")
			}
			if virtualenv != "" {
				if c.Flags().Changed("python") {
					return usageErr("give --python or --virtualenv, not both")
				}
				cfg.Python = filepath.Join(virtualenv, "bin", "python")
			}
			if _, err := master.ParseAppSpec(cfg.App); err != nil {
				return usageErr("%v", err)
			}
			if cfg.Workers < 1 || cfg.Threads < 1 {
				return usageErr("--workers and --threads must be at least 1")
			}
			if pythonPath != "" {
				cfg.PythonPath = strings.Split(pythonPath, ",")
			}
			cfg.KeepAlive = seconds(keepAlive)
			cfg.HeaderTimeout = seconds(headerTimeout)
			cfg.GracefulTimeout = seconds(graceful)
			cfg.Timeout = seconds(timeout)
			if umask != "" {
				u, err := strconv.ParseUint(umask, 8, 32)
				if err != nil || u > 0o777 {
					return usageErr("--umask %q: want an octal mode such as 007", umask)
				}
				cfg.Umask = os.FileMode(u)
			}
			if cfg.MaxRequests < 0 || cfg.MaxRequestsJitter < 0 || cfg.ReloadOnRSSMB < 0 || timeout < 0 {
				return usageErr("--timeout, --max-requests, --max-requests-jitter and --reload-on-rss must not be negative")
			}
			level, err := errorlog.ParseLevel(logLevel)
			if err != nil {
				return usageErr("%v", err)
			}
			cfg.LogLevel = logLevel
			notes, err := gc.apply(c.Flags(), &cfg, &errorLog)
			if err != nil {
				return usageErr("%v", err)
			}
			cfg.MetricsBind = defaultHost(cfg.MetricsBind)
			if err := cfg.Validate(); err != nil {
				return usageErr("%v", err)
			}
			if err := checkAccessLog(cfg.AccessLog); err != nil {
				return usageErr("%v", err)
			}
			var logw io.Writer = os.Stderr
			if errorLog != "" && errorLog != "-" {
				el, err := errorlog.OpenFile(errorLog)
				if err != nil {
					return usageErr("%v", err)
				}
				cfg.ErrorLog, logw = el, el
			}
			logger := errorlog.New(logw, level, cfg.LogJSON)
			for _, n := range notes {
				logger.Info(n)
			}
			if checkConfig {
				if err := master.CheckConfig(cfg); err != nil {
					var ee *master.ExitError
					if errors.As(err, &ee) {
						return &exitError{code: ee.Code, err: err}
					}
					return usageErr("%v", err)
				}
				fmt.Fprintln(c.OutOrStdout(), "config OK: the app imports and the worker extension loads")
				return nil
			}
			m, err := master.New(cfg, logger)
			if err != nil {
				return usageErr("%v", err)
			}
			err = m.Run(context.Background())
			var ee *master.ExitError
			if errors.As(err, &ee) {
				return &exitError{code: ee.Code, err: err}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configFile, "config", "c", "", "TOML config file; keys are the flag names (workers = 4); flags win over WSGIKIT_* variables, which win over the file")
	f.BoolVar(&checkConfig, "check-config", false, "check the configuration and that the app imports, then exit")
	f.StringVar(&virtualenv, "virtualenv", "", "use DIR/bin/python (the venv's interpreter)")
	f.IntVar(&cfg.MaxConnections, "max-connections", 0, "simultaneous connections per worker; beyond, new ones wait in the listen backlog (0: no limit)")
	f.StringVar(&errorLog, "error-logfile", "-", `error log file (the workers' stderr too), "-" for stderr; USR1 reopens it`)
	f.StringVarP(&cfg.PidFile, "pid", "p", "", "write the master's PID to this file (removed at exit)")
	f.StringVarP(&cfg.User, "user", "u", "", "run workers as this user (name or id; the master runs as root and keeps the sockets)")
	f.StringVarP(&cfg.Group, "group", "g", "", "run workers as this group (name or id)")
	f.BoolVar(&cfg.Reload, "reload", false, "development: reload the workers when a .py file under the app directory changes")
	f.StringArrayVarP(&cfg.Bind, "bind", "b", nil, "address to listen on: HOST:PORT, [::1]:PORT, unix:PATH or fd://N, after https:// for TLS or http:// for plaintext (repeatable; default 127.0.0.1:8000; systemd socket activation overrides); with --certfile, a bind without a scheme speaks TLS (as in Gunicorn)")
	f.StringVar(&cfg.TLS.CertFile, "certfile", "", "TLS: the server's certificate (PEM, then its chain; the key too when --keyfile is not given); re-read on HUP")
	f.StringVar(&cfg.TLS.KeyFile, "keyfile", "", "TLS: the certificate's private key (PEM, unencrypted); re-read on HUP")
	f.StringVar(&cfg.TLS.CACerts, "ca-certs", "", "TLS: the CAs (PEM) client certificates must chain to (--cert-reqs)")
	f.IntVar(&cfg.TLS.CertReqs, "cert-reqs", 0, "TLS client certificates: 0 not asked, 1 optional (verified when given), 2 required; exposed as SSL_CLIENT_* in the environ")
	f.StringVar(&cfg.TLS.Ciphers, "ciphers", "", "TLS 1.2 cipher suites as an OpenSSL cipher list (e.g. ECDHE+AESGCM:ECDHE+CHACHA20); names crypto/tls lacks are skipped and told (default: ECDHE with AES-GCM or ChaCha20; TLS 1.3's suites are always on)")
	f.IntVarP(&cfg.Workers, "workers", "w", 1, "worker processes")
	f.IntVar(&cfg.Threads, "threads", 1, "Python threads per worker (requests run at once in a worker)")
	f.StringVar(&cfg.Python, "python", "/usr/bin/python3", "Python interpreter for the workers; a venv's bin/python selects the venv")
	f.StringVar(&cfg.Chdir, "chdir", "", "change to this directory before importing the app")
	f.StringVar(&pythonPath, "pythonpath", "", "comma-separated directories to put first on sys.path")
	f.Float64Var(&keepAlive, "keep-alive", 5, "seconds an idle keep-alive connection is kept")
	f.Float64Var(&headerTimeout, "header-timeout", 10, "seconds a client has to send a whole request head (slow clients never reach Python)")
	f.Float64Var(&graceful, "graceful-timeout", 30, "seconds in-flight requests get to finish on TERM")
	f.IntVar(&cfg.LimitLine, "limit-request-line", 8190, "maximum request line length (414 beyond)")
	f.IntVar(&cfg.LimitFields, "limit-request-fields", 100, "maximum number of header fields (431 beyond)")
	f.IntVar(&cfg.LimitFieldSize, "limit-request-field_size", 8190, "maximum size of one header field (431 beyond)")
	f.Int64Var(&cfg.LimitBody, "limit-request-body", 0, "maximum request body in bytes, 0 for no limit (413 beyond)")
	f.StringVar(&cfg.ScriptName, "script-name", "", "SCRIPT_NAME the app is mounted at (stripped from PATH_INFO)")
	f.Float64Var(&timeout, "timeout", 0, "seconds a request may run before it gets 504 and its worker drains and is replaced, logged with the request line and its Python stack (0: no limit)")
	f.IntVar(&cfg.MaxRequests, "max-requests", 0, "recycle a worker gracefully after this many requests (0: never)")
	f.IntVar(&cfg.MaxRequestsJitter, "max-requests-jitter", 0, "add a random 0..N to --max-requests per worker")
	f.Float64Var(&cfg.ReloadOnRSSMB, "reload-on-rss", 0, "recycle a worker gracefully when its RSS exceeds this many MB (0: never)")
	f.IntVar(&cfg.Backlog, "backlog", 2048, "listen backlog: connections the kernel queues before accept")
	f.StringVar(&cfg.MetricsBind, "metrics-bind", "", "serve Prometheus metrics, aggregated over the workers, at http://HOST:PORT/metrics (a bare PORT means 127.0.0.1:PORT)")
	f.StringVar(&cfg.ForwardedAllowIPs, "forwarded-allow-ips", "127.0.0.1,::1", `proxies (IPs, CIDRs, "*") whose X-Forwarded-For/-Proto/-Host or Forwarded fields set REMOTE_ADDR, wsgi.url_scheme and the host`)
	f.StringVar(&cfg.ProxyProtocol, "proxy-protocol", "", "expect a PROXY protocol header (v1, v2 or auto) from --proxy-allow-from peers")
	f.StringVar(&cfg.ProxyAllowFrom, "proxy-allow-from", "127.0.0.1,::1", "peers (IPs, CIDRs) that send a PROXY protocol header")
	f.StringVar(&umask, "umask", "", "umask for unix socket files (octal, e.g. 007)")
	f.StringVar(&logLevel, "log-level", "info", "error log level: debug (also every rejected request), info, warning, error, critical")
	f.BoolVar(&cfg.LogJSON, "log-json", false, "write the error log (and the access log) as one JSON object per line")
	f.StringVar(&cfg.AccessLog, "access-logfile", "", `access log file, "-" for stdout (default: none)`)
	f.StringVar(&cfg.AccessLogFormat, "access-logformat", accesslog.DefaultFormat, "access log format, gunicorn's atoms: h l u t r m U q H s B b f a T D M L p {header}i {header}o {var}e")
	f.BoolVar(&cfg.Static, "static", false, "benchmarks: answer hello world from the Go engine without calling the app (the engine's ceiling)")
	gc.register(f)
	return cmd
}

// defaultHost makes a bare port a loopback address: metrics are not for
// the world unless a host says so.
func defaultHost(addr string) string {
	if _, err := strconv.Atoi(addr); err == nil {
		return "127.0.0.1:" + addr
	}
	return addr
}

// checkAccessLog opens the access log file as the workers will (append,
// create), so that a path that cannot be written stops the start with exit
// 2 instead of killing every worker that tries.
func checkAccessLog(path string) error {
	if path == "" || path == "-" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("--access-logfile: %w", err)
	}
	return f.Close()
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
