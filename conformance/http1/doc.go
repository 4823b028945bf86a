// Package http1 holds the RFC 9112 (and RFC 9110) specs that matter to a WSGI
// server's HTTP/1.1 parser: framing, smuggling vectors, whitespace, invalid
// characters, Host rules, limits, keep-alive, pipelining and HTTP/1.0. Each
// spec sends raw bytes and, where the server accepts them, checks what the
// app saw (through the probe's sink events), which is where request
// smuggling becomes visible.
package http1
