package harness

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"
)

// Instance is one running server.
type Instance struct {
	Profile *Profile
	Version string
	Host    string
	Port    int
	Addr    string // "127.0.0.1:PORT"
	LogPath string
	// ReadyStatus is the status code of the answer that made the instance
	// ready (a 500 there often means the app failed to import).
	ReadyStatus int

	cmd     *exec.Cmd
	logFile *os.File
	rundir  string
	keep    bool
	tree    *tree
	wd      *watchdog // stops the server if the harness dies without Stop
	inner   *Instance // the proxied server of behind-nginx
	// clientTLS trusts the instance's CA; nil without TLS.
	clientTLS *tls.Config

	exited  chan struct{} // closed when the main process has been reaped
	waitErr error

	stopped     chan struct{} // closed when Stop begins; ends the sampler
	samplerDone chan struct{}
	stopOnce    sync.Once
	stopErr     error

	mu        sync.Mutex
	finalTail string // the log's end, kept when the log is removed
	logGone   bool
	killed    bool // Stop needed SIGKILL
}

// Killed reports whether Stop had to SIGKILL the server because the
// profile's stop signal did not end it within the grace period.
func (i *Instance) Killed() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.killed
}

// URL is the base URL of the instance: "http://127.0.0.1:PORT", or
// "https://…" over TLS.
func (i *Instance) URL() string { return i.Scheme() + "://" + i.Addr }

// Inner returns the proxied instance of a behind-nginx profile, else nil.
func (i *Instance) Inner() *Instance { return i.inner }

// Exited is closed when the main process exits.
func (i *Instance) Exited() <-chan struct{} { return i.exited }

func (i *Instance) wait() {
	err := i.cmd.Wait()
	i.waitErr = err
	if ps := i.cmd.ProcessState; ps != nil {
		i.tree.rootReaped(ps.UserTime().Seconds() + ps.SystemTime().Seconds())
	}
	close(i.exited)
}

// exitErr describes how the main process ended (valid after exited).
func (i *Instance) exitErr() string {
	if i.waitErr != nil {
		return i.waitErr.Error()
	}
	return "exit status 0"
}

// PIDs returns the live process tree (and the proxied server's).
func (i *Instance) PIDs() []int {
	pids := i.tree.livePIDs()
	if i.inner != nil {
		pids = append(pids, i.inner.PIDs()...)
		sort.Ints(pids)
	}
	return pids
}

// Usage returns what the process tree used since Start: CPU seconds
// (user+sys of the whole tree, incl. exited children), peak RSS and PSS,
// process count. While the instance runs it takes a fresh sample first,
// so the CPU figure is current. Behind nginx, nginx's and the proxied
// server's trees are added up.
func (i *Instance) Usage() Usage {
	select {
	case <-i.stopped:
	default:
		_ = i.tree.sample(true)
	}
	u := i.tree.snapshot()
	if i.inner != nil {
		in := i.inner.Usage()
		u.CPUSeconds += in.CPUSeconds
		u.PeakRSSMB += in.PeakRSSMB
		u.PeakPSSMB += in.PeakPSSMB
		u.RSSMB += in.RSSMB
		u.PSSMB += in.PSSMB
		u.Procs += in.Procs
		u.PeakProcs += in.PeakProcs
		u.PSSValid = u.PSSValid && in.PSSValid
	}
	return u
}

// ResetPeaks starts the peak RSS, PSS and process count afresh from a new
// sample, so that one benchmark run's peaks exclude the previous run's.
// CPU stays cumulative: take the difference of two Usage calls.
func (i *Instance) ResetPeaks() {
	select {
	case <-i.stopped:
	default:
		_ = i.tree.sample(true)
	}
	i.tree.resetPeaks()
	if i.inner != nil {
		i.inner.ResetPeaks()
	}
}

func (i *Instance) startSampler(every time.Duration) {
	i.samplerDone = make(chan struct{})
	if every < 0 {
		close(i.samplerDone)
		return
	}
	_ = i.tree.sample(true)
	go func() {
		defer close(i.samplerDone)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-i.stopped:
				return
			case <-t.C:
				_ = i.tree.sample(true)
			}
		}
	}()
}

// LogTail returns the last n lines of the server's log (stdout+stderr).
func (i *Instance) LogTail(n int) string {
	i.mu.Lock()
	gone, final := i.logGone, i.finalTail
	i.mu.Unlock()
	text := final
	if !gone {
		text = readTail(i.LogPath, 64<<10)
	}
	return lastLines(text, n)
}

func readTail(path string, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if n <= 0 || s == "" {
		return ""
	}
	idx := len(s)
	for k := 0; k < n; k++ {
		j := strings.LastIndexByte(s[:idx], '\n')
		if j < 0 {
			return s
		}
		idx = j
	}
	return s[idx+1:]
}

// Stop stops the server: the profile's stop signal to its process group
// (and to any member that left the group), a grace period, then SIGKILL to
// all of them; then it verifies through /proc that no process of the group
// or descendant of it is left, and returns an error naming the survivors.
// It is idempotent; later calls return the first call's result.
func (i *Instance) Stop() error {
	i.stopOnce.Do(func() { i.stopErr = i.stop() })
	return i.stopErr
}

func (i *Instance) stop() error {
	// A last sample, so Usage covers the whole run.
	_ = i.tree.sample(true)
	close(i.stopped)
	if i.samplerDone != nil {
		<-i.samplerDone
	}
	var errs []error
	if err := i.terminate(); err != nil {
		errs = append(errs, err)
	}
	_ = i.tree.sample(false) // settle CPU accounting after the root's rusage
	tail := readTail(i.LogPath, 64<<10)
	i.logFile.Close()
	if !i.keep {
		_ = os.RemoveAll(i.rundir)
		if _, err := os.Stat(i.LogPath); err != nil {
			i.mu.Lock()
			i.finalTail, i.logGone = tail, true
			i.mu.Unlock()
		}
	}
	if err := i.wd.release(); err != nil {
		errs = append(errs, fmt.Errorf("stop %s: %w", i.Profile.Name, err))
	}
	if i.inner != nil {
		if err := i.inner.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// terminate signals, waits, kills and verifies.
func (i *Instance) terminate() error {
	rootGone := func() bool {
		select {
		case <-i.exited:
			return true
		default:
			return false
		}
	}
	killed, left := stopGroup(i.tree, i.Profile.stopSignal(), i.Profile.stopGrace(), rootGone)
	i.mu.Lock()
	i.killed = killed
	i.mu.Unlock()
	if len(left) == 0 && rootGone() {
		return nil
	}
	var names []string
	for _, s := range left {
		names = append(names, s.String())
	}
	if !rootGone() {
		names = append(names, fmt.Sprintf("%d (main process, not reaped)", i.cmd.Process.Pid))
	}
	return fmt.Errorf("stop %s: %d process(es) survived SIGKILL: %s", i.Profile.Name, len(names), strings.Join(names, ", "))
}
