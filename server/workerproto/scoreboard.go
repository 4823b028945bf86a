package workerproto

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Scoreboard is memory shared by the master and one worker: a record per
// slot saying which request runs there since when. The worker writes it per
// request (a few stores, no system call); the master reads it to enforce
// --timeout and to name the request a dead worker was serving. Records use a
// sequence counter (odd while being written) so a reader never sees a torn one.
//
// After the records comes the worker's Stats (atomic counters only), so the
// master reads exact counts at any time, even after the worker died.
type Scoreboard struct {
	mem     []byte
	n       int // records: the worker's threads and the spare
	threads int
}

// Spare is how many request slots a worker has beyond its threads: one,
// which serves while a request that ran over --timeout keeps its thread
// (the worker drains then). It has a record, so --timeout covers it too.
const Spare = 1

var statsSize = int(unsafe.Sizeof(Stats{}))

func boardSize(n int) int { return n*recordSize + statsSize }

// Stats are the worker's counters, in the shared memory.
func (b *Scoreboard) Stats() *Stats {
	return (*Stats)(unsafe.Pointer(&b.mem[b.n*recordSize]))
}

// Snapshot reads the counters.
func (b *Scoreboard) Snapshot() Snapshot {
	s := b.Stats().snapshot()
	s.Threads = b.threads
	return s
}

const (
	recordSize = 256
	lineMax    = recordSize - 16
)

// NewScoreboard makes a scoreboard for a worker of threads threads (and the
// Spare) in an unlinked file (in /dev/shm when available) whose descriptor
// is passed to the worker.
func NewScoreboard(threads int) (*Scoreboard, *os.File, error) {
	n := threads + Spare
	dir := "/dev/shm"
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "wsgikit-board-")
	if err != nil {
		return nil, nil, fmt.Errorf("scoreboard: %w", err)
	}
	os.Remove(f.Name())
	if err := f.Truncate(int64(boardSize(n))); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("scoreboard: %w", err)
	}
	b, err := mapBoard(int(f.Fd()), threads)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return b, f, nil
}

// OpenScoreboard maps a scoreboard for threads threads passed by the master as fd.
func OpenScoreboard(fd, threads int) (*Scoreboard, error) { return mapBoard(fd, threads) }

// PrivateScoreboard is a scoreboard nobody else reads: for an engine without
// a master (tests, embedding).
func PrivateScoreboard(threads int) *Scoreboard {
	n := threads + Spare
	mem, err := syscall.Mmap(-1, 0, boardSize(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_SHARED)
	if err != nil {
		mem = make([]byte, boardSize(n)) // private memory works the same in one process
	}
	return &Scoreboard{mem: mem, n: n, threads: threads}
}

func mapBoard(fd, threads int) (*Scoreboard, error) {
	n := threads + Spare
	mem, err := syscall.Mmap(fd, 0, boardSize(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("scoreboard mmap: %w", err)
	}
	return &Scoreboard{mem: mem, n: n, threads: threads}, nil
}

// Close unmaps the board (the master, once the worker is gone: each one is
// a mapping of its own). The board must not be used after.
func (b *Scoreboard) Close() error {
	mem := b.mem
	b.mem = nil
	if mem == nil {
		return nil
	}
	if err := syscall.Munmap(mem); err != nil {
		return fmt.Errorf("scoreboard munmap: %w", err)
	}
	return nil
}

// Slots is the number of records: the threads and the Spare.
func (b *Scoreboard) Slots() int { return b.n }

func (b *Scoreboard) seq(slot int) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&b.mem[slot*recordSize]))
}

func (b *Scoreboard) start(slot int) *atomic.Int64 {
	return (*atomic.Int64)(unsafe.Pointer(&b.mem[slot*recordSize+8]))
}

// Begin records that slot started the request line at startNS.
func (b *Scoreboard) Begin(slot int, startNS int64, method, target []byte, minor int) {
	rec := b.mem[slot*recordSize : (slot+1)*recordSize]
	seq := b.seq(slot)
	seq.Add(1) // odd: writing
	line := rec[16:16]
	line = append(line, method...)
	line = append(line, ' ')
	if room := lineMax - len(line) - 9; len(target) > room {
		target = target[:max(room, 0)]
	}
	line = append(line, target...)
	line = append(line, " HTTP/1."...)
	line = append(line, byte('0'+minor))
	*(*uint32)(unsafe.Pointer(&rec[4])) = uint32(len(line))
	b.start(slot).Store(startNS)
	seq.Add(1) // even: done
}

// End records that slot is idle.
func (b *Scoreboard) End(slot int) {
	seq := b.seq(slot)
	seq.Add(1)
	b.start(slot).Store(0)
	seq.Add(1)
}

// Read returns what slot is doing; ok is false when it is idle.
func (b *Scoreboard) Read(slot int) (startNS int64, line string, ok bool) {
	rec := b.mem[slot*recordSize : (slot+1)*recordSize]
	seq := b.seq(slot)
	for tries := 0; tries < 100; tries++ {
		s1 := seq.Load()
		if s1&1 == 1 {
			continue
		}
		st := b.start(slot).Load()
		n := min(int(*(*uint32)(unsafe.Pointer(&rec[4]))), lineMax)
		l := string(rec[16 : 16+n])
		if seq.Load() == s1 {
			return st, l, st != 0
		}
	}
	return 0, "", false
}
