package http1

import (
	"strconv"
	"sync/atomic"
	"time"
)

// AppendStatusLine appends "HTTP/major.minor " + status + CRLF; status is the
// app's status string as given ("200 OK"), already validated by the caller.
func AppendStatusLine(dst []byte, major, minor int, status []byte) []byte {
	if major == 1 && minor == 1 {
		dst = append(dst, "HTTP/1.1 "...)
	} else {
		dst = append(dst, "HTTP/"...)
		dst = strconv.AppendInt(dst, int64(major), 10)
		dst = append(dst, '.')
		dst = strconv.AppendInt(dst, int64(minor), 10)
		dst = append(dst, ' ')
	}
	dst = append(dst, status...)
	return append(dst, '\r', '\n')
}

// AppendChunkHeader appends the chunk-size line for n data bytes: "%x\r\n".
func AppendChunkHeader(dst []byte, n int) []byte {
	dst = strconv.AppendUint(dst, uint64(n), 16)
	return append(dst, '\r', '\n')
}

// LastChunk ends a chunked response without trailers. Read-only.
var LastChunk = []byte("0\r\n\r\n")

// dateLine is one rendering of "Date: <IMF-fixdate>\r\n" for a given second.
type dateLine struct {
	unix int64
	line []byte
}

var dateCache atomic.Pointer[dateLine]

// AppendDate appends a cached "Date: <IMF-fixdate>\r\n" line (RFC 9110 §6.6.1),
// re-rendered at most once a second; safe for concurrent use.
func AppendDate(dst []byte) []byte { return AppendDateAt(dst, time.Now()) }

// AppendDateAt is AppendDate for a time the caller already read.
func AppendDateAt(dst []byte, now time.Time) []byte {
	sec := now.Unix()
	d := dateCache.Load()
	if d == nil || d.unix != sec {
		b := make([]byte, 0, 40)
		b = append(b, "Date: "...)
		b = now.UTC().AppendFormat(b, "Mon, 02 Jan 2006 15:04:05 GMT")
		b = append(b, '\r', '\n')
		d = &dateLine{unix: sec, line: b}
		dateCache.Store(d)
	}
	return append(dst, d.line...)
}

// StatusText returns the reason phrase for the server's own responses, or ""
// for a code it does not know.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 411:
		return "Length Required"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 417:
		return "Expectation Failed"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}

// AppendError appends a full error response: "HTTP/1.1 <status> <text>", Date,
// Content-Type text/plain, Content-Length, Connection: close, and the status
// text + "\n" as the body. Unknown codes get the text "Error".
func AppendError(dst []byte, status int) []byte {
	text := StatusText(status)
	if text == "" {
		text = "Error"
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, text...)
	dst = append(dst, "\r\n"...)
	dst = AppendDate(dst)
	dst = append(dst, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(text)+1), 10)
	dst = append(dst, "\r\nConnection: close\r\n\r\n"...)
	dst = append(dst, text...)
	return append(dst, '\n')
}
