package main

import (
	"context"
	"errors"
	"log"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wsgikit/wsgikit/server"
)

func init() { verbs = append(verbs, newServeCmd) }

func newServeCmd() *cobra.Command {
	var cfg server.Config
	var keepAlive, headerTimeout, graceful, timeout float64
	var pythonPath, logLevel, umask string
	cmd := &cobra.Command{
		Use:   "serve [flags] module:callable",
		Short: "Run the reference WSGI server",
		Long: `Run a WSGI application on the reference server: a Go master supervising
worker processes, each the chosen Python interpreter running wsgikit's Go HTTP/1.1
engine as a CPython extension. The callable defaults to "application";
"module:factory()" calls a factory once per worker.`,
		Example: "  wsgikit serve -b 127.0.0.1:8000 -w 2 --threads 4 myproject.wsgi:application",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("serve needs exactly one module:callable, e.g. wsgikit serve hello:application")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			cfg.App = args[0]
			if _, err := server.ParseAppSpec(cfg.App); err != nil {
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
			switch logLevel {
			case "debug":
				cfg.Debug = true
			case "info", "warning", "error", "critical":
			default:
				return usageErr("--log-level %q: want debug, info, warning, error or critical", logLevel)
			}
			logger := log.New(os.Stderr, "[wsgikit master] ", log.LstdFlags)
			m, err := server.NewMaster(cfg, logger)
			if err != nil {
				return usageErr("%v", err)
			}
			err = m.Run(context.Background())
			var ee *server.ExitError
			if errors.As(err, &ee) {
				return &exitError{code: ee.Code, err: err}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&cfg.Bind, "bind", "b", nil, "address to listen on: HOST:PORT, [::1]:PORT, unix:PATH or fd://N (repeatable; default 127.0.0.1:8000; systemd socket activation overrides)")
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
	f.Float64Var(&timeout, "timeout", 0, "seconds a request may run before its worker is killed and replaced, logged with the request line (0: no limit)")
	f.IntVar(&cfg.MaxRequests, "max-requests", 0, "recycle a worker gracefully after this many requests (0: never)")
	f.IntVar(&cfg.MaxRequestsJitter, "max-requests-jitter", 0, "add a random 0..N to --max-requests per worker")
	f.Float64Var(&cfg.ReloadOnRSSMB, "reload-on-rss", 0, "recycle a worker gracefully when its RSS exceeds this many MB (0: never)")
	f.IntVar(&cfg.Backlog, "backlog", 2048, "listen backlog: connections the kernel queues before accept")
	f.StringVar(&umask, "umask", "", "umask for unix socket files (octal, e.g. 007)")
	f.StringVar(&logLevel, "log-level", "info", "debug logs every rejected request")
	f.BoolVar(&cfg.Static, "static", false, "answer hello world without calling the app (measures the engine's ceiling)")
	f.MarkHidden("static")
	return cmd
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
