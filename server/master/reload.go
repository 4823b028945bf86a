package master

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// watchSources polls the .py files under dirs once a second and calls
// changed with the first file whose modification time moved (--reload, for
// development: polling needs no inotify limits and sees network mounts).
func watchSources(ctx context.Context, dirs []string, changed func(string)) {
	seen := scanSources(dirs)
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
			if old, ok := seen[p]; !ok || !old.Equal(mt) {
				changed(p)
				break
			}
		}
		seen = now
	}
}

// skipDirs are never application code.
var skipDirs = map[string]bool{".git": true, "__pycache__": true, "node_modules": true, "venv": true, ".venv": true, "site-packages": true, ".tox": true}

func scanSources(dirs []string) map[string]time.Time {
	out := map[string]time.Time{}
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
					out[p] = info.ModTime()
				}
			}
			return nil
		})
	}
	return out
}
