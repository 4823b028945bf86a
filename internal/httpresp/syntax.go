// Package httpresp reads HTTP/1.x responses as a client (RFC 9112): the
// status line, the header section, what it says about the body's framing
// and the connection, and chunked bodies. It holds the client side's one
// reading of each of those rules, for the conformance suite, the load
// driver and the harness's readiness probe alike. The server's own parser
// (server/http1) is the judged side and is deliberately not shared with it.
//
// The rules, strict as a judge must be; what a caller does with a breach
// is its own (see Mode):
//
//   - A line ends in CRLF. A bare LF still ends it, but is a violation.
//   - status-line = "HTTP/1." DIGIT SP 3DIGIT [ SP reason-phrase ]; the SP
//     before an empty reason may be missing (common, and harmless).
//   - field-line = field-name ":" OWS field-value OWS, the name non-empty and
//     free of SP and HTAB (RFC 9112 §5.1, which also rules out obs-fold);
//     the value's bytes are not judged here: the specs that care do it.
//   - Content-Length is 1*DIGIT; several lines must carry the same text.
//   - Transfer-Encoding makes the body chunked when its final coding is
//     "chunked" and close-delimited otherwise, and overrides Content-Length
//     (RFC 9112 §6.3); HEAD responses, 1xx, 204 and 304 have no body.
//   - chunk = chunk-size [ BWS ";" chunk-ext ] CRLF, chunk-size = 1*HEXDIG
//     (below 2^62) and nothing else: no whitespace without a ";" after it
//     (RFC 9112 §7.1); the extensions' content is not checked. The chunk
//     data is followed by exactly CRLF; trailer lines are field lines.
package httpresp

import (
	"bytes"
	"fmt"
)

// SyntaxError is a response that breaks one of the package's rules.
type SyntaxError struct{ msg string }

func (e *SyntaxError) Error() string { return e.msg }

func syntaxf(format string, a ...any) error { return &SyntaxError{fmt.Sprintf(format, a...)} }

// Errors of the line parsers; the Reader reports them with the line.
var (
	ErrStatusLine = &SyntaxError{"bad status line"}
	ErrStatusCode = &SyntaxError{"bad status code"} // a status line whose code is three bytes that are not digits
	ErrFieldLine  = &SyntaxError{"bad field line"}
	ErrChunkSize  = &SyntaxError{"bad chunk size"}
)

// Status is a parsed status line. Line aliases what it was parsed from
// (for a Reader, its source's buffer until the next read).
type Status struct {
	Line  []byte // the whole line without its line ending
	Minor int    // HTTP/1.<Minor>
	Code  int
}

// Reason is the reason phrase of a well-formed status line: what follows
// the SP after the code (the line's layout is fixed up to there).
func (s Status) Reason() []byte {
	if len(s.Line) > 13 {
		return s.Line[13:]
	}
	return nil
}

// Proto is the version as it appears on the line, e.g. "HTTP/1.1".
func (s Status) Proto() string {
	switch s.Minor {
	case 1:
		return "HTTP/1.1"
	case 0:
		return "HTTP/1.0"
	}
	return "HTTP/1." + string(rune('0'+s.Minor))
}

// ParseStatusLine parses a status line given without its line ending.
func ParseStatusLine(line []byte) (Status, error) {
	// "HTTP/1.x" SP, then the code up to the next SP or the end.
	if len(line) < 9 || string(line[:7]) != "HTTP/1." || !isDigit(line[7]) || line[8] != ' ' {
		return Status{Line: line}, ErrStatusLine
	}
	code := line[9:min(len(line), 12)]
	if len(code) != 3 || len(line) > 12 && line[12] != ' ' {
		return Status{Line: line}, ErrStatusLine
	}
	if !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) {
		return Status{Line: line}, ErrStatusCode
	}
	return Status{Line: line, Minor: int(line[7] - '0'), Code: int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')}, nil
}

// ParseFieldLine splits a header or trailer line, given without its line
// ending, into its name and its value without surrounding whitespace.
func ParseFieldLine(line []byte) (name, value []byte, err error) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, nil, ErrFieldLine
	}
	name = line[:i]
	for _, c := range name {
		if c == ' ' || c == '\t' {
			return nil, nil, ErrFieldLine
		}
	}
	return name, trimOWS(line[i+1:]), nil
}

// maxChunkSize bounds a chunk size so that sizes and their sums stay far
// from int64's limit.
const maxChunkSize = 1<<62 - 1

// ParseChunkSize parses a chunk-size line given without its line ending.
func ParseChunkSize(line []byte) (int64, error) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		d := unhex(line[i])
		if d < 0 {
			break
		}
		if n > maxChunkSize>>4 {
			return 0, ErrChunkSize
		}
		n = n<<4 | int64(d)
	}
	if i == 0 {
		return 0, ErrChunkSize
	}
	if rest := line[i:]; len(rest) > 0 {
		if rest = trimLeftOWS(rest); len(rest) == 0 || rest[0] != ';' {
			return 0, ErrChunkSize
		}
	}
	return n, nil
}

// parseLength parses a Content-Length value: 1*DIGIT within int64.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) || n > (1<<63-1-9)/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// lastMember is the last element of a comma-separated list, without OWS.
func lastMember(v []byte) []byte {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return trimOWS(v)
}

// hasToken reports whether the comma-separated list v has token (ASCII
// case-insensitive), e.g. "close" in a Connection value.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		elem := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			elem, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if equalFold(trimOWS(elem), token) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func trimLeftOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func trimOWS(b []byte) []byte {
	b = trimLeftOWS(b)
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares b with lower, a lower-case ASCII string, ignoring
// ASCII case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
