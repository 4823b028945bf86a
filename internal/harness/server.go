package harness

import "strings"

// Server is a running server under test as the load driver watches it:
// an *Instance this package started, or one someone else runs (External).
type Server interface {
	URL() string
	PIDs() []int
	Usage() Usage
	Exited() <-chan struct{}
	LogTail(n int) string
	Stop() error
}

var _ Server = (*Instance)(nil)

// External is a server someone else runs, at base URL u: it costs nothing
// that can be measured, never exits as far as we know, and Stop leaves it
// running.
func External(u string) Server { return external{url: strings.TrimSuffix(u, "/")} }

type external struct{ url string }

func (e external) URL() string             { return e.url }
func (e external) PIDs() []int             { return nil }
func (e external) Usage() Usage            { return Usage{} }
func (e external) Exited() <-chan struct{} { return nil }
func (e external) LogTail(int) string      { return "" }
func (e external) Stop() error             { return nil }
