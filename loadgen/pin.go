package loadgen

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Pinning holds taskset-style CPU lists for the server and the client
// ("--pin server=0 client=1").
type Pinning struct {
	Server, Client []int
}

// Apart says the two CPU sets do not overlap.
func (p *Pinning) Apart() bool {
	if p == nil || len(p.Server) == 0 || len(p.Client) == 0 {
		return false
	}
	for _, a := range p.Server {
		for _, b := range p.Client {
			if a == b {
				return false
			}
		}
	}
	return true
}

// ParsePinning parses "server=0 client=1" or "server=0,client=1"; each CPU
// list is taskset's: "0", "0-3", "0,2".
func ParsePinning(s string) (*Pinning, error) {
	p := &Pinning{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ';' }) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("pin %q: want server=CPUS client=CPUS", f)
		}
		cpus, err := parseCPUList(v)
		if err != nil {
			return nil, fmt.Errorf("pin %s: %w", k, err)
		}
		switch k {
		case "server":
			p.Server = cpus
		case "client":
			p.Client = cpus
		default:
			return nil, fmt.Errorf("pin %q: only server= and client= are known", k)
		}
	}
	n := runtime.NumCPU()
	for _, c := range append(append([]int{}, p.Server...), p.Client...) {
		if c >= n {
			return nil, fmt.Errorf("pin: CPU %d does not exist (this machine has %d)", c, n)
		}
	}
	return p, nil
}

// parseCPUList parses "0-2,5". Commas separate items; a lone "server=0,client=1"
// is split earlier by the flag layer.
func parseCPUList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, rng := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad CPU %q", part)
		}
		b := a
		if rng {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad CPU range %q", part)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty CPU list %q", s)
	}
	return out, nil
}

func cpuSet(cpus []int) *unix.CPUSet {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	return &set
}

// PinSelf binds every thread of this process to cpus (new threads inherit
// the mask from their creator) and sets GOMAXPROCS to match.
func PinSelf(cpus []int) error {
	if err := pinTasks(os.Getpid(), cpus); err != nil {
		return err
	}
	runtime.GOMAXPROCS(len(cpus))
	return nil
}

// PinProcesses binds every thread of each process to cpus. Children forked
// later inherit it.
func PinProcesses(pids []int, cpus []int) error {
	for _, pid := range pids {
		if err := pinTasks(pid, cpus); err != nil {
			return err
		}
	}
	return nil
}

// pinTasks applies sched_setaffinity to each thread (task) of pid: the
// syscall acts on one thread only.
func pinTasks(pid int, cpus []int) error {
	set := cpuSet(cpus)
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if len(tasks) == 0 {
		tasks = []string{strconv.Itoa(pid)}
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(filepath.Base(t))
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("pin pid %d thread %d to CPUs %v: %w", pid, tid, cpus, err)
		}
	}
	return nil
}

// clientCPUs is the number of CPUs this process may run on.
func clientCPUs() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return runtime.NumCPU()
	}
	return max(set.Count(), 1)
}
