package harness

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/wsgikit/wsgikit/apps"
)

// App is a WSGI callable in a Python file: Module (dotted, importable from
// Dir) and Callable (the attribute holding the WSGI application).
type App struct{ Dir, Module, Callable string }

// String is the module:callable spec servers take.
func (a App) String() string { return a.Module + ":" + a.Callable }

// AppsDir returns the repo's apps/ directory: env WSGIKIT_APPS, else found
// next to the executable (…/bin/wsgikit → …/apps) or at the module root.
func AppsDir() (string, error) {
	if d := os.Getenv("WSGIKIT_APPS"); d != "" {
		if !isAppsDir(d) {
			return "", fmt.Errorf("WSGIKIT_APPS=%s has no hello.py; point it at wsgikit's apps/ directory", d)
		}
		return filepath.Abs(d)
	}
	var cands []string
	if exe, err := os.Executable(); err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		cands = append(cands, filepath.Join(filepath.Dir(exe), "..", "apps"))
	}
	if root, err := moduleRoot(); err == nil {
		cands = append(cands, filepath.Join(root, "apps"))
	}
	for _, c := range cands {
		if isAppsDir(c) {
			return filepath.Abs(c)
		}
	}
	d, err := extractApps()
	if err != nil {
		return "", fmt.Errorf("wsgikit's apps/ directory not found (looked at %s) and the built-in copy could not be written: %v; set WSGIKIT_APPS", strings.Join(cands, ", "), err)
	}
	return d, nil
}

var (
	extractOnce sync.Once
	extractDir  string
	extractErr  error
)

// extractApps writes the apps embedded in the binary to a directory named
// by their content hash under the temp dir (readable by all: Apache's and
// nginx's workers run as www-data), once per content.
func extractApps() (string, error) {
	extractOnce.Do(func() {
		h := sha256.New()
		var files []string
		err := fs.WalkDir(apps.FS, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := apps.FS.ReadFile(path)
			if err != nil {
				return err
			}
			files = append(files, path)
			fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
			h.Write(b)
			return nil
		})
		if err != nil {
			extractErr = err
			return
		}
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("wsgikit-apps-%x", h.Sum(nil)[:6]))
		if isAppsDir(dir) {
			extractDir = dir
			return
		}
		tmp, err := os.MkdirTemp(os.TempDir(), "wsgikit-apps-tmp-")
		if err != nil {
			extractErr = err
			return
		}
		defer os.RemoveAll(tmp)
		for _, f := range files {
			b, _ := apps.FS.ReadFile(f)
			dst := filepath.Join(tmp, filepath.FromSlash(f))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				extractErr = err
				return
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				extractErr = err
				return
			}
		}
		if err := os.Chmod(tmp, 0o755); err != nil {
			extractErr = err
			return
		}
		// Another process may win the rename; its copy has the same content.
		if err := os.Rename(tmp, dir); err != nil && !isAppsDir(dir) {
			extractErr = err
			return
		}
		extractDir = dir
	})
	return extractDir, extractErr
}

func isAppsDir(d string) bool {
	_, err := os.Stat(filepath.Join(d, "hello.py"))
	return err == nil
}

// builtinApps maps the names of BuiltinApp to module and callable.
var builtinApps = map[string][2]string{
	"probe":  {"probe", "application"},
	"hello":  {"hello", "application"},
	"bench":  {"bench", "application"},
	"flask":  {"flask_app", "app"},
	"django": {"django_app.wsgi", "application"},
}

// BuiltinApp returns one of wsgikit's apps: "probe", "hello", "bench",
// "flask", "django".
func BuiltinApp(name string) (App, error) {
	mc, ok := builtinApps[name]
	if !ok {
		return App{}, fmt.Errorf("unknown app %q; known: probe, hello, bench, flask, django", name)
	}
	dir, err := AppsDir()
	if err != nil {
		return App{}, err
	}
	return App{Dir: dir, Module: mc[0], Callable: mc[1]}, nil
}

// ParseApp reads "module:callable" (callable defaults to "application"),
// with Dir the directory to import from (default: the working directory).
func ParseApp(spec, dir string) (App, error) {
	mod, call, _ := strings.Cut(spec, ":")
	if call == "" {
		call = "application"
	}
	if mod == "" || strings.ContainsAny(mod, "/ ") {
		return App{}, fmt.Errorf("app %q: want module:callable, e.g. myproject.wsgi:application", spec)
	}
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return App{}, err
		}
		dir = wd
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return App{}, err
	}
	return App{Dir: abs, Module: mod, Callable: call}, nil
}
