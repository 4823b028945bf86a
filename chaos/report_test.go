package chaos

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/wrk"
)

func sampleReport() *Report {
	return &Report{
		Schema: Schema, Started: time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC), Client: "wrk",
		Duration: 5, FireAt: 1, Workers: 2, Threads: 4, Connections: []int{16},
		Operations: []Operation{Operations[1], Operations[5], Operations[7]},
		Servers:    []ServerInfo{{Name: "wsgikit", Version: "0.1.0"}, {Name: "gunicorn-gthread", Version: "27.0.1"}},
		Cells: []Cell{
			{Server: "wsgikit", Operation: HUP, Connections: 16, Load: wrk.Summary{Requests: 1000, Read: 13}, Errors: 13, Workers: Workers{2, 2, 2, 2}},
			{Server: "wsgikit", Operation: Timeout, Connections: 16, Load: wrk.Summary{Requests: 900, Read: 7, Status: 1}, Errors: 8,
				Probe: &Probe{Path: sleepPath, Outcome: "closed", Seconds: 2.4}, Target: &Target{PID: 7, Conns: 7}},
			{Server: "wsgikit", Operation: ReloadOnRSS, Connections: 16, Error: "start wsgikit: boom\nmore"},
			{Server: "gunicorn-gthread", Operation: HUP, Connections: 16, Load: wrk.Summary{Requests: 500}},
			{Server: "gunicorn-gthread", Operation: ReloadOnRSS, Connections: 16, Unsupported: "no | limit"},
		},
	}
}

func TestWriteMarkdownAndText(t *testing.T) {
	r := sampleReport()
	var md, txt strings.Builder
	WriteMarkdown(&md, r)
	WriteText(&txt, r)
	for _, want := range []string{
		"| hup | **13** (13 read) / 1000 | **0** / 500 |",
		"| timeout | **8** (7 read, 1 4xx/5xx) / 900; probe closed after 2.4 s; its worker held 7 other conns |  |",
		"| reload-on-rss | not measured: start wsgikit: boom | — |",
		"| wsgikit | 16 | hup | 1000 | 0 | 13 | 0 | 0 | 0 | 2→2 (+2 −2) |",
		"  - reload-on-rss: — Gunicorn has no memory limit",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md.String())
		}
	}
	for _, want := range []string{"not measured: start wsgikit: boom", "— no | limit", "probe closed after 2.4 s"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFiles(sampleReport(), dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "chaos.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || back.Schema != Schema || len(back.Cells) != 5 || back.Cells[1].Probe.Outcome != "closed" || back.Cells[0].Load.Read != 13 {
		t.Fatalf("chaos.json reads back as %+v, %v", back, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "chaos.md")); err != nil {
		t.Error(err)
	}
}
