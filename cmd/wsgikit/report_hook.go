package main

import "github.com/wsgikit/wsgikit/reports"

// check renders the report by default, beside its JSON.
func init() {
	checkRenderHook = func(c *reports.Check, dir string, strict bool) error {
		return reports.WriteDir(dir, []*reports.Check{c}, nil, reports.Strict(strict))
	}
}
