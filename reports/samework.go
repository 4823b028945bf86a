package reports

import (
	"fmt"

	"github.com/wsgikit/wsgikit/internal/textutil"
)

// SameWorkRow is one request every server was asked before the
// measurement, with each one's answer (in Servers' order).
type SameWorkRow struct {
	Request string
	Answers []string
	Differs bool
}

// sameWorkRows lays out the servers' answers, one row per target, in
// order of first appearance.
func sameWorkRows(servers []BenchServ) []SameWorkRow {
	type key struct{ scenario, method, path string }
	var keys []key
	byServer := map[key]map[string]BenchTarget{}
	for _, s := range servers {
		for _, t := range s.Targets {
			k := key{t.Scenario, t.Method, t.Path}
			if byServer[k] == nil {
				byServer[k] = map[string]BenchTarget{}
				keys = append(keys, k)
			}
			byServer[k][s.Name] = t
		}
	}
	var rows []SameWorkRow
	for _, k := range keys {
		row := SameWorkRow{Request: k.method + " " + k.path}
		if k.scenario != row.Request && k.scenario != k.path {
			row.Request = k.scenario + ": " + row.Request
		}
		var first *BenchTarget
		for _, s := range servers {
			t, ok := byServer[k][s.Name]
			switch {
			case !ok:
				row.Answers = append(row.Answers, "—")
				continue
			case t.Error != "":
				row.Answers = append(row.Answers, "no answer: "+textutil.Clip(textutil.FirstLine(t.Error, ""), 120))
			default:
				a := fmt.Sprintf("%d · %s · %s", t.Status, fmtBytes(t.Bytes), t.Digest)
				if t.Varies {
					a += " (varies)"
				}
				row.Answers = append(row.Answers, a)
			}
			if first == nil {
				first = &t
			}
			row.Differs = row.Differs || !first.Same(t)
		}
		rows = append(rows, row)
	}
	return rows
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
