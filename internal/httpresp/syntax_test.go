package httpresp

import (
	"strconv"
	"testing"
)

func TestParseStatusLine(t *testing.T) {
	tests := []struct {
		in     string
		code   int
		minor  int
		reason string
		err    error
	}{
		{"HTTP/1.1 200 OK", 200, 1, "OK", nil},
		{"HTTP/1.0 500 Internal Server Error", 500, 0, "Internal Server Error", nil},
		{"HTTP/1.1 404", 404, 1, "", nil}, // no SP before an empty reason: tolerated
		{"HTTP/1.1 204 ", 204, 1, "", nil},
		{"HTTP/1.1 299 Froody  Status", 299, 1, "Froody  Status", nil},
		{"HTTP/1.1 +20 OK", 0, 0, "", ErrStatusCode}, // a sign is not a digit
		{"HTTP/1.1 2x0 OK", 0, 0, "", ErrStatusCode},
		{"HTTP/1.1 2000 OK", 0, 0, "", ErrStatusLine},
		{"HTTP/1.1 20 OK", 0, 0, "", ErrStatusLine},
		{"HTTP/1.1  200 OK", 0, 0, "", ErrStatusLine},
		{"HTTP/1.1\t200 OK", 0, 0, "", ErrStatusLine},
		{"HTTP/1.1 200\tOK", 0, 0, "", ErrStatusLine},
		{"HTTP/1.10 200 OK", 0, 0, "", ErrStatusLine},
		{"HTTP/2.0 200 OK", 0, 0, "", ErrStatusLine},
		{"http/1.1 200 OK", 0, 0, "", ErrStatusLine},
		{"HTTP/1.1 ", 0, 0, "", ErrStatusLine},
		{"SSH-2.0-x", 0, 0, "", ErrStatusLine},
		{"", 0, 0, "", ErrStatusLine},
	}
	for _, tt := range tests {
		st, err := ParseStatusLine([]byte(tt.in))
		if err != nil {
			st = Status{} // Reason and the rest mean nothing then
		}
		if err != tt.err || st.Code != tt.code || st.Minor != tt.minor || string(st.Reason()) != tt.reason {
			t.Errorf("ParseStatusLine(%q) = %d HTTP/1.%d %q, %v; want %d HTTP/1.%d %q, %v", tt.in, st.Code, st.Minor, st.Reason(), err, tt.code, tt.minor, tt.reason, tt.err)
		}
	}
}

func TestParseFieldLine(t *testing.T) {
	tests := []struct{ in, name, value string }{
		{"Content-Length: 5", "Content-Length", "5"},
		{"X:\t a b \t", "X", "a b"},
		{"X:", "X", ""},
		{"X::y", "X", ":y"},
		{"X-\xe9: v", "X-\xe9", "v"}, // the name's bytes are the specs' business
		{"X: a\x00b", "X", "a\x00b"},
		{": v", "", ""},
		{"X : v", "", ""},
		{"X\t: v", "", ""},
		{" X: v", "", ""}, // obs-fold
		{"no colon", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		name, value, err := ParseFieldLine([]byte(tt.in))
		if ok := tt.name != ""; (err == nil) != ok || string(name) != tt.name || string(value) != tt.value {
			t.Errorf("ParseFieldLine(%q) = %q, %q, %v", tt.in, name, value, err)
		}
	}
}

// TestParseChunkSize pins the strict reading of RFC 9112 §7.1: 1*HEXDIG,
// then nothing or BWS ";" and an extension.
func TestParseChunkSize(t *testing.T) {
	tests := []struct {
		in   string
		size int64
		ok   bool
	}{
		{"0", 0, true},
		{"5", 5, true},
		{"1aF", 0x1af, true},
		{"0005", 5, true},
		{"5;ext=1", 5, true},
		{"5 ;ext", 5, true},
		{"5\t ; ext = \"v\"", 5, true},
		{"5;", 5, true},
		{"3fffffffffffffff", 1<<62 - 1, true},
		{"4000000000000000", 0, false}, // 2^62
		{"ffffffffffffffffff", 0, false},
		{"5 ", 0, false}, // whitespace without a ";" after it
		{"5\t", 0, false},
		{" 5", 0, false},
		{"\t5", 0, false},
		{"5 5", 0, false},
		{"+5", 0, false},
		{"-5", 0, false},
		{"0x5", 0, false},
		{"5_0", 0, false},
		{"zz", 0, false},
		{";ext", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		n, err := ParseChunkSize([]byte(tt.in))
		if (err == nil) != tt.ok || n != tt.size {
			t.Errorf("ParseChunkSize(%q) = %d, %v; want %d, ok %v", tt.in, n, err, tt.size, tt.ok)
		}
	}
	for _, n := range []int64{0, 1, 15, 16, 4096, 1<<62 - 1} {
		if got, err := ParseChunkSize([]byte(strconv.FormatInt(n, 16))); got != n || err != nil {
			t.Errorf("round trip of %d: %d, %v", n, got, err)
		}
	}
}

func TestParseLength(t *testing.T) {
	tests := []struct {
		in string
		n  int64
		ok bool
	}{
		{"0", 0, true},
		{"13", 13, true},
		{"007", 7, true},
		{"922337203685477579", 922337203685477579, true},
		{"99999999999999999999", 0, false},
		{"+5", 0, false},
		{"-1", 0, false},
		{"5, 5", 0, false},
		{"1e3", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		if n, ok := parseLength([]byte(tt.in)); ok != tt.ok || n != tt.n {
			t.Errorf("parseLength(%q) = %d, %v", tt.in, n, ok)
		}
	}
}

func TestHasToken(t *testing.T) {
	tests := []struct {
		v, token string
		want     bool
	}{
		{"close", "close", true},
		{"Keep-Alive, Close", "close", true},
		{"keep-alive ,\tclose ", "close", true},
		{"closed", "close", false},
		{"x-close", "close", false},
		{"", "close", false},
		{",,", "close", false},
	}
	for _, tt := range tests {
		if got := hasToken([]byte(tt.v), tt.token); got != tt.want {
			t.Errorf("hasToken(%q, %q) = %v", tt.v, tt.token, got)
		}
	}
}
