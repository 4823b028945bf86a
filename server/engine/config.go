package engine

import (
	"crypto/tls"
	"log/slog"
	"os"
	"time"

	"github.com/wsgikit/wsgikit/server/accesslog"
	"github.com/wsgikit/wsgikit/server/errorlog"
	"github.com/wsgikit/wsgikit/server/http1"
	"github.com/wsgikit/wsgikit/server/ipset"
	"github.com/wsgikit/wsgikit/server/workerproto"
)

// Config holds the connection-level settings.
type Config struct {
	Threads         int           // Python threads: requests run at once
	KeepAlive       time.Duration // idle time allowed between requests on a connection
	HeaderTimeout   time.Duration // time allowed to send a whole request head
	IOTimeout       time.Duration // body reads and response writes
	GracefulTimeout time.Duration // in-flight requests get this long on a graceful stop
	Limits          http1.Limits
	ScriptName      string
	MaxDiscard      int64 // unread request body drained to keep a connection, beyond: close
	Logger          *slog.Logger
	Board           *workerproto.Scoreboard // shared with the master; nil makes a private one
	MaxRequests     uint64                  // LimitReached closes after this many requests (0: never)
	AccessLog       *accesslog.Log          // nil: no access log
	ForwardedAllow  *ipset.Set              // peers whose X-Forwarded-*/Forwarded fields are believed
	ProxyProtocol   string                  // "", "v1", "v2" or "auto"
	ProxyAllow      *ipset.Set              // peers that must send a PROXY header
	MaxConnections  int                     // 0: no limit; beyond, accepting pauses (the backlog or other workers take them)
	TLS             []*tls.Config           // by listener (Serve's order): its clients speak TLS (TLSFor); nil: plaintext
}

func (c *Config) defaults() {
	if c.Threads <= 0 {
		c.Threads = 1
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = 5 * time.Second
	}
	if c.HeaderTimeout <= 0 {
		c.HeaderTimeout = 10 * time.Second
	}
	if c.IOTimeout <= 0 {
		c.IOTimeout = 30 * time.Second
	}
	if c.GracefulTimeout <= 0 {
		c.GracefulTimeout = 30 * time.Second
	}
	if c.Limits == (http1.Limits{}) {
		c.Limits = http1.DefaultLimits()
	}
	if c.MaxDiscard == 0 {
		c.MaxDiscard = 1 << 20
	}
	if c.Logger == nil {
		c.Logger = errorlog.New(os.Stderr, slog.LevelInfo, false)
	}
}

// ConfigFor returns the engine settings the master gave a worker.
func ConfigFor(w *workerproto.Config) Config {
	ec := Config{
		Threads:         w.Threads,
		KeepAlive:       time.Duration(w.KeepAlive),
		HeaderTimeout:   time.Duration(w.HeaderTimeout),
		GracefulTimeout: time.Duration(w.GracefulTimeout),
		Limits:          w.Limits,
		ScriptName:      w.ScriptName,
		MaxRequests:     w.MaxRequests,
		ProxyProtocol:   w.ProxyProtocol,
		MaxConnections:  w.MaxConnections,
	}
	if w.ForwardedAllow != "" {
		ec.ForwardedAllow, _ = ipset.Parse(w.ForwardedAllow) // validated by the master
	}
	if w.ProxyProtocol != "" {
		ec.ProxyAllow, _ = ipset.Parse(w.ProxyAllowFrom)
	}
	return ec
}
