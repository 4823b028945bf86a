package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// ServiceTag tags the whole-run service-time interval of an open-model
// HDR log (its untagged intervals hold the corrected latency).
const ServiceTag = "service"

// HistLog is one run's latencies as HdrHistogram log intervals: exact and
// mergeable (summing the intervals of several logs is the histogram of
// all their requests).
type HistLog struct {
	Intervals []*hdrhistogram.Histogram // by answer time; StartTimeMs/EndTimeMs absolute
	Service   *hdrhistogram.Histogram   // open model: whole-run service time; nil otherwise
}

// histLogOf is a run's log: its timeline buckets (RunConfig.Intervals).
func histLogOf(res *RunResult) *HistLog {
	l := &HistLog{}
	w := res.IntervalWidth
	for i, h := range res.Intervals {
		from := res.Began.Add(time.Duration(i) * w)
		h.SetStartTimeMs(from.UnixMilli())
		h.SetEndTimeMs(from.Add(w).UnixMilli())
		l.Intervals = append(l.Intervals, h)
	}
	if res.Load.Mode == Open && res.Service != nil && len(res.Intervals) > 0 {
		l.Service = res.Service
		l.Service.SetTag(ServiceTag)
		l.Service.SetStartTimeMs(l.Intervals[0].StartTimeMs())
		l.Service.SetEndTimeMs(l.Intervals[len(l.Intervals)-1].EndTimeMs())
	}
	return l
}

// Total is the histogram of every request of the log's intervals.
func (l *HistLog) Total() *hdrhistogram.Histogram {
	t := newHist()
	for _, h := range l.Intervals {
		t.Merge(h)
	}
	return t
}

// Write writes the log in HdrHistogram's log format 1.3 (as Java's
// HistogramLogWriter does: absolute start times in seconds, interval
// lengths, the interval's max in ms), readable by HdrHistogram's log
// tools. The Go library's own writer puts milliseconds where the format
// has seconds, so the lines are written here.
func (l *HistLog) Write(w io.Writer, comment string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "#[Histogram log format version 1.3]\n")
	fmt.Fprintf(bw, "#%s; values in microseconds\n", strings.ReplaceAll(comment, "\n", " "))
	if len(l.Intervals) > 0 {
		start := l.Intervals[0].StartTimeMs()
		fmt.Fprintf(bw, "#[StartTime: %.3f (seconds since epoch), %s]\n", float64(start)/1000,
			time.UnixMilli(start).UTC().Format(time.RFC3339Nano))
	}
	fmt.Fprintf(bw, "#[BaseTime: 0.000 (seconds since epoch)]\n")
	fmt.Fprintf(bw, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n")
	hs := l.Intervals
	if l.Service != nil {
		hs = append(hs[:len(hs):len(hs)], l.Service)
	}
	for _, h := range hs {
		payload, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return fmt.Errorf("hdr log: %w", err)
		}
		if h.Tag() != "" {
			fmt.Fprintf(bw, "Tag=%s,", h.Tag())
		}
		fmt.Fprintf(bw, "%.3f,%.3f,%.3f,%s\n", float64(h.StartTimeMs())/1000, float64(h.EndTimeMs()-h.StartTimeMs())/1000,
			float64(h.Max())/1000, payload)
	}
	return bw.Flush()
}

// WriteFile writes the log to path.
func (l *HistLog) WriteFile(path, comment string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("hdr log: %w", err)
	}
	if err := l.Write(f, comment); err != nil {
		f.Close()
		return fmt.Errorf("hdr log %s: %w", path, err)
	}
	return f.Close()
}

// ReadHistLog reads a log Write wrote (or any HdrHistogram log of
// microsecond values whose untagged intervals are latencies).
func ReadHistLog(path string) (*HistLog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hdr log: %w", err)
	}
	defer f.Close()
	r := hdrhistogram.NewHistogramLogReader(f)
	l := &HistLog{}
	for {
		h, err := r.NextIntervalHistogram()
		if err != nil {
			return nil, fmt.Errorf("hdr log %s: %w", path, err)
		}
		if h == nil {
			break
		}
		switch h.Tag() {
		case "":
			l.Intervals = append(l.Intervals, h)
		case ServiceTag:
			l.Service = h
		}
	}
	if len(l.Intervals) == 0 {
		return nil, fmt.Errorf("hdr log %s: no intervals", path)
	}
	return l, nil
}
