package chaos

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
	"github.com/wsgikit/wsgikit/internal/wrk"
)

// TestOperationTable: every server says, for every operation, how it does it
// or why it cannot; a method does one thing at the fire time at most.
func TestOperationTable(t *testing.T) {
	for name, s := range Servers {
		if _, err := harness.Lookup(name, nil); err != nil {
			t.Errorf("%s is not a harness profile: %v", name, err)
		}
		if len(s.Args) > 0 && s.ArgsWhy == "" {
			t.Errorf("%s: flags %v without a reason", name, s.Args)
		}
		for _, op := range OperationNames() {
			m, ok := s.Ops[op]
			switch {
			case !ok:
				t.Errorf("%s: no entry for %s", name, op)
			case m.Unsupported != "":
				if m.How != "" || m.Args != nil || m.Signal != 0 || m.Request != "" {
					t.Errorf("%s %s: unsupported, yet it does something: %+v", name, op, m)
				}
			case m.How == "":
				t.Errorf("%s %s: no How", name, op)
			case m.Signal != 0 && m.Request != "":
				t.Errorf("%s %s: both a signal and a request", name, op)
			case m.Signal != 0 && m.To != Master && m.To != Worker:
				t.Errorf("%s %s: signal %v to %q", name, op, m.Signal, m.To)
			}
		}
		if len(s.Ops) != len(Operations) {
			t.Errorf("%s: %d entries for %d operations", name, len(s.Ops), len(Operations))
		}
	}
	for _, tc := range []struct {
		server, op string
		signal     syscall.Signal
		to         Recipient
		args       string
		request    string
		none       bool
	}{
		{"wsgikit", HUP, syscall.SIGHUP, Master, "", "", false},
		{"wsgikit", StopWorker, syscall.SIGTERM, Worker, "", "", false},
		{"wsgikit", Timeout, 0, "", "--timeout 2", sleepPath, false},
		{"wsgikit", ReloadOnRSS, 0, "", "--reload-on-rss 64", growPath, false},
		{"gunicorn-gthread", MaxRequests, 0, "", "--max-requests 2000 --max-requests-jitter 200", "", false},
		{"gunicorn-gthread", TTOU, syscall.SIGTTOU, Master, "", "", false},
		{"gunicorn-gthread", ReloadOnRSS, 0, "", "", "", true},
		{"uwsgi", Timeout, 0, "", "--harakiri 2", sleepPath, false},
		{"uwsgi", StopWorker, syscall.SIGHUP, Worker, "", "", false},
		{"uwsgi", KillWorker, syscall.SIGKILL, Worker, "", "", false},
		{"uwsgi", TTIN, 0, "", "", "", true},
	} {
		m, err := Lookup(tc.server, tc.op)
		if err != nil {
			t.Fatal(err)
		}
		if (m.Unsupported != "") != tc.none || m.Signal != tc.signal || m.To != tc.to || strings.Join(m.Args, " ") != tc.args || m.Request != tc.request {
			t.Errorf("%s %s: %+v", tc.server, tc.op, m)
		}
	}
	if !slices.Equal(Servers["uwsgi"].Args, []string{"--add-header", "Connection: close"}) || Servers["uwsgi-http11"].Args != nil {
		t.Errorf("uwsgi's flags: %v / %v", Servers["uwsgi"].Args, Servers["uwsgi-http11"].Args)
	}
	if SleepMS <= TimeoutSeconds*1000 || GrowMB <= RSSLimitMB {
		t.Error("the probes must cross the limits they test")
	}
}

func TestLookupErrors(t *testing.T) {
	for _, tc := range []struct {
		server, op, want string
	}{
		{"waitress", HUP, `chaos knows no operations of server "waitress"`},
		{"wsgikit", "hupp", `unknown operation "hupp" (did you mean hup?)`},
		{"wsgikit", "zzzzzzzzzz", `unknown operation "zzzzzzzzzz"; known: baseline, hup,`},
	} {
		if _, err := Lookup(tc.server, tc.op); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Lookup(%s, %s): %v, want %q", tc.server, tc.op, err, tc.want)
		}
	}
}

func TestPlanValidate(t *testing.T) {
	// The defaults are valid only where wrk is installed.
	if _, err := wrk.Lookup(""); err != nil {
		testenv.Missing(t, "%v", err)
	}
	for _, tc := range []struct {
		name string
		plan Plan
		want string
	}{
		{"defaults", Plan{}, ""},
		{"unknown server", Plan{Servers: []string{"bjoern"}}, `server "bjoern"`},
		{"unknown op", Plan{Operations: []string{"ttin", "kill"}}, `unknown operation "kill"`},
		{"no connections", Plan{Connections: []int{0}}, "--connections 0"},
		{"short", Plan{Duration: 3 * time.Second}, "at least 4s"},
		{"fractional", Plan{Duration: 4500 * time.Millisecond}, "whole seconds"},
		{"fire too late", Plan{Duration: 5 * time.Second, FireAt: 3 * time.Second}, "--fire-at"},
		{"one worker", Plan{Workers: 1}, "2 or more workers"},
		{"no wrk", Plan{WrkPath: "/nonexistent/wrk"}, "apt-get install wrk"},
	} {
		err := tc.plan.Validate()
		if tc.want == "" && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
