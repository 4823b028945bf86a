package main

import (
	"strings"
	"testing"
)

func TestChaosUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"chaos", "--server", "gunicorn-gthred"}, "did you mean gunicorn-gthread"},
		{[]string{"chaos", "--server", "waitress"}, `chaos knows no operations of server "waitress"; it runs`},
		{[]string{"chaos", "--op", "hupp"}, `unknown operation "hupp" (did you mean hup?)`},
		{[]string{"chaos", "-d", "2s"}, "at least 4s"},
		{[]string{"chaos", "--connections", "0"}, "--connections 0"},
		{[]string{"chaos", "--wrk", "/nonexistent/wrk"}, "apt-get install wrk"},
		{[]string{"chaos", "extra"}, "unknown command"},
	} {
		_, err := runWsgikit(tc.args...)
		if exitCode(err) != 2 || err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: exit %d, err %v; want 2 and one line with %q", tc.args, exitCode(err), err, tc.want)
		}
	}
}
