// Package pep3333 holds the PEP 3333 specs, a file per section of the PEP
// (a file's spec tables split by subsection). Each spec observes the server
// through the probe app (apps/probe.py): its environ dump with exact bytes,
// its sink events and the raw wire.
package pep3333

import f "github.com/wsgikit/wsgikit/conformance/framework"

// The suite runs the specs in this order (the golden spec order).
func init() {
	for _, specs := range []func() []*f.Spec{
		bodySpecs, closeSpecs, connectionSpecs, appSpecs, environSpecs, errorHandlingSpecs,
		errorsSpecs, fileWrapperSpecs, inputSpecs, startResponseSpecs, writeSpecs,
	} {
		f.RegisterFunc(specs)
	}
}
