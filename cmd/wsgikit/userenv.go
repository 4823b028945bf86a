package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/wsgikit/wsgikit/internal/harness"
)

// envFlags say whose environment check and bench start the servers in: the
// interpreter (--python or --virtualenv: every Python server runs on it,
// with the servers installed there, and our own server's workers too) and
// the project directory (--chdir).
type envFlags struct {
	python, virtualenv, chdir string
}

func (e *envFlags) add(fl *pflag.FlagSet, chdirUsage string) {
	fl.StringVar(&e.python, "python", "", "Python interpreter for every server (a venv's bin/python selects the venv and the servers installed in it; default: WSGIKIT_PYTHON, else the peers venv)")
	fl.StringVar(&e.virtualenv, "virtualenv", "", "the venv DIR: the same as --python DIR/bin/python")
	fl.StringVar(&e.chdir, "chdir", "", chdirUsage)
}

// usePython makes --python or --virtualenv the interpreter of every server
// started from here on, through WSGIKIT_PYTHON, the one variable the
// harness reads for {python}. It checks that the interpreter runs.
func (e *envFlags) usePython() error {
	if e.python != "" && e.virtualenv != "" {
		return usageErr("give --python or --virtualenv, not both")
	}
	flag, py := "--python", e.python
	if e.virtualenv != "" {
		flag, py = "--virtualenv", filepath.Join(e.virtualenv, "bin", "python")
		if _, err := os.Stat(py); err != nil {
			return usageErr("--virtualenv %s: no bin/python in it; give the directory `python -m venv DIR` made", e.virtualenv)
		}
	}
	if py == "" {
		return nil
	}
	if !strings.Contains(py, "/") {
		found, err := exec.LookPath(py)
		if err != nil {
			return usageErr("%s %s: not found in PATH", flag, py)
		}
		py = found
	}
	// Absolute, but not resolved: a venv's bin/python is a link out of it.
	abs, err := filepath.Abs(py)
	if err != nil {
		return usageErr("%s %s: %v", flag, py, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, abs, "-c", "import sys; sys.exit(sys.version_info[0] != 3)").CombinedOutput(); err != nil {
		last := strings.TrimSpace(string(out))
		return usageErr("%s %s: not a Python 3 interpreter (%v) %s", flag, py, err, last[strings.LastIndexByte(last, '\n')+1:])
	}
	return os.Setenv("WSGIKIT_PYTHON", abs)
}

// projectDir is --chdir made absolute (servers start in other
// directories), or "" when not given.
func (e *envFlags) projectDir() (string, error) {
	if e.chdir == "" {
		return "", nil
	}
	st, err := os.Stat(e.chdir)
	if err != nil || !st.IsDir() {
		return "", usageErr("--chdir %s: not a directory", e.chdir)
	}
	abs, err := filepath.Abs(e.chdir)
	if err != nil {
		return "", usageErr("--chdir %s: %v", e.chdir, err)
	}
	return abs, nil
}

// cmdName is the NAME= in front of a --cmd template.
var cmdName = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._@+-]*)=(.+)$`)

// cmdProfiles makes a profile of each --cmd [NAME=]TEMPLATE: an unnamed one
// is "cmd"; names must differ from each other and from the built-ins.
// workdir, when set, is where the commands run.
func cmdProfiles(specs []string, workdir string) ([]*harness.Profile, error) {
	seen := map[string]bool{}
	var out []*harness.Profile
	for _, spec := range specs {
		name, tmpl := harness.CmdName, spec
		if m := cmdName.FindStringSubmatch(spec); m != nil {
			name, tmpl = m[1], m[2]
		}
		if seen[name] {
			if name == harness.CmdName {
				return nil, usageErr("--cmd given twice without a name; name each: --cmd NAME='TEMPLATE'")
			}
			return nil, usageErr("--cmd %s: the name is given twice", name)
		}
		seen[name] = true
		if _, err := harness.Lookup(name, nil); err == nil {
			return nil, usageErr("--cmd %s: %s is a built-in profile; give the command another name", name, name)
		}
		p, err := harness.CmdProfile(name, tmpl, workdir)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// cmdHelp documents --cmd and its placeholders in check's and bench's help.
func cmdHelp() string {
	return `Ad-hoc servers: --cmd 'TEMPLATE', or several named ones: --cmd NAME='TEMPLATE'
(repeatable), e.g. --cmd g22='{pybin}/gunicorn -k gthread -b {bind} {app}'. The
template is split like a shell splits it (no expansion); each one reports
the version its "EXE --version" (or, for "{python} -m MOD", MOD's package)
says. Placeholders:` + placeholderHelp()
}
