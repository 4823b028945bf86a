package loadgen

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wsgikit/wsgikit/internal/textutil"
)

var wrkRPS = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// crossCheckWrk runs wrk (Debian's, one thread, same connections, at most
// 10 s) against the server, so our throughput can be read next to a
// well-known client's. Only GET scenarios without a body: wrk needs a Lua
// script for anything else.
func (p *Plan) crossCheckWrk(ctx context.Context, base string, sc *Scenario, conc int) CrossCheck {
	var cc CrossCheck
	if len(sc.Requests) != 1 || sc.Requests[0].Method != "GET" || len(sc.Requests[0].Body) > 0 {
		cc.Error = "skipped: wrk cross-check runs single-request GET scenarios only"
		return cc
	}
	d := min(p.Duration, 10*time.Second)
	secs := max(int(d.Seconds()), 1)
	u := sc.Requests[0].Path
	if strings.HasPrefix(u, "/") {
		u = strings.TrimSuffix(base, "/") + u
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.WrkPath, "-t1", "-c"+strconv.Itoa(conc), "-d"+strconv.Itoa(secs)+"s", u)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, lerr := exec.LookPath(p.WrkPath); lerr != nil {
			cc.Error = fmt.Sprintf("%s not found; install Debian's wrk package", p.WrkPath)
		} else {
			cc.Error = fmt.Sprintf("wrk: %v: %s", err, textutil.FirstLine(string(out), ""))
		}
		return cc
	}
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		cc.Error = "wrk printed no Requests/sec line"
		return cc
	}
	cc.WrkRPS, _ = strconv.ParseFloat(string(m[1]), 64)
	return cc
}
