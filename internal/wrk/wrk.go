// Package wrk runs wrk, the HTTP benchmarking client (Debian's package), and
// reads its summary: the responses it completed and the errors its
// connections saw, by kind. wrk keeps its connections alive and counts what
// a client sees (a connection closed under a request is a read error), with
// no retry hiding it, which is why the chaos benchmark drives it.
package wrk

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultPath is where Debian's wrk package puts it.
const DefaultPath = "/usr/bin/wrk"

// Summary is what one wrk run reports. The error kinds are wrk's own.
type Summary struct {
	// Requests is the number of complete responses (of any status).
	Requests uint64 `json:"requests"`
	// Seconds is the run's length as wrk measured it.
	Seconds float64 `json:"seconds"`
	// Connect counts connections that could not be opened; Read, reads that
	// failed or hit the end of the connection before a complete response
	// (a connection closed or reset under a request); Write, failed writes.
	Connect uint64 `json:"connect"`
	Read    uint64 `json:"read"`
	Write   uint64 `json:"write"`
	// Timeout counts, every 2 s, the connections whose request has waited
	// longer than --timeout: a stalled request is counted once per check.
	Timeout uint64 `json:"timeout"`
	// Status counts responses with a status of 400 or more (wrk prints them
	// as "Non-2xx or 3xx responses").
	Status uint64 `json:"status"`
}

// Errors is the sum of every kind: the requests a client saw fail.
func (s Summary) Errors() uint64 { return s.Connect + s.Read + s.Write + s.Timeout + s.Status }

var (
	requestsLine = regexp.MustCompile(`^\s*(\d+) requests in ([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h), \S+ read\s*$`)
	socketLine   = regexp.MustCompile(`^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$`)
	statusLine   = regexp.MustCompile(`^\s*Non-2xx or 3xx responses: (\d+)\s*$`)
)

var timeUnits = map[string]float64{"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}

// Parse reads wrk's standard output. The requests line must be there once;
// the error lines, which wrk prints only when a count is not zero, at most
// once each. Anything else (latency tables, rates) is ignored.
func Parse(out []byte) (Summary, error) {
	var s Summary
	var seen [3]bool
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var err error
		switch {
		case requestsLine.MatchString(line):
			err = once(&seen[0], "requests", func() error {
				m := requestsLine.FindStringSubmatch(line)
				n, err := strconv.ParseUint(m[1], 10, 64)
				if err != nil {
					return err
				}
				secs, err := strconv.ParseFloat(m[2], 64)
				if err != nil {
					return err
				}
				s.Requests, s.Seconds = n, secs*timeUnits[m[3]]
				return nil
			})
		case socketLine.MatchString(line):
			err = once(&seen[1], "socket errors", func() error {
				m := socketLine.FindStringSubmatch(line)
				return uints(m[1:], &s.Connect, &s.Read, &s.Write, &s.Timeout)
			})
		case statusLine.MatchString(line):
			err = once(&seen[2], "non-2xx", func() error {
				return uints(statusLine.FindStringSubmatch(line)[1:], &s.Status)
			})
		}
		if err != nil {
			return Summary{}, fmt.Errorf("wrk output: %w: %q", err, line)
		}
	}
	if err := sc.Err(); err != nil {
		return Summary{}, fmt.Errorf("wrk output: %w", err)
	}
	if !seen[0] {
		return Summary{}, fmt.Errorf("wrk output has no \"N requests in T\" line: %q", firstLine(out))
	}
	return s, nil
}

func once(seen *bool, what string, parse func() error) error {
	if *seen {
		return fmt.Errorf("a second %s line", what)
	}
	*seen = true
	return parse()
}

func uints(fields []string, dst ...*uint64) error {
	for i, f := range fields {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return err
		}
		*dst[i] = n
	}
	return nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// Options is one wrk run: GET URL on Connections keep-alive connections
// spread over Threads, for Duration (whole seconds, as wrk takes it).
type Options struct {
	Path        string // default DefaultPath
	URL         string
	Threads     int // default min(2, Connections)
	Connections int
	Duration    time.Duration
	Timeout     time.Duration // wrk's --timeout; default 2 s, wrk's own
	Headers     []string      // "Name: value"
}

// ErrMissing: wrk is not installed where Options.Path says.
var ErrMissing = errors.New("wrk not installed")

// Lookup finds the wrk executable: an error wrapping ErrMissing names the
// install command.
func Lookup(path string) (string, error) {
	if path == "" {
		path = DefaultPath
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("%w at %s: install Debian's wrk package (apt-get install wrk; make setup does)", ErrMissing, path)
	}
	return p, nil
}

// Run runs wrk to its end (ctx cancelled: killed) and parses its summary;
// out is what it printed, for the caller to keep when parsing fails.
func Run(ctx context.Context, o Options) (s Summary, out []byte, err error) {
	path, err := Lookup(o.Path)
	if err != nil {
		return Summary{}, nil, err
	}
	if o.Connections < 1 || o.Duration < time.Second || o.URL == "" {
		return Summary{}, nil, fmt.Errorf("wrk: want a URL, 1 or more connections and a duration of 1 s or more (got %q, %d, %v)", o.URL, o.Connections, o.Duration)
	}
	threads := o.Threads
	if threads <= 0 {
		threads = min(2, o.Connections)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(o.Connections),
		"-d" + strconv.Itoa(int(o.Duration.Round(time.Second)/time.Second)) + "s",
		"--timeout", strconv.Itoa(max(1, int(timeout.Round(time.Second)/time.Second))) + "s"}
	for _, h := range o.Headers {
		args = append(args, "-H", h)
	}
	args = append(args, o.URL)
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.WaitDelay = 5 * time.Second
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	runErr := cmd.Run()
	out = buf.Bytes()
	if runErr != nil {
		return Summary{}, out, fmt.Errorf("wrk %s: %w: %s", strings.Join(args, " "), runErr, firstLine(out))
	}
	s, err = Parse(out)
	return s, out, err
}
