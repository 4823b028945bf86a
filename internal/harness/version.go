package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/wsgikit/wsgikit/internal/textutil"
)

// ErrNotInstalled is wrapped by Version and Start when a profile's server
// is missing.
var ErrNotInstalled = errors.New("not installed")

// ErrUnsupported is wrapped by Version and Start when a server is installed
// but cannot run with this interpreter here (the message says why). Such
// errors match ErrNotInstalled too: whatever skips missing servers skips them.
var ErrUnsupported = errors.New("unsupported here")

type unsupportedError struct{ msg string }

func (e *unsupportedError) Error() string { return e.msg }

func (e *unsupportedError) Is(target error) bool {
	return target == ErrUnsupported || target == ErrNotInstalled
}

func (p *Profile) unsupported(why string) error {
	return &unsupportedError{fmt.Sprintf("%s: %v with %s (%s)", p.Name, ErrUnsupported, p.python(), why)}
}

// DefaultPython is Debian's interpreter, which Debian's packages of the
// servers (the @debian profiles) are built for, and the one Python servers
// run on when there is no peers venv.
const DefaultPython = "/usr/bin/python3"

// VenvDir is where `make setup` puts the peers venvs, under the module root:
// one per interpreter (py3.11, …) and "default", Debian's interpreter's.
const VenvDir = ".venv"

// Python returns the interpreter for {python}: env WSGIKIT_PYTHON, else the
// default peers venv's (`make setup`), else DefaultPython. A venv's
// bin/python is never resolved to its target: that would leave the venv.
func Python() string {
	if p := os.Getenv("WSGIKIT_PYTHON"); p != "" {
		return p
	}
	if root, err := moduleRoot(); err == nil {
		// "default" links to a venv named for its interpreter (py3.11);
		// resolve the link, not bin/python, which leads out of the venv.
		if dir, err := filepath.EvalSymlinks(filepath.Join(root, VenvDir, "default")); err == nil {
			py := filepath.Join(dir, "bin", "python")
			if _, err := os.Stat(py); err == nil {
				return py
			}
		}
	}
	return DefaultPython
}

// pythonVars are {python}, {pybin} and {pyhome} for an interpreter path.
func pythonVars(vars map[string]string, python string) {
	vars["python"] = python
	vars["pybin"] = filepath.Dir(python)
	vars["pyhome"] = filepath.Dir(vars["pybin"])
}

// WsgikitBin finds our own binary for {wsgikit}: env WSGIKIT_BIN, else the
// running executable if it is named wsgikit, else <module root>/bin/wsgikit.
func WsgikitBin() (string, error) {
	if b := os.Getenv("WSGIKIT_BIN"); b != "" {
		return b, nil
	}
	if exe, err := os.Executable(); err == nil && filepath.Base(exe) == "wsgikit" {
		return exe, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("wsgikit binary not found: set WSGIKIT_BIN or run `make build` (%v)", err)
	}
	b := filepath.Join(root, "bin", "wsgikit")
	if _, err := os.Stat(b); err != nil {
		return "", fmt.Errorf("wsgikit binary not found at %s: run `make build` or set WSGIKIT_BIN", b)
	}
	return b, nil
}

// moduleRoot walks up from the working directory (and from the executable)
// to the directory holding this module's go.mod.
func moduleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, d := range starts {
		for {
			b, err := os.ReadFile(filepath.Join(d, "go.mod"))
			if err == nil && strings.Contains(string(b), "module github.com/wsgikit/wsgikit\n") {
				return d, nil
			}
			parent := filepath.Dir(d)
			if parent == d {
				break
			}
			d = parent
		}
	}
	return "", errors.New("not inside the wsgikit module")
}

// baseVars are the placeholders known without an app or instance.
func (p *Profile) baseVars() map[string]string {
	v := map[string]string{}
	pythonVars(v, p.python())
	if b, err := WsgikitBin(); err == nil {
		v["wsgikit"] = b
	}
	if d, err := AppsDir(); err == nil {
		v["launchers"] = d
	}
	return v
}

var versionCache sync.Map // key: profile name + python → versionResult

type versionResult struct {
	v   string
	err error
}

// Version reports the installed version. When the server is missing, the
// error (wrapping ErrNotInstalled) is one line naming the Debian package.
func (p *Profile) Version() (string, error) {
	// The command is part of the key: two ad-hoc commands may share a name.
	key := p.Name + "\x00" + p.python() + "\x00" + os.Getenv("WSGIKIT_BIN") + "\x00" + strings.Join(p.Command, "\x00")
	if r, ok := versionCache.Load(key); ok {
		r := r.(versionResult)
		return r.v, r.err
	}
	v, err := p.detectVersion()
	versionCache.Store(key, versionResult{v, err})
	return v, err
}

func (p *Profile) notInstalled(what string) error {
	hint := "install the Debian package: apt-get install " + p.Package
	switch {
	case p.Name == "wsgikit":
		return fmt.Errorf("%s: %w (%s)", p.Name, ErrNotInstalled, what) // what says the fix
	case p.Package == "":
		hint = "install it"
	case strings.ContainsAny(p.Package, "()`") || strings.HasPrefix(p.Package, "pip "):
		hint = "install: " + p.Package
	}
	if why := p.pipFailure(); why != "" {
		what += "; " + why
	}
	return fmt.Errorf("%s: %w (%s); %s", p.Name, ErrNotInstalled, what, hint)
}

// pipFailure is why `make setup` could not install one of the profile's PyPI
// distributions into {python}'s venv (python/venv.py records pip's last
// lines in wsgikit-failed.json), or "".
func (p *Profile) pipFailure() string {
	dists, ok := strings.CutPrefix(p.Package, "PyPI ")
	if !ok {
		return ""
	}
	dists, _, _ = strings.Cut(dists, " (")
	b, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(p.python())), "wsgikit-failed.json"))
	if err != nil {
		return ""
	}
	var failed map[string]string
	if json.Unmarshal(b, &failed) != nil {
		return ""
	}
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "-") }
	for _, d := range strings.Fields(dists) {
		for name, why := range failed {
			if norm(name) == norm(d) {
				return fmt.Sprintf("pip could not install %s on this interpreter: %s", name, lastLine(why))
			}
		}
	}
	return ""
}

func (p *Profile) detectVersion() (string, error) {
	if p.inner != nil {
		iv, err := p.inner.Version()
		if err != nil {
			return "", err
		}
		nv, err := p.ownVersion()
		if err != nil {
			return "", err
		}
		return iv + " behind nginx " + nv, nil
	}
	return p.ownVersion()
}

func (p *Profile) ownVersion() (string, error) {
	vars := p.baseVars()
	for _, r := range p.Requires {
		if p.Name == "wsgikit" && r == "{wsgikit}" && vars["wsgikit"] == "" {
			_, err := WsgikitBin()
			return "", p.notInstalled(err.Error())
		}
		path, err := expand(r, vars)
		if err != nil {
			if _, aerr := AppsDir(); aerr != nil && strings.Contains(r, "{launchers}") {
				return "", fmt.Errorf("%s: %w (%v)", p.Name, ErrNotInstalled, aerr)
			}
			return "", p.notInstalled(err.Error())
		}
		if filepath.IsAbs(path) {
			if _, err := os.Stat(path); err != nil {
				return "", p.notInstalled(path + " missing")
			}
		} else if _, err := exec.LookPath(path); err != nil {
			return "", p.notInstalled(path + " not in PATH")
		}
	}
	python := vars["python"]
	if len(p.PyModules) > 0 {
		if _, err := os.Stat(python); err != nil {
			return "", fmt.Errorf("%s: %w (interpreter %s missing); set WSGIKIT_PYTHON to an existing interpreter (default %s)", p.Name, ErrNotInstalled, python, DefaultPython)
		}
		var imports []string
		for _, m := range p.PyModules {
			imports = append(imports, "import "+m)
		}
		out, err := run(python, "-c", strings.Join(imports, "; "))
		if err != nil {
			return "", p.notInstalled(fmt.Sprintf("%s cannot %s: %s", python, strings.Join(imports, "; "), lastLine(out)))
		}
	}
	if len(p.pyDists) > 0 {
		out, err := run(python, append([]string{"-c", "import importlib.metadata as m, sys\nfor d in sys.argv[1:]: m.version(d)"}, p.pyDists...)...)
		if err != nil {
			what := fmt.Sprintf("%s has no %s distribution", python, strings.Join(p.pyDists, ", "))
			if !strings.Contains(out, "PackageNotFoundError") {
				what += ": " + lastLine(out) // the interpreter itself failed
			}
			return "", p.notInstalled(what)
		}
	}
	if p.usable != nil {
		if err := p.usable(vars); err != nil {
			if errors.Is(err, ErrNotInstalled) {
				return "", err
			}
			return "", p.unsupported(err.Error())
		}
	}
	if len(p.VersionCmd) == 0 {
		if len(p.PyModules) == 0 {
			return "unknown", nil
		}
		// The distribution usually has the module's name; importlib.metadata
		// knows Debian's dist-info too.
		m := p.PyModules[0]
		out, err := run(python, "-c", "import importlib.metadata as m, sys\ntry:\n print(m.version(sys.argv[1]))\nexcept Exception:\n import importlib; print(getattr(importlib.import_module(sys.argv[1]), '__version__', 'unknown'))", m)
		if err != nil {
			return "unknown", nil
		}
		return strings.TrimSpace(lastLine(out)), nil
	}
	argv := make([]string, len(p.VersionCmd))
	for i, a := range p.VersionCmd {
		s, err := expand(a, vars)
		if err != nil {
			return "", fmt.Errorf("%s: version_cmd: %w", p.Name, err)
		}
		argv[i] = s
	}
	out, err := run(argv[0], argv[1:]...)
	if p.versionOptional {
		return optionalVersion(p.VersionRegexp, out, err), nil
	}
	if err != nil && p.Name == "wsgikit" {
		// The binary exists (Requires passed) but has no --version yet.
		return "dev", nil
	}
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", p.notInstalled(argv[0] + " not in PATH")
		}
		return "", p.notInstalled(fmt.Sprintf("%s failed: %s", strings.Join(argv, " "), lastLine(out)))
	}
	if p.VersionRegexp == "" {
		return strings.TrimSpace(textutil.FirstLine(strings.TrimSpace(out), "")), nil
	}
	re, err := compileVersionRegexp(p.VersionRegexp)
	if err != nil {
		return "", fmt.Errorf("%s: version_regexp: %w", p.Name, err)
	}
	if m := re.FindStringSubmatch(out); len(m) > 1 {
		var parts []string
		for _, g := range m[1:] {
			if g != "" {
				parts = append(parts, g)
			}
		}
		return strings.Join(parts, ", "), nil
	}
	return strings.TrimSpace(textutil.FirstLine(strings.TrimSpace(out), "")), nil
}

// optionalVersion is the version a guessed version command printed, or
// "unknown".
func optionalVersion(re, out string, err error) string {
	r, cerr := compileVersionRegexp(re)
	if err != nil || cerr != nil {
		return "unknown"
	}
	if m := r.FindStringSubmatch(out); len(m) > 1 && m[1] != "" {
		return m[1]
	}
	return "unknown"
}

func compileVersionRegexp(s string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("(?m)" + s)
	if err != nil {
		return nil, err
	}
	if re.NumSubexp() < 1 {
		return nil, fmt.Errorf("%q has no (group) for the version", s)
	}
	return re, nil
}

// run runs a short detection command with a deadline.
func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
