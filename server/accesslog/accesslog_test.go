package accesslog

import (
	"strings"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/server/http1"
)

func TestAccessLogFormat(t *testing.T) {
	raw := []byte("GET /p/a?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: ua \"quoted\"\r\nReferer: http://r/\r\nX-Req: abc\r\n\r\n")
	var req http1.Request
	lim := http1.DefaultLimits()
	if _, err := http1.Parse(raw, &req, &lim); err != nil {
		t.Fatal(err)
	}
	var rc Record
	rc.Capture(&req)
	rc.SetResponse([]byte("Content-Type: text/plain\r\nX-Out: yes\r\n"))
	start := time.Date(2026, 11, 25, 8, 3, 34, 0, time.UTC)
	cases := []struct {
		format string
		json   bool
		want   string
	}{
		{DefaultFormat, false, `127.0.0.1 - - [25/Nov/2026:08:03:34 +0000] "GET /p/a?x=1 HTTP/1.1" 200 13 "http://r/" "ua \"quoted\""` + "\n"},
		{`%(m)s %(U)s %(q)s %(H)s %(s)s %(B)s %(D)s %(M)s %(L)s %({x-req}i)s %({x-out}o)s %({x-missing}i)s`, false, "GET /p/a x=1 HTTP/1.1 200 13 1500 1 0.001500 abc yes -\n"},
		{`%(r)s %(s)s`, true, `{"request_line":"GET /p/a?x=1 HTTP/1.1","status":200}` + "\n"},
		{DefaultFormat, true, `{"remote_addr":"127.0.0.1","ident":"-","remote_user":"-","time":"2026-11-25T08:03:34Z","request_line":"GET /p/a?x=1 HTTP/1.1",` +
			`"status":200,"response_length":13,"referer":"http://r/","user_agent":"ua \"quoted\""}` + "\n"},
		{`%(m)s %(U)s %(q)s %(H)s %(B)s %(b)s %(T)s %(D)s %(M)s %(L)s %(p)s`, true,
			`{"method":"GET","path":"/p/a","query":"x=1","protocol":"HTTP/1.1","response_length":13,` +
				`"request_time_s":0,"request_time_us":1500,"request_time_ms":1,"request_time":0.001500,"pid":0}` + "\n"},
		{`%({x-req}i)s %({X-Out}o)s %({x-missing}i)s %({x-req}i)s`, true,
			`{"request_header_x_req":"abc","response_header_x_out":"yes","request_header_x_missing":"-"}` + "\n"},
	}
	for _, tc := range cases {
		atoms, err := parseFormat(tc.format)
		if err != nil {
			t.Fatal(err)
		}
		l := &Log{atoms: atoms, json: tc.json}
		got := string(l.AppendLine(nil, &rc, []byte("127.0.0.1"), 200, 13, start, 1500*time.Microsecond))
		if got != tc.want {
			t.Errorf("format %q:\n got %q\nwant %q", tc.format, got, tc.want)
		}
	}
	for asJSON, want := range map[bool]string{false: "-\n", true: `{"response_length":0}` + "\n"} {
		atoms, _ := parseFormat(`%(b)s`)
		l := &Log{atoms: atoms, json: asJSON}
		if got := string(l.AppendLine(nil, &rc, nil, 304, 0, start, 0)); got != want {
			t.Errorf("%%(b)s of an empty body, JSON %v: %q, want %q", asJSON, got, want)
		}
	}
	for _, bad := range []string{"%(z)s", "%(h", "%({x}q)s"} {
		if err := CheckFormat(bad); err == nil || !strings.Contains(err.Error(), "access log format") {
			t.Errorf("%q: err %v, want a format error", bad, err)
		}
	}
}

func TestAccessLogEscapes(t *testing.T) {
	got := string(appendEscaped(nil, []byte("a\nb\x1b\"c")))
	if got != `a\x0ab\x1b\"c` {
		t.Fatalf("%q", got)
	}
}
