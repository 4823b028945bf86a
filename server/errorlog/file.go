package errorlog

import (
	"fmt"
	"os"
	"sync"
)

// File is the error log file (--error-logfile): only the master writes to
// it, its own records and the workers' output it relays (Relay). USR1
// reopens it (logrotate).
type File struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// OpenFile opens path for appending.
func OpenFile(path string) (*File, error) {
	l := &File{path: path}
	return l, l.Reopen()
}

// Reopen opens the path again (after logrotate moved the file).
func (l *File) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("--error-logfile: %w", err)
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
