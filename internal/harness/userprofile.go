package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/wsgikit/wsgikit/internal/textutil"
)

// profileFile is the TOML form of user profiles:
//
//	[[profile]]
//	name = "granian"
//	command = ["granian", "--interface", "wsgi", "--host", "{host}", "--port", "{port}", "{app}"]
type profileFile struct {
	Profile []tomlProfile `toml:"profile"`
}

type tomlProfile struct {
	Name          string            `toml:"name"`
	Description   string            `toml:"description"`
	Package       string            `toml:"package"`
	Command       []string          `toml:"command"`
	Env           []string          `toml:"env"`
	ReadyPath     string            `toml:"ready_path"`
	StopSignal    string            `toml:"stop_signal"`
	StopGrace     string            `toml:"stop_grace"`
	KeepAlive     bool              `toml:"keep_alive"`
	Dir           string            `toml:"dir"`
	Files         map[string]string `toml:"files"`
	Requires      []string          `toml:"requires"`
	PyModules     []string          `toml:"py_modules"`
	VersionCmd    []string          `toml:"version_cmd"`
	VersionRegexp string            `toml:"version_regexp"`
}

var tomlFields = []string{"name", "description", "package", "command", "env", "ready_path",
	"stop_signal", "stop_grace", "keep_alive", "dir", "files", "requires", "py_modules",
	"version_cmd", "version_regexp"}

// LoadProfiles reads user profiles from a TOML file ([[profile]] tables).
// Unknown fields, unknown or missing placeholders and bad values are
// errors naming the file, the profile, the field and the fix.
func LoadProfiles(path string) ([]*Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	return parseProfiles(path, string(b))
}

func parseProfiles(path, text string) ([]*Profile, error) {
	var f profileFile
	md, err := toml.Decode(text, &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, textutil.OneLine(pe.Message))
		}
		return nil, fmt.Errorf("%s: %s", path, textutil.OneLine(err.Error()))
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		if len(k) >= 1 && k[0] != "profile" {
			return nil, fmt.Errorf("%s: unknown top-level key %q; profiles go in [[profile]] tables", path, k.String())
		}
		field := k[len(k)-1]
		if len(k) > 2 && k[1] == "files" {
			field = "files." + k[2]
		}
		return nil, fmt.Errorf("%s: unknown field %q in a [[profile]]; known fields: %s", path, field, strings.Join(tomlFields, ", "))
	}
	if len(f.Profile) == 0 {
		return nil, fmt.Errorf("%s: no [[profile]] table; see `wsgikit servers --help` for the format", path)
	}
	seen := map[string]bool{}
	var out []*Profile
	for i, tp := range f.Profile {
		where := fmt.Sprintf("%s: profile #%d", path, i+1)
		if tp.Name != "" {
			where = fmt.Sprintf("%s: profile %s", path, tp.Name)
		}
		p := &Profile{
			Name: tp.Name, Description: tp.Description, Package: tp.Package,
			Command: tp.Command, Env: tp.Env, ReadyPath: tp.ReadyPath, KeepAlive: tp.KeepAlive,
			Dir: tp.Dir, Files: tp.Files, Requires: tp.Requires, PyModules: tp.PyModules,
			VersionCmd: tp.VersionCmd, VersionRegexp: tp.VersionRegexp,
		}
		if p.Description == "" {
			p.Description = "user profile from " + path
		}
		if tp.StopSignal != "" {
			sig, err := parseSignal(tp.StopSignal)
			if err != nil {
				return nil, fmt.Errorf("%s: field stop_signal: %v", where, err)
			}
			p.StopSignal = sig
		}
		if tp.StopGrace != "" {
			d, err := time.ParseDuration(tp.StopGrace)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%s: field stop_grace %q: want a positive duration like \"10s\"", where, tp.StopGrace)
			}
			p.StopGrace = d
		}
		if strings.HasPrefix(p.Name, NginxPrefix) {
			return nil, fmt.Errorf("%s: field name must not start with %q; that prefix is how any profile is put behind nginx", where, NginxPrefix)
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("%s: field name %q is used twice; names must be unique", where, p.Name)
		}
		seen[p.Name] = true
		out = append(out, p)
	}
	return out, nil
}

var signalNames = map[string]syscall.Signal{
	"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL,
	"HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "WINCH": syscall.SIGWINCH,
	"ABRT": syscall.SIGABRT,
}

func parseSignal(s string) (syscall.Signal, error) {
	u := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "SIG")
	if sig, ok := signalNames[u]; ok {
		return sig, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	names := make([]string, 0, len(signalNames))
	for n := range signalNames {
		names = append(names, "SIG"+n)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("unknown signal %q; use one of %s", s, strings.Join(names, ", "))
}

// CmdName is the profile name of an ad-hoc command given without one.
const CmdName = "cmd"

// FromCmd makes the profile of an unnamed ad-hoc command (--cmd TEMPLATE):
// CmdProfile(CmdName, template, "").
func FromCmd(template string) (*Profile, error) { return CmdProfile(CmdName, template, "") }

// CmdProfile makes a profile from an ad-hoc command template (--cmd
// [NAME=]TEMPLATE), split like a shell would split it (quotes and
// backslashes; no expansion). It is stopped with SIGTERM and assumed to keep
// connections alive (nothing says otherwise; the conformance suite measures
// it). Its version is what the command reports (see cmdVersion). workdir,
// when not empty, is where the command runs instead of {appdir}; {appdir}
// then goes first on PYTHONPATH, so the app under test still imports.
func CmdProfile(name, template, workdir string) (*Profile, error) {
	prefix := "--cmd"
	if name != CmdName {
		prefix += " " + name
	}
	argv, err := splitCommand(template)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	p := &Profile{
		Name:        name,
		Description: "ad-hoc command: " + template,
		Command:     argv,
		KeepAlive:   true,
		StopSignal:  syscall.SIGTERM,
		StopGrace:   10 * time.Second,
	}
	if len(argv) > 0 && detectable(argv[0]) {
		p.Requires = []string{argv[0]}
	}
	cmdVersion(p)
	if workdir != "" {
		p.Dir = workdir
		pp := "PYTHONPATH={appdir}"
		if cur := os.Getenv("PYTHONPATH"); cur != "" {
			pp += ":" + cur
		}
		p.Env = append(p.Env, pp)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %s", prefix, strings.Replace(err.Error(), "profile "+name+": field command", "the template", 1))
	}
	return p, nil
}

// cmdVersion says how an ad-hoc command's version is read, where a guess
// is safe: "{python} -m MOD …" is MOD's package (which must then import
// under {python}); a server's own executable is asked "EXE --version". A
// script, a shell or an interpreter run some other way is never run to ask
// (it could start serving): its version stays "unknown".
func cmdVersion(p *Profile) {
	argv := p.Command
	if len(argv) >= 3 && argv[0] == "{python}" && argv[1] == "-m" && !strings.Contains(argv[2], "{") {
		p.PyModules = []string{strings.SplitN(argv[2], ".", 2)[0]}
		return
	}
	exe := argv[0]
	base := filepath.Base(exe)
	if dir, ok := strings.CutSuffix(exe, "/"+base); ok && dir != "{pybin}" && strings.Contains(dir, "{") {
		return
	}
	if strings.Contains(base, "{") || notServerExe.MatchString(base) {
		return
	}
	p.VersionCmd = []string{exe, "--version"}
	p.VersionRegexp = `(\d+\.\d+[0-9A-Za-z.+-]*)`
	p.versionOptional = true
}

// detectable reports whether s can be checked before an instance exists:
// it uses no placeholder but {python}, {pybin}, {pyhome}, {wsgikit} and
// {launchers}.
func detectable(s string) bool {
	for _, n := range placeholdersIn(s) {
		if !detectionVars[n] {
			return false
		}
	}
	return true
}

// notServerExe are executables that run something else: asking them for a
// version says nothing about the server (and running a script to ask could
// start it).
var notServerExe = regexp.MustCompile(`^(python[0-9.]*|pypy[0-9.]*|sh|bash|dash|zsh|env|exec|nice|taskset|timeout|sudo|setsid|stdbuf|xargs|node|perl|ruby)$`)

func splitCommand(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\' && quote != '\'':
			esc = true
			inWord = true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote = r
			inWord = true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if esc {
		return nil, errors.New("trailing backslash")
	}
	if inWord {
		out = append(out, cur.String())
	}
	if len(out) == 0 {
		return nil, errors.New("empty command template")
	}
	return out, nil
}
