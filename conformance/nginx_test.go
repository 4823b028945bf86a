package conformance

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/conformance/framework"
	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
	"github.com/wsgikit/wsgikit/internal/textutil"
)

// TestBehindNginx runs the whole suite through the recommended deployment,
// the harness's nginx in front of wsgikit and of one peer (gunicorn-gthread).
// nginx normalises requests, so verdicts may differ from the bare servers';
// what must hold: every spec reaches a verdict through nginx's limits (no
// ERROR, e.g. the 4 MiB body of pep3333/input/large-body), and wsgikit
// behind nginx fails no MUST. It runs beside the other whole-suite tests.
func TestBehindNginx(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: no servers")
	}
	if *serverFlag != "" {
		t.Skip("-wsgikit.server given: only the Ginkgo suite runs")
	}
	ours, peer := harness.NginxPrefix+"wsgikit", harness.NginxPrefix+"gunicorn-gthread"
	for _, name := range []string{ours, peer} {
		p, err := harness.Lookup(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Version(); errors.Is(err, harness.ErrNotInstalled) {
			testenv.Missing(t, "%v (make setup; make build)", err)
		}
	}
	start := time.Now()
	results := runChecks(t, []string{ours, peer})
	t.Logf("whole suite behind nginx, %s and %s side by side: %.0fs", ours, peer, time.Since(start).Seconds())
	for _, name := range []string{ours, peer} {
		cs, ok := results[name]
		if !ok {
			continue // runChecks reported why
		}
		if cs.Error != "" {
			t.Errorf("%s could not run: %s", name, cs.Error)
			continue
		}
		if !strings.Contains(cs.Version, "behind nginx") {
			t.Errorf("%s: version %q does not name nginx: not proxied?", name, cs.Version)
		}
		n := Counts(cs)
		t.Logf("%s %s: %d PASS, %d FAIL, %d NON-STRICT, %d INFO, %d ERROR", name, cs.Version,
			n[framework.PASS], n[framework.FAIL], n[framework.NONSTRICT], n[framework.VINFO], n[framework.ERROR])
		if len(cs.Results) != len(Specs()) {
			t.Errorf("%s: %d results for %d specs", name, len(cs.Results), len(Specs()))
		}
		for _, r := range cs.Results {
			switch {
			case r.Verdict == framework.ERROR:
				t.Errorf("%s %s: ERROR (harness, not a verdict): %s\n%s", name, r.ID, r.Detail, r.Transcript)
			case r.Verdict == framework.FAIL && name == ours:
				t.Errorf("%s %s: FAIL: %s", name, r.ID, textutil.FirstLine(r.Detail, " …"))
			}
		}
	}
}
