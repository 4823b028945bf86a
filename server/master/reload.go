package master

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// watchSources polls the .py files under dirs once a second and calls
// changed with the first file whose modification time or size moved since
// seen, the scan taken before the workers started (--reload, for
// development: polling needs no inotify limits and sees network mounts).
// Scanning first in the caller means an edit made while the first worker
// boots is not taken for the starting point.
func watchSources(ctx context.Context, dirs []string, seen map[string]sourceStamp, changed func(string)) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := scanSources(dirs)
		for p, mt := range now {
			if old, ok := seen[p]; !ok || !old.mtime.Equal(mt.mtime) || old.size != mt.size {
				changed(p)
				break
			}
		}
		seen = now
	}
}

// skipDirs are never application code.
var skipDirs = map[string]bool{".git": true, "__pycache__": true, "node_modules": true, "venv": true, ".venv": true, "site-packages": true, ".tox": true}

// sourceStamp is what tells a file changed: the size too, because the
// kernel's coarse file clock can give two quick writes one mtime.
type sourceStamp struct {
	mtime time.Time
	size  int64
}

func scanSources(dirs []string) map[string]sourceStamp {
	out := map[string]sourceStamp{}
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if e.IsDir() && p != d && (skipDirs[e.Name()] || strings.HasPrefix(e.Name(), ".")) {
				return filepath.SkipDir
			}
			if len(out) > 20000 {
				return filepath.SkipAll
			}
			if !e.IsDir() && strings.HasSuffix(p, ".py") {
				if info, err := e.Info(); err == nil {
					out[p] = sourceStamp{info.ModTime(), info.Size()}
				}
			}
			return nil
		})
	}
	return out
}
