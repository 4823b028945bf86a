package loadgen

import (
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/wsgikit/wsgikit/reports"
)

// recorder reduces the measured attack's results as they arrive.
type recorder struct {
	cfg      RunConfig
	res      *RunResult
	pacer    *pacer
	lateness *hdrhistogram.Histogram
	start    time.Time
	bucket   time.Duration
	bins     []tbin
	errIndex map[string]int32
	codes    [1000]uint64 // by status code; 0: no response

	lastProgress                 time.Time
	firstSend, lastSend, lastEnd time.Time
}

// tbin is one timeline bucket.
type tbin struct {
	n uint64
	h *hdrhistogram.Histogram
}

func newRecorder(cfg RunConfig, tgts []vegeta.Target, p *pacer) *recorder {
	res := &RunResult{
		Load: cfg.Load, Status: map[string]uint64{}, ErrorsByText: map[string]uint64{},
		Latency: newHist(), Service: newHist(), Targets: tgts,
	}
	if cfg.Load.Mode != Open {
		res.Latency = res.Service // the closed model has no intended send times
	}
	start := time.Now()
	res.Began = start
	return &recorder{cfg: cfg, res: res, pacer: p, lateness: newHist(), start: start,
		bucket: timelineBucket(cfg.Duration), errIndex: map[string]int32{}}
}

// add accounts one result.
func (rc *recorder) add(r *vegeta.Result) {
	res := rc.res
	res.Requests++
	if rc.firstSend.IsZero() || r.Timestamp.Before(rc.firstSend) {
		rc.firstSend = r.Timestamp
	}
	if r.Timestamp.After(rc.lastSend) {
		rc.lastSend = r.Timestamp
	}
	end := r.Timestamp.Add(r.Latency)
	if end.After(rc.lastEnd) {
		rc.lastEnd = end
	}
	lat := r.Latency
	record(res.Service, lat)
	if rc.cfg.Load.Mode == Open {
		if due, ok := rc.pacer.intended(r.Seq); ok {
			lat = end.Sub(due)
			record(rc.lateness, r.Timestamp.Sub(due))
		}
		record(res.Latency, lat)
	}
	if r.Code >= 200 && r.Code < 300 {
		res.Successes++
	} else {
		res.Errors++
	}
	rc.codes[min(int(r.Code), len(rc.codes)-1)]++
	ei := rc.errorText(r)
	bi := int(end.Sub(rc.start) / rc.bucket)
	if bi >= 0 && bi < 10000 {
		for len(rc.bins) <= bi {
			rc.bins = append(rc.bins, tbin{h: rc.binHist()})
		}
		rc.bins[bi].n++
		record(rc.bins[bi].h, lat)
	}
	if rc.cfg.KeepRecords && len(res.Records) >= MaxRecords {
		res.RecordsDropped++
	} else if rc.cfg.KeepRecords {
		res.Records = append(res.Records, Record{
			Seq: r.Seq, Code: r.Code, Target: targetIndex(res.Targets, r),
			Timestamp: int64(r.Timestamp.Sub(rc.start)), Latency: int64(r.Latency), Err: ei,
		})
	}
	if rc.cfg.Progress != nil && res.Requests%256 == 0 {
		if now := time.Now(); now.Sub(rc.lastProgress) > 100*time.Millisecond {
			rc.lastProgress = now
			rc.cfg.Progress(res.Requests)
		}
	}
}

// errorText counts a request that got no status by its error's text (at
// most 20 texts, then "other errors") and returns the text's index for
// the result file (-1: none).
func (rc *recorder) errorText(r *vegeta.Result) int32 {
	if r.Code != 0 || r.Error == "" {
		return -1
	}
	res := rc.res
	txt := r.Error
	if len(res.ErrorsByText) >= 20 && res.ErrorsByText[txt] == 0 {
		txt = "other errors"
	}
	res.ErrorsByText[txt]++
	if !rc.cfg.KeepRecords {
		return -1
	}
	i, seen := rc.errIndex[txt]
	if !seen {
		i = int32(len(res.errStrings))
		res.errStrings = append(res.errStrings, txt)
		rc.errIndex[txt] = i
	}
	return i
}

// finish reduces what was recorded: status counts, rates, lateness and
// the timeline.
func (rc *recorder) finish() *RunResult {
	res := rc.res
	for c, n := range rc.codes {
		if n == 0 {
			continue
		}
		k := "error"
		if c > 0 {
			k = strconv.Itoa(c)
		}
		res.Status[k] += n
	}
	if rc.cfg.Progress != nil {
		rc.cfg.Progress(res.Requests)
	}
	if res.Requests > 0 {
		res.Seconds = rc.lastEnd.Sub(rc.firstSend).Seconds()
		res.RPS = float64(res.Successes) / res.Seconds
		res.SendRate = float64(res.Requests) / res.Seconds
	}
	if rc.cfg.Load.Mode == Open {
		res.LatenessP99 = msAt(rc.lateness, 99)
		// Achieved offered load: sends over the sending window, from the
		// attack's start to the last send (request n is due at n/rate).
		if b := rc.pacer.began.Load(); b != 0 && rc.lastSend.After(time.Unix(0, b)) {
			res.SendRate = float64(res.Requests) / rc.lastSend.Sub(time.Unix(0, b)).Seconds()
		}
	}
	if rc.cfg.Intervals {
		res.IntervalWidth = rc.bucket
		for _, b := range rc.bins {
			res.Intervals = append(res.Intervals, b.h)
		}
	}
	for i, b := range rc.bins {
		res.Timeline = append(res.Timeline, reports.TimePoint{
			T: float64(i+1) * rc.bucket.Seconds(), RPS: float64(b.n) / rc.bucket.Seconds(),
			P50: msAt(b.h, 50), P99: msAt(b.h, 99),
		})
	}
	return res
}

// binHist is a timeline bucket's histogram: two significant digits draw
// the timeline; an HDR log needs the run's own precision.
func (rc *recorder) binHist() *hdrhistogram.Histogram {
	if rc.cfg.Intervals {
		return newHist()
	}
	return hdrhistogram.New(histMinUS, histMaxUS, 2)
}

func targetIndex(tgts []vegeta.Target, r *vegeta.Result) int32 {
	if len(tgts) == 1 {
		return 0
	}
	for i := range tgts {
		if tgts[i].URL == r.URL && tgts[i].Method == r.Method {
			return int32(i)
		}
	}
	return 0
}

// timelineBucket picks about 20 buckets per run, 100 ms to 5 s wide.
func timelineBucket(d time.Duration) time.Duration {
	b := d / 20
	b = max(b, 100*time.Millisecond)
	b = min(b, 5*time.Second)
	return b.Round(100 * time.Millisecond)
}
