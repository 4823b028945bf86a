package deploy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsgikit/wsgikit/internal/testenv"
)

// TestAgentsInNetworkNamespaces: the server in a network namespace of its
// own and each of three agents in another, linked to it by a veth pair:
// three load hosts as far as the network stack goes (their own addresses,
// routes and loopback). The namespaces and links are the test's own,
// removed at its end; where the kernel refuses to create them, the test is
// skipped saying so.
func TestAgentsInNetworkNamespaces(t *testing.T) {
	bin := wsgikitBin(t)
	if _, err := exec.LookPath("ip"); err != nil {
		testenv.Missing(t, "ip not found: apt-get install iproute2")
	}
	tag := fmt.Sprintf("wsk%d", os.Getpid())
	srvNS := tag + "-srv"
	if out, err := exec.Command("ip", "netns", "add", srvNS).CombinedOutput(); err != nil {
		t.Skipf("the kernel refuses a network namespace here (ip netns add: %v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", srvNS).Run() })
	ip(t, "-n", srvNS, "link", "set", "lo", "up")
	var binds []string
	type host struct{ ns, target string }
	var hosts []host
	for i := 1; i <= 3; i++ {
		ns := fmt.Sprintf("%s-a%d", tag, i)
		ip(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		// 192.0.2.0/24 is TEST-NET-1: no real network uses it.
		srvAddr, agentAddr := fmt.Sprintf("192.0.2.%d", 4*i-3), fmt.Sprintf("192.0.2.%d", 4*i-2)
		link := fmt.Sprintf("v%d", i)
		ip(t, "link", "add", link, "netns", srvNS, "type", "veth", "peer", "name", "v0", "netns", ns)
		ip(t, "-n", srvNS, "addr", "add", srvAddr+"/30", "dev", link)
		ip(t, "-n", srvNS, "link", "set", link, "up")
		ip(t, "-n", ns, "addr", "add", agentAddr+"/30", "dev", "v0")
		ip(t, "-n", ns, "link", "set", "v0", "up")
		ip(t, "-n", ns, "link", "set", "lo", "up")
		binds = append(binds, srvAddr+":8000")
		hosts = append(hosts, host{ns, "http://" + srvAddr + ":8000"})
	}
	srv := startServer(t, bin, []string{"ip", "netns", "exec", srvNS}, binds, "127.0.0.1:9100", netnsScraper(srvNS))
	run := &fleetRun{t: t, srv: srv}
	root, start := t.TempDir(), startAt()
	var parts []string
	for i, h := range hosts {
		id := fmt.Sprintf("host%d", i+1)
		dir := filepath.Join(root, id)
		argv := append([]string{"ip", "netns", "exec", h.ns, bin, "bench", "--url", "app=" + h.target, "--allow-remote",
			"--agent", id, "--start-at", start, "-o", dir}, strings.Fields(agentLoad)...)
		run.agents = append(run.agents, startAgent(t, "agent "+id, argv, nil, "", 1))
		parts = append(parts, dir)
	}
	before := run.measure()
	run.check(bin, before, parts)
}

// ip runs ip(8) with args, failing the test with its output.
func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// netnsScraper GETs a URL from inside network namespace ns: a goroutine
// locked to a thread that joins ns dials there, and writes an HTTP/1.0
// request by hand (net/http would dial on another goroutine, in this
// namespace). The thread is never unlocked, so it ends with the goroutine
// instead of going back to the runtime in ns.
func netnsScraper(ns string) func(string) (string, error) {
	return func(raw string) (string, error) {
		u, err := url.Parse(raw)
		if err != nil {
			return "", err
		}
		type result struct {
			body string
			err  error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			body, err := func() (string, error) {
				f, err := os.Open(filepath.Join("/run/netns", ns))
				if err != nil {
					return "", err
				}
				defer f.Close()
				if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
					return "", fmt.Errorf("setns %s: %w", ns, err)
				}
				c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
				if err != nil {
					return "", err
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", u.RequestURI(), u.Host)
				b, err := io.ReadAll(c)
				if err != nil {
					return "", err
				}
				head, body, ok := strings.Cut(string(b), "\r\n\r\n")
				if !ok || !strings.Contains(strings.SplitN(head, "\r\n", 2)[0], " 200 ") {
					return "", fmt.Errorf("GET %s in %s: %.80q", raw, ns, head)
				}
				return body, nil
			}()
			ch <- result{body, err}
		}()
		r := <-ch
		return r.body, r.err
	}
}
