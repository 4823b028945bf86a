package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	return "", fmt.Errorf("wsgikit's apps/ directory not found (looked at %s); set WSGIKIT_APPS", strings.Join(cands, ", "))
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
