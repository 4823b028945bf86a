package http1

import "encoding/binary"

// Byte classes, one 256-entry table so every check is a single load.
const (
	cTchar     = 1 << iota // RFC 9110 §5.6.2 tchar
	cFieldChar             // field-vchar / obs-text / SP / HTAB (RFC 9110 §5.5)
	cTarget                // allowed in a request-target: VCHAR except '#'
	cHost                  // reg-name / IP-literal bytes of a Host (no ':' '@' '/')
	cHex                   // HEXDIG
	cScheme                // ALPHA / DIGIT / "+" / "-" / "."
)

var charClass [256]uint8

func init() {
	for c := 0; c < 256; c++ {
		var k uint8
		isAlpha := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		isDigit := c >= '0' && c <= '9'
		if isAlpha || isDigit {
			k |= cTchar | cHost | cScheme
		}
		switch c {
		case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
			k |= cTchar
		}
		if (c >= 0x21 && c <= 0x7e) || c >= 0x80 || c == ' ' || c == '\t' {
			k |= cFieldChar
		}
		if c >= 0x21 && c <= 0x7e && c != '#' {
			k |= cTarget
		}
		// unreserved, pct-encoded ('%'), sub-delims; '[' ']' for IP-literals.
		switch c {
		case '-', '.', '_', '~', '%', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
			k |= cHost
		}
		if isDigit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') {
			k |= cHex
		}
		if c == '+' || c == '-' || c == '.' {
			k |= cScheme
		}
		charClass[c] = k
	}
}

func isTchar(c byte) bool { return charClass[c]&cTchar != 0 }
func isHex(c byte) bool   { return charClass[c]&cHex != 0 }

// lower folds an ASCII letter to lower case.
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// EqualFold reports whether b equals the lower-case ASCII string s, ignoring
// ASCII case: how field names compare.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS removes optional whitespace (SP / HTAB) at both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func hexVal(c byte) int64 {
	switch {
	case c >= '0' && c <= '9':
		return int64(c - '0')
	case c >= 'a' && c <= 'f':
		return int64(c-'a') + 10
	default:
		return int64(c-'A') + 10
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// validFieldValue reports whether every byte of v is a field-vchar, obs-text,
// SP or HTAB (RFC 9110 §5.5): no CTL other than HTAB, no DEL. Eight bytes at
// a time: a word with no byte below 0x20 and no 0x7F is valid as a whole.
func validFieldValue(v []byte) bool {
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := binary.LittleEndian.Uint64(v[i:])
		low := (w - 0x20*lsb) &^ w & msb // some byte < 0x20
		d := w ^ (0x7f * lsb)            // DEL becomes 0
		del := (d - lsb) &^ d & msb      // some byte == 0x7F
		if low|del != 0 {
			for _, c := range v[i : i+8] {
				if charClass[c]&cFieldChar == 0 {
					return false
				}
			}
		}
	}
	for _, c := range v[i:] {
		if charClass[c]&cFieldChar == 0 {
			return false
		}
	}
	return true
}

// validTarget reports whether every byte of t may appear in a request-target:
// VCHAR (0x21-0x7E) except '#'. Eight bytes at a time like validFieldValue.
func validTarget(t []byte) bool {
	i := 0
	for ; i+8 <= len(t); i += 8 {
		w := binary.LittleEndian.Uint64(t[i:])
		bad := (w - 0x21*lsb) &^ w & msb // some byte < 0x21
		bad |= w & msb                   // some byte >= 0x80
		d := w ^ (0x7f * lsb)
		bad |= (d - lsb) &^ d & msb // DEL
		h := w ^ ('#' * lsb)
		bad |= (h - lsb) &^ h & msb // '#'
		if bad != 0 {
			return false
		}
	}
	for _, c := range t[i:] {
		if charClass[c]&cTarget == 0 {
			return false
		}
	}
	return true
}
