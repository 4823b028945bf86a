// Package pep3333 holds the PEP 3333 specs, a file per section of the PEP
// (a file's spec tables split by subsection). Each spec observes the server
// through the probe app (apps/probe.py): its environ dump with exact bytes,
// its sink events and the raw wire.
package pep3333

import f "github.com/wsgikit/wsgikit/conformance/framework"

// The sections of PEP 3333 the specs cite.
const (
	secApp     = "PEP 3333 / Specification Details"
	secClose   = "PEP 3333 / Specification Details (close)"
	secEnviron = "PEP 3333 / environ Variables"
	secInput   = "PEP 3333 / Input and Error Streams"
	secErrors  = "PEP 3333 / Input and Error Streams (wsgi.errors)"
	secSR      = "PEP 3333 / The start_response() Callable"
	secBuf     = "PEP 3333 / Buffering and Streaming"
	secBody    = "PEP 3333 / Handling the Content-Length Header"
	secWrite   = "PEP 3333 / The write() Callable"
	secStrings = "PEP 3333 / A Note On String Types"
	secEH      = "PEP 3333 / Error Handling"
	secExpect  = "PEP 3333 / HTTP 1.1 Expect/Continue"
	secOther   = "PEP 3333 / Other HTTP Features"
	secConn    = "PEP 3333 / Other HTTP Features (connections)"
	secFW      = "PEP 3333 / Optional Platform-Specific File Handling"
)

// The suite runs the specs in this order (the golden spec order).
func init() {
	for _, specs := range []func() []*f.Spec{
		bodySpecs, closeSpecs, connectionSpecs, appSpecs, environSpecs, errorHandlingSpecs,
		errorsSpecs, fileWrapperSpecs, inputSpecs, startResponseSpecs, writeSpecs,
	} {
		f.RegisterFunc(specs)
	}
}
