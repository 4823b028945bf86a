package workerproto

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// SecretFile holds b (a private key among it) in an anonymous memory file
// for a worker to inherit: never in a path another process could open, nor
// in the environment (/proc/PID/environ). The caller closes it once the
// worker started.
func SecretFile(name string, b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("%s: memfd_create: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// ReadSecret reads and closes a SecretFile a worker inherited as fd.
func ReadSecret(fd int) ([]byte, error) {
	f := os.NewFile(uintptr(fd), "secret")
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<30)) // from the start, whatever the shared offset
	if err != nil {
		return nil, fmt.Errorf("descriptor %d: %w", fd, err)
	}
	return b, nil
}
