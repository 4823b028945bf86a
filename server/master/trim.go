package master

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// madvPageout asks the kernel to reclaim pages now (Linux 5.4+).
const madvPageout = 21

// trimExecutable gives back the clean file-backed pages of this executable
// that start-up touched. The wsgikit binary carries every verb (reports,
// the load driver, …); a serving master runs a small loop and should not
// hold the rest resident. Pages it needs again fault back in from the page
// cache. Best effort: errors are ignored.
func trimExecutable() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// Only read-only mappings (text, rodata): never data or bss.
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), madvPageout)
	}
}
