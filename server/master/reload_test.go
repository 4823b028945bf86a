package master

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWatchSources: an edit made after the scan the master takes before
// starting workers is reported, even when it lands before the watcher runs
// and keeps the mtime (the kernel's coarse file clock), as long as the size
// moved; files under skipped directories are never watched.
func TestWatchSources(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.py")
	os.WriteFile(app, []byte("v = 1\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "__pycache__"), 0o755)
	os.WriteFile(filepath.Join(dir, "__pycache__", "x.py"), []byte("x"), 0o644)
	seen := scanSources([]string{dir})
	if len(seen) != 1 {
		t.Fatalf("scan: %v, want app.py only", seen)
	}
	mt := seen[app].mtime
	os.WriteFile(app, []byte("v = 22\n"), 0o644) // before the watcher starts
	os.Chtimes(app, mt, mt)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changed := make(chan string, 1)
	go watchSources(ctx, []string{dir}, seen, func(p string) {
		select {
		case changed <- p:
		default:
		}
	})
	select {
	case p := <-changed:
		if p != app {
			t.Fatalf("changed %s, want %s", p, app)
		}
	case <-time.After(time.Minute): // bounds the wait; the watcher polls every second
		t.Fatal("the edit was never reported")
	}
}
