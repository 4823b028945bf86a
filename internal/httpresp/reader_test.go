package httpresp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// result is one response read to its end, as a test sees it.
type result struct {
	Line       string // the final status line
	Code       int
	Head       Head
	Body       string
	Chunks     []int64
	Trailers   []string
	Fields     []string
	Violation  string // first violation (Lenient)
	Violations int
	Err        string // what ended the read early
	Consumed   int64
}

// readAll reads one final response (interim ones skipped) from raw, the
// body framed as the head says, until close at most.
func readAll(raw, method string, mode Mode) (res result) {
	rd := NewReader(bufio.NewReaderSize(strings.NewReader(raw), 64), mode)
	defer func() {
		res.Consumed = rd.Consumed()
		if v := rd.Violation(); v != nil {
			res.Violation, res.Violations = v.Error(), rd.Violations()
		}
	}()
	for {
		st, err := rd.ReadStatus()
		if err != nil {
			res.Err = "status: " + err.Error()
			return res
		}
		res.Line, res.Code = string(st.Line), st.Code
		res.Fields = nil
		h, err := rd.ReadHeader(method, st, func(name, value []byte) { res.Fields = append(res.Fields, string(name)+"="+string(value)) })
		if err != nil {
			res.Err = "header: " + err.Error()
			return res
		}
		res.Head = h
		if st.Code >= 100 && st.Code < 200 && st.Code != 101 {
			continue
		}
		break
	}
	var body io.Reader
	switch res.Head.Framing {
	case FramingNone:
		return res
	case FramingLength:
		body = io.LimitReader(rd.src, res.Head.ContentLength)
	case FramingChunked:
		rd.OnChunk = func(n int64) { res.Chunks = append(res.Chunks, n) }
		rd.OnTrailer = func(name, value []byte) { res.Trailers = append(res.Trailers, string(name)+"="+string(value)) }
		ck := rd.Chunked()
		body = &ck
	case FramingClose:
		body = rd.src
	}
	b, err := io.ReadAll(body)
	res.Body = string(b)
	if err != nil {
		res.Err = "body: " + err.Error()
	}
	if res.Head.Framing == FramingLength && int64(len(b)) < res.Head.ContentLength {
		res.Err = "body: " + io.ErrUnexpectedEOF.Error()
	}
	return res
}

func TestReader(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\n"
	tests := []struct {
		name, method, raw string
		code              int
		framing           Framing
		body              string
		persistent        bool
		violation         string // Lenient reads on past it; Strict fails with it
		err               string // both modes fail with it
	}{
		{name: "length", raw: ok + "Content-Length: 5\r\n\r\nhello", code: 200, framing: FramingLength, body: "hello", persistent: true},
		{name: "length repeated", raw: ok + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", code: 200, framing: FramingLength, body: "hello", persistent: true},
		{name: "length short", raw: ok + "Content-Length: 9\r\n\r\nhello", code: 200, framing: FramingLength, body: "hello", persistent: true, err: "unexpected EOF"},
		{name: "chunked", raw: ok + "Transfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n1\r\n!\r\n0\r\nT: v\r\n\r\n", code: 200, framing: FramingChunked, body: "hello!", persistent: true},
		{name: "chunked last of several codings", raw: ok + "Transfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", code: 200, framing: FramingChunked, persistent: true},
		{name: "chunked not last: until close", raw: ok + "Transfer-Encoding: chunked, gzip\r\n\r\nzz", code: 200, framing: FramingClose, body: "zz", persistent: true},
		{name: "identity is a coding too", raw: ok + "Transfer-Encoding: identity\r\nContent-Length: 1\r\n\r\nab", code: 200, framing: FramingClose, body: "ab", persistent: true},
		{name: "TE overrides a bad length", raw: ok + "Transfer-Encoding: chunked\r\nContent-Length: abc\r\n\r\n0\r\n\r\n", code: 200, framing: FramingChunked, persistent: true},
		{name: "chunk size with BWS before ;", raw: ok + "Transfer-Encoding: chunked\r\n\r\n2 ;x\r\nok\r\n0\r\n\r\n", code: 200, framing: FramingChunked, body: "ok", persistent: true},
		{name: "chunk size with trailing space", raw: ok + "Transfer-Encoding: chunked\r\n\r\n2 \r\nok\r\n0\r\n\r\n", code: 200, framing: FramingChunked, persistent: true, err: `bad chunk size line "2 "`},
		{name: "chunk size with leading space", raw: ok + "Transfer-Encoding: chunked\r\n\r\n 2\r\nok\r\n0\r\n\r\n", code: 200, framing: FramingChunked, persistent: true, err: `bad chunk size line " 2"`},
		{name: "chunked no last chunk", raw: ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", code: 200, framing: FramingChunked, body: "hello", persistent: true, err: "chunked body ended before the last chunk: unexpected EOF"},
		{name: "chunk data truncated", raw: ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhel", code: 200, framing: FramingChunked, body: "hel", persistent: true, err: "chunk data truncated: unexpected EOF"},
		{name: "chunk data without CRLF", raw: ok + "Transfer-Encoding: chunked\r\n\r\n2\r\nokxy0\r\n\r\n", code: 200, framing: FramingChunked, body: "ok", persistent: true, err: `chunk data not followed by CRLF ("xy")`},
		{name: "chunk data with bare LF", raw: ok + "Transfer-Encoding: chunked\r\n\r\n2\r\nok\n0\r\n\r\n", code: 200, framing: FramingChunked, body: "ok", persistent: true, err: `chunk data not followed by CRLF ("\n0")`},
		{name: "no CRLF after the last chunk", raw: ok + "Transfer-Encoding: chunked\r\n\r\n0\r\n", code: 200, framing: FramingChunked, persistent: true, err: "no CRLF after the last chunk: unexpected EOF"},
		{name: "chunk size line bare LF", raw: ok + "Transfer-Encoding: chunked\r\n\r\n2\nok\r\n0\r\n\r\n", code: 200, framing: FramingChunked, body: "ok", persistent: true, violation: "chunk size line ends in bare LF"},
		{name: "bad trailer line", raw: ok + "Transfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n", code: 200, framing: FramingChunked, persistent: true, violation: `bad trailer line "no colon"`},
		{name: "close delimited", raw: "HTTP/1.0 200 OK\r\n\r\nuntil close", code: 200, framing: FramingClose, body: "until close"},
		{name: "HTTP/1.0 keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", code: 200, framing: FramingLength, persistent: true},
		{name: "Connection: close", raw: ok + "Connection: keep-alive, close\r\nContent-Length: 0\r\n\r\n", code: 200, framing: FramingLength},
		{name: "head", method: "HEAD", raw: ok + "Content-Length: 5\r\n\r\n", code: 200, framing: FramingNone, persistent: true},
		{name: "head ignores a bad length", method: "HEAD", raw: ok + "Content-Length: x\r\n\r\n", code: 200, framing: FramingNone, persistent: true},
		{name: "204", raw: "HTTP/1.1 204 No Content\r\n\r\n", code: 204, framing: FramingNone, persistent: true},
		{name: "304", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", code: 304, framing: FramingNone, persistent: true},
		{name: "interim", method: "POST", raw: "HTTP/1.1 100 Continue\r\n\r\n" + ok + "Content-Length: 2\r\n\r\nok", code: 200, framing: FramingLength, body: "ok", persistent: true},
		{name: "bare LF", raw: "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", code: 200, framing: FramingLength, body: "ok", persistent: true, violation: "status line ends in bare LF"},
		{name: "header bare LF", raw: ok + "Content-Length: 2\n\r\nok", code: 200, framing: FramingLength, body: "ok", persistent: true, violation: "header line ends in bare LF"},
		{name: "space before colon", raw: ok + "X-A : 1\r\nContent-Length: 2\r\n\r\nok", code: 200, framing: FramingLength, body: "ok", persistent: true, violation: `bad header line "X-A : 1"`},
		{name: "obs-fold", raw: ok + "X-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\nok", code: 200, framing: FramingLength, body: "ok", persistent: true, violation: `bad header line " 2"`},
		{name: "bad length: until close", raw: ok + "Content-Length: abc\r\n\r\nhello", code: 200, framing: FramingClose, body: "hello", persistent: true, violation: `bad Content-Length "abc"`},
		{name: "signed length", raw: ok + "Content-Length: +5\r\n\r\nhello", code: 200, framing: FramingClose, body: "hello", persistent: true, violation: `bad Content-Length "+5"`},
		{name: "conflicting lengths", raw: ok + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", code: 200, framing: FramingClose, body: "ab", persistent: true, violation: `bad Content-Length "2" (after 1)`},
		{name: "lengths differing in text", raw: ok + "Content-Length: 2\r\nContent-Length: 02\r\n\r\nab", code: 200, framing: FramingClose, body: "ab", persistent: true, violation: `bad Content-Length "02" (after 2)`},
		{name: "bad status line", raw: "hello world\r\n\r\n", err: "status: bad status line"},
		{name: "bad status code", raw: "HTTP/1.1 +20 OK\r\n\r\n", err: "status: bad status code"},
		{name: "nothing", raw: "", err: "status: EOF"},
		{name: "header section cut", raw: ok + "Content-Length: 2\r\n", code: 200, err: "header: header section incomplete: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			for _, mode := range []Mode{Lenient, Strict} {
				got := readAll(tt.raw, method, mode)
				wantErr, wantViolation := tt.err, tt.violation
				if mode == Strict && tt.violation != "" {
					wantErr, wantViolation = tt.violation, ""
				}
				if !strings.Contains(got.Err, wantErr) || (wantErr == "") != (got.Err == "") || got.Violation != wantViolation {
					t.Fatalf("mode %d: error %q violation %q; want %q, %q", mode, got.Err, got.Violation, wantErr, wantViolation)
				}
				if mode == Strict && tt.violation != "" {
					continue // the read stopped at the violation
				}
				if got.Code != tt.code || got.Head.Framing != tt.framing || got.Body != tt.body || got.Head.Persistent != tt.persistent {
					t.Errorf("mode %d: %d %s body %q persistent %v; want %d %s %q %v", mode, got.Code, got.Head.Framing, got.Body, got.Head.Persistent, tt.code, tt.framing, tt.body, tt.persistent)
				}
				if got.Consumed > int64(len(tt.raw)) {
					t.Errorf("consumed %d of %d bytes", got.Consumed, len(tt.raw))
				}
			}
		})
	}
}

func TestReaderChunksAndTrailers(t *testing.T) {
	got := readAll("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A:  v \r\n\r\n3\r\nabc\r\n1;e\r\nd\r\n0\r\nT-1: a\r\nT-2:\tb\r\n\r\nNEXT", "GET", Strict)
	if fmt.Sprint(got.Chunks, got.Trailers, got.Fields) != "[3 1 0] [T-1=a T-2=b] [Transfer-Encoding=chunked X-A=v]" || got.Body != "abcd" || got.Err != "" {
		t.Fatalf("%+v", got)
	}
	if want := int64(len("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A:  v \r\n\r\n3\r\nabc\r\n1;e\r\nd\r\n0\r\nT-1: a\r\nT-2:\tb\r\n\r\n")); got.Consumed != want {
		t.Fatalf("consumed %d bytes, want %d (none of the next response)", got.Consumed, want)
	}
}

// TestReaderSyntaxErrors: what the reader rejects is a *SyntaxError, and an
// I/O error stays visible through the wrapping.
func TestReaderSyntaxErrors(t *testing.T) {
	rd := NewReader(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")), Strict)
	st, err := rd.ReadStatus()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rd.ReadHeader("GET", st, nil); err != nil {
		t.Fatal(err)
	}
	ck := rd.Chunked()
	_, err = ck.Read(make([]byte, 10))
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("err %v (%T), want a *SyntaxError", err, err)
	}
	if _, again := ck.Read(make([]byte, 10)); again != err {
		t.Fatalf("second read: %v, want the same error", again)
	}
	rd = NewReader(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")), Strict)
	st, _ = rd.ReadStatus()
	_, _ = rd.ReadHeader("GET", st, nil)
	ck = rd.Chunked()
	_, err = io.ReadAll(&ck)
	if !errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &se) {
		t.Fatalf("err %v, want io.ErrUnexpectedEOF and no syntax error", err)
	}
}
