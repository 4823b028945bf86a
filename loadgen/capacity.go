package loadgen

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wsgikit/wsgikit/reports"
)

// SLO is a latency objective on one percentile: "p99=20ms".
type SLO struct {
	Quantile float64 // 0..100
	Max      time.Duration
}

func (s SLO) String() string {
	return fmt.Sprintf("p%s=%s", strconv.FormatFloat(s.Quantile, 'f', -1, 64), s.Max)
}

// ParseSLO parses "p99=20ms", "p99.9=5ms", "p50=1ms".
func ParseSLO(s string) (SLO, error) {
	k, v, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok || !strings.HasPrefix(k, "p") {
		return SLO{}, fmt.Errorf("SLO %q: want pNN=DURATION, e.g. p99=20ms", s)
	}
	q, err := strconv.ParseFloat(k[1:], 64)
	if err != nil || q <= 0 || q >= 100 {
		return SLO{}, fmt.Errorf("SLO %q: percentile must be in (0, 100)", s)
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return SLO{}, fmt.Errorf("SLO %q: bad duration %q", s, v)
	}
	return SLO{Quantile: q, Max: d}, nil
}

// CapacityConfig tunes the search.
type CapacityConfig struct {
	SLO       SLO
	Start     float64 // first rate tried, req/s (default 100)
	MaxRate   float64 // never ask more (default 200000)
	Tolerance float64 // stop when (hi-lo)/hi <= Tolerance (default 0.05)
	MaxProbes int     // default 16
}

// Capacity is the result of one search: the highest rate that passed, and
// the bracket around the true capacity (Lo passed, Hi failed).
type Capacity struct {
	Rate   float64 `json:"rate"`
	Lo, Hi float64
	Probes []reports.CapacityProbe `json:"probes"`
	// Last is the run at Rate (the highest passing probe), for reporting.
	Last *RunResult `json:"-"`
}

// ProbeFunc runs the load at a fixed rate and returns the run.
type ProbeFunc func(rate float64) (*RunResult, error)

// judge decides whether a run meets the SLO: percentile under the bound,
// no errors, and the asked rate actually sent.
func (c CapacityConfig) judge(rate float64, r *RunResult) reports.CapacityProbe {
	p := reports.CapacityProbe{Rate: rate, Errors: r.Errors, SendRate: r.SendRate}
	p.Latency = msAt(r.Latency, c.SLO.Quantile)
	limit := float64(c.SLO.Max) / float64(time.Millisecond)
	switch {
	case r.Failed != "":
		p.Why = "run failed"
	case r.Requests == 0:
		p.Why = "no responses"
	case r.Errors > 0:
		p.Why = fmt.Sprintf("%d errors", r.Errors)
	case p.Latency > limit:
		p.Why = fmt.Sprintf("p%g %.2fms > %.2fms", c.SLO.Quantile, p.Latency, limit)
	case r.SendRate < 0.97*rate:
		p.Why = fmt.Sprintf("sent only %.0f req/s", r.SendRate)
	default:
		p.Pass = true
	}
	return p
}

// SearchCapacity finds the highest rate meeting the SLO: it brackets the
// capacity by doubling (or quartering) the rate from Start, then bisects
// until the bracket is within Tolerance. Each probe is a fresh run.
func SearchCapacity(cfg CapacityConfig, probe ProbeFunc) (*Capacity, error) {
	if cfg.SLO.Max <= 0 {
		return nil, errors.New("capacity search needs an SLO")
	}
	if cfg.Start <= 0 {
		cfg.Start = 100
	}
	if cfg.MaxRate <= 0 {
		cfg.MaxRate = 200000
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = 0.05
	}
	if cfg.MaxProbes <= 0 {
		cfg.MaxProbes = 16
	}
	c := &Capacity{}
	try := func(rate float64) (bool, error) {
		r, err := probe(rate)
		if err != nil {
			return false, fmt.Errorf("probe at %.0f req/s: %w", rate, err)
		}
		p := cfg.judge(rate, r)
		c.Probes = append(c.Probes, p)
		if p.Pass && rate >= c.Rate {
			c.Rate, c.Last = rate, r
		}
		return p.Pass, nil
	}
	rate := math.Min(cfg.Start, cfg.MaxRate)
	ok, err := try(rate)
	if err != nil {
		return c, err
	}
	if ok {
		c.Lo = rate
		for {
			if rate >= cfg.MaxRate || len(c.Probes) >= cfg.MaxProbes {
				c.Hi = math.Inf(1)
				return c, nil // capacity beyond what we may ask
			}
			rate = math.Min(rate*2, cfg.MaxRate)
			if ok, err = try(rate); err != nil {
				return c, err
			}
			if !ok {
				c.Hi = rate
				break
			}
			c.Lo = rate
		}
	} else {
		c.Hi = rate
		for {
			rate /= 4
			if rate < 1 || len(c.Probes) >= cfg.MaxProbes {
				c.Lo = 0
				return c, nil // not even 1 req/s meets the SLO
			}
			if ok, err = try(rate); err != nil {
				return c, err
			}
			if ok {
				c.Lo = rate
				break
			}
			c.Hi = rate
		}
	}
	for (c.Hi-c.Lo)/c.Hi > cfg.Tolerance && len(c.Probes) < cfg.MaxProbes {
		mid := (c.Lo + c.Hi) / 2
		ok, err := try(mid)
		if err != nil {
			return c, err
		}
		if ok {
			c.Lo = mid
		} else {
			c.Hi = mid
		}
	}
	return c, nil
}
