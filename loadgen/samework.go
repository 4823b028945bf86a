package loadgen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/wsgikit/wsgikit/internal/textutil"
	"github.com/wsgikit/wsgikit/reports"
)

// ErrDifferentWork is returned by Bench when the servers answer a target
// differently and the plan does not allow it: comparing an error page on
// one server with the page on another measures nothing.
var ErrDifferentWork = errors.New("the servers do not do the same work")

// startFailed begins the error of a target whose server did not start.
const startFailed = "start failed: "

// maxTargets bounds the distinct requests asked per scenario (a vegeta
// file may hold thousands).
const maxTargets = 100

// sameWork asks every server each distinct request of every scenario
// twice, on an instance of its own started for it, before anything is
// measured; it records the answers in out.Servers and the differences in
// out.Different. It returns ErrDifferentWork when they differ and the plan
// does not allow it, or ctx's error.
func (r *runner) sameWork(ctx context.Context) error {
	answers := map[string][]reports.BenchTarget{}
	for _, server := range r.Servers {
		for _, group := range groupByApp(r.Scenarios) {
			if err := ctx.Err(); err != nil {
				return err
			}
			answers[server] = append(answers[server], r.askGroup(ctx, server, group)...)
		}
	}
	for i, s := range r.Servers {
		r.out.Servers[i].Targets = answers[s]
	}
	r.out.Different = differences(r.Servers, answers)
	writeSameWork(r.Log, r.Servers, answers, r.out.Different)
	for _, n := range allErrors(r.Servers, answers) {
		r.out.Notes = append(r.out.Notes, n)
		fmt.Fprintf(r.Log, "NOTE: %s\n", n)
	}
	if failed := startFailures(r.Servers, answers); len(failed) > 0 && !r.AllowDifferent {
		return fmt.Errorf("%w: %s could not start the app (its output is above); pass --allow-different to measure the others anyway", ErrDifferentWork, strings.Join(failed, ", "))
	}
	if n := len(r.out.Different); n > 0 && !r.AllowDifferent {
		more := ""
		if n > 1 {
			more = fmt.Sprintf(" (and %d more)", n-1)
		}
		hint := "fix the app or its settings, or pass --allow-different to measure anyway"
		if strings.Contains(r.out.Different[0], "x509: ") {
			// An https:// --url whose certificate this machine does not trust.
			hint = "the server's certificate is not trusted here: pass --ca-certs with its CA's certificate (PEM)"
		}
		return fmt.Errorf("%w: %s%s; %s", ErrDifferentWork, r.out.Different[0], more, hint)
	}
	if len(r.out.Different) > 0 {
		r.out.Notes = append(r.out.Notes, fmt.Sprintf("--allow-different: %d target(s) answered differently; the comparison is of different work", len(r.out.Different)))
	}
	return nil
}

// askGroup starts server on the group's app and asks it every target.
func (r *runner) askGroup(ctx context.Context, server string, group []*Scenario) []reports.BenchTarget {
	var out []reports.BenchTarget
	srv, err := r.start(ctx, server, group[0].app)
	if err != nil {
		for _, sc := range group {
			for _, t := range distinctTargets(sc, "") {
				out = append(out, reports.BenchTarget{Scenario: sc.Name, Method: t.Method, Path: t.URL,
					Error: startFailed + err.Error()})
			}
		}
		return out
	}
	defer r.stop(server, srv)
	client := &http.Client{
		// Ask what the load asks (no Accept-Encoding added), each request on
		// its own connection: a server that closes one after answering
		// (uWSGI's --http-socket) must not fail the next, a POST that no
		// client would retry.
		Transport: &http.Transport{DisableCompression: true, DisableKeepAlives: true, TLSClientConfig: clientTLS(srv)},
		Timeout:   r.Timeout,
		// The server's own answer is what is compared, a redirect included.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	for _, sc := range group {
		for _, t := range distinctTargets(sc, srv.URL()) {
			out = append(out, ask(ctx, client, sc.Name, srv.URL(), t))
		}
	}
	return out
}

// distinctTargets are the scenario's requests against base, each once, at
// most maxTargets of them.
func distinctTargets(sc *Scenario, base string) []vegeta.Target {
	seen := map[string]bool{}
	var out []vegeta.Target
	for _, t := range sc.targets(base) {
		key := t.Method + " " + t.URL + "\x00" + string(t.Body) + "\x00" + fmt.Sprint(t.Header)
		if seen[key] || len(out) == maxTargets {
			continue
		}
		seen[key] = true
		out = append(out, t)
	}
	return out
}

// ask sends t twice and describes the answer; Path is t's URL without base.
func ask(ctx context.Context, client *http.Client, scenario, base string, t vegeta.Target) reports.BenchTarget {
	bt := reports.BenchTarget{Scenario: scenario, Method: t.Method, Path: strings.TrimPrefix(t.URL, strings.TrimSuffix(base, "/"))}
	for i := 0; i < 2; i++ {
		status, n, digest, err := answer(ctx, client, t)
		if err != nil {
			bt.Status, bt.Error = 0, err.Error()
			return bt
		}
		if i == 0 {
			bt.Status, bt.Bytes, bt.Digest = status, n, digest
		} else if status != bt.Status {
			bt.Error = fmt.Sprintf("answered %d, then %d", bt.Status, status)
		} else if digest != bt.Digest {
			bt.Varies = true
		}
	}
	return bt
}

// answer sends one request and digests the body it gets back.
func answer(ctx context.Context, client *http.Client, t vegeta.Target) (status int, n int64, digest string, err error) {
	req, err := http.NewRequestWithContext(ctx, t.Method, t.URL, bytes.NewReader(t.Body))
	if err != nil {
		return 0, 0, "", err
	}
	for k, vs := range t.Header {
		req.Header[k] = vs
	}
	if h := t.Header.Get("Host"); h != "" {
		req.Host = h
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, "", fmt.Errorf("no answer after %v: %w", time.Since(start).Round(time.Millisecond), err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err = io.Copy(h, resp.Body)
	if err != nil {
		return 0, 0, "", fmt.Errorf("reading the body of a %d: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, n, "sha256:" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// differences lists, one line per target, the targets not answered alike
// by every server (or not answered at all).
func differences(servers []string, answers map[string][]reports.BenchTarget) []string {
	if len(servers) == 0 {
		return nil
	}
	ref := answers[servers[0]]
	var out []string
	for i, t := range ref {
		differ := t.Error != ""
		for _, s := range servers[1:] {
			if a := answers[s]; i >= len(a) || !t.Same(a[i]) {
				differ = true
			}
		}
		if !differ {
			continue
		}
		var parts []string
		for _, s := range servers {
			if a := answers[s]; i < len(a) {
				parts = append(parts, s+" "+describe(a[i]))
			}
		}
		out = append(out, fmt.Sprintf("%s: %s", targetLabel(t), strings.Join(parts, "; ")))
	}
	return out
}

// startFailures are the servers that could not start an app.
func startFailures(servers []string, answers map[string][]reports.BenchTarget) []string {
	var out []string
	for _, s := range servers {
		for _, t := range answers[s] {
			if strings.HasPrefix(t.Error, startFailed) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// allErrors notes the targets every server answers with the same error
// status: the same work, but likely not the work meant (an app whose
// settings are not right yet answers errors everywhere).
func allErrors(servers []string, answers map[string][]reports.BenchTarget) []string {
	if len(servers) == 0 {
		return nil
	}
	var out []string
	for i, t := range answers[servers[0]] {
		if t.Error != "" || t.Status < 400 {
			continue
		}
		all := true
		for _, s := range servers[1:] {
			if a := answers[s]; i >= len(a) || a[i].Status != t.Status {
				all = false
			}
		}
		if all {
			out = append(out, fmt.Sprintf("every server answers %s %s with %d %s: the measurement is of an error page (is the app configured, e.g. Django's ALLOWED_HOSTS?)",
				t.Method, t.Path, t.Status, http.StatusText(t.Status)))
		}
	}
	return out
}

// targetLabel names a target: its request, after its scenario's name
// unless that is the request already (--path scenarios).
func targetLabel(t reports.BenchTarget) string {
	req := t.Method + " " + t.Path
	if t.Scenario == req || (t.Method == "GET" && t.Scenario == t.Path) {
		return req
	}
	return t.Scenario + ": " + req
}

// describe is one server's answer in a line.
func describe(t reports.BenchTarget) string {
	if t.Error != "" {
		return textutil.Clip(textutil.FirstLine(t.Error, ""), 200)
	}
	s := fmt.Sprintf("%d %s (%d B)", t.Status, t.Digest, t.Bytes)
	if t.Varies {
		s += " varies"
	}
	return s
}

// writeSameWork prints the check's outcome: a line per target, and the
// start failures in full (their log tails say why).
func writeSameWork(w io.Writer, servers []string, answers map[string][]reports.BenchTarget, different []string) {
	if len(servers) == 0 {
		return
	}
	ref := answers[servers[0]]
	if len(different) == 0 {
		fmt.Fprintf(w, "same work: %d server(s) answer each of %d target(s) alike\n", len(servers), len(ref))
		for _, t := range ref {
			fmt.Fprintf(w, "  %s → %s\n", targetLabel(t), describe(t))
		}
		return
	}
	fmt.Fprintf(w, "DIFFERENT WORK: the servers answer %d of %d target(s) differently\n", len(different), len(ref))
	for _, d := range different {
		fmt.Fprintf(w, "  %s\n", d)
	}
	shown := map[string]bool{}
	for _, s := range servers {
		for _, t := range answers[s] {
			if msg, ok := strings.CutPrefix(t.Error, startFailed); ok && !shown[s] {
				shown[s] = true
				fmt.Fprintf(w, "%s could not start the app: %s\n", s, msg)
			}
		}
	}
}
