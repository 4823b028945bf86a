package conformance

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/wsgikit/wsgikit/conformance/framework"
	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
	"github.com/wsgikit/wsgikit/internal/textutil"
	"github.com/wsgikit/wsgikit/reports"
)

var update = flag.Bool("update", false, "rewrite testdata/specs.txt and testdata/verdicts/*.json from this run (review the diff before committing)")

// TestRegistry checks every spec is well-formed, the catalogue is covered
// (≥130 PEP 3333 and ≥45 RFC 9112 specs), and no spec disappears silently:
// testdata/specs.txt is the golden list of IDs.
func TestRegistry(t *testing.T) {
	specs := Specs()
	if err := framework.Validate(specs); err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	var ids []string
	for _, s := range specs {
		n[strings.SplitN(s.ID, "/", 2)[0]]++
		ids = append(ids, s.ID)
	}
	if n["pep3333"] < 130 || n["http1"] < 45 {
		t.Errorf("coverage: %d PEP 3333 specs (want ≥130), %d RFC 9112 specs (want ≥45)", n["pep3333"], n["http1"])
	}
	sort.Strings(ids)
	path := filepath.Join("testdata", "specs.txt")
	got := strings.Join(ids, "\n") + "\n"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run: go test ./conformance -run TestRegistry -update)", err)
	}
	want := map[string]bool{}
	for _, id := range strings.Fields(string(b)) {
		want[id] = true
	}
	have := map[string]bool{}
	for _, id := range ids {
		have[id] = true
		if !want[id] {
			t.Errorf("new spec %s is not in %s (add it with -update)", id, path)
		}
	}
	for id := range want {
		if !have[id] {
			t.Errorf("spec %s disappeared (listed in %s)", id, path)
		}
	}
}

// golden is one peer's pinned verdicts.
type golden struct {
	Profile  string            `json:"profile"`
	Version  string            `json:"version"`
	Verdicts map[string]string `json:"verdicts"`
}

// notPinned are installed profiles TestGoldenVerdicts leaves out, with the
// reason.
var notPinned = map[string]string{
	"wsgikit": "our own server: TestWsgikitStrict pins its verdicts, on every interpreter",
}

// peersFlag narrows TestGoldenVerdicts (and its -update) to some peers, so
// one peer's goldens can be checked or rewritten without running them all.
var peersFlag = flag.String("wsgikit.peers", "", "TestGoldenVerdicts: only these pinned profiles (comma-separated)")

// slowPeers start first, so the others run beside them: uwsgi-http11
// delimits most responses by closing the connection after its 4 s socket
// timeout, over six minutes per run on one instance.
var slowPeers = map[string]bool{"uwsgi-http11": true, "uwsgi-http11@debian": true}

// goldenPeers are the installed peers whose verdicts are pinned: today's
// versions and Debian's older builds (<name>@debian).
func goldenPeers() []string {
	only := map[string]bool{}
	for _, p := range strings.Split(*peersFlag, ",") {
		if p = strings.TrimSpace(p); p != "" {
			only[p] = true
		}
	}
	var out []string
	for _, p := range append(InstalledPeers(), InstalledDebianPeers()...) {
		if _, skip := notPinned[p]; !skip && (len(only) == 0 || only[p]) {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return slowPeers[out[i]] && !slowPeers[out[j]] })
	return out
}

// checkInstances is how many instances share one server's specs in the
// golden runs, as in `wsgikit check`.
const checkInstances = 3

// runChecks runs the whole suite against each server, a few at a time
// (each run mostly waits on sockets; 2 cores are enough for 3 servers of
// checkInstances instances each in flight).
func runChecks(t *testing.T, servers []string) map[string]reports.CheckServer {
	out := map[string]reports.CheckServer{}
	var mu sync.Mutex
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func(s string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := Run(context.Background(), Options{Servers: []string{s}, Instances: checkInstances})
			if err != nil {
				t.Errorf("%s: %v", s, err)
				return
			}
			mu.Lock()
			out[s] = c.Servers[0]
			mu.Unlock()
		}(s)
	}
	wg.Wait()
	return out
}

// TestGoldenVerdicts runs the suite against every installed peer and
// compares each verdict with testdata/verdicts/<profile>.json. A changed
// verdict is either a suite bug (fix the spec) or a real change in the
// peer (review it against the peer's docs/source, then -update).
func TestGoldenVerdicts(t *testing.T) {
	t.Parallel() // beside TestWsgikitStrict and TestBehindNginx: runs mostly wait on sockets
	if testing.Short() {
		t.Skip("-short: no servers")
	}
	if *serverFlag != "" {
		t.Skip("-wsgikit.server given: only the Ginkgo suite runs")
	}
	peers := goldenPeers()
	requirePinnedPeers(t, peers)
	results := runChecks(t, peers)
	for _, name := range peers {
		cs, ok := results[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if cs.Error != "" {
				t.Fatalf("%s could not run: %s", name, cs.Error)
			}
			compareGolden(t, name, cs)
		})
	}
}

// compareGolden compares one server's verdicts with
// testdata/verdicts/<name>.json (or rewrites the file under -update). An
// ERROR is never a verdict: it fails whatever the golden says.
func compareGolden(t *testing.T, name string, cs reports.CheckServer) {
	t.Helper()
	path := filepath.Join("testdata", "verdicts", name+".json")
	now := golden{Profile: name, Version: cs.Version, Verdicts: map[string]string{}}
	detail := map[string]string{}
	for _, r := range cs.Results {
		now.Verdicts[r.ID] = r.Verdict
		detail[r.ID] = r.Detail
		if r.Verdict == framework.ERROR {
			t.Errorf("%s: ERROR (harness, not a verdict): %s\n%s", r.ID, r.Detail, r.Transcript)
		}
	}
	if *update {
		b, _ := json.MarshalIndent(now, "", "  ")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no golden verdicts for %s (%v); review a run and write them with -update", name, err)
	}
	var want golden
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if diff := verdictDiff(want, now, detail); diff != "" {
		t.Errorf("%s verdicts changed (golden %s, now %s):\n%s", name, want.Version, now.Version, diff)
	}
}

func verdictDiff(want, got golden, detail map[string]string) string {
	ids := map[string]bool{}
	for id := range want.Verdicts {
		ids[id] = true
	}
	for id := range got.Verdicts {
		ids[id] = true
	}
	var keys []string
	for id := range ids {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, id := range keys {
		w, g := want.Verdicts[id], got.Verdicts[id]
		if w == g {
			continue
		}
		if w == "" {
			w = "(new)"
		}
		if g == "" {
			g = "(gone)"
		}
		fmt.Fprintf(&sb, "  %-60s %-11s → %-11s %s\n", id, w, g, textutil.FirstLine(detail[id], " …"))
	}
	return sb.String()
}

// TestWsgikitStrict: our own server must earn no FAIL and no NON-STRICT,
// on WSGIKIT_PYTHON's interpreter (`make test` runs it on each), and its
// other verdicts (the INFO ones are its documented behaviour choices) are
// pinned in testdata/verdicts/wsgikit.json like a peer's, so a changed
// choice is a reviewed change. It runs only when the server is built (make
// test sets WSGIKIT_BIN, and then a missing build for the interpreter fails).
func TestWsgikitStrict(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: no servers")
	}
	if *serverFlag != "" {
		t.Skip("-wsgikit.server given: only the Ginkgo suite runs")
	}
	p, err := harness.Lookup("wsgikit", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Version(); err != nil {
		testenv.Missing(t, "wsgikit cannot run here: %v", err)
	}
	t.Logf("on %s", p.Interpreter())
	c, err := Run(context.Background(), Options{Servers: []string{"wsgikit"}, Instances: checkInstances})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Servers[0]
	if s.Error != "" {
		t.Fatalf("wsgikit could not run: %s", s.Error)
	}
	for _, r := range s.Results {
		switch r.Verdict {
		case framework.FAIL, framework.NONSTRICT, framework.ERROR:
			t.Errorf("%s %s: %s", r.Verdict, r.ID, textutil.FirstLine(r.Detail, " …"))
		}
	}
	compareGolden(t, "wsgikit", s)
}
