package http1

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// decodeEscapes turns fixture text into bytes: real newlines are dropped and
// \r \n \t \0 \\ \xHH are decoded (see testdata/requests/README.md).
func decodeEscapes(s string) ([]byte, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\n' {
			continue
		}
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("dangling backslash")
		}
		i++
		switch s[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case '0':
			out = append(out, 0)
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("short \\x escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("bad \\x escape %q", s[i+1:i+3])
			}
			out = append(out, byte(v))
			i += 2
		default:
			return nil, fmt.Errorf("unknown escape \\%c", s[i])
		}
	}
	return out, nil
}

type fixtureStep struct {
	kind   string // "request", "status", "eof"
	status int
	checks [][2]string // key, value (decoded)
}

type fixture struct {
	name  string
	lim   Limits
	steps []fixtureStep
	raw   []byte
}

func loadFixture(path string) (*fixture, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	meta, raw, ok := strings.Cut(string(data), "\n---\n")
	if !ok {
		return nil, fmt.Errorf("%s: no --- separator", path)
	}
	f := &fixture{name: strings.TrimSuffix(filepath.Base(path), ".http"), lim: DefaultLimits()}
	if f.raw, err = decodeEscapes(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, line := range strings.Split(meta, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, _ := strings.Cut(line, ":")
		val = strings.TrimPrefix(val, " ")
		dv, err := decodeEscapes(val)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, line, err)
		}
		val = string(dv)
		atoi := func() int {
			n, err2 := strconv.Atoi(val)
			if err2 != nil {
				err = fmt.Errorf("%s: %q: %w", path, line, err2)
			}
			return n
		}
		switch key {
		case "max-request-line":
			f.lim.MaxRequestLine = atoi()
		case "max-fields":
			f.lim.MaxHeaderFields = atoi()
		case "max-field-size":
			f.lim.MaxFieldSize = atoi()
		case "max-head":
			f.lim.MaxHeadBytes = atoi()
		case "max-body":
			f.lim.MaxBodyBytes = int64(atoi())
		case "request", "eof":
			f.steps = append(f.steps, fixtureStep{kind: key})
		case "status":
			f.steps = append(f.steps, fixtureStep{kind: "status", status: atoi()})
		default:
			if len(f.steps) == 0 || f.steps[len(f.steps)-1].kind != "request" {
				return nil, fmt.Errorf("%s: %q outside a request", path, line)
			}
			st := &f.steps[len(f.steps)-1]
			st.checks = append(st.checks, [2]string{key, val})
		}
		if err != nil {
			return nil, err
		}
	}
	if len(f.steps) == 0 {
		return nil, fmt.Errorf("%s: no expectation", path)
	}
	return f, nil
}

func loadFixtures(t testing.TB) []*fixture {
	paths, err := filepath.Glob("testdata/requests/*.http")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var fs []*fixture
	for _, p := range paths {
		f, err := loadFixture(p)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	return fs
}

// chunkReader returns its data in pieces of the given sizes (cycling), so a
// head or body arrives split at chosen points.
type chunkReader struct {
	data  []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := c.sizes[c.i%len(c.sizes)]
	c.i++
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// bodyMode is how a test reads bodies.
type bodyMode int

const (
	bodyReadAll bodyMode = iota
	bodyTinyRead
	bodyReadLine
)

func readBody(b *Body, mode bodyMode) ([]byte, error) {
	var out []byte
	buf := make([]byte, 8<<10)
	for {
		var n int
		var err error
		switch mode {
		case bodyReadAll:
			n, err = b.Read(buf)
		case bodyTinyRead:
			n, err = b.Read(buf[:1])
		case bodyReadLine:
			n, err = b.ReadLine(buf[:3])
			if n > 0 && bytes.IndexByte(buf[:n-1], '\n') >= 0 {
				return out, fmt.Errorf("ReadLine returned past a newline: %q", buf[:n])
			}
		}
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func statusOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return strconv.Itoa(e.Status)
	}
	if err == io.ErrUnexpectedEOF {
		return "unexpected-eof"
	}
	if err == nil {
		return "ok"
	}
	return "error " + err.Error()
}

func fmtBytes(b []byte) string {
	if b == nil {
		return "(nil)"
	}
	return string(b)
}

func checkRequest(req *Request, checks [][2]string) []string {
	var bad []string
	cmp := func(key, got, want string) {
		if got != want {
			bad = append(bad, fmt.Sprintf("%s = %q, want %q", key, got, want))
		}
	}
	for _, kv := range checks {
		key, want := kv[0], kv[1]
		switch key {
		case "method":
			cmp(key, string(req.Method), want)
		case "target":
			cmp(key, string(req.Target), want)
		case "path":
			cmp(key, string(req.Path), want)
		case "query":
			cmp(key, fmtBytes(req.Query), want)
		case "host":
			cmp(key, fmtBytes(req.Host), want)
		case "version":
			cmp(key, fmt.Sprintf("%d.%d", req.Major, req.Minor), want)
		case "keepalive":
			cmp(key, strconv.FormatBool(req.KeepAlive), want)
		case "chunked":
			cmp(key, strconv.FormatBool(req.Chunked), want)
		case "expect100":
			cmp(key, strconv.FormatBool(req.Expect100), want)
		case "absolute":
			cmp(key, strconv.FormatBool(req.AbsoluteForm), want)
		case "cl":
			cmp(key, strconv.FormatInt(req.ContentLength, 10), want)
		case "headers":
			cmp(key, strconv.Itoa(len(req.Headers)), want)
		case "header":
			found := false
			for _, h := range req.Headers {
				if string(h.Name)+": "+string(h.Value) == want || (string(h.Name)+":" == want && len(h.Value) == 0) {
					found = true
				}
			}
			if !found {
				bad = append(bad, fmt.Sprintf("no field %q in %q", want, req.Headers))
			}
		case "body", "body-status":
		default:
			bad = append(bad, "unknown fixture key "+key)
		}
	}
	return bad
}

// runFixture replays f through a Reader fed by src and reports mismatches.
func runFixture(t *testing.T, f *fixture, src io.Reader, mode bodyMode) {
	t.Helper()
	r := NewReader(src, f.lim)
	var req Request
	for i, st := range f.steps {
		err := r.ReadRequest(&req)
		switch st.kind {
		case "eof":
			if err != io.EOF {
				t.Fatalf("step %d: ReadRequest = %v, want io.EOF", i, err)
			}
			continue
		case "status":
			if got := statusOf(err); got != strconv.Itoa(st.status) {
				t.Fatalf("step %d: ReadRequest = %s (%v), want status %d", i, got, err, st.status)
			}
			return
		}
		if err != nil {
			t.Fatalf("step %d: ReadRequest: %v", i, err)
		}
		if bad := checkRequest(&req, st.checks); len(bad) > 0 {
			t.Fatalf("step %d: %s", i, strings.Join(bad, "; "))
		}
		var wantBody, wantStatus *string
		for _, kv := range st.checks {
			v := kv[1]
			switch kv[0] {
			case "body":
				wantBody = &v
			case "body-status":
				wantStatus = &v
			}
		}
		switch {
		case wantStatus != nil:
			_, err := readBody(r.Body(), mode)
			if got := statusOf(err); got != *wantStatus {
				t.Fatalf("step %d: body read = %s (%v), want %s", i, got, err, *wantStatus)
			}
			if err2 := r.ReadRequest(&req); err2 == nil {
				t.Fatalf("step %d: ReadRequest after a body error succeeded", i)
			}
			return
		case wantBody != nil:
			got, err := readBody(r.Body(), mode)
			if err != nil {
				t.Fatalf("step %d: body: %v", i, err)
			}
			if string(got) != *wantBody {
				t.Fatalf("step %d: body = %q, want %q", i, got, *wantBody)
			}
			if !r.Body().Done() || r.Body().Remaining() != 0 {
				t.Fatalf("step %d: body not Done after EOF", i)
			}
		default:
			if err := r.Body().Discard(1 << 20); err != nil {
				t.Fatalf("step %d: Discard: %v", i, err)
			}
		}
	}
}

func TestFixtures(t *testing.T) {
	for _, f := range loadFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			splits := map[string][]int{"whole": {1 << 30}, "bytes": {1}, "pairs": {2, 1}}
			rng := rand.New(rand.NewSource(int64(len(f.raw))))
			for k := range 4 {
				var sizes []int
				for range 16 {
					sizes = append(sizes, 1+rng.Intn(12))
				}
				splits[fmt.Sprintf("random%d", k)] = sizes
			}
			for name, sizes := range splits {
				for mode, mname := range []string{"read", "tiny", "readline"} {
					t.Run(name+"/"+mname, func(t *testing.T) {
						runFixture(t, f, &chunkReader{data: f.raw, sizes: sizes}, bodyMode(mode))
					})
				}
			}
		})
	}
}

// TestFixturesParse checks Parse directly on each fixture's first head: the
// verdict is the same as through the Reader, and every proper prefix of an
// accepted head is ErrIncomplete.
func TestFixturesParse(t *testing.T) {
	for _, f := range loadFixtures(t) {
		var req Request
		n, err := Parse(f.raw, &req, &f.lim)
		st := f.steps[0]
		switch st.kind {
		case "status":
			if got := statusOf(err); got != strconv.Itoa(st.status) {
				t.Errorf("%s: Parse = %s (%v), want %d", f.name, got, err, st.status)
			}
		case "request":
			if err != nil {
				t.Errorf("%s: Parse: %v", f.name, err)
				continue
			}
			if bad := checkRequest(&req, st.checks); len(bad) > 0 {
				t.Errorf("%s: %s", f.name, strings.Join(bad, "; "))
			}
			for k := 0; k < n; k++ {
				if _, err := Parse(f.raw[:k], &req, &f.lim); err != ErrIncomplete {
					t.Errorf("%s: Parse(prefix %d of %d) = %v, want ErrIncomplete", f.name, k, n, err)
					break
				}
			}
		}
	}
}
