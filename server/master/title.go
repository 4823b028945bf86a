package master

import "os"

// setProcName names this process for `ps -o comm` and top (15 bytes at
// most). Its command line stays `wsgikit serve …`: a setproctitle-style
// title overwrites the argv memory, which Go's os.Args strings (and every
// flag value cut from them) still point into.
func setProcName(name string) {
	f, err := os.OpenFile("/proc/self/comm", os.O_WRONLY, 0) // the main thread's: the process's name
	if err != nil {
		return // cosmetic
	}
	f.WriteString(name)
	f.Close()
}
