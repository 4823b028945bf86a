package reports

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wsgikit/wsgikit/internal/testenv"
)

// chromiumPath is Debian's Chromium, which `make setup` installs.
const chromiumPath = "/usr/bin/chromium"

// artifactDir is where the browser test leaves its screenshot: $WSGIKIT_ARTIFACTS
// when set (CI uploads it), else a directory under the system temp dir.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("WSGIKIT_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "wsgikit-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifact dir: %v", err)
	}
	return dir
}

// TestReportInBrowser opens the rendered report from a file:// URL in
// headless Chromium, the way a person opens a CI artifact, and checks that it
// works: no console error, no exception, no network request, the matrix and
// the charts visible with a real size, the filters and the cell expanders
// working. It saves a full-page screenshot for people to look at.
func TestReportInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, "%s missing: apt-get install chromium (make setup)", chromiumPath)
	}
	dir := t.TempDir()
	in := loadFixtures(t)
	if err := WriteDir(dir, in.Checks, in.Benches, SourceFiles(in.Files...)); err != nil {
		t.Fatal(err)
	}
	url := "file://" + filepath.Join(dir, "index.html")

	var (
		mu       sync.Mutex
		cmd      *exec.Cmd
		problems []string
	)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(filepath.Join(dir, "chromium-profile")),
		chromedp.WindowSize(1400, 1000),
		// Own process group, so cleanup can end the browser and every
		// helper process it forked, by group id.
		chromedp.ModifyCmdFunc(func(c *exec.Cmd) {
			if c.SysProcAttr == nil {
				c.SysProcAttr = &syscall.SysProcAttr{}
			}
			c.SysProcAttr.Setpgid = true
			c.SysProcAttr.Pdeathsig = syscall.SIGKILL
			mu.Lock()
			cmd = c
			mu.Unlock()
		}),
	}
	onEvent := func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, a.Description+string(a.Value))
				}
				problems = append(problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems = append(problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				problems = append(problems, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			if u := ev.Request.URL; !strings.HasPrefix(u, "file:") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "about:") {
				problems = append(problems, "network request: "+u)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf), chromedp.WithListener(onEvent))
	t.Cleanup(func() {
		bcancel()
		acancel()
		mu.Lock()
		defer mu.Unlock()
		if cmd == nil || cmd.Process == nil {
			return
		}
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // the group may be gone already
		// Wait until the group is gone, so that removing the profile
		// directory does not race a dying helper process.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if err := syscall.Kill(-pgid, 0); err == syscall.ESRCH {
				return
			}
		}
		t.Logf("chromium process group %d still present after SIGKILL (zombies awaiting init?)", pgid)
	})

	// Start the browser and turn on the event domains before loading the page.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(bctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("Log.enable: %v", err)
	}
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("Network.enable: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitReady("#matrix")); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}

	type box struct{ W, H float64 }
	const visible = `(el => { if (!el) return {W:0,H:0}; const s = getComputedStyle(el); const r = el.getBoundingClientRect();
		return (s.display === 'none' || s.visibility === 'hidden') ? {W:0,H:0} : {W:r.width,H:r.height}; })`
	const shownRows = `document.querySelectorAll('#matrix tr.spec:not(.hide)').length`
	eval := func(what string, expr string, out any) {
		t.Helper()
		var err error
		switch o := out.(type) {
		case *box:
			*o, err = chromedp.Run(bctx, chromedp.Evaluate[box](expr))
		case *int:
			*o, err = chromedp.Run(bctx, chromedp.Evaluate[int](expr))
		case *bool:
			*o, err = chromedp.Run(bctx, chromedp.Evaluate[bool](expr))
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	click := func(sel string) {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.ScrollIntoView(sel), chromedp.Click(sel)); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	var (
		matrix, firstChart, pop          box
		charts, rows, failRows, diffRows int
		popOpen                          bool
	)
	eval("matrix", visible+`(document.getElementById('matrix'))`, &matrix)
	eval("charts", `[...document.querySelectorAll('svg.chart')].filter(s => { const r = s.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length`, &charts)
	eval("first chart", visible+`(document.querySelector('svg.chart'))`, &firstChart)
	eval("rows", shownRows, &rows)
	// The filters: only failures, then only differences too; then both off.
	click("#f-fail")
	eval("failure rows", shownRows, &failRows)
	click("#f-diff")
	eval("difference rows", shownRows, &diffRows)
	click("#f-diff")
	click("#f-fail")
	// Deep in the matrix, the server names stay in view (sticky header).
	var headTop int
	if err := chromedp.Do(bctx, chromedp.ScrollIntoView(`#matrix tbody.sec:last-of-type tr.spec:last-child`)); err != nil {
		t.Fatalf("scroll: %v", err)
	}
	eval("sticky header", `Math.round(document.querySelector('#matrix thead th.c-srv').getBoundingClientRect().top)`, &headTop)
	if headTop < 0 || headTop > 4 {
		t.Errorf("matrix header at y=%d px after scrolling down, want it stuck at the top", headTop)
	}
	// Expand a failing cell: its spec, stimulus and transcript show.
	click("td.cell.v-fail summary")
	eval("cell open", `document.querySelector('td.cell.v-fail details').open`, &popOpen)
	eval("cell panel", visible+`(document.querySelector('td.cell.v-fail details .pop'))`, &pop)
	// Back to the top so the sticky header sits where it belongs in the
	// whole-page picture; the cell stays open.
	if err := chromedp.Do(bctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`)); err != nil {
		t.Fatalf("scroll to top: %v", err)
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	arts := artifactDir(t)
	shot := filepath.Join(arts, "report.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	// The first screen, as a reader sees it on opening the file (the
	// README picture), then the whole page in dark mode.
	var top, dark []byte
	err = chromedp.Do(bctx,
		chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('details[open]').forEach(d => d.removeAttribute('open')); window.scrollTo(0, 0)`),
	)
	if err == nil {
		top, err = chromedp.Run(bctx, chromedp.CaptureScreenshot())
	}
	if err == nil {
		_, err = chromedp.Call(bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
	}
	if err == nil {
		dark, err = chromedp.Run(bctx, chromedp.FullScreenshot(100))
	}
	if err != nil {
		t.Fatalf("screenshots: %v", err)
	}
	for name, b := range map[string][]byte{"report-top.png": top, "report-dark.png": dark} {
		p := filepath.Join(arts, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
	if matrix.W < 400 || matrix.H < 400 {
		t.Errorf("matrix is %gx%g px, want it visible and large", matrix.W, matrix.H)
	}
	if charts < 5 || firstChart.W < 100 || firstChart.H < 50 {
		t.Errorf("%d visible charts, first %gx%g px; want several with a real size", charts, firstChart.W, firstChart.H)
	}
	if rows != 37 {
		t.Errorf("%d spec rows shown, want 37 (every spec of the fixtures)", rows)
	}
	if !(failRows > 0 && failRows < rows) || !(diffRows > 0 && diffRows <= failRows) {
		t.Errorf("filters: %d rows → only failures %d → and differences %d; want 0 < diff ≤ fail < all", rows, failRows, diffRows)
	}
	if !popOpen || pop.W < 200 || pop.H < 80 {
		t.Errorf("expanded cell: open=%v, details %gx%g px; want an open, readable panel", popOpen, pop.W, pop.H)
	}
	if len(png) < 10000 || string(png[1:4]) != "PNG" {
		t.Errorf("screenshot is %d bytes, not a PNG", len(png))
	}
}
