package harness

import (
	"os/exec"
	"runtime"
	"sync"
)

// The parent-death signal of a child fires when the *thread* that forked it
// exits, not the process. Go may run cmd.Start on a thread that later exits
// (one a goroutine locked and left locked), so servers are forked from one
// goroutine locked to its thread for the life of the process: the signal
// then fires exactly when the harness process dies.
var (
	spawnOnce sync.Once
	spawnCh   chan spawnReq
)

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: this thread lives as long as the process
			for r := range spawnCh {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawnCh <- spawnReq{cmd, done}
	return <-done
}
