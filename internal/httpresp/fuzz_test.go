package httpresp

import (
	"reflect"
	"testing"
)

// FuzzReadResponse: on arbitrary bytes the reader never panics, never takes
// more than it was given, and is consistent: a response Strict accepts is
// read the same by Lenient with no violation, one Lenient read past a
// violation in is refused by Strict; a body framed by a length or by chunks
// that came whole is exactly that long; a response without a body has none;
// the status code is the line's three digits.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200\r\nConnection: close\r\n\r\n",
		"HTTP/1.1 +20 OK\r\nContent-Length: 0\r\n\r\n", // a sign is not a digit
		"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2 \nok\n0\n\n",
	} {
		f.Add(s, "GET")
		f.Add(s, "HEAD")
	}
	f.Fuzz(func(t *testing.T, raw, method string) {
		lenient, strict := readAll(raw, method, Lenient), readAll(raw, method, Strict)
		for _, r := range []result{lenient, strict} {
			if r.Consumed > int64(len(raw)) {
				t.Fatalf("%q: consumed %d of %d bytes", raw, r.Consumed, len(raw))
			}
		}
		if strict.Violation != "" {
			t.Fatalf("%q: Strict read past a violation: %s", raw, strict.Violation)
		}
		if strict.Err == "" && !reflect.DeepEqual(strict, lenient) {
			t.Fatalf("%q: Strict read\n%+v\nLenient read\n%+v", raw, strict, lenient)
		}
		if lenient.Violation != "" && strict.Err == "" {
			t.Fatalf("%q: Strict accepted what Lenient found a violation in: %s", raw, lenient.Violation)
		}
		if lenient.Err != "" && strict.Err == "" {
			t.Fatalf("%q: Strict accepted what Lenient failed on: %s", raw, lenient.Err)
		}
		r := lenient
		if r.Err != "" || r.Violation != "" {
			return
		}
		switch r.Head.Framing {
		case FramingNone:
			if r.Body != "" {
				t.Fatalf("%q: %d body bytes in a response without a body", raw, len(r.Body))
			}
		case FramingLength:
			if int64(len(r.Body)) != r.Head.ContentLength {
				t.Fatalf("%q: body of %d bytes, Content-Length %d", raw, len(r.Body), r.Head.ContentLength)
			}
		case FramingChunked:
			var sum int64
			for _, n := range r.Chunks {
				sum += n
			}
			if sum != int64(len(r.Body)) || len(r.Chunks) == 0 || r.Chunks[len(r.Chunks)-1] != 0 {
				t.Fatalf("%q: chunks %v for a body of %d bytes", raw, r.Chunks, len(r.Body))
			}
		}
		// status-code = 3DIGIT (RFC 9112 §4): no sign, no other byte.
		if len(r.Line) < 12 || atoi3(r.Line[9:12]) != r.Code {
			t.Fatalf("%q: status %d from %q", raw, r.Code, r.Line)
		}
	})
}

func atoi3(s string) int {
	n := 0
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}
