package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
)

// TestBenchOverTLS drives wsgikit and Granian started with TLS over
// https://, on kept-alive connections and with a new connection (a
// handshake) per request: every request is answered, and the new
// connections are as many as the requests. The settings say so.
func TestBenchOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real servers")
	}
	servers := installed(t, "wsgikit", "granian")
	start := func(ctx context.Context, server string, app harness.App) (harness.Server, string, error) {
		p, err := harness.Lookup(server, nil)
		if err != nil {
			return nil, "", err
		}
		inst, err := harness.Start(ctx, p, app, harness.Options{Workers: 1, Threads: 4, TLS: true})
		if err != nil {
			return nil, "", err
		}
		return inst, inst.Version, nil
	}
	for _, newConn := range []bool{false, true} {
		out, err := Bench(context.Background(), Plan{Servers: servers, Scenarios: scenarios(t, "hello", "upload"),
			Mode: ModeClosed, Concurrency: []int{2}, NewConn: newConn, TLS: true, Start: start,
			Rounds: 1, Warmup: 200 * time.Millisecond, Duration: 700 * time.Millisecond, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		checkRuns(t, out, 2*len(servers))
		if !out.Settings.TLS || out.Settings.NewConn != newConn {
			t.Errorf("settings record tls %v, new_conn %v; want true, %v", out.Settings.TLS, out.Settings.NewConn, newConn)
		}
		for _, r := range out.Runs {
			if r.Engine != EngineVegeta {
				t.Errorf("%s/%s over TLS sent by %q, want vegeta's Attacker", r.Server, r.Scenario, r.Engine)
			}
			if newConn && r.ConnsOpened < r.Requests {
				t.Errorf("new-conn %s/%s: %d connections for %d requests", r.Server, r.Scenario, r.ConnsOpened, r.Requests)
			}
			if !newConn && r.ConnsOpened > 2 {
				t.Errorf("keep-alive %s/%s: %d connections at c=2", r.Server, r.Scenario, r.ConnsOpened)
			}
		}
	}
}
