// Package http1 is wsgikit's HTTP/1.1 wire layer: a strict RFC 9112 request-head
// parser, request body readers (Content-Length and chunked, with a hook for
// "100 Continue") and small append-style helpers for writing responses.
//
// The parser is deliberately strict: anything two implementations could read
// differently (the raw material of request smuggling) is refused with a 4xx/5xx
// *Error and the connection must then be closed. Allowed input is what RFC 9112
// and RFC 9110 allow, with CRLF as the only line terminator.
//
// The hot path (a keep-alive GET through Reader.ReadRequest) makes no heap
// allocations in steady state: request fields are slices of the Reader's buffer
// and the Headers slice is reused.
package http1
