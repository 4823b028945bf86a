// Package http1 holds the RFC 9112 (and RFC 9110) specs that matter to a WSGI
// server's HTTP/1.1 parser: framing, smuggling vectors, whitespace, invalid
// characters, Host rules, limits, keep-alive, pipelining and HTTP/1.0. Each
// spec sends raw bytes and, where the server accepts them, checks what the
// app saw (through the probe's sink events), which is where request
// smuggling becomes visible.
package http1

import f "github.com/wsgikit/wsgikit/conformance/framework"

// The suite runs the specs in this order (the golden spec order).
func init() {
	for _, specs := range []func() []*f.Spec{
		charSpecs, framingSpecs, hostSpecs, http10Specs, keepaliveSpecs, limitSpecs,
		pipeliningSpecs, smugglingSpecs, whitespaceSpecs,
	} {
		f.RegisterFunc(specs)
	}
}
