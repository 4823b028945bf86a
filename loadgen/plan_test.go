package loadgen

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
)

// TestPlanValidate: every setting a bench can get wrong is refused by
// Validate in one line that names the flag to fix, and the defaults follow
// the mode.
func TestPlanValidate(t *testing.T) {
	post := &Scenario{Name: "post", App: "bench", Requests: []Request{{Method: "POST", Path: "/upload", Body: []byte("x")}}}
	hello := scenarios(t, "hello")
	valid := func(edit func(*Plan)) Plan {
		p := Plan{Servers: []string{"s"}, Scenarios: hello, Rounds: 1, Duration: time.Second,
			Start: func(context.Context, string, harness.App) (harness.Server, string, error) { panic("not started") }}
		edit(&p)
		return p
	}
	tests := []struct {
		name string
		edit func(*Plan)
		want string // error substring; "" for valid
		mode string
		conc []int
	}{
		{"defaults", func(p *Plan) {}, "", ModeClosed, []int{32}},
		{"rate picks open", func(p *Plan) { p.Rate = 100 }, "", ModeOpen, []int{256}},
		{"slo picks capacity", func(p *Plan) { p.SLO = SLO{99, time.Millisecond} }, "", ModeCapacity, []int{256}},
		{"list picks sweep", func(p *Plan) { p.Concurrency = []int{1, 8} }, "", ModeSweep, []int{1, 8}},
		{"no rounds", func(p *Plan) { p.Rounds = 0 }, "--rounds", "", nil},
		{"no duration", func(p *Plan) { p.Duration = 0 }, "--duration", "", nil},
		{"long warm-up", func(p *Plan) { p.Warmup = 2 * time.Hour }, "--warmup", "", nil},
		{"concurrency", func(p *Plan) { p.Concurrency = []int{0} }, "-c 0", "", nil},
		{"list without sweep", func(p *Plan) { p.Mode, p.Concurrency = ModeClosed, []int{1, 2} }, "only for a sweep", "", nil},
		{"open without rate", func(p *Plan) { p.Mode = ModeOpen }, "needs --rate", "", nil},
		{"capacity without slo", func(p *Plan) { p.Mode = ModeCapacity }, "needs --slo", "", nil},
		{"unknown mode", func(p *Plan) { p.Mode = "burst" }, "--mode", "", nil},
		{"unknown transport", func(p *Plan) { p.Transport = "curl" }, "--transport", "", nil},
		{"unknown cross-check", func(p *Plan) { p.CrossCheck = "ab" }, "--cross-check", "", nil},
		{"wrk open", func(p *Plan) { p.Transport, p.Rate = TransportWrk, 10 }, "closed model only", "", nil},
		{"wrk post", func(p *Plan) { p.Transport, p.Scenarios = TransportWrk, []*Scenario{post} }, "plain GET", "", nil},
		{"wrk twice", func(p *Plan) { p.Transport, p.CrossCheck = TransportWrk, "wrk" }, "itself", "", nil},
		{"wrk", func(p *Plan) { p.Transport = TransportWrk }, "", ModeClosed, []int{32}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := valid(tc.edit)
			if _, err := exec.LookPath("wrk"); err != nil && tc.name == "wrk" {
				testenv.Missing(t, "wrk not installed: apt-get install wrk (make setup)")
			}
			err := p.Validate()
			if tc.want == "" {
				if err != nil || p.Mode != tc.mode || len(p.Concurrency) != len(tc.conc) || p.Concurrency[0] != tc.conc[0] {
					t.Fatalf("err %v, mode %q, concurrency %v; want mode %q, concurrency %v", err, p.Mode, p.Concurrency, tc.mode, tc.conc)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %v, want one line with %q", err, tc.want)
			}
		})
	}
}
