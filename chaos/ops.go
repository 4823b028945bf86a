package chaos

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/wsgikit/wsgikit/internal/textutil"
)

// The operations, in the order a run does them. Baseline is the control:
// the same load with nothing done, so an operation's errors can be told from
// what the server loses anyway.
const (
	Baseline    = "baseline"
	HUP         = "hup"
	MaxRequests = "max-requests"
	TTIN        = "ttin"
	TTOU        = "ttou"
	Timeout     = "timeout"
	KillWorker  = "kill-worker"
	ReloadOnRSS = "reload-on-rss"
	StopWorker  = "stop-worker"
)

// Operation names one thing done to a server under load.
type Operation struct {
	Name  string `json:"name"`
	Title string `json:"title"`
}

// Operations lists every operation, in run order.
var Operations = []Operation{
	{Baseline, "load only, nothing done (the control)"},
	{HUP, "graceful reload of every worker"},
	{MaxRequests, "workers recycled after a number of requests"},
	{TTIN, "one worker added"},
	{TTOU, "one worker removed"},
	{Timeout, "one request runs over the timeout"},
	{KillWorker, "one worker killed with SIGKILL"},
	{ReloadOnRSS, "a worker recycled when its RSS crosses the limit"},
	{StopWorker, "graceful stop of one worker, which the master replaces"},
}

// Settings the operations share across servers, so cells compare.
const (
	// TimeoutSeconds is the server's request timeout in the timeout cell;
	// SleepMS is how long its one slow request sleeps (twice as long).
	TimeoutSeconds = 2
	SleepMS        = 2 * TimeoutSeconds * 1000
	// RSSLimitMB is the reload-on-rss limit (a worker of apps/chaos.py
	// starts near 20 MB); GrowMB is what the one growing request adds.
	RSSLimitMB = 64
	GrowMB     = 96
	// MaxRequestsN and MaxRequestsJitter are the measured setting.
	MaxRequestsN      = 2000
	MaxRequestsJitter = 200
)

// Recipient is the process an operation's signal goes to.
type Recipient string

const (
	Master Recipient = "master"
	Worker Recipient = "worker" // the worker holding the most connections
)

// Method is how one server does one operation: server flags for the cell,
// then, at the fire time, a signal or a request on a connection of its own.
type Method struct {
	How     string         // one line for the report, e.g. "HUP to the master"
	Args    []string       // server flags this cell starts the server with
	Signal  syscall.Signal // sent at the fire time (0: none)
	To      Recipient      // where Signal goes
	Request string         // path requested at the fire time (the probe), or ""
	// Unsupported says why the server cannot do it, from its documentation:
	// the cell is "—" and does not run.
	Unsupported string
}

// Server is what the chaos benchmark knows of one server profile.
type Server struct {
	// Args are flags every cell starts the server with; ArgsWhy says why.
	Args    []string
	ArgsWhy string
	Ops     map[string]Method
}

func itoa(n int) string { return strconv.Itoa(n) }

var (
	sleepPath = "/sleep?ms=" + itoa(SleepMS)
	growPath  = "/grow?mb=" + itoa(GrowMB)
)

// masterOps is what wsgikit and Gunicorn share: their masters take HUP,
// TTIN and TTOU, and recycle workers with --max-requests and its jitter.
func masterOps() map[string]Method {
	return map[string]Method{
		Baseline:    {How: "nothing"},
		HUP:         {How: "HUP to the master", Signal: syscall.SIGHUP, To: Master},
		MaxRequests: {How: "--max-requests " + itoa(MaxRequestsN) + " --max-requests-jitter " + itoa(MaxRequestsJitter), Args: []string{"--max-requests", itoa(MaxRequestsN), "--max-requests-jitter", itoa(MaxRequestsJitter)}},
		TTIN:        {How: "TTIN to the master", Signal: syscall.SIGTTIN, To: Master},
		TTOU:        {How: "TTOU to the master", Signal: syscall.SIGTTOU, To: Master},
		KillWorker:  {How: "SIGKILL to a worker", Signal: syscall.SIGKILL, To: Worker},
	}
}

func wsgikitOps() map[string]Method {
	m := masterOps()
	m[Timeout] = Method{How: "--timeout " + itoa(TimeoutSeconds) + "; GET " + sleepPath, Args: []string{"--timeout", itoa(TimeoutSeconds)}, Request: sleepPath}
	m[ReloadOnRSS] = Method{How: "--reload-on-rss " + itoa(RSSLimitMB) + "; GET " + growPath, Args: []string{"--reload-on-rss", itoa(RSSLimitMB)}, Request: growPath}
	m[StopWorker] = Method{How: "TERM to a worker", Signal: syscall.SIGTERM, To: Worker}
	return m
}

// gunicornOps follows Gunicorn's documented signals (docs/signals: master
// HUP, TTIN, TTOU; a worker's TERM is its graceful shutdown) and settings.
func gunicornOps() map[string]Method {
	m := masterOps()
	// Gunicorn's timeout is a heartbeat: "workers silent for more than this
	// many seconds are killed and restarted".
	m[Timeout] = Method{How: "--timeout " + itoa(TimeoutSeconds) + " (a worker heartbeat); GET " + sleepPath, Args: []string{"--timeout", itoa(TimeoutSeconds)}, Request: sleepPath}
	m[ReloadOnRSS] = Method{Unsupported: "Gunicorn has no memory limit: its settings recycle workers by request count only (max_requests)"}
	m[StopWorker] = Method{How: "TERM to a worker (its graceful shutdown)", Signal: syscall.SIGTERM, To: Worker}
	return m
}

// uwsgiOps follows uWSGI's documented signals (Management: master HUP
// "gracefully reload all the workers and the master process") and options
// (--max-requests, --max-requests-delta, --harakiri, --reload-on-rss). A
// worker's graceful stop is HUP (its handler in core/uwsgi.c is
// gracefully_kill; TERM ends a worker at once). uWSGI recycles no worker
// younger than --min-worker-lifetime (10 s by default, longer than a cell):
// the recycling cells set 1 s, so that recycling happens while they run.
func uwsgiOps() map[string]Method {
	return map[string]Method{
		Baseline: {How: "nothing"},
		HUP:      {How: "HUP to the master", Signal: syscall.SIGHUP, To: Master},
		MaxRequests: {How: "--max-requests " + itoa(MaxRequestsN) + " --max-requests-delta " + itoa(MaxRequestsJitter/2) + " (worker id × delta: its jitter) --min-worker-lifetime 1",
			Args: []string{"--max-requests", itoa(MaxRequestsN), "--max-requests-delta", itoa(MaxRequestsJitter / 2), "--min-worker-lifetime", "1"}},
		TTIN:        {Unsupported: "uWSGI has no signal that adds a worker (its signal table; the master FIFO's + works in cheaper mode only)"},
		TTOU:        {Unsupported: "uWSGI has no signal that removes a worker (its signal table; the master FIFO's - works in cheaper mode only)"},
		Timeout:     {How: "--harakiri " + itoa(TimeoutSeconds) + "; GET " + sleepPath, Args: []string{"--harakiri", itoa(TimeoutSeconds)}, Request: sleepPath},
		KillWorker:  {How: "SIGKILL to a worker", Signal: syscall.SIGKILL, To: Worker},
		ReloadOnRSS: {How: "--reload-on-rss " + itoa(RSSLimitMB) + " --min-worker-lifetime 1; GET " + growPath, Args: []string{"--reload-on-rss", itoa(RSSLimitMB), "--min-worker-lifetime", "1"}, Request: growPath},
		StopWorker:  {How: "HUP to a worker (uWSGI's graceful stop of one worker)", Signal: syscall.SIGHUP, To: Worker},
	}
}

// Servers is the operation table, keyed by harness profile name.
var Servers = map[string]Server{
	"wsgikit":          {Ops: wsgikitOps()},
	"gunicorn-gthread": {Ops: gunicornOps()},
	"gunicorn-sync":    {Ops: gunicornOps()},
	"gunicorn-gevent":  {Ops: gunicornOps()},
	"uwsgi": {
		Args: []string{"--add-header", "Connection: close"},
		ArgsWhy: "--http-socket answers HTTP/1.1 without Connection: close and then closes the connection, so a keep-alive client " +
			"loses the next request on it every time; the header tells the client, which then opens a connection per request",
		Ops: uwsgiOps(),
	},
	"uwsgi-http11": {Ops: uwsgiOps()},
}

// DefaultServers are the servers a run compares when none are named.
var DefaultServers = []string{"wsgikit", "gunicorn-gthread", "uwsgi"}

// Lookup returns how name does op. An unknown server or operation is an
// error naming the known ones.
func Lookup(name, op string) (Method, error) {
	if err := CheckServer(name); err != nil {
		return Method{}, err
	}
	if err := CheckOperation(op); err != nil {
		return Method{}, err
	}
	return Servers[name].Ops[op], nil
}

// CheckOperation returns an error for an unknown operation name, with the
// closest known one.
func CheckOperation(op string) error {
	if slices.Contains(OperationNames(), op) {
		return nil
	}
	hint := ""
	if m := textutil.CloseMatches(op, OperationNames(), 1); len(m) > 0 {
		hint = fmt.Sprintf(" (did you mean %s?)", m[0])
	}
	return fmt.Errorf("unknown operation %q%s; known: %s", op, hint, strings.Join(OperationNames(), ", "))
}

// CheckServer returns an error for a server the table does not know.
func CheckServer(name string) error {
	if _, ok := Servers[name]; ok {
		return nil
	}
	return fmt.Errorf("chaos knows no operations of server %q; it runs %s", name, strings.Join(ServerNames(), ", "))
}

// OperationNames lists the operations in run order.
func OperationNames() []string {
	out := make([]string, len(Operations))
	for i, o := range Operations {
		out[i] = o.Name
	}
	return out
}

// ServerNames lists the servers of the table, sorted.
func ServerNames() []string {
	out := make([]string, 0, len(Servers))
	for n := range Servers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
