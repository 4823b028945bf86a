package chaos

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
	"github.com/wsgikit/wsgikit/internal/wrk"
)

// TestRunHUPCell runs one real cell: wsgikit reloaded with HUP under wrk's
// load on 16 connections. It asserts that the cell measured (responses
// counted, errors taken from wrk) and that the reload happened (new workers
// seen); not how many errors there were: that is the benchmark's result.
func TestRunHUPCell(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a server and wrk")
	}
	if _, err := wrk.Lookup(""); err != nil {
		testenv.Missing(t, "%v", err)
	}
	p, err := harness.Lookup("wsgikit", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Version(); errors.Is(err, harness.ErrNotInstalled) {
		testenv.Missing(t, "%v (make build; WSGIKIT_BIN=$PWD/bin/wsgikit)", err)
	}
	var progressed []Cell
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := Run(ctx, Plan{Servers: []string{"wsgikit"}, Operations: []string{HUP}, Connections: []int{16},
		Duration: MinDuration, LogDir: t.TempDir(), Progress: func(c Cell) { progressed = append(progressed, c) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Cells) != 1 || len(progressed) != 1 || r.Schema != Schema || len(r.Servers) != 1 || r.Servers[0].Version == "" {
		t.Fatalf("report %+v", r)
	}
	c := r.Cells[0]
	if !c.Ran() {
		t.Fatalf("cell not measured: %s %v", c.Error, c.Notes)
	}
	if c.Load.Requests == 0 || c.Load.Seconds <= 0 || c.Errors != c.Load.Errors() {
		t.Errorf("load %+v, errors %d", c.Load, c.Errors)
	}
	if c.Workers.Before != 2 || c.Workers.Started < 1 {
		t.Errorf("workers %v: HUP started no new worker", c.Workers)
	}
	if c.ServerLog == "" || c.How != "HUP to the master" {
		t.Errorf("cell %+v", c)
	}
	t.Logf("wsgikit HUP at 16 connections: %d errors (%s) in %d responses; workers %v", c.Errors, errorKinds(c.Load), c.Load.Requests, c.Workers)
}
