package http1

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

var allowedStatus = map[int]bool{400: true, 413: true, 414: true, 431: true, 501: true, 505: true}

func addFixtureSeeds(f *testing.F) {
	paths, _ := filepath.Glob("testdata/requests/*.http")
	for _, p := range paths {
		fx, err := loadFixture(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(fx.raw)
	}
}

// FuzzParse: Parse never panics, consumes at most len(buf), answers only the
// documented statuses, and an accepted head re-parses identically (from
// exactly the consumed bytes), every shorter prefix is ErrIncomplete, the
// Reader fed one byte at a time agrees, and accepted fields hold no byte a
// strict parser refuses; then the rest of the input is read as a connection
// would (Discard each body, next head) without panics or unsound heads.
func FuzzParse(f *testing.F) {
	for _, v := range headVectors {
		f.Add([]byte(v.raw))
	}
	addFixtureSeeds(f)
	// Small limits, so short inputs reach them; long inputs add nothing but
	// slow the minimizer down.
	lim := Limits{MaxRequestLine: 300, MaxHeaderFields: 12, MaxFieldSize: 200, MaxHeadBytes: 1500, MaxBodyBytes: 1000}
	src := &chunkReader{}
	r := NewReader(src, lim)
	f.Fuzz(func(t *testing.T, buf []byte) {
		if len(buf) > 4*lim.MaxHeadBytes {
			return
		}
		var req Request
		n, err := Parse(buf, &req, &lim)
		var perr *Error
		switch {
		case err == nil:
		case err == ErrIncomplete:
			if n != 0 {
				t.Fatalf("ErrIncomplete with n=%d", n)
			}
		case errors.As(err, &perr):
			if !allowedStatus[perr.Status] {
				t.Fatalf("status %d", perr.Status)
			}
		default:
			t.Fatalf("unexpected error type %T %v", err, err)
		}

		// The Reader, one byte per Read (a few bytes for long inputs, to keep
		// executions cheap), reaches the same verdict.
		src.data, src.sizes, src.i = buf, []int{1 + len(buf)/256}, 0
		r.Reset(src)
		var rreq Request
		rerr := r.ReadRequest(&rreq)
		switch {
		case err == nil:
			if rerr != nil {
				t.Fatalf("Parse accepted, Reader: %v", rerr)
			}
			if !sameRequest(&req, &rreq) {
				t.Fatalf("Reader parsed differently:\n%s\n%s", dumpReq(&req), dumpReq(&rreq))
			}
		case err == ErrIncomplete:
			if rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
				t.Fatalf("Parse incomplete, Reader: %v", rerr)
			}
		default:
			// The same status; with limits the reason may depend on how
			// much had arrived when the Reader looked.
			var rperr *Error
			if !errors.As(rerr, &rperr) || rperr.Status != perr.Status {
				t.Fatalf("Parse: %v, Reader: %v", err, rerr)
			}
		}
		if err != nil {
			return
		}

		if n <= 0 || n > len(buf) {
			t.Fatalf("consumed %d of %d", n, len(buf))
		}
		var again Request
		n2, err2 := Parse(buf[:n], &again, &lim)
		if err2 != nil || n2 != n || !sameRequest(&req, &again) {
			t.Fatalf("re-parse: n=%d err=%v (first n=%d)\n%s\n%s", n2, err2, n, dumpReq(&req), dumpReq(&again))
		}
		for _, k := range []int{0, 1, n / 2, n - 2, n - 1} {
			if k < 0 || k >= n {
				continue
			}
			if _, err := Parse(buf[:k], &again, &lim); err != ErrIncomplete {
				t.Fatalf("prefix %d of accepted %d: %v", k, n, err)
			}
		}
		checkAccepted(t, &req)

		// Keep going like a connection would: discard each body, read the
		// next head. Nothing panics, every accepted head is sound, and the
		// bytes consumed never exceed the input.
		for range 8 {
			if err := r.Body().Discard(1 << 20); err != nil {
				var e *Error
				if err != io.ErrUnexpectedEOF && err != ErrDiscardLimit && !errors.As(err, &e) {
					t.Fatalf("Discard: %v", err)
				}
				return
			}
			if err := r.ReadRequest(&rreq); err != nil {
				var e *Error
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &e) {
					t.Fatalf("ReadRequest: %v", err)
				}
				return
			}
			if r.Buffered() > len(buf) {
				t.Fatalf("Buffered %d of %d", r.Buffered(), len(buf))
			}
			checkAccepted(t, &rreq)
		}
	})
}

// checkAccepted asserts the invariants of an accepted head.
func checkAccepted(t *testing.T, req *Request) {
	t.Helper()
	for _, c := range req.Method {
		if !isTchar(c) {
			t.Fatalf("method %q", req.Method)
		}
	}
	if len(req.Method) == 0 || len(req.Target) == 0 {
		t.Fatal("empty method or target")
	}
	for _, c := range req.Target {
		if c <= ' ' || c == 0x7f || c >= 0x80 || c == '#' {
			t.Fatalf("target %q", req.Target)
		}
	}
	if req.Major != 1 || (req.Minor != 0 && req.Minor != 1) {
		t.Fatalf("version %d.%d", req.Major, req.Minor)
	}
	var hosts, cls, tes int
	for _, h := range req.Headers {
		if len(h.Name) == 0 {
			t.Fatal("empty field name")
		}
		for _, c := range h.Name {
			if !isTchar(c) {
				t.Fatalf("field name %q", h.Name)
			}
		}
		for _, c := range h.Value {
			if c == 0 || c == '\r' || c == '\n' || (c < ' ' && c != '\t') || c == 0x7f {
				t.Fatalf("field value %q", h.Value)
			}
		}
		if len(h.Value) > 0 && (isOWS(h.Value[0]) || isOWS(h.Value[len(h.Value)-1])) {
			t.Fatalf("untrimmed value %q", h.Value)
		}
		switch {
		case EqualFold(h.Name, "host"):
			hosts++
		case EqualFold(h.Name, "content-length"):
			cls++
		case EqualFold(h.Name, "transfer-encoding"):
			tes++
		}
	}
	if hosts > 1 || (req.Minor == 1 && hosts != 1) {
		t.Fatalf("%d Host fields accepted", hosts)
	}
	if tes > 0 && (cls > 0 || !req.Chunked || req.Minor == 0) {
		t.Fatal("TE accepted with CL, without chunked, or on HTTP/1.0")
	}
	if req.Chunked && req.ContentLength != -1 {
		t.Fatal("chunked with a Content-Length")
	}
	if (cls > 0) != (req.ContentLength >= 0) && !req.Chunked {
		t.Fatalf("%d CL fields but ContentLength %d", cls, req.ContentLength)
	}
}

func sameRequest(a, b *Request) bool {
	ha, hb := a.Headers, b.Headers
	if len(ha) != len(hb) {
		return false
	}
	for i := range ha {
		if !bytes.Equal(ha[i].Name, hb[i].Name) || !bytes.Equal(ha[i].Value, hb[i].Value) {
			return false
		}
	}
	ca, cb := *a, *b
	ca.Headers, cb.Headers = nil, nil
	return dumpReq(&ca) == dumpReq(&cb)
}

func dumpReq(r *Request) string {
	q := "(nil)"
	if r.Query != nil {
		q = strconv.Quote(string(r.Query))
	}
	h := "(nil)"
	if r.Host != nil {
		h = strconv.Quote(string(r.Host))
	}
	return fmt.Sprintf("%q %q path=%q query=%s %d.%d host=%s cl=%d chunked=%v ka=%v e100=%v eo=%v abs=%v close=%v headers=%q",
		r.Method, r.Target, r.Path, q, r.Major, r.Minor, h, r.ContentLength, r.Chunked, r.KeepAlive,
		r.Expect100, r.ExpectOther, r.AbsoluteForm, r.ConnectionClose, r.Headers)
}

// --- chunked body reference decoder ---------------------------------------

const (
	reToken  = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+"
	reQuoted = `"(?:[\t \x21\x23-\x5b\x5d-\x7e\x{80}-\x{ff}]|\\[\t \x21-\x7e\x{80}-\x{ff}])*"`
)

var (
	reChunkLine = regexp.MustCompile(`^([0-9A-Fa-f]+)((?:[ \t]*;[ \t]*` + reToken + `(?:[ \t]*=[ \t]*(?:` + reToken + `|` + reQuoted + `))?)*)$`)
	reTrailer   = regexp.MustCompile(`^` + reToken + `:[\t \x21-\x7e\x{80}-\x{ff}]*$`)
)

// latin1 maps each byte to the rune of the same value, so the regexps above
// can talk about bytes 0x80-0xFF.
func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// refDecodeChunked is a deliberately simple, separate reading of RFC 9112 §7.1
// with the same strictness and limits as Body. It returns the data, the bytes
// of data consumed, and "ok", "error" or "incomplete".
func refDecodeChunked(data []byte, lim Limits) (body []byte, consumed int, verdict string) {
	pos := 0
	var total, excess int64
	// line finds the next CRLF line, mirroring the limits.
	line := func() ([]byte, string) {
		rest := data[pos:]
		lf := bytes.IndexByte(rest, '\n')
		if lf < 0 {
			if len(rest) > lim.MaxFieldSize+1 {
				return nil, "error"
			}
			return nil, "incomplete"
		}
		if lf == 0 || rest[lf-1] != '\r' || lf-1 > lim.MaxFieldSize {
			return nil, "error"
		}
		pos += lf + 1
		return rest[:lf-1], ""
	}
	for {
		l, v := line()
		if v != "" {
			return body, pos, v
		}
		m := reChunkLine.FindStringSubmatch(latin1(l))
		if m == nil {
			return body, pos, "error"
		}
		size, err := strconv.ParseInt(m[1], 16, 64)
		if err != nil {
			return body, pos, "error"
		}
		if lim.MaxBodyBytes > 0 && total+size > lim.MaxBodyBytes {
			return body, pos, "error"
		}
		// Framing overhead: len(line)+2 bytes against 32 + 2*size.
		excess += int64(len(l)) + 2 - 32 - 2*min(size, 1<<40)
		if excess < 0 {
			excess = 0
		}
		if excess > 16<<10 {
			return body, pos, "error"
		}
		total += size
		if size == 0 {
			break
		}
		if int64(len(data)-pos) < size {
			body = append(body, data[pos:]...)
			return body, len(data), "incomplete"
		}
		body = append(body, data[pos:pos+int(size)]...)
		pos += int(size)
		switch rest := data[pos:]; {
		case len(rest) >= 2 && rest[0] == '\r' && rest[1] == '\n':
			pos += 2
		case len(rest) >= 2 || (len(rest) == 1 && rest[0] != '\r'):
			return body, pos, "error"
		default:
			return body, pos, "incomplete"
		}
	}
	for n := 0; ; n++ {
		l, v := line()
		if v != "" {
			return body, pos, v
		}
		if len(l) == 0 {
			return body, pos, "ok"
		}
		if !reTrailer.MatchString(latin1(l)) || n >= lim.MaxHeaderFields {
			return body, pos, "error"
		}
	}
}

// FuzzBody decodes data as a chunked request body, split into reads of a
// fuzzed size and read in a fuzzed way, and compares with refDecodeChunked:
// the same data, the same verdict, and on success the same bytes left for the
// next request.
func FuzzBody(f *testing.F) {
	for i, v := range bodyVectors {
		f.Add([]byte(v.raw), uint8(i))
	}
	for _, v := range headVectors { // chunk bytes inside head vectors, too
		if i := bytes.Index([]byte(v.raw), []byte("\r\n\r\n")); i >= 0 {
			f.Add([]byte(v.raw[i+4:]), uint8(0))
		}
	}
	f.Add([]byte("400\r\n"+string(bytes.Repeat([]byte("x"), 1024))+"\r\n0\r\n\r\n"), uint8(7))
	f.Add([]byte("a;x=\"\xff\"\r\n0123456789\r\n0;y\r\nT: \x80\t\r\n\r\n"), uint8(3))
	const head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		if len(data) > 8<<10 {
			return // the line limits below are small; longer adds nothing
		}
		lim := DefaultLimits()
		lim.MaxFieldSize = 64 // small, so the fuzzer reaches the line limits
		lim.MaxHeaderFields = 4
		if mode&0x80 != 0 {
			lim.MaxBodyBytes = 100
		}
		wantBody, wantUsed, verdict := refDecodeChunked(data, lim)

		stream := append([]byte(head), data...)
		src := &chunkReader{data: stream, sizes: []int{1 + int(mode&0x0f)*7}}
		if mode&0x0f == 0 {
			src.sizes = []int{1 << 20}
		}
		r := NewReader(src, lim)
		var req Request
		if err := r.ReadRequest(&req); err != nil {
			t.Fatalf("head: %v", err)
		}
		got, err := readBody(r.Body(), bodyMode(((mode>>4)&3)%3))
		var perr *Error
		switch verdict {
		case "ok":
			if err != nil {
				t.Fatalf("reference ok, Body: %v", err)
			}
			if !r.Body().Done() {
				t.Fatal("not Done at EOF")
			}
			left := r.Buffered() + len(src.data)
			if left != len(data)-wantUsed {
				t.Fatalf("left %d bytes for the next request, reference %d", left, len(data)-wantUsed)
			}
		case "error":
			if !errors.As(err, &perr) || (perr.Status != 400 && perr.Status != 413 && perr.Status != 431) {
				t.Fatalf("reference error, Body: %v", err)
			}
		case "incomplete":
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("reference incomplete, Body: %v", err)
			}
		}
		if !bytes.Equal(got, wantBody) {
			t.Fatalf("body %q, reference %q (%s)", got, wantBody, verdict)
		}
	})
}

// TestSmugglingVectors checks each vector's verdict (head, and for chunked
// bodies the body read) so the seeds are also plain regression tests.
func TestSmugglingVectors(t *testing.T) {
	for _, v := range headVectors {
		var req Request
		_, err := Parse([]byte(v.raw), &req, nil)
		got := statusOf(err)
		if got != v.want {
			t.Errorf("%s: %s (%v), want %s", v.id, got, err, v.want)
		}
	}
	const head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, v := range bodyVectors {
		r := NewReader(&chunkReader{data: []byte(head + v.raw), sizes: []int{1 << 20}}, DefaultLimits())
		var req Request
		if err := r.ReadRequest(&req); err != nil {
			t.Fatalf("%s: head: %v", v.id, err)
		}
		_, err := io.ReadAll(r.Body())
		if got := statusOf(err); got != v.want {
			t.Errorf("%s: %s (%v), want %s", v.id, got, err, v.want)
		}
		_, _, ref := refDecodeChunked([]byte(v.raw), DefaultLimits())
		wantRef := map[string]string{"ok": "ok", "unexpected-eof": "incomplete"}[v.want]
		if wantRef == "" {
			wantRef = "error"
		}
		if ref != wantRef {
			t.Errorf("%s: reference decoder says %s, want %s", v.id, ref, wantRef)
		}
	}
}
