package conformance

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/wsgikit/wsgikit/conformance/framework"
)

var (
	serverFlag = flag.String("wsgikit.server", "", "run the Ginkgo conformance suite against this server profile")
	strictFlag = flag.Bool("wsgikit.strict", false, "NON-STRICT verdicts fail the Ginkgo suite too")
)

// TestConformance is the Ginkgo entry point: `go test ./conformance -args
// -wsgikit.server=NAME` or `ginkgo ./conformance -- -wsgikit.server=NAME`.
// Without the flag it is skipped, saying so (the golden comparison covers
// every peer); `make test` runs it against wsgikit with -wsgikit.strict.
func TestConformance(t *testing.T) {
	if *serverFlag == "" {
		t.Skip("no -wsgikit.server given (make test runs it with -wsgikit.server=wsgikit)")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "wsgikit conformance: "+*serverFlag)
}

var target *framework.Target

var _ = BeforeSuite(func() {
	if *serverFlag == "" {
		return
	}
	sink, err := framework.NewSink()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(sink.Close)
	srv, err := HarnessStarter(HarnessConfig{})(context.Background(), *serverFlag, []string{"WSGIKIT_SINK=" + sink.Addr()})
	Expect(err).NotTo(HaveOccurred(), "start %s", *serverFlag)
	DeferCleanup(srv.Stop)
	target = newTarget(*serverFlag, srv, sink)
})

// The registry is wrapped, not redefined: one Describe per section, one It
// per spec, labelled with its level, so --focus and --label-filter select
// specs the way `wsgikit check --focus/--level` does.
var _ = Describe("conformance", func() {
	bySection := map[string][]*framework.Spec{}
	var order []string
	var last []*framework.Spec
	for _, s := range framework.All() {
		if s.Disruptive {
			last = append(last, s)
			continue
		}
		if _, ok := bySection[s.Section]; !ok {
			order = append(order, s.Section)
		}
		bySection[s.Section] = append(bySection[s.Section], s)
	}
	if len(last) > 0 {
		order = append(order, "disruptive (run last)")
		bySection["disruptive (run last)"] = last
	}
	for _, sec := range order {
		Describe(sec, func() {
			for _, s := range bySection[sec] {
				s := s
				It(s.ID, Label(s.Level, strings.SplitN(s.ID, "/", 3)[1]), func(ctx SpecContext) {
					v := framework.RunSpec(ctx, s, target)
					AddReportEntry("verdict", v.Verdict)
					AddReportEntry("detail", v.Detail)
					switch v.Verdict {
					case framework.FAIL, framework.ERROR:
						Fail(fmt.Sprintf("%s: %s\n%s", v.Verdict, v.Detail, v.Transcript))
					case framework.NONSTRICT:
						if *strictFlag {
							Fail("NON-STRICT: " + v.Detail)
						}
					case framework.UNSUPPORTED:
						Skip("UNSUPPORTED: " + v.Detail)
					}
				})
			}
		})
	}
})
