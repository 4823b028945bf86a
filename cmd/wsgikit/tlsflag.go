package main

import (
	"fmt"
	"io"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/reports"
)

// skipNoTLS leaves out, with one warning line each, the servers whose
// profile cannot serve TLS (--tls): they are skipped like missing ones.
func skipNoTLS(w io.Writer, verb string, names []string, user []*harness.Profile) ([]string, []reports.SkippedServer) {
	var kept []string
	var skipped []reports.SkippedServer
	for _, name := range names {
		if p, err := harness.Lookup(name, user); err == nil {
			if ok, why := p.SupportsTLS(); !ok {
				fmt.Fprintf(w, "%s: skipping %s: no TLS: %s\n", verb, name, why)
				skipped = append(skipped, reports.SkippedServer{Name: name, Reason: "no TLS: " + why})
				continue
			}
		}
		kept = append(kept, name)
	}
	return kept, skipped
}
