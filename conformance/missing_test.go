package conformance

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
)

// requirePinnedPeers fails the test for every peer with pinned verdicts
// (testdata/verdicts/<profile>.json) that is not installed, naming how to
// install it: a golden comparison must not shrink silently because a peer
// is missing. WSGIKIT_ALLOW_MISSING makes each a logged omission instead.
func requirePinnedPeers(t *testing.T, peers []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "verdicts", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		if slices.Contains(peers, name) {
			continue
		}
		p, err := harness.Lookup(name, nil)
		if err != nil {
			t.Errorf("%s pins verdicts for an unknown profile: %v", f, err)
			continue
		}
		if _, err := p.Version(); err != nil {
			missing = append(missing, err.Error())
		}
	}
	if len(missing) == 0 {
		return
	}
	if testenv.MissingAllowed() {
		for _, m := range missing {
			t.Logf("pinned verdicts not compared: %s (%s set)", m, testenv.AllowMissing)
		}
		return
	}
	for _, m := range missing {
		t.Errorf("pinned verdicts cannot be compared: %s", m)
	}
	t.Fatalf("%d pinned peer(s) missing (set %s=1 to compare only what is installed)", len(missing), testenv.AllowMissing)
}
