package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/wsgikit/wsgikit/server/master"
)

// TestServeRefusesWithReason: flags without a meaning here, and inputs that
// cannot work, stop `serve` before any worker starts, with exit 2 and a
// line naming the alternative.
func TestServeRefusesWithReason(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	os.WriteFile(conf, []byte("import multiprocessing\nbind = '0.0.0.0:8000'\nworkers = multiprocessing.cpu_count() * 2 + 1\n"+
		"keepalive = 5  # seconds\npreload_app = True\nsecure_scheme_headers = {}\n"), 0o644)
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"-k", "gevent"}, []string{"-k/--worker-class gevent", "--threads N"}},
		{[]string{"--worker-class", "uvicorn.workers.UvicornWorker"}, []string{"no worker classes"}},
		{[]string{"--statsd-host", "localhost:8125"}, []string{"--metrics-bind"}},
		{[]string{"--access-logfile", "/nonexistent/dir/access.log"}, []string{"--access-logfile", "no such file or directory"}},
		{[]string{"--log-file", "/tmp/a.log", "--error-logfile", "/tmp/b.log"}, []string{"give one"}},
		{[]string{"-e", "NOEQUALS"}, []string{"want KEY=VALUE"}},
		{[]string{"-c", conf}, []string{"is Python (Gunicorn's format)", `bind = "0.0.0.0:8000"`,
			"workers = multiprocessing.cpu_count() * 2 + 1", `"keep-alive" = 5`, "preload = true",
			"no wsgikit equivalent: secure_scheme_headers"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, err := runWsgikit(append(append([]string{"serve"}, c.args...), "hello:application")...)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 2 {
				t.Fatalf("want exit 2, got %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestGunicornFlagsApply: the accepted Gunicorn flags set what they mean,
// and wsgikit's own flag wins over its Gunicorn alias.
func TestGunicornFlagsApply(t *testing.T) {
	parse := func(args ...string) (*pflag.FlagSet, *gunicornCompat, *master.Config) {
		var g gunicornCompat
		cfg := &master.Config{Threads: 4}
		f := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		f.IntVar(&cfg.MaxConnections, "max-connections", 0, "")
		f.String("error-logfile", "-", "")
		g.register(f)
		if err := f.Parse(args); err != nil {
			t.Fatal(err)
		}
		return f, &g, cfg
	}
	f, g, cfg := parse("-k", "sync", "--worker-connections", "20", "--log-file", "/tmp/e.log", "-e", "WK_A=1=2", "--capture-output")
	errorLog := "-"
	notes, err := g.apply(f, cfg, &errorLog)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "-k sync") || !strings.Contains(notes[0], "(4 here)") {
		t.Errorf("notes %q", notes)
	}
	if cfg.MaxConnections != 20 || errorLog != "/tmp/e.log" || !cfg.CaptureOutput || os.Getenv("WK_A") != "1=2" {
		t.Errorf("max-connections %d, error log %q, capture %v, WK_A %q", cfg.MaxConnections, errorLog, cfg.CaptureOutput, os.Getenv("WK_A"))
	}
	os.Unsetenv("WK_A")
	f, g, cfg = parse("--worker-connections", "20", "--max-connections", "7")
	if _, err := g.apply(f, cfg, &errorLog); err != nil || cfg.MaxConnections != 7 {
		t.Errorf("--max-connections 7 with --worker-connections 20: %d, %v", cfg.MaxConnections, err)
	}
	f, g, cfg = parse("--ssl-version", "TLSv1_2", "--do-handshake-on-connect", "--suppress-ragged-eofs")
	cfg.TLS.Ciphers = "ECDHE+AESGCM:DHE-RSA-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256"
	notes, err = g.apply(f, cfg, &errorLog)
	if err != nil || len(notes) != 3 || !strings.Contains(notes[0], "--ssl-version TLSv1_2: ignored") ||
		!strings.Contains(notes[1], "--do-handshake-on-connect") || !strings.HasSuffix(notes[2], ": DHE-RSA-AES128-GCM-SHA256") {
		t.Errorf("TLS notes %q (%v)", notes, err)
	}
}

func TestUnknownEnvWarns(t *testing.T) {
	f := newServeCmd().Flags()
	got := unknownEnv(f, []string{"WSGIKIT_WORKES=3", "WSGIKIT_WORKERS=2", "WSGIKIT_KEEP_ALIVE=1", "WSGIKIT_BIN=/x",
		"WSGIKIT_LIMIT_REQUEST_FIELD_SIZE=10", "WSGIKIT_ZZZZZZZZZZ=1", "PATH=/bin"})
	want := []string{
		"warning: WSGIKIT_WORKES is not a wsgikit setting; ignored (did you mean WSGIKIT_WORKERS?)",
		"warning: WSGIKIT_ZZZZZZZZZZ is not a wsgikit setting; ignored",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMetricsBindBarePort(t *testing.T) {
	for in, want := range map[string]string{"9100": "127.0.0.1:9100", "0.0.0.0:9100": "0.0.0.0:9100", "": "", "[::1]:9": "[::1]:9"} {
		if got := defaultHost(in); got != want {
			t.Errorf("defaultHost(%q) = %q, want %q", in, got, want)
		}
	}
}
