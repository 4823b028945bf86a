package main

import "bytes"

// runWsgikit runs the CLI in-process and returns what it printed.
func runWsgikit(args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}
