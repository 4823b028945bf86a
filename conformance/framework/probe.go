package framework

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Req describes one request to send. Probe requests carry X-Probe-Id (the
// correlation id), X-Probe-Do (the behaviour) and X-Probe-Arg (base64 JSON
// arguments) so that the path, query and body stay free for the test.
type Req struct {
	Method  string // default GET
	Target  string // default "/"
	Proto   string // default HTTP/1.1
	Host    string // default the server's address; "-" sends no Host
	Headers []string
	Body    []byte
	// NoLength stops the builder adding Content-Length for a Body.
	NoLength bool
	ID       string
	Do       string
	Args     any
	Close    bool // add "Connection: close"
}

// Build renders the request bytes.
func (r Req) Build(defaultHost string) []byte {
	method := r.Method
	if method == "" {
		method = "GET"
	}
	target := r.Target
	if target == "" {
		target = "/"
	}
	proto := r.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	var sb strings.Builder
	sb.WriteString(method + " " + target + " " + proto + "\r\n")
	switch r.Host {
	case "-":
	case "":
		sb.WriteString("Host: " + defaultHost + "\r\n")
	default:
		sb.WriteString("Host: " + r.Host + "\r\n")
	}
	sb.WriteString(r.probeHeaders())
	hasLen := false
	for _, h := range r.Headers {
		sb.WriteString(h + "\r\n")
		l := strings.ToLower(h)
		if strings.HasPrefix(l, "content-length:") || strings.HasPrefix(l, "transfer-encoding:") {
			hasLen = true
		}
	}
	if r.Close {
		sb.WriteString("Connection: close\r\n")
	}
	if len(r.Body) > 0 && !hasLen && !r.NoLength {
		sb.WriteString("Content-Length: " + strconv.Itoa(len(r.Body)) + "\r\n")
	}
	sb.WriteString("\r\n")
	sb.Write(r.Body)
	return []byte(sb.String())
}

// probeHeaders renders the X-Probe-* lines (CRLF-terminated).
func (r Req) probeHeaders() string {
	var sb strings.Builder
	if r.ID != "" {
		sb.WriteString("X-Probe-Id: " + r.ID + "\r\n")
	}
	if r.Do != "" {
		sb.WriteString("X-Probe-Do: " + r.Do + "\r\n")
	}
	if r.Args != nil {
		b, _ := json.Marshal(r.Args)
		sb.WriteString("X-Probe-Arg: " + base64.StdEncoding.EncodeToString(b) + "\r\n")
	}
	return sb.String()
}

// Exchange is one connection with the request(s) sent and the first
// response read.
type Exchange struct {
	ID   string
	Conn *Conn
	Resp *Response // nil if none could be read
	Err  error     // why Resp is nil
}

// Closed reports whether the server closed (FIN or RST) by the time the
// response was read.
func (x *Exchange) Closed() bool {
	s := x.Conn.State()
	return s == StateFIN || s == StateRST
}

// Status is the response status, 0 if there was none.
func (x *Exchange) Status() int {
	if x.Resp == nil {
		return 0
	}
	return x.Resp.Status
}

// Summary describes the response for details.
func (x *Exchange) Summary() string {
	if x.Resp == nil {
		return fmt.Sprintf("no response (connection %s)", x.Conn.State())
	}
	return x.Resp.Summary()
}

// EnvVal is one environ value as dumped by the probe: its Python type and
// its exact latin-1 bytes (or repr for non-str values).
type EnvVal struct {
	T         string `json:"t"`
	B         string `json:"b"`
	R         string `json:"r"`
	NonLatin1 bool   `json:"nonlatin1"`
}

// latin1 returns a str value's latin-1 bytes as a Go string (one byte per code
// point), "" for other types.
func (v EnvVal) latin1() string {
	if v.B == "" {
		return ""
	}
	b, _ := base64.StdEncoding.DecodeString(v.B)
	return string(b)
}

// Env is a dumped environ.
type Env map[string]EnvVal

// Get returns a str value and whether the key exists.
func (e Env) Get(k string) (string, bool) {
	v, ok := e[k]
	return v.latin1(), ok
}

// Show renders a value for details: Go-quoted bytes for str, else type+repr.
func (e Env) Show(k string) string {
	v, ok := e[k]
	if !ok {
		return k + " absent"
	}
	if v.T == "str" && !v.NonLatin1 {
		return fmt.Sprintf("%s=%q", k, v.latin1())
	}
	return fmt.Sprintf("%s=<%s %s>", k, v.T, v.R)
}

// EnvDump is the body of the probe's env behaviour.
type EnvDump struct {
	Environ   Env               `json:"environ"`
	Body      string            `json:"body"`
	ReadError map[string]string `json:"read_error"`
}

// ParseEnv decodes an env response body.
func ParseEnv(body []byte) (*EnvDump, error) {
	var d EnvDump
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("environ dump: %w", err)
	}
	return &d, nil
}

// EventEnv decodes the environ carried by an "environ" sink event.
func EventEnv(e Event) Env {
	raw, _ := json.Marshal(e.Data["environ"])
	var env Env
	_ = json.Unmarshal(raw, &env)
	return env
}

// B64 decodes a base64 field of an event.
func B64(e Event, k string) []byte {
	b, _ := base64.StdEncoding.DecodeString(e.Str(k))
	return b
}

// Default waits used by the probe client. They bound hangs; none of them is
// an oracle for a positive verdict. ReadTimeout is also how long the suite
// watches a connection for the server's next move (another response, a
// close) where a verdict depends on it, so it keeps clear of the idle
// timeouts servers commonly use (2 s Gunicorn, 4 s uWSGI's socket, 5 s
// Apache, nginx and wsgikit, 10 s Cheroot): a server closing an idle
// connection then never closes it just before or just after the suite stops
// looking, from one run to the next.
const (
	ReadTimeout  = 7 * time.Second
	EventTimeout = 5 * time.Second
)
