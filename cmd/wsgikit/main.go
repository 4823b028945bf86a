// Command wsgikit is one binary with a verb per part: serve (the reference
// WSGI server), check (conformance), bench (load), report and servers.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wsgikit/wsgikit/server"
)

// exitError carries a process exit code through cobra, so that verbs can
// report "1 = a MUST failed / regression" apart from "2 = usage or harness".
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr is a one-line usage error (exit 2).
func usageErr(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, a...)}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "wsgikit",
		Short:         "Conformance, benchmarks and a reference server for WSGI",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       server.Release,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v (see: %s --help)", err, c.CommandPath())
	})
	for _, add := range verbs {
		root.AddCommand(add())
	}
	return root
}

// verbs is filled by each verb's file in its init, so that adding a verb
// touches only its own file.
var verbs []func() *cobra.Command

func main() {
	err := newRoot().Execute()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "wsgikit:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	os.Exit(2)
}
