package workerproto

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/wsgikit/wsgikit/server/http1"
)

// EnvVar is the environment variable that carries a worker's Config (JSON).
const EnvVar = "WSGIKIT_WORKER"

//go:embed boot.py
var bootPy string

// Config is what the master tells a worker: how to load the application,
// where its descriptors are, and the engine's settings.
type Config struct {
	Module     string   `json:"module"`
	Callable   string   `json:"callable"`
	Factory    bool     `json:"factory"` // call Callable once to get the app
	Chdir      string   `json:"chdir"`
	PythonPath []string `json:"pythonpath"`
	LibDir     string   `json:"libdir"`     // where _wsgikit*.so lives
	CheckOnly  bool     `json:"check_only"` // import the app and load the extension, then exit 0
	ProcTitle  string   `json:"proc_title"` // what ps shows for the worker ("wsgikit worker 1 [app]")

	FDs

	Heartbeat       Duration     `json:"heartbeat"`
	MaxRequests     uint64       `json:"max_requests"` // with this worker's jitter; 0: never
	Threads         int          `json:"threads"`
	Multiprocess    bool         `json:"multiprocess"`
	KeepAlive       Duration     `json:"keepalive"`
	HeaderTimeout   Duration     `json:"header_timeout"`
	GracefulTimeout Duration     `json:"graceful_timeout"`
	Limits          http1.Limits `json:"limits"`
	ScriptName      string       `json:"script_name"`
	LogLevel        string       `json:"log_level"`
	LogJSON         bool         `json:"log_json"`
	CaptureOutput   bool         `json:"capture_output"` // stdout goes to the error log too: line-buffered
	AccessLog       string       `json:"access_log"`
	AccessLogFormat string       `json:"access_log_format"`
	ForwardedAllow  string       `json:"forwarded_allow_ips"`
	ProxyProtocol   string       `json:"proxy_protocol"`
	ProxyAllowFrom  string       `json:"proxy_allow_from"`
	MaxConnections  int          `json:"max_connections"`
	Software        string       `json:"software"`                // SERVER_SOFTWARE
	Static          bool         `json:"static"`                  // answer hello world without calling Python
	TLSListeners    []bool       `json:"tls_listeners,omitempty"` // by listener (FDs.Listen's order): speaks TLS (FDs.TLS)
}

// Duration marshals as a Go duration string.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// Command returns the command that starts a worker: python running boot.py
// with c in its environment. The caller adds the descriptors (Pass).
func Command(python string, c *Config) *exec.Cmd {
	raw, _ := json.Marshal(c) // plain fields only: it cannot fail
	cmd := exec.Command(python, "-c", bootPy)
	cmd.Env = append(os.Environ(), EnvVar+"="+string(raw))
	return cmd
}

// ParseConfig decodes the Config a worker was started with.
func ParseConfig(raw []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return Config{}, fmt.Errorf("worker config: %w", err)
	}
	return c, nil
}
