package loadgen

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/wsgikit/wsgikit/internal/textutil"
)

// Progress shows runs as they go: bars on a terminal, one plain line per
// run otherwise (CI logs).
type Progress interface {
	Plan(runs int)
	Run(label string, d time.Duration) Bar
	Failed(label, why string)
	Close()
}

// Bar is one run's progress.
type Bar interface {
	Update(done uint64) // responses so far
	Done(result string)
}

type plainProgress struct {
	w     io.Writer
	mu    sync.Mutex
	n, of int
}

// NewPlainProgress writes one line per finished run.
func NewPlainProgress(w io.Writer) Progress { return &plainProgress{w: w} }

func (p *plainProgress) Plan(runs int) { p.of = runs }
func (p *plainProgress) Close()        {}
func (p *plainProgress) Failed(label, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s  FAILED: %s\n", label, textutil.FirstLine(why, ""))
}
func (p *plainProgress) Run(label string, _ time.Duration) Bar { return &plainBar{p: p, label: label} }

type plainBar struct {
	p     *plainProgress
	label string
}

func (b *plainBar) Update(uint64) {}
func (b *plainBar) Done(result string) {
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	fmt.Fprintf(b.p.w, "%s  %s\n", b.label, result)
}

type ttyProgress struct {
	p *mpb.Progress
	w io.Writer
}

// NewTTYProgress draws a live bar per run (mpb) on a terminal.
func NewTTYProgress(w io.Writer) Progress {
	return &ttyProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithRefreshRate(150*time.Millisecond), mpb.WithWidth(32)), w: w}
}

func (t *ttyProgress) Plan(int) {}
func (t *ttyProgress) Close()   { t.p.Wait() }
func (t *ttyProgress) Failed(label, why string) {
	fmt.Fprintf(t.p, "%s  FAILED: %s\n", label, textutil.FirstLine(why, ""))
}

func (t *ttyProgress) Run(label string, d time.Duration) Bar {
	b := &ttyBar{t: t, label: label, start: time.Now(), total: max(d.Milliseconds(), 1), stop: make(chan struct{})}
	b.bar = t.p.AddBar(b.total,
		mpb.PrependDecorators(decor.Name(label+" ", decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			first := b.first.Load()
			if first == 0 {
				return " warming up"
			}
			el := time.Since(time.Unix(0, first)).Seconds()
			return fmt.Sprintf(" %d req  %.0f req/s", b.done.Load(), float64(b.done.Load())/max(el, 1e-3))
		})),
		mpb.BarRemoveOnComplete(),
	)
	go func() {
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-tk.C:
				b.bar.SetCurrent(min(time.Since(b.start).Milliseconds(), b.total-1))
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

type ttyBar struct {
	t     *ttyProgress
	label string
	bar   *mpb.Bar
	start time.Time
	total int64
	done  atomic.Uint64
	first atomic.Int64 // when the measured attack reported first (unix ns)
	stop  chan struct{}
	once  sync.Once
}

func (b *ttyBar) Update(n uint64) {
	if b.first.Load() == 0 {
		b.first.Store(time.Now().UnixNano())
	}
	b.done.Store(n)
}
func (b *ttyBar) Done(result string) {
	b.once.Do(func() {
		close(b.stop)
		b.bar.SetCurrent(b.total)
		b.bar.Wait()
		fmt.Fprintf(b.t.p, "%s  %s\n", b.label, result)
	})
}
