//go:build ignore

// genfixtures is one file over 600 lines on purpose: a `go run` generator of
// hand-tuned data, one function per fixture file, read top to bottom.
//
// genfixtures writes the hand-tuned fixture results the report tests render:
// plausible numbers for a 2-core machine, several servers, verdict mixes,
// rounds, a sweep, a capacity search, a baseline comparison, one client-bound
// server and one failed run. Run it from the repository root:
//
//	go run ./reports/testdata/genfixtures.go
//
// The output is committed; the generator is seeded, so it is reproducible.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/wsgikit/wsgikit/reports"
)

var machine = &reports.Machine{
	Hostname:  "ci-runner-7",
	CPUModel:  "AMD EPYC 7B13 64-Core Processor",
	CPUs:      2,
	Kernel:    "6.1.0-27-amd64",
	OS:        "Debian GNU/Linux 12 (bookworm)",
	Python:    "3.11.2",
	GoVersion: "go1.26.8",
}

func main() {
	write("reports/testdata/check.json", check())
	write("reports/testdata/check-extra.json", checkExtra())
	write("reports/testdata/bench.json", bench())
	write("reports/testdata/bench-modwsgi.json", benchModWSGI())
}

func write(path string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		panic(err)
	}
}

type spec struct {
	id, level, section, sentence, stimulus string
	pass                                   string            // detail when passing
	dev                                    map[string]string // server → "VERDICT|detail"
	req, resp                              string
}

var specs = []spec{
	{"pep3333/environ/request-method", "MUST", "PEP 3333 / environ",
		`REQUEST_METHOD: The HTTP request method, such as "GET" or "POST". This cannot ever be an empty string, and so is always required.`,
		"GET /environ", `REQUEST_METHOD == "GET"`, nil,
		"GET /environ HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: 812"},
	{"pep3333/environ/script-name-path-info", "MUST", "PEP 3333 / environ",
		`SCRIPT_NAME and PATH_INFO: the initial portion of the request URL's "path" that corresponds to the application object, and the remainder.`,
		"GET /a/b%20c?x=1", `SCRIPT_NAME == "", PATH_INFO == "/a/b c"`, nil,
		"GET /a/b%20c?x=1 HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 200 OK\nContent-Length: 790"},
	{"pep3333/environ/no-http-content-type", "MUST", "PEP 3333 / environ",
		`HTTP_ Variables: Variables corresponding to the client-supplied HTTP request headers (i.e., variables whose names begin with "HTTP_").`,
		"POST /environ with Content-Type and Content-Length", `CONTENT_TYPE and CONTENT_LENGTH set; no HTTP_CONTENT_TYPE / HTTP_CONTENT_LENGTH`, nil,
		"POST /environ HTTP/1.1\nHost: 127.0.0.1:{port}\nContent-Type: text/plain\nContent-Length: 5\n\nhello", "HTTP/1.1 200 OK\nContent-Length: 841"},
	{"pep3333/environ/path-info-latin1", "MUST", "PEP 3333 / Unicode issues",
		`"Native" strings ... must be decoded from bytes using the ISO-8859-1 encoding.`,
		"GET /caf%C3%A9", `PATH_INFO == "/cafÃ©" (bytes as latin-1)`, nil,
		"GET /caf%C3%A9 HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 200 OK\nContent-Length: 788"},
	{"pep3333/environ/server-port-str", "MUST", "PEP 3333 / environ",
		`SERVER_NAME, SERVER_PORT: When HTTP_HOST is not set, these variables can be combined to determine a default. SERVER_NAME and SERVER_PORT are required strings.`,
		"GET /environ", `SERVER_PORT is a non-empty str`, nil,
		"GET /environ HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 200 OK\nContent-Length: 812"},
	{"pep3333/environ/underscore-header", "INFO", "PEP 3333 / environ",
		`HTTP_ Variables ... (left open: how a header name containing "_" maps to an environ key).`,
		"GET /environ with X-Auth_User: mallory and X-Auth-User: alice", `dropped X-Auth_User; HTTP_X_AUTH_USER == "alice"`,
		map[string]string{
			"gunicorn-gthread": "INFO|kept both, joined: HTTP_X_AUTH_USER == \"alice,mallory\"",
			"uwsgi":            "INFO|last wins: HTTP_X_AUTH_USER == \"mallory\" (header smuggling risk behind a proxy)",
			"cheroot":          "INFO|last wins: HTTP_X_AUTH_USER == \"mallory\"",
		},
		"GET /environ HTTP/1.1\nHost: 127.0.0.1:{port}\nX-Auth_User: mallory\nX-Auth-User: alice", "HTTP/1.1 200 OK\nContent-Length: 830"},
	{"pep3333/environ/double-slash", "INFO", "PEP 3333 / URL reconstruction",
		`The URL can be reconstructed from SCRIPT_NAME and PATH_INFO (left open: normalisation of repeated slashes).`,
		"GET //a//b", `PATH_INFO == "//a//b" (kept as sent)`,
		map[string]string{"waitress": "INFO|PATH_INFO == \"/a//b\" (leading slashes collapsed)"},
		"GET //a//b HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 200 OK\nContent-Length: 781"},
	{"pep3333/input/eof-at-content-length", "SHOULD", "PEP 3333 / wsgi.input",
		`A server should simulate an end-of-file condition if the application attempts to read past the end of CONTENT_LENGTH.`,
		"POST 5 bytes; app calls wsgi.input.read(100)", `read(100) returned 5 bytes, then b""`, nil,
		"POST /read?n=100 HTTP/1.1\nHost: 127.0.0.1:{port}\nContent-Length: 5\n\nhello", "HTTP/1.1 200 OK\nContent-Length: 24\n\n{\"read\":[5,0],\"eof\":true}"},
	{"pep3333/input/chunked-body", "SHOULD", "PEP 3333 / wsgi.input",
		`A server should decode a chunked request body and present it to the application through wsgi.input.`,
		"POST with Transfer-Encoding: chunked, 3 chunks, 11 bytes", `wsgi.input.read() == b"hello world"; wsgi.input_terminated is True`,
		map[string]string{
			"uwsgi":    "NON-STRICT|wsgi.input.read() returned b\"\" (needs --wsgi-manage-chunked-input)",
			"mod_wsgi": "NON-STRICT|411 Length Required before the app ran (WSGIChunkedRequest Off by default)",
		},
		"POST /read HTTP/1.1\nHost: 127.0.0.1:{port}\nTransfer-Encoding: chunked\n\n5\nhello\n1\n \n5\nworld\n0\n", "HTTP/1.1 200 OK\nContent-Length: 30\n\n{\"body\":\"hello world\",\"n\":11}"},
	{"pep3333/input/readline-size", "MUST", "PEP 3333 / wsgi.input",
		`The optional "size" argument to readline() ... implementations must support it.`,
		"POST 3 lines; app calls readline(4)", `readline(4) == b"abcd"`, nil,
		"POST /readline?size=4 HTTP/1.1\nHost: 127.0.0.1:{port}\nContent-Length: 12\n\nabcdef\nghij\n", "HTTP/1.1 200 OK\nContent-Length: 18\n\n[\"abcd\",\"ef\\n\"]"},
	{"pep3333/input/expect-100-on-read", "SHOULD", "PEP 3333 / HTTP 1.1 Expect/Continue",
		`Servers and gateways that implement HTTP 1.1 must provide transparent support for HTTP 1.1's "expect/continue" mechanism ... respond with "100 Continue" when the application first attempts to read from the input stream.`,
		"POST with Expect: 100-continue to an app that answers without reading", `no 100 Continue sent; final 200 only`,
		map[string]string{
			"gunicorn-gthread": "NON-STRICT|100 Continue sent before the app ran (the app never read wsgi.input)",
			"waitress":         "NON-STRICT|100 Continue sent on receipt; body read into a buffer before the app ran",
		},
		"POST /noread HTTP/1.1\nHost: 127.0.0.1:{port}\nExpect: 100-continue\nContent-Length: 65536", "HTTP/1.1 200 OK\nContent-Length: 2\nConnection: close\n\nok"},
	{"pep3333/input/input-terminated", "INFO", "PEP 3333 / wsgi.input",
		`(extension) wsgi.input_terminated tells the app that reading to EOF is safe even without CONTENT_LENGTH.`,
		"POST chunked; dump environ", `wsgi.input_terminated is True`,
		map[string]string{
			"waitress": "INFO|not set; CONTENT_LENGTH set to the buffered length instead",
			"uwsgi":    "INFO|not set",
		},
		"POST /environ HTTP/1.1\nHost: 127.0.0.1:{port}\nTransfer-Encoding: chunked\n\n0\n", "HTTP/1.1 200 OK\nContent-Length: 802"},
	{"pep3333/start_response/hop-by-hop", "SHOULD", "PEP 3333 / start_response",
		`Applications and middleware are forbidden from using HTTP/1.1 "hop-by-hop" features or headers ... servers should consider it a fatal error for an application to attempt sending them.`,
		"app calls start_response('200 OK', [('Connection', 'Upgrade')])", `start_response raised AssertionError; 500 sent`,
		map[string]string{
			"gunicorn-gthread": "NON-STRICT|Connection: Upgrade passed to the client",
			"uwsgi":            "NON-STRICT|Connection: Upgrade passed to the client",
			"cheroot":          "NON-STRICT|Connection: Upgrade passed to the client",
		},
		"GET /hop?h=Connection:Upgrade HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 500 Internal Server Error\nContent-Length: 21\n\nInternal Server Error"},
	{"pep3333/start_response/exc-info-after-headers", "MUST", "PEP 3333 / error handling",
		`If exc_info is provided, and the HTTP headers have already been sent, start_response must raise an error, and should re-raise using the exc_info tuple.`,
		"app yields a chunk, then calls start_response('500 …', [], sys.exc_info())", `the original ValueError re-raised; connection closed after the partial body`,
		map[string]string{
			"uwsgi": "FAIL|start_response raised OSError('headers already sent') instead of re-raising the exc_info exception",
		},
		"GET /excinfo?after=1 HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\nhello\n(connection closed)"},
	{"pep3333/start_response/second-call-without-exc-info", "MUST", "PEP 3333 / start_response",
		`It is a fatal error to call start_response without the exc_info argument if start_response has already been called within the current invocation of the application.`,
		"app calls start_response twice without exc_info", `second call raised; 500 sent`,
		map[string]string{
			"uwsgi":    "FAIL|second call accepted silently; headers of the first call discarded",
			"mod_wsgi": "FAIL|second call accepted silently before the headers were flushed",
		},
		"GET /twice HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 500 Internal Server Error\nContent-Length: 21\n\nInternal Server Error"},
	{"pep3333/start_response/headers-on-first-nonempty-chunk", "MUST", "PEP 3333 / buffering and streaming",
		`The start_response callable must not actually transmit the response headers ... until there is at least one non-empty bytestring available.`,
		"app yields b\"\" then blocks on the sink before yielding b\"x\"", `no bytes on the wire while the app was blocked after the empty chunk`,
		map[string]string{
			"gunicorn-gthread": "FAIL|status line and headers sent after the empty chunk, before the app yielded data",
		},
		"GET /empty-then-data HTTP/1.1\nHost: 127.0.0.1:{port}", "(nothing for 200 ms; sink released the app)\nHTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n1\nx\n0\n"},
	{"pep3333/start_response/header-value-crlf", "SHOULD", "PEP 3333 / start_response",
		`Each header_value must not include any control characters, including carriage returns or linefeeds, either embedded or at the end.`,
		"app sets X-Bad: a\\r\\nSet-Cookie: x=1", `start_response raised; no injected header on the wire`,
		map[string]string{
			"cheroot": "NON-STRICT|value passed through; client saw a separate Set-Cookie header",
		},
		"GET /header?v=a%0D%0ASet-Cookie:%20x=1 HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 500 Internal Server Error\nContent-Length: 21"},
	{"pep3333/start_response/status-format", "MUST", "PEP 3333 / start_response",
		`The status argument is a status string of the form "999 Message here".`,
		"app calls start_response('20 OK', [])", `start_response raised; 500 sent`,
		map[string]string{
			"uwsgi":            "FAIL|start_response returned; the client got a connection reset with no status line",
			"gunicorn-gthread": "NON-STRICT|status accepted; client received 'HTTP/1.1 20 OK'",
		},
		"GET /status?s=20%20OK HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 500 Internal Server Error\nContent-Length: 21"},
	{"pep3333/iteration/close-called-once", "MUST", "PEP 3333 / specification details",
		`If the iterable returned by the application has a close() method, the server or gateway must call that method upon completion of the current request.`,
		"app returns an iterable with close(); sink counts calls", `close() called exactly once`, nil,
		"GET /close HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello"},
	{"pep3333/iteration/close-on-disconnect", "MUST", "PEP 3333 / specification details",
		`... whether the request was completed normally, or terminated early due to an application error during iteration or an early disconnect of the browser.`,
		"client resets the connection after the first chunk of a slow stream", `close() called once within 2 s of the reset`,
		map[string]string{
			"waitress": "PASS|close() called once, 1.4 s after the reset (on the next write attempt)",
		},
		"GET /slow-stream HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n400\n(1024 bytes)\n(client RST)"},
	{"pep3333/iteration/str-chunk", "SHOULD", "PEP 3333 / response",
		`The application must return an iterable yielding zero or more bytestrings (servers should treat a str chunk as an application error).`,
		"app yields 'text' (str)", `500 before headers, error logged to wsgi.errors`,
		map[string]string{
			"gunicorn-gthread": "NON-STRICT|response aborted after headers; TypeError in the server log only",
		},
		"GET /str-chunk HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 500 Internal Server Error\nContent-Length: 21"},
	{"pep3333/content-length/len-one-inference", "INFO", "PEP 3333 / Content-Length",
		`If the application does not supply a Content-Length, the server or gateway may ... compute it when the iterable has len() == 1.`,
		"app returns [b\"Hello, World!\"] without Content-Length", `Content-Length: 13 added`,
		map[string]string{
			"gunicorn-gthread": "INFO|Transfer-Encoding: chunked",
			"uwsgi":            "INFO|no Content-Length; connection closed to end the body",
		},
		"GET /nolen HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 200 OK\nContent-Length: 13\n\nHello, World!"},
	{"pep3333/content-length/truncate-overlong", "MUST", "PEP 3333 / Content-Length",
		`A server must not transmit more bytes than the Content-Length header specifies.`,
		"app sets Content-Length: 5 and yields 10 bytes", `5 bytes sent; iteration stopped; close() called`,
		map[string]string{
			"cheroot": "FAIL|10 bytes sent after Content-Length: 5 (the next response on the connection is corrupted)",
		},
		"GET /overlong HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello"},
	{"pep3333/content-length/head-no-body", "MUST", "PEP 3333 / Content-Length",
		`(RFC 9110) A server MUST NOT send content in the response to a HEAD request.`,
		"HEAD / on a keep-alive connection, then GET /", `HEAD answered with headers only; the next response parsed cleanly`, nil,
		"HEAD / HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 200 OK\nContent-Length: 13"},
	{"pep3333/file_wrapper/iterable", "MUST", "PEP 3333 / file_wrapper",
		`The wsgi.file_wrapper ... must return an iterable object.`,
		"app returns environ['wsgi.file_wrapper'](f, 8192) over a 100 KiB file", `100 KiB delivered intact; f.close() called`, nil,
		"GET /file?size=102400 HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 200 OK\nContent-Length: 102400\n\n(102400 bytes)"},
	{"pep3333/write/headers-before-typecheck", "SHOULD", "PEP 3333 / write()",
		`The write() callable ... (servers should check the type of the argument before sending anything).`,
		"app calls write('str')", `write raised TypeError before any byte was sent; 500`,
		map[string]string{
			"gunicorn-gthread": "NON-STRICT|status line sent before the TypeError; client saw 200 then a reset",
		},
		"GET /write-str HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 500 Internal Server Error\nContent-Length: 21"},
	{"http1/framing/cl-and-te", "MUST", "RFC 9112 / framing",
		`A server MAY reject a request that contains both Content-Length and Transfer-Encoding or process such a request in accordance with the Transfer-Encoding alone ... the server MUST close the connection after responding.`,
		"POST with Content-Length: 4 and Transfer-Encoding: chunked, then a smuggled GET", `400 and close; the smuggled request never reached the app`,
		map[string]string{
			"cheroot": "FAIL|processed by Content-Length; the smuggled GET /admin reached the app",
		},
		"POST / HTTP/1.1\nHost: 127.0.0.1:{port}\nContent-Length: 4\nTransfer-Encoding: chunked\n\n0\n\nGET /admin HTTP/1.1\nHost: x", "HTTP/1.1 400 Bad Request\nConnection: close\nContent-Length: 11\n\nBad Request"},
	{"http1/framing/duplicate-content-length", "MUST", "RFC 9112 / framing",
		`If a message is received without Transfer-Encoding and with an invalid Content-Length header field, then the message framing is invalid and the recipient MUST treat it as an unrecoverable error.`,
		"POST with Content-Length: 5 and Content-Length: 6", `400 and close`,
		map[string]string{
			"cheroot": "FAIL|second Content-Length used (6); 1 byte of the next request consumed as body",
		},
		"POST / HTTP/1.1\nHost: 127.0.0.1:{port}\nContent-Length: 5\nContent-Length: 6\n\nhello!", "HTTP/1.1 400 Bad Request\nConnection: close\nContent-Length: 11"},
	{"http1/framing/bad-chunk-size", "MUST", "RFC 9112 / chunked",
		`chunk-size = 1*HEXDIG ... a recipient MUST be able to parse the chunked transfer coding (invalid sizes are unrecoverable framing errors).`,
		"POST chunked with chunk size 0x-5", `400 and close`, nil,
		"POST /read HTTP/1.1\nHost: 127.0.0.1:{port}\nTransfer-Encoding: chunked\n\n-5\nhello\n0\n", "HTTP/1.1 400 Bad Request\nConnection: close"},
	{"http1/framing/te-http10", "SHOULD", "RFC 9112 / framing",
		`A server or client that receives an HTTP/1.0 message containing a Transfer-Encoding header field MUST treat the message as if the framing is faulty.`,
		"HTTP/1.0 POST with Transfer-Encoding: chunked", `400 and close`,
		map[string]string{
			"waitress": "NON-STRICT|Transfer-Encoding ignored on HTTP/1.0; body read to close",
		},
		"POST /read HTTP/1.0\nHost: 127.0.0.1:{port}\nTransfer-Encoding: chunked\n\n5\nhello\n0\n", "HTTP/1.1 400 Bad Request\nConnection: close"},
	{"http1/headers/space-before-colon", "MUST", "RFC 9112 / field syntax",
		`No whitespace is allowed between the field name and colon ... A server MUST reject, with a response status code of 400 (Bad Request), any received request message that contains whitespace between a header field name and colon.`,
		"GET with 'Host : x'", `400`,
		map[string]string{
			"cheroot": "FAIL|accepted; environ had HTTP_HOST == \"x\"",
			"uwsgi":   "FAIL|accepted; environ had HTTP_HOST_ == \"x\"",
		},
		"GET / HTTP/1.1\nHost : x", "HTTP/1.1 400 Bad Request\nConnection: close"},
	{"http1/headers/obs-fold", "MUST", "RFC 9112 / field syntax",
		`A server that receives an obs-fold in a request message ... MUST either reject the message by sending a 400 (Bad Request) ... or replace each received obs-fold with one or more SP octets.`,
		"GET with a folded X-Long header", `400, or the fold replaced by SP`,
		map[string]string{
			"uwsgi": "FAIL|fold kept: HTTP_X_LONG == \"a\\r\\n b\"",
		},
		"GET / HTTP/1.1\nHost: 127.0.0.1:{port}\nX-Long: a\n b", "HTTP/1.1 400 Bad Request\nConnection: close"},
	{"http1/host/missing", "MUST", "RFC 9112 / request target",
		`A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request message that lacks a Host header field.`,
		"GET / HTTP/1.1 without Host", `400`,
		map[string]string{
			"gunicorn-gthread": "FAIL|200; the app saw SERVER_NAME as the host",
			"waitress":         "FAIL|200; the app saw SERVER_NAME as the host",
			"cheroot":          "FAIL|200",
		},
		"GET / HTTP/1.1", "HTTP/1.1 400 Bad Request\nConnection: close"},
	{"http1/host/duplicate", "MUST", "RFC 9112 / request target",
		`... and to any request message that contains more than one Host header field line or a Host header field with an invalid field value.`,
		"GET with two Host headers", `400`,
		map[string]string{
			"gunicorn-gthread": "FAIL|200; HTTP_HOST == \"a,b\"",
			"uwsgi":            "FAIL|200; HTTP_HOST == \"b\"",
		},
		"GET / HTTP/1.1\nHost: a\nHost: b", "HTTP/1.1 400 Bad Request\nConnection: close"},
	{"http1/keepalive/pipelining", "MUST", "RFC 9112 / persistence",
		`A server MAY process a sequence of pipelined requests in parallel if they all have safe methods, but it MUST send the corresponding responses in the same order that the requests were received.`,
		"3 pipelined GETs in one write", `3 responses, in order`,
		map[string]string{
			"uwsgi": "UNSUPPORTED|--http-socket closes after each response; 1 of 3 answered",
		},
		"GET /n/1 HTTP/1.1\nHost: 127.0.0.1:{port}\n\nGET /n/2 HTTP/1.1\nHost: 127.0.0.1:{port}\n\nGET /n/3 HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 200 OK\nContent-Length: 1\n\n1HTTP/1.1 200 OK\nContent-Length: 1\n\n2HTTP/1.1 200 OK\nContent-Length: 1\n\n3"},
	{"http1/keepalive/idle-timeout", "INFO", "RFC 9112 / persistence",
		`A server SHOULD sustain persistent connections ... (left open: how long an idle connection is kept).`,
		"open a connection, send nothing", `closed after 5 s idle`,
		map[string]string{
			"gunicorn-gthread": "INFO|closed after 2 s idle (--keep-alive 2)",
			"uwsgi":            "INFO|closed after 60 s idle",
			"waitress":         "ERROR|harness: the event sink saw no connection within 5 s (probe not reached)",
			"mod_wsgi":         "INFO|closed after 5 s idle (KeepAliveTimeout)",
		},
		"(connect; idle)", "(closed by the server)"},
	{"http1/limits/long-request-line", "INFO", "RFC 9112 / limits",
		`A server that receives a request-target longer than any URI it wishes to parse MUST respond with a 414 (URI Too Long) status code.`,
		"GET with a 16 KiB request-target", `414 at 8190 bytes`,
		map[string]string{
			"gunicorn-gthread": "INFO|400 at 4094 bytes (limit_request_line)",
			"uwsgi":            "INFO|connection closed without a response at 4096 bytes (buffer-size)",
			"waitress":         "INFO|431 at 8192 bytes",
			"mod_wsgi":         "INFO|414 at 8190 bytes (LimitRequestLine)",
			"cheroot":          "INFO|414 at 65536 bytes",
		},
		"GET /aaaa…(16384) HTTP/1.1\nHost: 127.0.0.1:{port}", "HTTP/1.1 414 URI Too Long\nConnection: close"},
}

var checkServers = []struct{ name, version string }{
	{"wsgikit", "0.1.0"},
	{"gunicorn-gthread", "20.1.0"},
	{"uwsgi", "2.0.21"},
	{"waitress", "2.1.2"},
	{"mod_wsgi", "4.9.4"},
}

func results(server string, rnd *rand.Rand) []reports.CheckResult {
	var out []reports.CheckResult
	port := 40000 + rnd.IntN(20000)
	for _, s := range specs {
		v, detail := reports.VerdictPass, s.pass
		if s.level == "INFO" {
			v = reports.VerdictInfo
		}
		if d, ok := s.dev[server]; ok {
			v, detail, _ = strings.Cut(d, "|")
		}
		// The transcript shows what was sent and what came back; a deviating
		// server's answer is summarised by its detail.
		var tr strings.Builder
		for _, l := range strings.Split(strings.ReplaceAll(s.req, "{port}", fmt.Sprint(port)), "\n") {
			tr.WriteString("> " + l + "\\r\\n\n")
		}
		if v == reports.VerdictPass || v == reports.VerdictInfo && !strings.Contains(s.id, "limits") && !strings.Contains(s.id, "idle") {
			for _, l := range strings.Split(s.resp, "\n") {
				tr.WriteString("< " + l + "\n")
			}
		} else {
			tr.WriteString("< (" + detail + ")\n")
		}
		out = append(out, reports.CheckResult{
			ID: s.id, Level: s.level, Verdict: v, Detail: detail, Transcript: tr.String(),
			Section: s.section, Sentence: s.sentence, Stimulus: s.stimulus,
			Seconds: math.Round((0.004+rnd.Float64()*0.05)*1000) / 1000,
		})
	}
	return out
}

func check() *reports.Check {
	rnd := rand.New(rand.NewPCG(1, 2))
	c := &reports.Check{Schema: reports.CheckSchema, Generated: time.Date(2026, 11, 25, 7, 30, 0, 0, time.UTC), Machine: machine}
	for _, s := range checkServers {
		c.Servers = append(c.Servers, reports.CheckServer{Name: s.name, Version: s.version, Results: results(s.name, rnd)})
	}
	return c
}

func checkExtra() *reports.Check {
	rnd := rand.New(rand.NewPCG(3, 4))
	c := &reports.Check{Schema: reports.CheckSchema, Generated: time.Date(2026, 11, 25, 7, 41, 0, 0, time.UTC), Machine: machine}
	c.Servers = append(c.Servers,
		reports.CheckServer{Name: "cheroot", Version: "9.0.0", Results: results("cheroot", rnd)},
		reports.CheckServer{Name: "behind-nginx:gunicorn-gthread", Version: "nginx 1.22.1 / gunicorn 20.1.0",
			Error: "start behind-nginx:gunicorn-gthread: nginx: [emerg] bind() to 127.0.0.1:41873 failed (98: Address already in use)", Results: []reports.CheckResult{}},
	)
	return c
}

// perf is a server's behaviour in one closed-model scenario.
type perf struct {
	rps, p50, p99, max, cpuFrac, rss float64
	clientBound                      bool
}

var closed = map[string]map[string]perf{
	"hello": {
		"wsgikit":          {46800, 0.58, 2.1, 9.5, 0.93, 23.6, true},
		"gunicorn-gthread": {6150, 4.9, 14.8, 41, 0.99, 38.2, false},
		"uwsgi":            {20900, 1.35, 5.6, 22, 0.98, 29.9, false},
		"waitress":         {8420, 3.6, 11.9, 35, 0.99, 27.4, false},
	},
	"flask": {
		"wsgikit":          {9750, 3.1, 4.9, 15, 0.99, 41.8, false},
		"gunicorn-gthread": {3290, 9.4, 24.5, 70, 0.99, 55.0, false},
		"uwsgi":            {8060, 3.8, 6.3, 19, 0.99, 47.1, false},
		"waitress":         {3870, 8.1, 21.0, 61, 0.99, 44.6, false},
	},
	"upload": {
		"wsgikit":          {5180, 2.9, 7.4, 26, 0.97, 26.1, false},
		"gunicorn-gthread": {2080, 7.5, 19.8, 58, 0.99, 40.3, false},
		"uwsgi":            {4090, 3.7, 9.6, 30, 0.98, 31.7, false},
		"waitress":         {1490, 10.2, 33.0, 95, 0.99, 35.8, false},
	},
}

var benchServers = []string{"wsgikit", "gunicorn-gthread", "uwsgi", "waitress"}

const runSeconds = 10.0

var quantiles = []float64{0, 10, 25, 50, 75, 90, 95, 97.5, 99, 99.5, 99.9, 99.95, 99.99, 100}

// curve interpolates a latency percentile curve through p50, p99 and max on
// a log scale of 1/(1-q), the way latency spectra look.
func curve(p50, p99, max float64, rnd *rand.Rand) []reports.PctPoint {
	x := func(q float64) float64 { return math.Log10(1 / (1 - math.Min(q, 99.999)/100)) }
	var out []reports.PctPoint
	for _, q := range quantiles {
		var ms float64
		switch {
		case q <= 50:
			ms = p50 * (0.45 + 0.55*math.Pow(q/50, 0.6))
		case q <= 99:
			f := (x(q) - x(50)) / (x(99) - x(50))
			ms = p50 * math.Pow(p99/p50, math.Pow(f, 1.3))
		default:
			f := (x(q) - x(99)) / (x(100) - x(99))
			ms = p99 * math.Pow(max/p99, math.Pow(f, 1.8))
		}
		ms *= 1 + (rnd.Float64()-0.5)*0.04
		out = append(out, reports.PctPoint{Q: q, Ms: round3(ms)})
	}
	// Keep it monotone after the jitter.
	for i := 1; i < len(out); i++ {
		if out[i].Ms < out[i-1].Ms {
			out[i].Ms = out[i-1].Ms
		}
	}
	out[len(out)-1].Ms = max
	return out
}

func timeline(rps, p50, p99 float64, rnd *rand.Rand, spikeAt int) []reports.TimePoint {
	var out []reports.TimePoint
	for t := 1; t <= int(runSeconds); t++ {
		f := 1 + (rnd.Float64()-0.5)*0.06
		pt := reports.TimePoint{T: float64(t), RPS: math.Round(rps * f), P50: round3(p50 / f), P99: round3(p99 * (1 + (rnd.Float64()-0.5)*0.2))}
		if t == spikeAt {
			pt.RPS = math.Round(rps * 0.82)
			pt.P99 = round3(p99 * 2.6)
		}
		out = append(out, pt)
	}
	return out
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
func round1(v float64) float64 { return math.Round(v*10) / 10 }

func bench() *reports.Bench {
	rnd := rand.New(rand.NewPCG(5, 6))
	b := &reports.Bench{Schema: reports.BenchSchema, Generated: time.Date(2026, 11, 25, 7, 52, 0, 0, time.UTC), Machine: machine}
	vers := map[string]string{"wsgikit": "0.1.0", "gunicorn-gthread": "20.1.0", "uwsgi": "2.0.21", "waitress": "2.1.2"}
	for _, s := range benchServers {
		b.Servers = append(b.Servers, reports.BenchServ{Name: s, Version: vers[s]})
	}
	const rounds = 5
	for _, sc := range []string{"hello", "flask", "upload"} {
		perRound := map[string][]reports.BenchRun{}
		for r := 1; r <= rounds; r++ {
			// Interleaved: the order rotates each round.
			for i := range benchServers {
				srv := benchServers[(i+r-1)%len(benchServers)]
				p := closed[sc][srv]
				noise := 1 + rnd.NormFloat64()*0.025
				rps := p.rps * noise
				run := reports.BenchRun{
					Server: srv, Scenario: sc, Mode: "closed", Concurrency: 32, Round: r,
					Requests: uint64(rps * runSeconds), RPS: math.Round(rps),
					Latency:      reports.Latency{P50: round3(p.p50 / noise), P90: round3(p.p50 / noise * 1.9), P99: round3(p.p99 / noise * (1 + rnd.NormFloat64()*0.05)), Max: round3(p.max * (0.8 + rnd.Float64()*0.5))},
					ServerCPU:    round3(runSeconds * p.cpuFrac * (1 + rnd.NormFloat64()*0.01)),
					ServerRSS:    round1(p.rss * (1 + rnd.Float64()*0.02)),
					ServerPSS:    round1(p.rss * 0.82),
					ClientCPU:    round3(runSeconds * map[bool]float64{true: 0.97, false: 0.35 + 0.5*rps/50000}[p.clientBound]),
					ClientBound:  p.clientBound && r != 2,
					Seconds:      runSeconds,
					StatusCounts: map[string]uint64{"200": uint64(rps * runSeconds)},
				}
				run.Percentiles = curve(run.Latency.P50, run.Latency.P99, run.Latency.Max, rnd)
				spike := 0
				if srv == "gunicorn-gthread" || (srv == "waitress" && sc == "flask") {
					spike = 3 + rnd.IntN(6)
				}
				run.Timeline = timeline(run.RPS, run.Latency.P50, run.Latency.P99, rnd, spike)
				if sc == "upload" && srv == "waitress" && r == 3 {
					run.Errors = 37
					run.StatusCounts = map[string]uint64{"200": run.Requests - 37, "503": 37}
				}
				perRound[srv] = append(perRound[srv], run)
				b.Runs = append(b.Runs, run)
			}
		}
		for _, srv := range benchServers {
			b.Summary = append(b.Summary, summarise(perRound[srv]))
		}
	}

	// Concurrency sweep on hello, 3 rounds per level.
	peak := map[string]float64{"wsgikit": 47000, "gunicorn-gthread": 6300, "uwsgi": 21500, "waitress": 8600}
	knee := map[string]float64{"wsgikit": 3, "gunicorn-gthread": 1.5, "uwsgi": 2, "waitress": 2.5}
	for _, srv := range benchServers {
		for _, c := range []int{1, 2, 4, 8, 16, 32, 64, 128} {
			var runs []reports.BenchRun
			for r := 1; r <= 3; r++ {
				fc := float64(c)
				rps := peak[srv] * fc / (fc + knee[srv])
				if srv == "gunicorn-gthread" && c > 16 {
					rps *= 1 - 0.12*math.Log2(fc/16) // contention past the thread pool
				}
				rps *= 1 + rnd.NormFloat64()*0.02
				mean := fc / rps * 1000
				run := reports.BenchRun{Server: srv, Scenario: "hello", Mode: "sweep", Concurrency: c, Round: r,
					Requests: uint64(rps * 5), RPS: math.Round(rps),
					Latency:   reports.Latency{P50: round3(mean * 0.9), P90: round3(mean * 1.7), P99: round3(mean * (2.8 + 0.02*fc)), Max: round3(mean * 9)},
					ServerCPU: round3(5 * 0.95), ServerRSS: round1(closed["hello"][srv].rss), ClientCPU: 2.1, Seconds: 5,
					ClientBound: srv == "wsgikit" && c >= 16}
				runs = append(runs, run)
				b.Runs = append(b.Runs, run)
			}
			b.Summary = append(b.Summary, summarise(runs))
		}
	}

	// Capacity search on hello: the highest rate with p99 under 10 ms.
	capacity := map[string]float64{"wsgikit": 39000, "gunicorn-gthread": 4100, "uwsgi": 17600, "waitress": 6300}
	for _, srv := range benchServers {
		var runs []reports.BenchRun
		for r := 1; r <= 3; r++ {
			rate := math.Round(capacity[srv] * (1 + rnd.NormFloat64()*0.03))
			run := reports.BenchRun{Server: srv, Scenario: "hello", Mode: "capacity", Rate: rate, Round: r,
				Requests: uint64(rate * 5), RPS: rate,
				Latency:   reports.Latency{P50: 0.8, P90: 2.5, P99: round3(8 + rnd.Float64()*1.8), Max: 30},
				ServerCPU: 4.7, ServerRSS: round1(closed["hello"][srv].rss), ClientCPU: 3.2, Seconds: 5}
			runs = append(runs, run)
			b.Runs = append(b.Runs, run)
		}
		b.Summary = append(b.Summary, summarise(runs))
	}

	// Comparisons: wsgikit against each peer, per closed scenario and metric.
	pv := map[string]float64{"gunicorn-gthread": 0.0079, "uwsgi": 0.0079, "waitress": 0.0079}
	for _, sc := range []string{"hello", "flask", "upload"} {
		sums := map[string]reports.BenchSum{}
		for _, s := range b.Summary {
			if s.Scenario == sc && s.Mode == "closed" {
				sums[s.Server] = s
			}
		}
		for _, peer := range benchServers[1:] {
			a, bb := sums["wsgikit"], sums[peer]
			for _, m := range []struct {
				name string
				a, b float64
			}{{"rps", a.RPSMedian, bb.RPSMedian}, {"p99_ms", a.P99Median, bb.P99Median}, {"req_per_cpu_s", a.ReqPerCPU, bb.ReqPerCPU}} {
				p := pv[peer]
				if sc == "flask" && peer == "uwsgi" && m.name == "p99_ms" {
					p = 0.31
				}
				b.Comparisons = append(b.Comparisons, reports.Comparison{A: "wsgikit", B: peer, Scenario: sc, Metric: m.name,
					Ratio: round3(m.a / m.b), P: p, Significant: p < 0.05})
			}
		}
	}

	b.Regressions = []reports.Regression{
		{Server: "wsgikit", Scenario: "hello", Metric: "rps", Baseline: 47900, Current: sumOf(b, "wsgikit", "hello").RPSMedian, Change: 0.021, P: 0.42, Significant: false},
		{Server: "wsgikit", Scenario: "flask", Metric: "p99_ms", Baseline: 4.1, Current: sumOf(b, "wsgikit", "flask").P99Median, Change: 0.195, P: 0.016, Significant: true, Regressed: true},
		{Server: "wsgikit", Scenario: "upload", Metric: "rps", Baseline: 4800, Current: sumOf(b, "wsgikit", "upload").RPSMedian, Change: -0.079, P: 0.008, Significant: true},
		{Server: "wsgikit", Scenario: "flask", Metric: "rps", Baseline: 9820, Current: sumOf(b, "wsgikit", "flask").RPSMedian, Change: 0.007, P: 0.69, Significant: false},
	}
	for i := range b.Regressions {
		b.Regressions[i].Current = round1(b.Regressions[i].Current)
	}
	return b
}

func sumOf(b *reports.Bench, srv, sc string) reports.BenchSum {
	for _, s := range b.Summary {
		if s.Server == srv && s.Scenario == sc && s.Mode == "closed" {
			return s
		}
	}
	return reports.BenchSum{}
}

// summarise reduces rounds the way the driver does: medians, and for the
// CI the order statistics (min..max for small n: a ≥ 93.75% interval at n=5).
func summarise(runs []reports.BenchRun) reports.BenchSum {
	var rps, p99, eff, rss []float64
	cb := 0
	for _, r := range runs {
		rps = append(rps, r.RPS)
		p99 = append(p99, r.Latency.P99)
		if r.ServerCPU > 0 {
			eff = append(eff, float64(r.Requests)/r.ServerCPU)
		}
		rss = append(rss, r.ServerRSS)
		if r.ClientBound {
			cb++
		}
	}
	med := reports.Median
	ci := func(v []float64) [2]float64 {
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		return [2]float64{s[0], s[len(s)-1]}
	}
	r0 := runs[0]
	sum := reports.BenchSum{Server: r0.Server, Scenario: r0.Scenario, Mode: r0.Mode, Concurrency: r0.Concurrency,
		RPSMedian: math.Round(med(rps)), RPSCI: ci(rps), P99Median: round3(med(p99)), P99CI: ci(p99),
		ReqPerCPU: math.Round(med(eff)), RSSMB: round1(med(rss)), Rounds: len(runs), ClientBound: cb*2 > len(runs)}
	return sum
}

func benchModWSGI() *reports.Bench {
	rnd := rand.New(rand.NewPCG(7, 8))
	b := &reports.Bench{Schema: reports.BenchSchema, Generated: time.Date(2026, 11, 25, 8, 3, 0, 0, time.UTC), Machine: machine,
		Servers: []reports.BenchServ{{Name: "mod_wsgi", Version: "4.9.4"}}}
	var runs []reports.BenchRun
	for r := 1; r <= 5; r++ {
		noise := 1 + rnd.NormFloat64()*0.03
		rps := 11800 * noise
		run := reports.BenchRun{Server: "mod_wsgi", Scenario: "hello", Mode: "closed", Concurrency: 32, Round: r,
			Requests: uint64(rps * runSeconds), RPS: math.Round(rps),
			Latency:   reports.Latency{P50: round3(2.5 / noise), P90: round3(4.1 / noise), P99: round3(9.2 / noise), Max: 33},
			ServerCPU: 9.7, ServerRSS: 61.5, ServerPSS: 34.2, ClientCPU: 4.4, Seconds: runSeconds}
		if r == 4 {
			run.Failed = "server exited during the run (signal: killed); log tail: [mpm_event:error] AH00485: scoreboard is full, not at MaxRequestWorkers"
			run.Errors = 1204
		}
		run.Percentiles = curve(run.Latency.P50, run.Latency.P99, run.Latency.Max, rnd)
		run.Timeline = timeline(run.RPS, run.Latency.P50, run.Latency.P99, rnd, 0)
		runs = append(runs, run)
	}
	b.Runs = runs
	b.Summary = []reports.BenchSum{summarise(runs)}
	b.Comparisons = []reports.Comparison{}
	return b
}
