package loadgen

import (
	"bufio"
	"io"
	"net"
	"strconv"

	"github.com/wsgikit/wsgikit/server/http1"
)

// serveFastFixture answers "/" (hello) and "/upload" (echo) with a bare
// HTTP/1.1 keep-alive loop, several times cheaper per request than net/http.
// BenchmarkClientCPU uses it so that the server is never the bottleneck: a
// client that waits on a slow server pays a sleep and a wake-up per batch of
// responses, which would inflate the faster client's CPU per request most
// and so understate the difference being measured.
func serveFastFixture(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go fastFixtureConn(nc)
	}
}

var fastHello = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")

func fastFixtureConn(nc net.Conn) {
	defer nc.Close()
	r := http1.NewReader(nc, http1.DefaultLimits())
	w := bufio.NewWriterSize(nc, 16<<10)
	var req http1.Request
	var body []byte
	for {
		if r.Buffered() == 0 && w.Flush() != nil {
			return
		}
		if err := r.ReadRequest(&req); err != nil {
			w.Flush()
			return
		}
		if string(req.Path) == "/upload" {
			body = body[:0]
			var buf [32 << 10]byte
			for {
				n, err := r.Body().Read(buf[:])
				body = append(body, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					return
				}
			}
			w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ")
			w.WriteString(strconv.Itoa(len(body)))
			w.WriteString("\r\n\r\n")
			w.Write(body)
		} else {
			if err := r.Body().Discard(1 << 20); err != nil {
				return
			}
			w.Write(fastHello)
		}
		if !req.KeepAlive {
			w.Flush()
			return
		}
	}
}
