package errorlog

import (
	"fmt"
	"os"
	"sync"
	"syscall"
)

// File is the error log file (--error-logfile): the master writes to it,
// and it is every worker's stderr, so Python's own output (print to
// sys.stderr, warnings) lands there too. USR1 reopens it (logrotate).
type File struct {
	path     string
	mu       sync.Mutex
	f        *os.File
	uid, gid int // owner for workers running as another user; -1: leave
}

// OpenFile opens path for appending.
func OpenFile(path string) (*File, error) {
	l := &File{path: path, uid: -1, gid: -1}
	return l, l.Reopen()
}

// Reopen opens the path again (after logrotate moved the file).
func (l *File) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("--error-logfile: %w", err)
	}
	if l.uid >= 0 {
		f.Chown(l.uid, l.gid) // workers reopen it on USR1 as their user, as with gunicorn
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Write implements io.Writer for the master's logger.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// SetOwner makes the file (now and after each reopen) writable by workers
// that run as another user.
func (l *File) SetOwner(uid, gid int) {
	l.mu.Lock()
	l.uid, l.gid = uid, gid
	l.f.Chown(uid, gid)
	l.mu.Unlock()
}

// Path is where the log is.
func (l *File) Path() string { return l.path }

// File is the current file, given to workers as stderr.
func (l *File) File() *os.File {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f
}

// ReopenStderr points this process's stderr at path again (a worker on
// USR1): dup3 over fd 2, so C and Python writers follow too.
func ReopenStderr(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	return syscall.Dup3(int(f.Fd()), 2, 0)
}
