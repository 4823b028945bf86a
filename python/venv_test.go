package python

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgikit/wsgikit/internal/testenv"
)

const python3 = "/usr/bin/python3" // what the Makefile runs venv.py with by default

// lockCopies copies peers.in and peers.lock into a temporary directory, so
// a test can edit them.
func lockCopies(t *testing.T) (in, lock string) {
	t.Helper()
	if _, err := os.Stat(python3); err != nil {
		testenv.Missing(t, "no %s: run make setup (apt-get install python3)", python3)
	}
	dir := t.TempDir()
	for _, name := range []string{"peers.in", "peers.lock"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "peers.in"), filepath.Join(dir, "peers.lock")
}

// edit changes a pinned version in peers.in, as someone bumping a peer does.
func edit(t *testing.T, in string) {
	t.Helper()
	b, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(b, []byte("waitress=="), []byte("waitress>="), 1)
	if bytes.Equal(edited, b) {
		t.Fatal("peers.in pins no waitress== to edit; update this test")
	}
	if err := os.WriteFile(in, edited, 0o644); err != nil {
		t.Fatal(err)
	}
}

// result is how one run of venv.py ended.
type result struct {
	code           int
	stdout, stderr string
}

// venvPy runs python/venv.py.
func venvPy(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(python3, append([]string{"venv.py"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// assertStale: exit non-zero with one line on stderr naming `make lock`.
func assertStale(t *testing.T, r result) {
	t.Helper()
	line := strings.TrimSuffix(r.stderr, "\n")
	if r.code == 0 || strings.Contains(line, "\n") || !strings.Contains(line, "make lock") || !strings.Contains(line, "peers.lock") {
		t.Errorf("stale lock: exit %d, stderr %q, stdout %q; want non-zero and one line naming make lock", r.code, r.stderr, r.stdout)
	}
}

// TestLockCheckOnly: --check-only passes a lock made from peers.in and
// fails an edited peers.in with one line naming `make lock`.
func TestLockCheckOnly(t *testing.T) {
	in, lock := lockCopies(t)
	r := venvPy(t, "--lock", lock, "--source", in, "--check-only")
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "was made from") {
		t.Fatalf("fresh lock: exit %d, stderr %q, stdout %q", r.code, r.stderr, r.stdout)
	}
	edit(t, in)
	assertStale(t, venvPy(t, "--lock", lock, "--source", in, "--check-only"))

	// A lock without its input hash (hand-made) is stale too.
	b, _ := os.ReadFile(lock)
	var kept []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "# input-sha256:") {
			kept = append(kept, l)
		}
	}
	os.WriteFile(lock, []byte(strings.Join(kept, "\n")), 0o644)
	assertStale(t, venvPy(t, "--lock", lock, "--source", in, "--check-only"))
}

// TestStaleLockStopsSetup runs venv.py as `make setup` does (--lock,
// --source, --venv). The venv's parent is a file, so creating it fails at
// once: an unchanged peers.in gets past the check (to that failure), an
// edited one stops at the check, naming `make lock`, before any venv.
func TestStaleLockStopsSetup(t *testing.T) {
	in, lock := lockCopies(t)
	file := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(file, nil, 0o644)
	venv := filepath.Join(file, "venv")

	r := venvPy(t, "--lock", lock, "--source", in, "--venv", venv)
	if r.code == 0 || strings.Contains(r.stderr, "make lock") || !strings.Contains(r.stderr, "-m venv") {
		t.Fatalf("unchanged peers.in: exit %d, stderr %q; want past the check, failing to create the venv", r.code, r.stderr)
	}
	edit(t, in)
	assertStale(t, venvPy(t, "--lock", lock, "--source", in, "--venv", venv))
}
