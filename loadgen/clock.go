package loadgen

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ClockOffset is an agent's clock minus a target's, ± Err.
type ClockOffset struct {
	Offset, Err time.Duration
}

// clockPoll is the pause between two reads of the target's Date header:
// with the round trips it bounds the offset's error.
const clockPoll = 10 * time.Millisecond

// dateSample is one answer's Date and when it was asked and answered.
type dateSample struct {
	date       time.Time
	sent, recv time.Time
}

// ProbeClock measures this machine's clock against the target's: it
// reads the target's Date header (one-second resolution) about every
// 10 ms until the second ticks over. The tick happened after the earlier
// request was sent and before the later answer came back, so the offset
// is known to within half that span (a few ms on a LAN). ok is false when
// the target sends no Date or its Date never ticks within two seconds.
// It sends at most about 220 HEAD requests of url: counted apart from the
// load's GETs in a server's metrics. tlsConf is the client configuration
// of an https:// url.
func ProbeClock(ctx context.Context, url string, tlsConf *tls.Config) (off ClockOffset, ok bool, err error) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf}}
	defer client.CloseIdleConnections()
	get := func() (dateSample, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
		if err != nil {
			return dateSample{}, err
		}
		s := dateSample{sent: time.Now()}
		resp, err := client.Do(req)
		if err != nil {
			return dateSample{}, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		s.recv = time.Now()
		if d := resp.Header.Get("Date"); d != "" {
			s.date, _ = http.ParseTime(d) // zero when unparsable: treated as no Date
		}
		return s, nil
	}
	prev, err := get()
	if err != nil {
		return ClockOffset{}, false, fmt.Errorf("clock probe %s: %w", url, err)
	}
	if prev.date.IsZero() {
		return ClockOffset{}, false, nil
	}
	deadline := time.Now().Add(2200 * time.Millisecond)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ClockOffset{}, false, ctx.Err()
		case <-time.After(clockPoll):
		}
		cur, err := get()
		if err != nil {
			return ClockOffset{}, false, fmt.Errorf("clock probe %s: %w", url, err)
		}
		if cur.date.Sub(prev.date) == time.Second {
			if o, ok := tickOffset(prev, cur); ok {
				return o, true, nil
			}
		}
		prev = cur
	}
	return ClockOffset{}, false, nil
}

// tickOffset: the target's clock read cur.date at some instant in
// (prev.sent, cur.recv] of ours; the midpoint is the estimate.
func tickOffset(prev, cur dateSample) (ClockOffset, bool) {
	if cur.date.IsZero() || !cur.recv.After(prev.sent) {
		return ClockOffset{}, false
	}
	half := cur.recv.Sub(prev.sent) / 2
	mid := prev.sent.Add(half)
	return ClockOffset{Offset: mid.Sub(cur.date), Err: half}, true
}
