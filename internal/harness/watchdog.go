package harness

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The watchdog makes "a dead harness leaves nothing running" hold for every
// profile. The parent-death signal reaches the server's main process once;
// a worker still booting misses it and its master may wait out its own
// grace (uWSGI: 60 s). So every instance gets a watchdog: this same binary
// re-executed under the name watchdogArg0 (every binary linking the harness,
// test binaries included, can be one), holding the read end of a pipe whose
// write end only the harness holds. Stop tells it "stopped" and it exits;
// end of file without that means the harness died, and the watchdog does
// what Stop does: the stop signal to the group and to members that left it,
// resent every second, SIGKILL after the grace, the instance's temporary
// directory removed, and one line on the harness's stderr saying so.
const watchdogArg0 = "wsgikit-watchdog"

func init() {
	if len(os.Args) > 0 && os.Args[0] == watchdogArg0 {
		os.Exit(runWatchdog(os.Args[1:], os.Stdin, os.Stderr))
	}
}

// watchdog is the harness's end of one instance's watchdog.
type watchdog struct {
	cmd *exec.Cmd
	w   *os.File // the pipe's write end; its closing is the watchdog's cue
}

// startWatchdog starts the watchdog of the process group pgid, whose leader
// started at start (its /proc identity). rundir is removed after a stop the
// watchdog had to do ("" keeps it).
func startWatchdog(p *Profile, pgid int, start uint64, rundir string) (*watchdog, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("watchdog pipe: %w", err)
	}
	// /proc/self/exe, not os.Executable: it still runs when the file was
	// replaced or removed since (a rebuild, go test's temporary binary).
	cmd := &exec.Cmd{
		Path: "/proc/self/exe",
		Args: []string{watchdogArg0, p.Name, strconv.Itoa(pgid), strconv.FormatUint(start, 10),
			strconv.Itoa(int(p.stopSignal())), p.stopGrace().String(), rundir},
		Stdin:  r,
		Stderr: os.Stderr,
		// Its own group: a terminal's Ctrl-C that kills the harness must
		// not kill the watchdog before it has done its work.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("start the watchdog (%s re-executed): %w", os.Args[0], err)
	}
	return &watchdog{cmd: cmd, w: w}, nil
}

// adopt tells the watchdog about a member that left the process group, so
// that it is found once orphaned too.
func (d *watchdog) adopt(pid int, start uint64) {
	fmt.Fprintf(d.w, "adopt %d %d\n", pid, start)
}

// release ends the watchdog after a Stop that did its work.
func (d *watchdog) release() error {
	_, werr := io.WriteString(d.w, "stopped\n")
	d.w.Close()
	if err := d.cmd.Wait(); err != nil {
		return fmt.Errorf("watchdog: %w", err)
	}
	if werr != nil {
		return fmt.Errorf("watchdog: %w", werr)
	}
	return nil
}

// runWatchdog is the watchdog process: args are the profile name, the
// group, the leader's start time, the stop signal, the grace and the
// rundir. It returns the exit code: 0 released by Stop, 3 it stopped the
// server itself, 1 processes survived even that, 2 bad arguments.
func runWatchdog(args []string, in io.Reader, stderr io.Writer) int {
	// The harness's terminal going away is no reason to stop watching, and
	// a closed stderr must not kill the watchdog before it is done.
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE)
	if len(args) != 6 {
		fmt.Fprintf(stderr, "%s: want NAME PGID START SIGNAL GRACE RUNDIR, got %q\n", watchdogArg0, args)
		return 2
	}
	name, rundir := args[0], args[5]
	pgid, err1 := strconv.Atoi(args[1])
	start, err2 := strconv.ParseUint(args[2], 10, 64)
	sig, err3 := strconv.Atoi(args[3])
	grace, err4 := time.ParseDuration(args[4])
	if err := errors.Join(err1, err2, err3, err4); err != nil || pgid <= 1 {
		fmt.Fprintf(stderr, "%s: bad arguments %q: %v\n", watchdogArg0, args, err)
		return 2
	}
	harness := os.Getppid()
	t := newTree(pgid)
	t.members[pgid] = &member{start: start}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && f[0] == "stopped":
			return 0
		case len(f) == 3 && f[0] == "adopt":
			pid, _ := strconv.Atoi(f[1])
			st, _ := strconv.ParseUint(f[2], 10, 64)
			if pid > 1 {
				t.members[pid] = &member{start: st}
			}
		}
	}
	killed, left := stopGroup(t, syscall.Signal(sig), grace, nil)
	if rundir != "" {
		_ = os.RemoveAll(rundir)
	}
	how := fmt.Sprintf("stopped it with %s", signalName(syscall.Signal(sig)))
	if killed {
		how = fmt.Sprintf("killed it (%s did not stop it within %v)", signalName(syscall.Signal(sig)), grace)
	}
	if len(left) > 0 {
		var names []string
		for _, s := range left {
			names = append(names, s.String())
		}
		how = fmt.Sprintf("%d process(es) survived SIGKILL: %s", len(left), strings.Join(names, ", "))
	}
	fmt.Fprintf(stderr, "%s: the harness (pid %d) ended without stopping %s (group %d); %s\n", watchdogArg0, harness, name, pgid, how)
	if len(left) > 0 {
		return 1
	}
	return 3
}

// stopGroup is how Stop and the watchdog end a server: sig to the process
// group of t and to every member that left it, a grace period, SIGKILL to
// all of them. sig is resent every second: a worker that gets it before it
// installed its handlers loses it (seen with gunicorn's gevent worker while
// booting), and its master then waits its own graceful timeout. rootGone,
// if not nil, must also hold before the tree counts as gone (the harness
// waits until it reaped the main process). It returns whether SIGKILL was
// needed and what is left after it.
func stopGroup(t *tree, sig syscall.Signal, grace time.Duration, rootGone func() bool) (killed bool, left []survivor) {
	signalAll := func(sig syscall.Signal) {
		_ = syscall.Kill(-t.pgid, sig)
		for _, s := range t.scanSurvivors() {
			_ = syscall.Kill(s.pid, sig)
		}
	}
	gone := func() bool {
		if rootGone != nil && !rootGone() {
			return false
		}
		return len(t.scanSurvivors()) == 0
	}
	waitGone := func(d time.Duration, resend syscall.Signal) bool {
		deadline := time.Now().Add(d)
		next := time.Now().Add(time.Second)
		for {
			if gone() {
				return true
			}
			now := time.Now()
			if now.After(deadline) {
				return false
			}
			if now.After(next) {
				signalAll(resend)
				next = now.Add(time.Second)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	signalAll(sig)
	if waitGone(grace, sig) {
		return false, nil
	}
	signalAll(syscall.SIGKILL)
	if waitGone(5*time.Second, syscall.SIGKILL) {
		return true, nil
	}
	return true, t.scanSurvivors()
}

// signalName is "SIGTERM" for SIGTERM, the number for a signal without a name.
func signalName(sig syscall.Signal) string {
	for n, s := range signalNames {
		if s == sig {
			return "SIG" + n
		}
	}
	return "signal " + strconv.Itoa(int(sig))
}
