// Package testenv is the one rule wsgikit's tests follow when the machine
// lacks something a test needs (a peer server, an interpreter, a tool, the
// built binary): the test fails with the command that installs it, so that
// coverage never disappears silently from `make test`. Setting
// WSGIKIT_ALLOW_MISSING=1 turns those failures into skips that say what is
// missing, for machines that cannot have everything.
package testenv

import (
	"os"
	"testing"
)

// AllowMissing names the variable that lets tests skip what is missing.
const AllowMissing = "WSGIKIT_ALLOW_MISSING"

// Missing ends the test for something the machine lacks. format and args
// say what and how to install it.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(AllowMissing) != "" {
		t.Skipf(format+" (skipped: "+AllowMissing+" is set)", args...)
	}
	t.Fatalf(format+" (or set "+AllowMissing+"=1 to skip what this machine lacks)", args...)
}

// MissingAllowed reports whether WSGIKIT_ALLOW_MISSING is set, for tests
// that go on with what is there (saying what they leave out).
func MissingAllowed() bool { return os.Getenv(AllowMissing) != "" }
