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

	progress                     func(done uint64) // cfg.Progress; nil in a shard
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
		bucket: timelineBucket(cfg.Duration), errIndex: map[string]int32{}, progress: cfg.Progress}
}

// add accounts one result.
func (rc *recorder) add(r *vegeta.Result) {
	rc.addOne(r.Seq, r.Code, targetIndex(rc.res.Targets, r), r.Timestamp, r.Latency, r.Error)
}

// addOne accounts one request: sent at ts, answered (or failed) lat later,
// with status code (0: no response, errText says why).
func (rc *recorder) addOne(seq uint64, code uint16, target int32, ts time.Time, lat time.Duration, errText string) {
	res := rc.res
	res.Requests++
	if rc.firstSend.IsZero() || ts.Before(rc.firstSend) {
		rc.firstSend = ts
	}
	if ts.After(rc.lastSend) {
		rc.lastSend = ts
	}
	end := ts.Add(lat)
	if end.After(rc.lastEnd) {
		rc.lastEnd = end
	}
	service := lat // vegeta's Latency, in the result file: from the actual send
	record(res.Service, lat)
	if rc.cfg.Load.Mode == Open {
		if due, ok := rc.pacer.intended(seq); ok {
			lat = end.Sub(due)
			record(rc.lateness, ts.Sub(due))
		}
		record(res.Latency, lat)
	}
	if code >= 200 && code < 300 {
		res.Successes++
	} else {
		res.Errors++
	}
	rc.codes[min(int(code), len(rc.codes)-1)]++
	ei := rc.errorText(code, errText)
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
			Seq: seq, Code: code, Target: target,
			Timestamp: int64(ts.Sub(rc.start)), Latency: int64(service), Err: ei,
		})
	}
	if rc.progress != nil && res.Requests%256 == 0 {
		if now := time.Now(); now.Sub(rc.lastProgress) > 100*time.Millisecond {
			rc.lastProgress = now
			rc.progress(res.Requests)
		}
	}
}

// errorText counts a request that got no status by its error's text (at
// most 20 texts, then "other errors") and returns the text's index for
// the result file (-1: none).
func (rc *recorder) errorText(code uint16, txt string) int32 {
	if code != 0 || txt == "" {
		return -1
	}
	return rc.countError(txt, 1)
}

// countError adds n requests that failed with txt.
func (rc *recorder) countError(txt string, n uint64) int32 {
	res := rc.res
	if len(res.ErrorsByText) >= 20 && res.ErrorsByText[txt] == 0 {
		txt = "other errors"
	}
	if n > 0 {
		res.ErrorsByText[txt] += n
	}
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

// merge adds what o recorded (a shard of the same run, made by shard)
// into rc.
func (rc *recorder) merge(o *recorder) {
	res, or := rc.res, o.res
	res.Requests += or.Requests
	res.Successes += or.Successes
	res.Errors += or.Errors
	if !o.firstSend.IsZero() && (rc.firstSend.IsZero() || o.firstSend.Before(rc.firstSend)) {
		rc.firstSend = o.firstSend
	}
	if o.lastSend.After(rc.lastSend) {
		rc.lastSend = o.lastSend
	}
	if o.lastEnd.After(rc.lastEnd) {
		rc.lastEnd = o.lastEnd
	}
	res.Service.Merge(or.Service)
	if res.Latency != res.Service {
		res.Latency.Merge(or.Latency)
	}
	rc.lateness.Merge(o.lateness)
	for c, n := range o.codes {
		rc.codes[c] += n
	}
	for i, b := range o.bins {
		for len(rc.bins) <= i {
			rc.bins = append(rc.bins, tbin{h: rc.binHist()})
		}
		rc.bins[i].n += b.n
		rc.bins[i].h.Merge(b.h)
	}
	remap := make([]int32, len(or.errStrings))
	for i, txt := range or.errStrings {
		remap[i] = rc.countError(txt, 0)
	}
	for txt, n := range or.ErrorsByText {
		rc.countError(txt, n)
	}
	for _, r := range or.Records {
		if len(res.Records) >= MaxRecords {
			res.RecordsDropped++
			continue
		}
		if r.Err >= 0 {
			r.Err = remap[r.Err]
		}
		res.Records = append(res.Records, r)
	}
	res.RecordsDropped += or.RecordsDropped
}

// shard is a recorder for one event loop of the same run: same start and
// targets, no progress calls (the driver reports the sum), merged into rc
// at the end.
func (rc *recorder) shard() *recorder {
	o := newRecorder(rc.cfg, rc.res.Targets, rc.pacer)
	o.start, o.res.Began, o.progress = rc.start, rc.res.Began, nil
	return o
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
	if rc.progress != nil {
		rc.progress(res.Requests)
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
