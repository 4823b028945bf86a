package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Builtin returns the built-in profiles, fresh copies each call, in the order
// `wsgikit servers` lists them. Commands follow each server's documented CLI
// with defaults left alone, except where the harness needs otherwise (say
// why, next to the flag).
//
// The plain names run the servers installed for {python}: the peers venv
// `make setup` builds from python/peers.lock (today's releases from PyPI), or
// the user's own environment (WSGIKIT_PYTHON). "<name>@debian" runs Debian
// 12's packaged build of the same server on /usr/bin/python3, so "what changed
// since the version we run" can be asked side by side.
func Builtin() []*Profile {
	gunicorn := func(name, desc string, keepAlive bool, worker ...string) *Profile {
		cmd := []string{"{python}", "-m", "gunicorn", "-b", "{bind}", "-w", "{workers}"}
		cmd = append(cmd, worker...)
		cmd = append(cmd, "--chdir", "{appdir}", "{app}")
		mods, dists := []string{"gunicorn"}, []string{"gunicorn"}
		if strings.Contains(name, "gevent") {
			// The gevent worker's own imports (packaging, in gunicorn 27).
			mods = append(mods, "gevent", "gunicorn.workers.ggevent")
			dists = append(dists, "gevent")
		}
		return &Profile{
			Name: name, Description: desc, Package: pypiPackage(dists...),
			Command: cmd, KeepAlive: keepAlive,
			StopSignal: syscall.SIGTERM, StopGrace: 10 * time.Second,
			PyModules: mods,
		}
	}
	uwsgi := func(name, desc, socketFlag string, keepAlive bool) *Profile {
		return &Profile{
			Name: name, Description: desc, Package: pypiPackage("uwsgi"),
			// pip's uWSGI embeds the interpreter it was built by; --virtualenv
			// gives it that interpreter's environment (a venv's site-packages).
			Command: []string{"{pybin}/uwsgi", socketFlag, "{bind}", "--virtualenv", "{pyhome}",
				"--master", "--processes", "{workers}", "--threads", "{threads}",
				"--chdir", "{appdir}", "--pythonpath", "{appdir}", "--module", "{app}",
				// --need-app: without it uWSGI serves 500s when the import fails,
				// which would look "ready". --die-on-term: in 2.0 TERM means
				// "brutal reload" otherwise. --disable-logging: per-request
				// log lines fill the disk during benchmarks.
				"--need-app", "--die-on-term", "--disable-logging", "--strict"},
			KeepAlive:  keepAlive,
			StopSignal: syscall.SIGTERM, StopGrace: 10 * time.Second,
			Requires: []string{"{pybin}/uwsgi"},
			// Next to /usr/bin/python3, {pybin}/uwsgi is Debian's build (no
			// --virtualenv without its plugin): pip's must be {python}'s.
			pyDists:    []string{"uWSGI"},
			VersionCmd: []string{"{pybin}/uwsgi", "--version"}, VersionRegexp: `^\s*(\S+)`,
		}
	}
	gs := gunicorn("gunicorn-sync", "Gunicorn, sync workers (one request at a time; closes every connection)", false, "-k", "sync")
	gt := gunicorn("gunicorn-gthread", "Gunicorn, gthread workers (thread pool, keep-alive)", true, "-k", "gthread", "--threads", "{threads}")
	gg := gunicorn("gunicorn-gevent", "Gunicorn, gevent workers (greenlets, keep-alive)", true, "-k", "gevent")
	uw := uwsgi("uwsgi", "uWSGI, workers speak HTTP (--http-socket; one request per connection)", "--http-socket", false)
	uw11 := uwsgi("uwsgi-http11", "uWSGI, --http11-socket (keep-alive; one connection per thread)", "--http11-socket", true)
	waitress := &Profile{
		Name:        "waitress",
		Description: "Waitress (one process, asyncore I/O + thread pool)",
		Package:     pypiPackage("waitress"),
		Command:     []string{"{python}", "-m", "waitress", "--listen={bind}", "--threads={threads}", "{app}"},
		KeepAlive:   true,
		StopSignal:  syscall.SIGTERM, StopGrace: 10 * time.Second,
		PyModules: []string{"waitress"},
	}
	cheroot := &Profile{
		Name:        "cheroot",
		Description: "Cheroot, the CherryPy server (one process, thread pool)",
		Package:     pypiPackage("cheroot"),
		Command:     []string{"{python}", "-m", "cheroot", "--bind", "{bind}", "--threads", "{threads}", "--chdir", "{appdir}", "{app}"},
		KeepAlive:   true,
		StopSignal:  syscall.SIGTERM, StopGrace: 10 * time.Second,
		PyModules: []string{"cheroot"},
	}
	gevent := &Profile{
		Name:        "gevent",
		Description: "gevent.pywsgi.WSGIServer as documented (one process, greenlets; no TCP_NODELAY: keep-alive requests wait ~40 ms for delayed ACKs)",
		Package:     pypiPackage("gevent"),
		Command:     []string{"{python}", "{launchers}/_launch_gevent.py", "--host", "{host}", "--port", "{port}", "--chdir", "{appdir}", "{app}"},
		KeepAlive:   true,
		StopSignal:  syscall.SIGTERM, StopGrace: 10 * time.Second,
		PyModules: []string{"gevent"},
		Requires:  []string{"{launchers}/_launch_gevent.py"},
	}
	ps := []*Profile{
		{
			Name:        "wsgikit",
			Description: "the wsgikit reference server (Go HTTP/1.1 loop inside CPython workers)",
			Package:     "(built by `make build`: bin/wsgikit)",
			Command: []string{"{wsgikit}", "serve", "-b", "{bind}", "-w", "{workers}",
				"--threads", "{threads}", "--python", "{python}", "--chdir", "{appdir}", "{app}"},
			KeepAlive:  true,
			StopSignal: syscall.SIGTERM, StopGrace: 10 * time.Second,
			Requires:   []string{"{wsgikit}"},
			VersionCmd: []string{"{wsgikit}", "--version"}, VersionRegexp: `(?i)version\s+(\S+)`,
			usable: wsgikitBuildFor,
		},
		gs, gt, gg, uw, uw11,
		{
			Name: "granian",
			// One worker process whose Rust runtime does the I/O; the app runs
			// on its pool of blocking threads, which --threads sizes.
			Description: "Granian (Rust, hyper), WSGI interface: Rust I/O, the app on a pool of blocking threads",
			Package:     pypiPackage("granian"),
			Command: []string{"{python}", "-m", "granian", "--interface", "wsgi", "--host", "{host}", "--port", "{port}",
				"--workers", "{workers}", "--blocking-threads", "{threads}", "--working-dir", "{appdir}",
				// A worker still booting when TERM arrives misses its stop
				// request and Granian 2.8 waits for it forever; this documented
				// bound makes it kill such a worker (below the harness's grace).
				"--workers-kill-timeout", "5", "{app}"},
			KeepAlive:  true,
			StopSignal: syscall.SIGTERM, StopGrace: 10 * time.Second,
			PyModules: []string{"granian"},
		},
		{
			Name:        "bjoern",
			Description: "bjoern (C, libev): one process, one request at a time, keep-alive",
			Package:     pypiPackage("bjoern") + "; Debian: libev-dev to build it",
			Command:     []string{"{python}", "{launchers}/_launch_bjoern.py", "--host", "{host}", "--port", "{port}", "--chdir", "{appdir}", "{app}"},
			KeepAlive:   true,
			StopSignal:  syscall.SIGTERM, StopGrace: 5 * time.Second,
			PyModules: []string{"bjoern"},
			Requires:  []string{"{launchers}/_launch_bjoern.py"},
		},
		waitress, cheroot, gevent,
		modWSGI(false),
		{
			Name:        "wsgiref",
			Description: "the standard library's wsgiref.simple_server (HTTP/1.0, one request at a time): a baseline",
			Package:     "python3",
			Command:     []string{"{python}", "{launchers}/_launch_wsgiref.py", "--host", "{host}", "--port", "{port}", "--chdir", "{appdir}", "{app}"},
			KeepAlive:   false,
			StopSignal:  syscall.SIGTERM, StopGrace: 5 * time.Second,
			PyModules:  []string{"wsgiref"},
			Requires:   []string{"{launchers}/_launch_wsgiref.py"},
			VersionCmd: []string{"{python}", "-c", "import platform; print(platform.python_version())"},
		},
	}
	// Debian 12's builds of the same servers, on Debian's interpreter.
	uwDeb := func(p *Profile) *Profile {
		d := debian(p, "uwsgi uwsgi-plugin-python3")
		d.Command = append([]string{"uwsgi", "--plugin", "python3"}, p.Command[1:]...)
		// Debian's uWSGI loads the plugin of the system interpreter: no venv.
		for i, a := range d.Command {
			if a == "--virtualenv" {
				d.Command = append(d.Command[:i:i], d.Command[i+2:]...)
				break
			}
		}
		d.Requires = []string{"uwsgi", "/usr/lib/uwsgi/plugins/python3_plugin.so"}
		d.pyDists = nil
		d.VersionCmd = []string{"uwsgi", "--version"}
		return d
	}
	ps = append(ps,
		debian(gs, "gunicorn"), debian(gt, "gunicorn"), debian(gg, "gunicorn python3-gevent"),
		uwDeb(uw), uwDeb(uw11),
		debian(waitress, "python3-waitress"), debian(cheroot, "python3-cheroot"), debian(gevent, "python3-gevent"),
		modWSGI(true),
	)
	for _, p := range ps {
		withTLS(p)
	}
	return ps
}

// DebianSuffix names the profiles that run Debian 12's packaged build of a
// server instead of the one installed for {python}.
const DebianSuffix = "@debian"

// debian derives p's Debian-packaged twin: the same command on Debian's
// interpreter, where Debian's python3-* packages are importable.
func debian(p *Profile, pkg string) *Profile {
	d := *p
	d.Name = p.Name + DebianSuffix
	d.Description = p.Description + "; Debian 12's package"
	d.Package = pkg
	d.Python = DefaultPython
	d.Command = append([]string(nil), p.Command...)
	return &d
}

// pypiPackage is the install hint of a server from PyPI.
func pypiPackage(dists ...string) string {
	return "PyPI " + strings.Join(dists, " ") + " (make setup installs python/peers.lock into .venv/; or pip install it into WSGIKIT_PYTHON's environment)"
}

// modWSGI is Debian's Apache httpd with mod_wsgi in daemon mode, from a
// generated config in {rundir}: nothing of the system's Apache (config, pid
// file, logs, service) is read or touched. The plain profile loads the
// mod_wsgi that pip built for {python} (mod_wsgi-express module-config says
// where); mod_wsgi@debian loads Debian's libapache2-mod-wsgi-py3.
func modWSGI(deb bool) *Profile {
	p := &Profile{
		Name:        "mod_wsgi",
		Description: "Apache httpd 2.4 (mpm_event) + mod_wsgi, daemon mode (processes × threads)",
		Package:     pypiPackage("mod_wsgi") + "; Debian: apache2 apache2-dev",
		Command:     []string{"apache2", "-f", "{rundir}/httpd.conf", "-DFOREGROUND"},
		Dir:         "{rundir}",
		Files: map[string]string{
			"httpd.conf": apacheConf,
			"app.wsgi":   apacheWSGIScript,
		},
		KeepAlive:  true,
		StopSignal: syscall.SIGTERM, StopGrace: 10 * time.Second,
		Requires: []string{"apache2", "{pybin}/mod_wsgi-express",
			"/usr/lib/apache2/modules/mod_mpm_event.so", "/usr/lib/apache2/modules/mod_authz_core.so"},
		PyModules:     []string{"mod_wsgi"},
		VersionCmd:    []string{"sh", "-c", "{python} -c 'import importlib.metadata as m; print(\"mod_wsgi\", m.version(\"mod_wsgi\"))'; apache2 -v"},
		VersionRegexp: `mod_wsgi\s+([0-9][^-+\s]*)(?s:.*)(Apache/\S+)`,
		prepare:       func(vars map[string]string, env []string) error { return prepareApache(vars, env, deb) },
		usable:        apacheCanReadPython,
	}
	if deb {
		p.usable = nil // Debian's interpreter is under /usr
		p.Name += DebianSuffix
		p.Description += "; Debian 12's package"
		p.Package = "apache2 libapache2-mod-wsgi-py3"
		p.Python = DefaultPython
		p.PyModules = nil
		p.Requires = []string{"apache2", debianModWSGI,
			"/usr/lib/apache2/modules/mod_mpm_event.so", "/usr/lib/apache2/modules/mod_authz_core.so"}
		p.VersionCmd = []string{"sh", "-c", "dpkg-query -W -f 'mod_wsgi ${Version}\n' libapache2-mod-wsgi-py3; apache2 -v"}
	}
	return p
}

// debianModWSGI is libapache2-mod-wsgi-py3's module.
const debianModWSGI = "/usr/lib/apache2/modules/mod_wsgi.so"

// apacheConf is a complete, private httpd.conf. The modules needed are
// loaded by absolute path; runtime files live in {rundir}. Keep-alive
// settings are Debian's defaults (apache2.conf), the deployment users have.
const apacheConf = `# generated by wsgikit for one test instance
ServerRoot "{rundir}"
ServerName {server_name}
Listen {bind}
PidFile "{rundir}/httpd.pid"
DefaultRuntimeDir "{rundir}"
# Lock files, if the mutex mechanism needs any, go to {rundir} too (as
# Debian's apache2.conf does with its lock dir).
Mutex file:{rundir} default
ErrorLog "/dev/stderr"
LogLevel warn wsgi:info
{apache_user}
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
{wsgi_module}
{apache_tls}
StartServers 1
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
Timeout 60

WSGIRestrictEmbedded On
WSGISocketPrefix "{rundir}/wsgi"
WSGIDaemonProcess wsgikit processes={workers} threads={threads} display-name=%{GROUP} home={appdir}
WSGIProcessGroup wsgikit
WSGIApplicationGroup %{GLOBAL}
WSGIScriptAlias / "{rundir}/app.wsgi"
# Import the app when each daemon process starts, as gunicorn and uWSGI do,
# not on its first request.
WSGIImportScript "{rundir}/app.wsgi" process-group=wsgikit application-group=%{GLOBAL}

<Directory "{rundir}">
    Require all granted
</Directory>
<Directory />
    Require all denied
</Directory>
`

// apacheWSGIScript imports the app under test from its module. mod_wsgi
// does not put the web server's environment into os.environ reliably, so
// the harness's extra variables are set here.
const apacheWSGIScript = `# generated by wsgikit
import os, sys
sys.path.insert(0, {module_file})
os.environ.update({env_python})
from importlib import import_module
application = getattr(import_module({module_name}), {callable_name})
`

// prepareApache adds the variables the Apache templates need.
func prepareApache(vars map[string]string, env []string, deb bool) error {
	// Apache refuses to serve as root; its children (and mod_wsgi's daemon
	// processes) switch to User/Group, which must be able to read {appdir}
	// and {rundir}. When not root, User lines are ignored and omitted.
	if os.Geteuid() == 0 {
		vars["apache_user"] = "User www-data\nGroup www-data"
		if err := othersCanRead(vars["appdir"]); err != nil {
			return fmt.Errorf("mod_wsgi runs the app as www-data, which cannot read it: %v; move the app to a readable directory or chmod o+rx the path", err)
		}
	} else {
		vars["apache_user"] = ""
	}
	kv := make([]string, 0, len(env))
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		kv = append(kv, pyStr(k)+": "+pyStr(v))
	}
	vars["env_python"] = "{" + strings.Join(kv, ", ") + "}"
	if err := wsgiModuleConfig(vars, deb); err != nil {
		return err
	}
	if strings.ContainsAny(vars["appdir"], " \t\"'") {
		return fmt.Errorf("mod_wsgi: the app directory %q has a space or quote, which WSGIDaemonProcess home= cannot take; move the app", vars["appdir"])
	}
	// Apache 2.4.71 rejects IPv6 literals as ServerName, bracketed or not.
	vars["server_name"] = vars["host"]
	if strings.Contains(vars["host"], ":") {
		vars["server_name"] = "localhost"
	}
	vars["apache_tls"] = apacheTLS(vars)
	vars["module_file"] = pyStr(vars["appdir"])
	vars["module_name"] = pyStr(vars["module"])
	vars["callable_name"] = pyStr(vars["callable"])
	return nil
}

// othersCanRead checks that a user who is neither owner nor group member can
// traverse to dir and list it (the check Apache's www-data needs).
func othersCanRead(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o005 != 0o005 {
		return fmt.Errorf("%s is mode %v", dir, st.Mode().Perm())
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s is mode %v (no search permission for others)", d, st.Mode().Perm())
		}
		if d == "/" {
			return nil
		}
	}
}

// pyStr renders s as a Python string literal.
func pyStr(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\\' || r == '\'':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// wsgiModuleConfig sets {wsgi_module}: the LoadModule (and WSGIPythonHome)
// lines for the mod_wsgi this instance uses. pip's build says where it is
// through its documented `mod_wsgi-express module-config`.
func wsgiModuleConfig(vars map[string]string, deb bool) error {
	if deb {
		vars["wsgi_module"] = "LoadModule wsgi_module " + debianModWSGI
		return nil
	}
	out, err := run(filepath.Join(vars["pybin"], "mod_wsgi-express"), "module-config")
	if err != nil {
		return fmt.Errorf("mod_wsgi-express module-config: %v: %s", err, lastLine(out))
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "LoadModule ") || strings.HasPrefix(l, "WSGIPythonHome ") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return fmt.Errorf("mod_wsgi-express module-config printed no LoadModule line: %s", lastLine(out))
	}
	vars["wsgi_module"] = strings.Join(lines, "\n")
	return nil
}

// apacheCanReadPython: as root, mod_wsgi's daemon processes run as www-data
// and import the standard library from the interpreter's own prefix, which
// for pyenv's interpreters is under /root (mode 700).
func apacheCanReadPython(vars map[string]string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	home, err := run(vars["python"], "-c", "import sys; print(sys.base_prefix)")
	if err != nil {
		return nil // the import check before this one reports a broken interpreter
	}
	if err := othersCanRead(strings.TrimSpace(home)); err != nil {
		return fmt.Errorf("Apache runs mod_wsgi's daemons as www-data, which cannot read the interpreter's standard library: %v; use an interpreter outside /root, e.g. Debian's (mod_wsgi@debian)", err)
	}
	return nil
}

// wsgikitBuildFor asks our binary whether it has a worker extension for
// {python} (`serve --check-config` loads it, exit 4 when there is none).
func wsgikitBuildFor(vars map[string]string) error {
	out, err := run(vars["wsgikit"], "serve", "--check-config", "--python", vars["python"], "--chdir", vars["launchers"], "hello:application")
	var ee *exec.ExitError
	if err == nil || !errors.As(err, &ee) || ee.ExitCode() != 4 {
		return nil // an older binary or another failure: the run itself reports it
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "_wsgikit") {
			return fmt.Errorf("wsgikit: %w (%s)", ErrNotInstalled, strings.TrimPrefix(strings.TrimSpace(l), "wsgikit: "))
		}
	}
	return fmt.Errorf("wsgikit: %w (no worker extension for %s: make build PYTHON=%s)", ErrNotInstalled, vars["python"], vars["python"])
}
