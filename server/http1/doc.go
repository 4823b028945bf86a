// Package http1 is wsgikit's HTTP/1.1 wire layer: a strict RFC 9112 request-head
// parser, request body readers (Content-Length and chunked, with a hook for
// "100 Continue") and small append-style helpers for writing responses.
//
// The parser is deliberately strict: anything two implementations could read
// differently (the raw material of request smuggling) is refused with an *Error,
// and the connection must then be closed. The choices, where RFC 9112 allows
// several:
//
//   - CRLF is the only line terminator, in the head and in chunked framing; a
//     bare LF or a bare CR anywhere is 400 (RFC 9112 §2.2 allows rejecting both).
//   - Up to 16 empty lines before the request-line are skipped (§2.2).
//   - Exactly one SP between request-line parts; the method is a token; the
//     target is VCHARs without '#'; the version is "HTTP/" DIGIT "." DIGIT
//     (1.0 and 1.1 served, other well-formed versions 505, anything else 400).
//   - Origin-form everywhere; absolute-form with http/https, a non-empty host and
//     no userinfo (its authority becomes Request.Host); asterisk-form only for
//     OPTIONS; authority-form (host:port) only, and always, for CONNECT.
//   - Percent-encoding in the path must be well formed (the server decodes it
//     for PATH_INFO); the query is passed on as sent.
//   - Field names are tokens directly followed by ':'; values hold no CTL but
//     HTAB and no DEL; obs-text is kept as is; obs-fold and whitespace before the
//     first field line are refused, never joined.
//   - HTTP/1.1 needs exactly one Host; any Host must be a valid uri-host[:port]
//     (empty allowed).
//   - Content-Length is 1*DIGIT without overflow; repeated or listed identical
//     values collapse to one, differing ones are 400.
//   - Transfer-Encoding: its list must end in a single "chunked" (400 otherwise,
//     or 501 when it only names codings this server does not implement); empty
//     list elements and parameters are 400; TE together with Content-Length,
//     or in an HTTP/1.0 request, is 400.
//   - Chunk sizes are 1*HEXDIG without overflow; extensions are validated
//     (token, or token=token/quoted-string, BWS around ';' and '=') and
//     ignored; trailer fields are validated and discarded, never merged.
//     Framing beyond 32 bytes plus twice the data per chunk accumulates and is
//     refused past 16 KiB, so tiny chunks with long extensions cannot make
//     limits on data bytes (MaxBodyBytes, Discard) read unbounded input.
//   - Expect: 100-continue counts only in HTTP/1.1 requests (no 1xx to 1.0).
//
// The hot path (a keep-alive GET through Reader.ReadRequest) makes no heap
// allocations in steady state: request fields are slices of the Reader's buffer,
// the Headers slice is reused, and refusals are preallocated *Error values
// (read-only: callers must not modify them).
package http1
