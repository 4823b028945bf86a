package harness

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Process control of a running instance, for tools that drive a server's own
// process management (reloads, recycled or killed workers) while they watch
// what its clients see.

// MainPID is the PID of the server's main process: a pre-forking server's
// master.
func (i *Instance) MainPID() int { return i.cmd.Process.Pid }

// Workers returns the live direct children of the main process (a
// pre-forking server's workers), oldest first, from a fresh /proc scan.
func (i *Instance) Workers() []int { return i.tree.children(i.MainPID()) }

// Signal sends sig to pid, which must be a live process of the instance: a
// PID that is not (any more) the instance's is refused, so that a PID the
// kernel reused is never signalled.
func (i *Instance) Signal(pid int, sig syscall.Signal) error {
	if !slices.Contains(i.tree.livePIDs(), pid) {
		return fmt.Errorf("signal %v to %d: not a live process of %s", sig, pid, i.Profile.Name)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal %v to %d: %w", sig, pid, err)
	}
	return nil
}

// Conns returns how many established TCP connections to the instance's port
// pid holds (a worker's clients).
func (i *Instance) Conns(pid int) (int, error) {
	inodes, err := socketInodes(pid)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range tcpSockets() {
		if s.state == tcpEstablished && s.localPort == i.Port && inodes[s.inode] {
			n++
		}
	}
	return n, nil
}

// ConnOwner returns the process of the instance that holds the server side
// of the connection whose client end is client: the worker serving it.
// ErrNoOwner: no process holds it (yet: still in the accept queue; or any
// more).
func (i *Instance) ConnOwner(client net.Addr) (int, error) {
	ta, ok := client.(*net.TCPAddr)
	if !ok {
		return 0, fmt.Errorf("conn owner: %v is not a TCP address", client)
	}
	inode := ""
	for _, s := range tcpSockets() {
		if s.localPort == i.Port && s.remotePort == ta.Port && s.inode != "0" {
			inode = s.inode
			break
		}
	}
	if inode == "" {
		return 0, ErrNoOwner
	}
	for _, pid := range i.tree.livePIDs() {
		if inodes, err := socketInodes(pid); err == nil && inodes[inode] {
			return pid, nil
		}
	}
	return 0, ErrNoOwner
}

// ErrNoOwner: no process of the instance holds the connection.
var ErrNoOwner = errors.New("no process of the instance holds the connection")

// children returns the live non-zombie children of pid after a fresh scan,
// oldest first.
func (t *tree) children(pid int) []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = t.sampleLocked(false)
	var out []int
	for c, m := range t.members {
		if m.ppid == pid && !m.zombie && c != pid {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b int) int {
		return cmp.Or(cmp.Compare(t.members[a].start, t.members[b].start), cmp.Compare(a, b))
	})
	return out
}

// socketInodes returns the inodes of the sockets pid has open.
func socketInodes(pid int) (map[string]bool, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(dir + "/" + fd.Name())
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			out[strings.TrimSuffix(ino, "]")] = true
		}
	}
	return out, nil
}

// tcpSocket is one line of /proc/net/tcp or tcp6.
type tcpSocket struct {
	localPort, remotePort int
	state                 string // hex, as the kernel prints it: "01" established, "0A" listen
	inode                 string
}

const (
	tcpEstablished = "01"
	tcpListen      = "0A"
)

// tcpSockets reads the machine's IPv4 and IPv6 TCP sockets.
func tcpSockets() []tcpSocket {
	var out []tcpSocket
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		out = append(out, parseTCPTable(b)...)
	}
	return out
}

// parseTCPTable parses the text of /proc/net/tcp (tcp6): a header line, then
// "sl local rem st tx:rx tr:when retrnsmt uid timeout inode …" per socket.
func parseTCPTable(b []byte) []tcpSocket {
	var out []tcpSocket
	lines := bytes.Split(b, []byte("\n"))
	for _, line := range lines[min(1, len(lines)):] {
		fs := strings.Fields(string(line))
		if len(fs) < 10 {
			continue
		}
		lp, ok1 := hexPort(fs[1])
		rp, ok2 := hexPort(fs[2])
		if !ok1 || !ok2 {
			continue
		}
		out = append(out, tcpSocket{localPort: lp, remotePort: rp, state: fs[3], inode: fs[9]})
	}
	return out
}

// hexPort takes the port of an "ADDR:PORT" field, both in hex.
func hexPort(field string) (int, bool) {
	i := strings.LastIndexByte(field, ':')
	if i < 0 {
		return 0, false
	}
	p, err := strconv.ParseUint(field[i+1:], 16, 16)
	return int(p), err == nil
}
