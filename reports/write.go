package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
)

// Option tunes WriteDir.
type Option func(*options)

type options struct {
	strict  bool
	files   []string
	json    bool
	written *[]string
}

// Written returns an option that appends the path of each file written to
// *paths, so a verb can say everything it wrote.
func Written(paths *[]string) Option { return func(o *options) { o.written = paths } }

// write writes one file of the report and notes its path.
func (o *options) write(path string, b []byte) error {
	if err := writeFile(path, b); err != nil {
		return err
	}
	if o.written != nil {
		*o.written = append(*o.written, path)
	}
	return nil
}

// MergedJSON returns an option that also writes the merged inputs as
// check.json and bench.json, so the directory can be re-rendered, or used as
// a baseline, on its own.
func MergedJSON(on bool) Option { return func(o *options) { o.json = on } }

// Strict returns an option that makes NON-STRICT verdicts JUnit failures,
// matching `wsgikit check --strict`.
func Strict(on bool) Option { return func(o *options) { o.strict = on } }

// SourceFiles returns an option that names the input files in the report's
// footer.
func SourceFiles(paths ...string) Option { return func(o *options) { o.files = paths } }

// WriteDir renders checks and benches into dir: index.html, summary.md, and
// junit-<server>.xml for each checked server. The bench verb calls it to
// render by default, WriteCheck for the check verb; `wsgikit report` calls
// it after Load.
func WriteDir(dir string, checks []*Check, benches []*Bench, opts ...Option) error {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if len(checks) == 0 && len(benches) == 0 {
		return fmt.Errorf("write report to %s: no results to render", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	r := Build(&Inputs{Checks: checks, Benches: benches, Files: o.files})
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		return err
	}
	if err := o.write(filepath.Join(dir, "index.html"), buf.Bytes()); err != nil {
		return err
	}
	buf.Reset()
	if err := r.WriteMarkdown(&buf); err != nil {
		return err
	}
	if err := o.write(filepath.Join(dir, "summary.md"), buf.Bytes()); err != nil {
		return err
	}
	// JUnit files of servers no longer in the results would make CI report
	// stale verdicts: clear them first.
	stale, _ := filepath.Glob(filepath.Join(dir, "junit-*.xml"))
	for _, f := range stale {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	merged := MergeChecks(checks)
	if merged != nil {
		for _, s := range merged.Servers {
			buf.Reset()
			if err := writeJUnit(&buf, s, o.strict); err != nil {
				return err
			}
			if err := o.write(filepath.Join(dir, junitFileName(s.Name)), buf.Bytes()); err != nil {
				return err
			}
		}
	}
	if o.json {
		for name, v := range map[string]any{"check.json": merged, "bench.json": MergeBenches(benches)} {
			if reflect.ValueOf(v).IsNil() {
				continue
			}
			if err := o.writeJSON(filepath.Join(dir, name), v); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteCheck writes everything `wsgikit check` leaves in dir, each file
// once: check.json (c as it is), check.md (the verdict matrix with every
// failure's detail) and the report WriteDir renders (index.html,
// summary.md, junit-<server>.xml; strict as in Strict).
func WriteCheck(dir string, c *Check, strict bool, opts ...Option) error {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write check results: %w", err)
	}
	if err := o.writeJSON(filepath.Join(dir, "check.json"), c); err != nil {
		return err
	}
	var md bytes.Buffer
	if err := writeCheckMatrix(&md, c); err != nil {
		return err
	}
	if err := o.write(filepath.Join(dir, "check.md"), md.Bytes()); err != nil {
		return err
	}
	return WriteDir(dir, []*Check{c}, nil, append(opts, Strict(strict))...)
}

// writeJSON writes v as indented JSON with a final newline.
func (o *options) writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return o.write(path, append(b, '\n'))
}

// writeFile writes through a temporary file and a rename, so a reader (a
// browser reloading, a CI uploader) never sees half a report.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
