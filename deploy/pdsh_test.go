package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgikit/wsgikit/internal/testenv"
)

// sshShim stands in for ssh: each host is a directory of its own here, and
// the command runs in it, as ssh runs it in the host's home. pdsh's ssh
// module calls it as `ssh -oConnectTimeout=10 -2 -a -x HOST COMMAND`.
const sshShim = `#!/bin/sh
while [ $# -gt 0 ]; do
	case $1 in
	-[lpoiF]) shift 2 ;;
	-*) shift ;;
	*) break ;;
	esac
done
host=$1
shift
mkdir -p "$FLEET_HOMES/$host" && cd "$FLEET_HOMES/$host" && exec sh -c "$*"
`

// TestPdshRecipe runs deploy/pdsh.sh as it is written, with the real pdsh
// and rpdcp, and ssh replaced by local execution (sshShim): three "hosts"
// are three agent processes here, each in a directory of its own, loading
// one wsgikit server on loopback; rpdcp collects their parts and the
// script merges them.
func TestPdshRecipe(t *testing.T) {
	bin := wsgikitBin(t)
	for _, tool := range []string{"pdsh", "rpdcp"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "%s not found: apt-get install pdsh", tool)
		}
	}
	script, err := filepath.Abs("pdsh.sh")
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	srv := startServer(t, bin, nil, []string{fmt.Sprintf("127.0.0.1:%d", port)}, fmt.Sprintf("127.0.0.1:%d", freePort(t)), nil)
	work := t.TempDir()
	shims, here := filepath.Join(work, "bin"), filepath.Join(work, "here")
	for _, d := range []string{shims, here} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(shims, "ssh"), []byte(sshShim), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(shims, "wsgikit")); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + shims + ":" + os.Getenv("PATH"), "FLEET_HOMES=" + filepath.Join(work, "hosts"),
		"HOSTS=load[1-3]", fmt.Sprintf("TARGET=http://127.0.0.1:%d", port), "LOAD=" + agentLoad,
		fmt.Sprintf("LEAD=%d", int(agentLead.Seconds()))}
	run := &fleetRun{t: t, srv: srv}
	run.agents = append(run.agents, startAgent(t, "pdsh.sh", []string{"sh", script}, env, here, 3))
	before := run.measure()
	t.Logf("pdsh.sh:\n%s", run.agents[0].output())
	var parts []string
	var merged string
	entries, err := os.ReadDir(here)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".load") {
			parts = append(parts, filepath.Join(here, e.Name()))
		} else {
			merged = filepath.Join(here, e.Name())
		}
	}
	if len(parts) != 3 || merged == "" {
		t.Fatalf("after pdsh.sh, %s holds %v", here, entries)
	}
	checkMerged(t, srv, before, readBench(t, filepath.Join(merged, "bench.json")), parts)
}
