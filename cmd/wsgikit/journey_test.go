package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
	"github.com/wsgikit/wsgikit/reports"
)

// The journeys of issue #16, end to end: a user's own Flask or Django
// project, written by the test, benchmarked on three servers, and their own
// environment's servers checked.

// userProject writes files (path → content) under a fresh directory and
// returns it.
func userProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// flaskProject is a small Flask project: a package with the app, a JSON
// route, and a greeting its environment can change.
var flaskProject = map[string]string{
	"shop/__init__.py": "",
	"shop/app.py": `import os
from flask import Flask, jsonify

app = Flask(__name__)
GREETING = os.environ.get("SHOP_GREETING", "hello")


@app.get("/")
def index():
    return GREETING


@app.get("/api/items")
def items():
    return jsonify(items=[{"id": i, "name": "item %d" % i} for i in range(3)])
`,
}

// djangoProject is what `django-admin startproject mysite` and one view
// make, trimmed to what serving needs (no database): ALLOWED_HOSTS comes
// from the environment, as deployments often do.
var djangoProject = map[string]string{
	"manage.py": `#!/usr/bin/env python
import os, sys
if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
`,
	"mysite/__init__.py": "",
	"mysite/settings.py": `import os
SECRET_KEY = "journey-test-not-secret"
DEBUG = False
ALLOWED_HOSTS = os.environ.get("MYSITE_HOSTS", "127.0.0.1,localhost").split(",")
ROOT_URLCONF = "mysite.urls"
INSTALLED_APPS = ["django.contrib.contenttypes"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES = {}
USE_TZ = True
`,
	"mysite/urls.py": `from django.http import JsonResponse
from django.urls import path


def items(request):
    return JsonResponse({"items": [{"id": i} for i in range(3)]})


urlpatterns = [path("api/items", items)]
`,
	"mysite/wsgi.py": `import os
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
application = get_wsgi_application()
`,
}

// requireJourney fails (or skips) unless the servers and frameworks of the
// journeys are installed for the interpreter the tests run servers on.
func requireJourney(t *testing.T, servers ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: starts servers")
	}
	for _, s := range servers {
		requireProfile(t, s)
	}
	if out, err := exec.Command(harness.Python(), "-c", "import flask, django").CombinedOutput(); err != nil {
		testenv.Missing(t, "%s cannot import flask and django: %s; run make setup", harness.Python(), out)
	}
}

// readBench reads dir/bench.json.
func readBench(t *testing.T, dir string) *reports.Bench {
	t.Helper()
	var b reports.Bench
	readJSON(t, filepath.Join(dir, "bench.json"), &b)
	return &b
}

// assertSameWork checks bench.json: the servers named, each having answered
// every path alike (one digest per target) and measured with requests.
func assertSameWork(t *testing.T, b *reports.Bench, servers, paths []string) {
	t.Helper()
	if len(b.Servers) != len(servers) || len(b.Different) != 0 {
		t.Fatalf("servers %+v, different %q; want %v doing the same work", b.Servers, b.Different, servers)
	}
	digests := map[string]string{}
	for _, s := range b.Servers {
		if len(s.Targets) != len(paths) {
			t.Fatalf("%s answered %+v; want one target per path %v", s.Name, s.Targets, paths)
		}
		for _, tg := range s.Targets {
			if tg.Status != 200 || tg.Digest == "" {
				t.Errorf("%s: %+v", s.Name, tg)
			}
			if d, ok := digests[tg.Path]; ok && d != tg.Digest {
				t.Errorf("%s %s: digest %s, another server's %s", s.Name, tg.Path, tg.Digest, d)
			}
			digests[tg.Path] = tg.Digest
		}
	}
	measured := map[string]bool{}
	for _, r := range b.Runs {
		if r.Failed == "" && r.Requests > 0 && r.StatusCounts["200"] == r.Requests {
			measured[r.Server+" "+r.Scenario] = true
		}
	}
	for _, s := range servers {
		for _, p := range paths {
			if !measured[s+" "+p] {
				t.Errorf("%s %s: no run with every request answered 200: %+v", s, p, b.Runs)
			}
		}
	}
}

// TestJourneyBenchFlask: `bench --app` on a Flask project on three servers
// compares the same work; a server whose environment changes the page is
// refused (exit 2) until --allow-different.
func TestJourneyBenchFlask(t *testing.T) {
	servers := []string{"wsgikit", "gunicorn-gthread", "uwsgi"}
	requireJourney(t, servers...)
	proj, out := userProject(t, flaskProject), t.TempDir()
	short := []string{"-d", "1s", "--rounds", "1", "--warmup", "0.5s", "-c", "4", "--progress", "plain"}
	args := append([]string{"bench", "--app", "shop.app:app", "--chdir", proj, "--server", strings.Join(servers, ","),
		"--path", "/", "--path", "/api/items", "-o", out}, short...)
	log, err := runWsgikit(args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	assertSameWork(t, readBench(t, out), servers, []string{"/", "/api/items"})
	for _, want := range []string{"same work: 3 server(s) answer each of 2 target(s) alike", "wrote " + filepath.Join(out, "bench.json"), filepath.Join(out, "index.html")} {
		if !strings.Contains(log, want) {
			t.Errorf("output lacks %q:\n%s", want, log)
		}
	}

	// The same project, but one server's environment greets in French.
	fr := "fr=env SHOP_GREETING=bonjour {python} -m gunicorn -b {bind} {app}"
	args = append([]string{"bench", "--app", "shop.app:app", "--chdir", proj, "--server", "wsgikit", "--cmd", fr,
		"--path", "/", "--path", "/api/items", "-o", out}, short...)
	log, err = runWsgikit(args...)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "do not do the same work") || !strings.Contains(log, "DIFFERENT WORK") {
		t.Fatalf("different pages: exit %d (%v), want 2 and the difference:\n%s", exitCode(err), err, log)
	}
	b := readBench(t, out)
	if len(b.Runs) != 0 || len(b.Different) != 1 || !strings.HasPrefix(b.Different[0], "GET /: ") {
		t.Fatalf("refused bench.json: %d runs, different %q; want no run and GET / named", len(b.Runs), b.Different)
	}
	log, err = runWsgikit(append(args, "--allow-different", "-d", "300ms", "--warmup", "0s")...)
	if err != nil || len(readBench(t, out).Runs) != 4 {
		t.Fatalf("--allow-different: %v\n%s", err, log)
	}
}

// TestJourneyBenchDjango: the same journey with a Django project; a server
// started with the wrong ALLOWED_HOSTS answers 400 and is refused, with
// what each server answered.
func TestJourneyBenchDjango(t *testing.T) {
	servers := []string{"wsgikit", "gunicorn-gthread", "uwsgi"}
	requireJourney(t, servers...)
	proj, out := userProject(t, djangoProject), t.TempDir()
	short := []string{"-d", "1s", "--rounds", "1", "--warmup", "0.5s", "-c", "4", "--progress", "plain", "-o", out}
	log, err := runWsgikit(append([]string{"bench", "--app", "mysite.wsgi:application", "--chdir", proj,
		"--server", strings.Join(servers, ","), "--path", "/api/items"}, short...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	assertSameWork(t, readBench(t, out), servers, []string{"/api/items"})

	misconfigured := "wrong-host=env MYSITE_HOSTS=example.com {python} -m gunicorn -b {bind} {app}"
	log, err = runWsgikit(append([]string{"bench", "--app", "mysite.wsgi:application", "--chdir", proj,
		"--server", "wsgikit", "--cmd", misconfigured, "--path", "/api/items"}, short...)...)
	if exitCode(err) != 2 || !strings.Contains(log, "wrong-host 400 ") || !strings.Contains(log, "wsgikit 200 ") {
		t.Fatalf("a 400 on one server: exit %d (%v), want 2 with both answers:\n%s", exitCode(err), err, log)
	}
}

// TestJourneyCheckYourVenv: check --virtualenv runs the peers installed in
// that venv, whatever WSGIKIT_PYTHON says; named --cmd servers report
// their versions, and one that cannot start shows its own output.
func TestJourneyCheckYourVenv(t *testing.T) {
	requireJourney(t, "gunicorn-gthread")
	venv := filepath.Dir(filepath.Dir(harness.Python()))
	if _, err := os.Stat(filepath.Join(venv, "pyvenv.cfg")); err != nil {
		testenv.Missing(t, "%s is not in a venv: run make setup", harness.Python())
	}
	want, err := exec.Command(filepath.Join(venv, "bin", "python"), "-c", "import importlib.metadata as m; print(m.version('gunicorn'))").Output()
	if err != nil {
		t.Fatal(err)
	}
	// Another interpreter by default (Debian's, whose gunicorn, if any, is
	// another version): --virtualenv must win over it.
	t.Setenv("WSGIKIT_PYTHON", harness.DefaultPython)
	out := t.TempDir()
	spec := "pep3333/environ/script-name-root"
	log, err := runWsgikit("check", "--virtualenv", venv, "--server", "gunicorn-gthread", "--focus", spec, "-o", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	var c reports.Check
	readJSON(t, filepath.Join(out, "check.json"), &c)
	if len(c.Servers) != 1 || c.Servers[0].Version != strings.TrimSpace(string(want)) {
		t.Fatalf("check.json servers %+v; want gunicorn-gthread %s, the venv's", c.Servers, want)
	}
	for _, f := range []string{"check.json", "check.md", "index.html", "summary.md", "junit-gunicorn-gthread.xml"} {
		if !strings.Contains(log, filepath.Join(out, f)) {
			t.Errorf("the wrote line does not name %s:\n%s", f, log)
		}
	}

	log, err = runWsgikit("check", "--virtualenv", venv, "--focus", spec, "-o", out,
		"--cmd", "mine={python} -m gunicorn -k gthread -b {bind} {app}",
		"--cmd", "broken=sh -c 'echo booting; echo ImportError: no module named shop >&2; exit 3' {port} {app}")
	if exitCode(err) != 2 {
		t.Fatalf("a server that cannot start: exit %d (%v), want 2:\n%s", exitCode(err), err, log)
	}
	for _, want := range []string{"check: mine " + strings.TrimSpace(string(want)) + ": 1 PASS", "check: broken could not run: ",
		"  | booting", "  | ImportError: no module named shop"} {
		if !strings.Contains(log, want) {
			t.Errorf("output lacks %q:\n%s", want, log)
		}
	}
}

// TestCheckChdirRunsCmdInProject: check --chdir runs the --cmd commands in
// the user's project (where their relative paths point), and the probe app
// still imports there.
func TestCheckChdirRunsCmdInProject(t *testing.T) {
	requireJourney(t, "gunicorn-gthread")
	proj := userProject(t, map[string]string{"deploy/gunicorn.conf.py": "workers = 1\n"})
	cmd := "mine={python} -m gunicorn -c deploy/gunicorn.conf.py -b {bind} {app}"
	spec := "pep3333/environ/script-name-root"
	if _, err := runWsgikit("check", "-q", "--cmd", cmd, "--focus", spec, "-o", t.TempDir()); exitCode(err) != 2 {
		t.Fatalf("the config file is not next to the probe app: exit %d (%v), want 2", exitCode(err), err)
	}
	log, err := runWsgikit("check", "--chdir", proj, "--cmd", cmd, "--focus", spec, "-o", t.TempDir())
	if err != nil || !strings.Contains(log, ": 1 PASS") {
		t.Fatalf("--chdir %s: %v\n%s", proj, err, log)
	}
}
