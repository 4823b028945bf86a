package reports_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/wsgikit/wsgikit/reports"
)

// The check verb renders its results by default like this.
func ExampleWriteDir() {
	check := &reports.Check{Schema: reports.CheckSchema, Servers: []reports.CheckServer{{
		Name: "wsgikit", Version: "0.1.0",
		Results: []reports.CheckResult{{ID: "pep3333/environ/request-method", Level: "MUST", Verdict: reports.VerdictPass}},
	}}}
	dir, err := os.MkdirTemp("", "report-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := reports.WriteDir(dir, []*reports.Check{check}, nil, reports.Strict(true)); err != nil {
		fmt.Println(err)
		return
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		fmt.Println(filepath.Base(f))
	}
	// Output:
	// index.html
	// junit-wsgikit.xml
	// summary.md
}
