package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgikit/wsgikit/reports"
)

func TestAgentAndMergeUsageErrors(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "bench.json")
	b, _ := json.Marshal(reports.Bench{Schema: reports.BenchSchema, Settings: &reports.BenchSettings{}})
	if err := os.WriteFile(plain, b, 0o644); err != nil {
		t.Fatal(err)
	}
	url := "--url=app=http://127.0.0.1:1"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bench", url, "--agent", "a1", "--start-at", "tomorrow", "-o", t.TempDir()}, "--start-at \"tomorrow\""},
		{[]string{"bench", url, "--agent", "a1", "-o", t.TempDir()}, "needs --start-at"},
		{[]string{"bench", url, "--start-at", "2099-01-01T00:00:00Z"}, "give --agent ID too"},
		{[]string{"bench", url, "--agent", "a1", "--start-at", "2001-01-01T00:00:00Z", "-o", t.TempDir()}, "passed"},
		{[]string{"bench", url, "--cmd", "sh -c true --port {port} {app}", "--agent", "a1", "--start-at", "2099-01-01T00:00:00Z", "-o", t.TempDir()}, "--url NAME=URL only"},
		{[]string{"bench", "merge", t.TempDir()}, "-o DIR"},
		{[]string{"bench", "merge", plain, "-o", t.TempDir()}, "not an agent's part"},
		{[]string{"bench", "merge", filepath.Join(t.TempDir(), "none"), "-o", t.TempDir()}, "no such file"},
	}
	for _, tc := range tests {
		_, err := runWsgikit(tc.args...)
		var ee *exitError
		if err == nil || !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want exit 2 with %q", tc.args, err, tc.want)
		}
	}
}
