package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// missingBaseline reports whether --baseline names a file that does not
// exist yet: the first run of a CI job, which has nothing to be gated
// against. It then says so on w (and as a notice in GitHub Actions) and
// returns the note, for the results; the caller writes the file.
func missingBaseline(w io.Writer, verb, path string) (string, bool) {
	if path == "" {
		return "", false
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	note := fmt.Sprintf("no baseline at %s yet: nothing to gate against this time; this run is saved there as the baseline for the next", path)
	fmt.Fprintf(w, "%s: %s\n", verb, note)
	if os.Getenv("GITHUB_ACTIONS") == "true" {
		fmt.Fprintf(w, "::notice title=wsgikit %s::%s\n", verb, note)
	}
	return note, true
}
