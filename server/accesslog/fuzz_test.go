package accesslog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/server/http1"
)

// FuzzAccessLog: any format either is rejected with a one-line error or
// yields exactly one line per request, whatever the request's bytes (no
// log injection), and with --log-json a JSON object.
func FuzzAccessLog(f *testing.F) {
	f.Add(DefaultFormat, "ua \"quoted\"", false)
	f.Add(`%(r)s %({x-req}i)s %({x-out}o)s %({HOME}e)s`, "a\x1bb", true)
	f.Add(`%(a)s`, "caf\xe9", true) // obs-text: latin-1 in JSON, not Go's \xe9
	f.Fuzz(func(t *testing.T, format, ua string, asJSON bool) {
		atoms, err := parseFormat(format)
		if err != nil {
			if !strings.Contains(err.Error(), "access log format") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("format %q: error %q", format, err)
			}
			return
		}
		if strings.ContainsAny(format, "\r\n") {
			return // line breaks the operator wrote into the format are theirs
		}
		var req http1.Request
		lim := http1.DefaultLimits()
		raw := []byte("GET /p?q=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: " + ua + "\r\nX-Req: " + ua + "\r\n\r\n")
		if _, err := http1.Parse(raw, &req, &lim); err != nil {
			return // not a request the server would log
		}
		var rc Record
		rc.Capture(&req)
		rc.SetResponse([]byte("X-Out: " + ua + "\r\n"))
		l := &Log{atoms: atoms, json: asJSON}
		line := l.AppendLine(nil, &rc, []byte("127.0.0.1"), 200, 13, time.Unix(0, 0), time.Millisecond)
		if len(line) == 0 || line[len(line)-1] != '\n' || bytes.IndexByte(line[:len(line)-1], '\n') >= 0 || bytes.IndexByte(line, '\r') >= 0 {
			t.Fatalf("format %q, User-Agent %q: not one line: %q", format, ua, line)
		}
		if asJSON && !json.Valid(line) {
			t.Fatalf("format %q, User-Agent %q: not JSON: %q", format, ua, line)
		}
	})
}
