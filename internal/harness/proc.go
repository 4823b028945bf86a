package harness

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
)

// clockTicks is USER_HZ, the unit of the CPU fields in /proc/PID/stat. It is
// 100 on every Linux ABI Go supports; reading it via sysconf would need cgo.
const clockTicks = 100

// procStat is the part of /proc/PID/stat the harness needs.
type procStat struct {
	pid, ppid, pgrp int
	state           byte
	comm            string
	ticks           uint64 // utime + stime
	childTicks      uint64 // cutime + cstime: children already waited for
	start           uint64 // starttime: with pid, the identity of a process
	rssPages        int64
}

// readStat reads /proc/PID/stat into st, reusing buf.
func readStat(pid int, buf []byte, st *procStat) ([]byte, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return buf, err
	}
	buf = buf[:cap(buf)]
	if len(buf) < 1024 {
		buf = make([]byte, 1024)
	}
	n, err := f.Read(buf)
	f.Close()
	if err != nil {
		return buf, err
	}
	return buf, parseStat(buf[:n], st)
}

// parseStat parses one /proc/PID/stat line. The command name may hold spaces
// and parentheses, so fields are counted from the last ')'.
func parseStat(b []byte, st *procStat) error {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open || end+2 >= len(b) {
		return fmt.Errorf("malformed stat %q", b)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return fmt.Errorf("malformed stat pid %q", b[:open])
	}
	st.pid = pid
	st.comm = string(b[open+1 : end])
	rest := b[end+2:]
	// Field numbers as in proc(5): 3 state, 4 ppid, 5 pgrp, 14 utime,
	// 15 stime, 16 cutime, 17 cstime, 22 starttime, 24 rss.
	field := 3
	var utime, stime, cutime, cstime uint64
	for len(rest) > 0 && field <= 24 {
		sp := bytes.IndexByte(rest, ' ')
		var tok []byte
		if sp < 0 {
			tok, rest = rest, nil
		} else {
			tok, rest = rest[:sp], rest[sp+1:]
		}
		switch field {
		case 3:
			if len(tok) > 0 {
				st.state = tok[0]
			}
		case 4:
			st.ppid = atoi(tok)
		case 5:
			st.pgrp = atoi(tok)
		case 14:
			utime = atou(tok)
		case 15:
			stime = atou(tok)
		case 16:
			cutime = atou(tok)
		case 17:
			cstime = atou(tok)
		case 22:
			st.start = atou(tok)
		case 24:
			st.rssPages = int64(atoi(tok))
		}
		field++
	}
	if field <= 24 {
		return fmt.Errorf("short stat for pid %d", pid)
	}
	st.ticks = utime + stime
	st.childTicks = cutime + cstime
	return nil
}

func atoi(b []byte) int {
	n, neg := 0, false
	for i, c := range b {
		if i == 0 && c == '-' {
			neg = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		return -n
	}
	return n
}

func atou(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

// readPSS returns the Pss of a process in bytes from smaps_rollup; ok is
// false when the file is missing or unreadable (another user's process).
func readPSS(pid int, buf []byte) (int64, []byte, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, buf, false
	}
	buf = buf[:cap(buf)]
	if len(buf) < 4096 {
		buf = make([]byte, 4096)
	}
	n, err := f.Read(buf)
	f.Close()
	if err != nil || n == 0 {
		return 0, buf, false
	}
	b := buf[:n]
	i := bytes.Index(b, []byte("\nPss:"))
	if i < 0 {
		return 0, buf, false
	}
	b = bytes.TrimLeft(b[i+5:], " \t")
	return int64(atou(b)) * 1024, buf, true
}

// listPIDs returns the numeric entries of /proc.
func listPIDs() ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if n[0] < '0' || n[0] > '9' {
			continue
		}
		if p, err := strconv.Atoi(n); err == nil {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

// Usage is what the process tree of an instance consumed since Start.
type Usage struct {
	// CPUSeconds is user+system time of the whole tree, including processes
	// that already exited (reaped by a member, or orphaned and last seen).
	CPUSeconds float64
	PeakRSSMB  float64 // highest sum of RSS over the tree at one sample
	PeakPSSMB  float64 // same for PSS (0 when smaps_rollup was unreadable)
	RSSMB      float64 // at the last sample
	PSSMB      float64 // at the last sample
	Procs      int     // live processes at the last sample
	PeakProcs  int
	Samples    int  // how many samples the peaks come from
	PSSValid   bool // smaps_rollup was readable for every live member
}

// member is a process known to belong to the tree, by identity (pid+start):
// it stays a member after being reparented to init.
type member struct {
	start    uint64
	ppid     int
	total    uint64 // last seen ticks + childTicks
	rssPages int64
	zombie   bool
	comm     string
	outside  bool // seen outside the group (and told to escaped)
}

// tree tracks the process tree of one root: the root, every process whose
// parent is a member, every process in the root's process group, and every
// former member still alive. Scans read the stat file of members on every
// tick and of other processes only when their PID is new (a PID is reused
// only after the PID space wraps), plus a full rescan every fullEvery ticks.
type tree struct {
	mu        sync.Mutex
	root      int
	pgid      int
	members   map[int]*member
	others    map[int]struct{} // PIDs seen and known not to be members
	lostTicks uint64           // CPU of members that died unreaped by a member
	rootDone  bool             // root reaped by us: final rusage known
	rootFinal uint64           // ticks from the root's rusage (self + reaped)
	tick      int
	fullEvery int
	buf       []byte
	pssBuf    []byte
	usage     Usage
	cpuTicks  uint64
	pssSeen   bool // a sample read PSS of every live member
	pssBad    bool // a sample could not
	// escaped, if set, hears of each member first seen outside the group
	// (the watchdog must know it by identity: it may be orphaned later).
	escaped func(pid int, start uint64)
}

func newTree(root int) *tree {
	return &tree{
		root:      root,
		pgid:      root,
		members:   map[int]*member{},
		others:    map[int]struct{}{},
		fullEvery: 10,
		buf:       make([]byte, 1024),
		pssBuf:    make([]byte, 4096),
	}
}

// sample scans /proc once and updates usage. withPSS reads smaps_rollup too.
func (t *tree) sample(withPSS bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sampleLocked(withPSS)
}

func (t *tree) sampleLocked(withPSS bool) error {
	pids, err := listPIDs()
	if err != nil {
		return err
	}
	t.tick++
	if t.tick%t.fullEvery == 0 {
		clear(t.others)
	}
	present := make(map[int]bool, len(t.members)+4)
	var st procStat
	var unknown []procStat
	var live []int
	for _, pid := range pids {
		m, isMember := t.members[pid]
		if !isMember {
			if _, known := t.others[pid]; known {
				continue
			}
		}
		var err error
		t.buf, err = readStat(pid, t.buf, &st)
		if err != nil {
			continue // exited between readdir and open
		}
		if isMember && m.start == st.start {
			present[pid] = true
			m.ppid = st.ppid
			m.total = st.ticks + st.childTicks
			m.zombie = st.state == 'Z'
			m.rssPages = st.rssPages
			t.noteOutside(pid, m, st.pgrp)
			if !m.zombie {
				live = append(live, pid)
			}
			continue
		}
		unknown = append(unknown, st)
	}
	// Members that vanished (or whose PID now names another process). One
	// whose parent was a member when last seen was most likely reaped by
	// it, so its time is in that parent's cutime (or, for children of the
	// root, in the root's rusage). Others were orphans reaped by init:
	// their last-seen time would be lost otherwise.
	var gone []int
	for pid, m := range t.members {
		if present[pid] {
			continue
		}
		gone = append(gone, pid)
		if _, parentWasMember := t.members[m.ppid]; pid != t.root && !parentWasMember {
			t.lostTicks += m.total
		}
	}
	for _, pid := range gone {
		delete(t.members, pid)
	}
	// New members: in the group, or children of members (to a fixpoint,
	// since a child may be listed before its parent).
	for changed := true; changed; {
		changed = false
		rest := unknown[:0]
		for _, s := range unknown {
			_, parentIn := t.members[s.ppid]
			if s.pid == t.root || s.pgrp == t.pgid || parentIn {
				t.addMember(s)
				present[s.pid] = true
				if s.state != 'Z' {
					live = append(live, s.pid)
				}
				changed = true
				continue
			}
			rest = append(rest, s)
		}
		unknown = rest
	}
	for _, s := range unknown {
		t.others[s.pid] = struct{}{}
	}
	// CPU: live members (their own time plus reaped children) + lost.
	// Once the root is reaped, its rusage covers itself and every
	// descendant reaped under it; members still alive are orphans.
	cpu := t.lostTicks
	if t.rootDone {
		cpu += t.rootFinal
	}
	for pid, m := range t.members {
		if pid == t.root && t.rootDone {
			continue
		}
		cpu += m.total
	}
	if cpu > t.cpuTicks {
		t.cpuTicks = cpu
	}
	var rss, pss int64
	pssOK := withPSS
	page := int64(os.Getpagesize())
	for _, pid := range live {
		rss += t.members[pid].rssPages * page
		if pssOK {
			var p int64
			var ok bool
			p, t.pssBuf, ok = readPSS(pid, t.pssBuf)
			if ok {
				pss += p
			} else if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
				pssOK = false
			}
		}
	}
	u := &t.usage
	u.CPUSeconds = float64(t.cpuTicks) / clockTicks
	u.RSSMB = float64(rss) / (1 << 20)
	u.Procs = len(live)
	if u.Procs > u.PeakProcs {
		u.PeakProcs = u.Procs
	}
	if u.RSSMB > u.PeakRSSMB {
		u.PeakRSSMB = u.RSSMB
	}
	if withPSS {
		if pssOK {
			u.PSSMB = float64(pss) / (1 << 20)
			if u.PSSMB > u.PeakPSSMB {
				u.PeakPSSMB = u.PSSMB
			}
			t.pssSeen = true
		} else {
			t.pssBad = true
		}
		u.PSSValid = t.pssSeen && !t.pssBad
	}
	u.Samples++
	return nil
}

func (t *tree) addMember(s procStat) *member {
	m := &member{start: s.start, ppid: s.ppid, total: s.ticks + s.childTicks, rssPages: s.rssPages, zombie: s.state == 'Z', comm: s.comm}
	t.members[s.pid] = m
	t.noteOutside(s.pid, m, s.pgrp)
	return m
}

// noteOutside tells escaped, once, of a member outside the group.
func (t *tree) noteOutside(pid int, m *member, pgrp int) {
	if pgrp != t.pgid && !m.outside {
		m.outside = true
		if t.escaped != nil {
			t.escaped(pid, m.start)
		}
	}
}

// rootReaped records the root's final rusage (user+sys of itself and every
// descendant it or its descendants waited for).
func (t *tree) rootReaped(seconds float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rootDone = true
	t.rootFinal = uint64(seconds*clockTicks + 0.5)
}

// livePIDs returns the live (non-zombie) members after a fresh scan.
func (t *tree) livePIDs() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = t.sampleLocked(false)
	var out []int
	for pid, m := range t.members {
		if !m.zombie {
			out = append(out, pid)
		}
	}
	sort.Ints(out)
	return out
}

// resetPeaks makes the peaks start again from the last sample.
func (t *tree) resetPeaks() {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := &t.usage
	u.PeakRSSMB, u.PeakPSSMB, u.PeakProcs = u.RSSMB, u.PSSMB, u.Procs
}

func (t *tree) snapshot() Usage {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.usage
}

// survivor is a process left after Stop.
type survivor struct {
	pid   int
	comm  string
	state byte
}

func (s survivor) String() string { return fmt.Sprintf("%d (%s, state %c)", s.pid, s.comm, s.state) }

// scanSurvivors does a full, uncached scan of /proc and returns every live
// (non-zombie) process that is in the group, a known member (same identity),
// or a descendant of one of those.
func (t *tree) scanSurvivors() []survivor {
	t.mu.Lock()
	defer t.mu.Unlock()
	pids, err := listPIDs()
	if err != nil {
		return nil
	}
	var all []procStat
	var st procStat
	in := map[int]bool{}
	for _, pid := range pids {
		if _, err := readStat(pid, t.buf, &st); err != nil {
			continue
		}
		all = append(all, st)
		if m, ok := t.members[pid]; (ok && m.start == st.start) || st.pgrp == t.pgid {
			in[pid] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, s := range all {
			if !in[s.pid] && in[s.ppid] {
				in[s.pid] = true
				changed = true
			}
		}
	}
	var out []survivor
	for _, s := range all {
		if in[s.pid] && s.state != 'Z' && s.state != 'X' {
			out = append(out, survivor{pid: s.pid, comm: s.comm, state: s.state})
			// Known by identity from now on: once its parent is gone, a
			// member outside the group is found no other way.
			if m, ok := t.members[s.pid]; !ok || m.start != s.start {
				t.addMember(s)
			}
		}
	}
	return out
}
