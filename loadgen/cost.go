package loadgen

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
)

// meter measures what a run costs: the server's CPU and memory, this
// process's CPU and the machine's idle time, from its start to finish.
type meter struct {
	srv         harness.Server
	before      harness.Usage
	cpu0        float64
	tot0, idle0 uint64
	statOK      bool
	start       time.Time
}

func startMeter(srv harness.Server) *meter {
	m := &meter{srv: srv}
	if srv != nil {
		m.before = srv.Usage()
	}
	m.cpu0 = processCPU()
	m.tot0, m.idle0, m.statOK = cpuTimes()
	m.start = time.Now()
	return m
}

// finish fills the run's costs, adding childCPU (seconds of a client
// process such as wrk) to this process's, marks the run failed if the
// server exited, and judges whether the client was the limit.
func (m *meter) finish(cfg RunConfig, res *RunResult, childCPU float64) {
	res.ClientCPU = processCPU() - m.cpu0 + childCPU
	res.MachineIdle = -1
	if tot1, idle1, ok := cpuTimes(); ok && m.statOK && tot1 > m.tot0 {
		res.MachineIdle = float64(idle1-m.idle0) / float64(tot1-m.tot0)
	}
	wall := time.Since(m.start).Seconds()
	if m.srv != nil {
		after := m.srv.Usage()
		res.Server = harness.Usage{CPUSeconds: after.CPUSeconds - m.before.CPUSeconds, PeakRSSMB: after.PeakRSSMB, PeakPSSMB: after.PeakPSSMB, Procs: after.Procs}
		if exited(m.srv) {
			res.Failed = cfg.serverExited("during the run").Failed
		}
	}
	res.ClientCPUs = float64(clientCPUs())
	res.judgeClient(cfg, wall)
}

// judgeClient sets ClientBound when the numbers describe the client rather
// than the server: it used >= 80% of the CPU it had, or (open model) it sent
// fewer requests than asked.
func (r *RunResult) judgeClient(cfg RunConfig, wall float64) {
	if wall <= 0 {
		return
	}
	var why []string
	budget := math.Min(r.ClientCPUs, float64(runtime.GOMAXPROCS(0)))
	if !cfg.PinnedApart && cfg.Server != nil {
		budget = math.Max(budget-r.Server.CPUSeconds/wall, 0.5)
	}
	used := r.ClientCPU / wall
	if used >= 0.8*budget {
		why = append(why, fmt.Sprintf("client used %.2f of the %.2f CPUs left to it", used, budget))
	}
	// Little's law in the closed model: c workers each busy for the mean
	// latency per request give X·R̄ = c. Far less means the workers spent
	// their time waiting on the client's own pacer or consumer.
	if cfg.Load.Mode == Closed && r.Requests > 100 && r.Seconds > 0 {
		busy := float64(r.Requests) / r.Seconds * r.Service.Mean() / 1e6 / float64(cfg.Load.Concurrency)
		if busy < 0.75 {
			why = append(why, fmt.Sprintf("workers waited on a request only %.0f%% of the time (Little's law)", busy*100))
		}
	}
	if r.MachineIdle >= 0 && r.MachineIdle < 0.05 && used >= 0.5 {
		why = append(why, fmt.Sprintf("machine had %.0f%% idle CPU while the client used %.2f CPUs", r.MachineIdle*100, used))
	}
	if cfg.Load.Mode == Open && r.SendRate < 0.97*cfg.Load.Rate {
		why = append(why, fmt.Sprintf("sent %.0f req/s of the %.0f asked", r.SendRate, cfg.Load.Rate))
	}
	if len(why) > 0 {
		r.ClientBound = true
		r.ClientWhy = strings.Join(why, "; ")
	}
}

// cpuTimes reads the machine's total and idle (idle+iowait) jiffies.
func cpuTimes() (total, idle uint64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		if i < 8 { // user..steal; guest time is already in user
			total += n
		}
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return total, idle, true
}

// processCPU is this process's user+system CPU time in seconds
// (getrusage RUSAGE_SELF: children such as started servers not included).
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
