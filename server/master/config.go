package master

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/wsgikit/wsgikit/server/accesslog"
	"github.com/wsgikit/wsgikit/server/errorlog"
	"github.com/wsgikit/wsgikit/server/http1"
	"github.com/wsgikit/wsgikit/server/ipset"
	"github.com/wsgikit/wsgikit/server/tlsconf"
)

// Config is what `wsgikit serve` is asked to do (gunicorn's names where the
// meaning is the same).
type Config struct {
	App             string   // module:callable, module:factory() or module (callable "application")
	Bind            []string // HOST:PORT, [::1]:PORT
	Workers         int
	Threads         int
	Python          string // interpreter; a venv's bin/python selects the venv
	Chdir           string
	PythonPath      []string
	KeepAlive       time.Duration
	HeaderTimeout   time.Duration
	GracefulTimeout time.Duration
	LimitLine       int
	LimitFields     int
	LimitFieldSize  int
	LimitBody       int64
	ScriptName      string
	LibDir          string // where _wsgikit*.so lives (default: <binary dir>/lib)
	LogLevel        string // debug, info, warning, error, critical
	LogJSON         bool
	AccessLog       string // path, "-" for stdout, "" for none
	AccessLogFormat string
	CaptureOutput   bool // the workers' stdout goes to the error log too (Gunicorn's --capture-output)
	Static          bool // answer hello world without calling Python: the engine's ceiling, for benchmarks

	Timeout           time.Duration // a request running longer gets 504 and its worker drains and is replaced (0: off)
	MaxRequests       int           // recycle a worker after this many requests (0: never)
	MaxRequestsJitter int           // add 0..J to MaxRequests per worker, so workers do not recycle together
	ReloadOnRSSMB     float64       // recycle a worker whose RSS exceeds this (0: never)
	Backlog           int
	Umask             os.FileMode
	Heartbeat         time.Duration    // worker status period (default 1s)
	MetricsBind       string           // HOST:PORT for Prometheus /metrics ("": off)
	ForwardedAllowIPs string           // trusted proxies for X-Forwarded-*/Forwarded (IPs, CIDRs, "*")
	ProxyProtocol     string           // "", v1, v2, auto
	ProxyAllowFrom    string           // peers that must send a PROXY header
	MaxConnections    int              // per worker; 0: no limit
	Reload            bool             // development: reload workers when .py files change
	PidFile           string           // the master's PID is written here
	User, Group       string           // workers run as this user/group (names or numbers; the master needs root)
	ErrorLog          *errorlog.File   // nil: stderr
	TLS               tlsconf.Settings // --certfile...; binds without a scheme speak TLS when it is enabled
}

// Validate checks what the master cannot discover later, with messages
// that name the flag.
func (c *Config) Validate() error {
	if _, err := ipset.Parse(c.ForwardedAllowIPs); err != nil {
		return fmt.Errorf("--forwarded-allow-ips: %v", err)
	}
	if _, err := ipset.Parse(c.ProxyAllowFrom); err != nil {
		return fmt.Errorf("--proxy-allow-from: %v", err)
	}
	switch c.ProxyProtocol {
	case "", "v1", "v2", "auto":
	default:
		return fmt.Errorf("--proxy-protocol %q: want v1, v2 or auto", c.ProxyProtocol)
	}
	if c.AccessLogFormat != "" {
		if err := accesslog.CheckFormat(c.AccessLogFormat); err != nil {
			return fmt.Errorf("--access-logformat: %v", err)
		}
	}
	if _, err := errorlog.ParseLevel(c.LogLevel); err != nil {
		return err
	}
	if _, err := ParseAppSpec(c.App); err != nil {
		return err
	}
	if err := checkBinds(c.Bind, &c.TLS); err != nil {
		return err
	}
	if c.TLS.Enabled() || anyHTTPS(c.Bind) {
		if _, err := c.TLS.Load(time.Now()); err != nil {
			return err
		}
	}
	return nil
}

// AppSpec is a parsed module:callable.
type AppSpec struct {
	Module   string
	Callable string
	Factory  bool // "module:make_app()": call it once to get the app
}

// ParseAppSpec parses "module:callable", "module:factory()" or "module".
func ParseAppSpec(s string) (AppSpec, error) {
	mod, call, found := strings.Cut(s, ":")
	if !found {
		call = "application"
	}
	spec := AppSpec{Module: mod, Callable: call}
	if strings.HasSuffix(call, "()") {
		spec.Factory, spec.Callable = true, strings.TrimSuffix(call, "()")
	}
	if !isDotted(spec.Module) || !isDotted(spec.Callable) || strings.Contains(spec.Callable, ".") && spec.Factory {
		return AppSpec{}, fmt.Errorf("app %q: want module:callable, e.g. myproject.wsgi:application or app:create_app()", s)
	}
	return spec, nil
}

func isDotted(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for i, r := range part {
			ok := r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r > 127 || i > 0 && '0' <= r && r <= '9'
			if !ok {
				return false
			}
		}
	}
	return true
}

// Limits returns the request-head limits, with gunicorn's rule that 0 means
// "no limit" mapped to our maxima.
func (c *Config) Limits() http1.Limits {
	l := http1.DefaultLimits()
	if c.LimitLine > 0 {
		l.MaxRequestLine = c.LimitLine
	}
	if c.LimitFields > 0 {
		l.MaxHeaderFields = c.LimitFields
	}
	if c.LimitFieldSize > 0 {
		l.MaxFieldSize = c.LimitFieldSize
	}
	if c.LimitBody > 0 {
		l.MaxBodyBytes = c.LimitBody
	}
	// Raised per-field limits must not still end in a 431 at the default
	// total; at the defaults the total stays 64 KiB (a client cannot make
	// every connection hold 800 KiB).
	d := http1.DefaultLimits()
	if l.MaxHeaderFields > d.MaxHeaderFields || l.MaxFieldSize > d.MaxFieldSize || l.MaxRequestLine > d.MaxRequestLine {
		l.MaxHeadBytes = max(l.MaxHeadBytes, l.MaxRequestLine+2+l.MaxHeaderFields*(l.MaxFieldSize+2)+2)
	}
	return l
}
