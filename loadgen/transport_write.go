package loadgen

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// writeRequest sends the request line, headers and body, in one write when
// the body is in memory and small.
func (c *conn) writeRequest(req *http.Request) error {
	buf, chunked := appendRequestHead(c.wbuf[:0], req, c.t.DisableKeepAlives || req.Close)
	body := req.Body
	if body == http.NoBody {
		body = nil
	}
	var n int64
	var err error
	switch {
	case body == nil:
		err = c.send(buf)
	case chunked:
		err = c.writeChunked(buf, body)
	default:
		// Copy up to the declared length into the buffer: one write for
		// ordinary request sizes.
		want := req.ContentLength
		if cap(buf)-len(buf) < int(want) && want <= 1<<20 {
			nb := make([]byte, len(buf), len(buf)+int(want))
			copy(nb, buf)
			buf = nb
		}
		if want <= 1<<20 {
			m, rerr := io.ReadFull(body, buf[len(buf):len(buf)+int(want)])
			buf = buf[:len(buf)+m]
			if rerr != nil {
				err = fmt.Errorf("request body: %w (declared %d bytes)", rerr, want)
				break
			}
			err = c.send(buf)
		} else {
			if err = c.write(buf); err == nil {
				n, err = io.CopyN(c.nc, body, want)
				c.t.bytesOut.Add(uint64(n))
			}
		}
	}
	if body != nil {
		body.Close()
	}
	if cap(buf) <= 256<<10 {
		c.wbuf = buf[:0]
	}
	return err
}

// send sends a whole request: queued to go out with the wait for the
// response (sockReader) when it can, written now otherwise.
func (c *conn) send(b []byte) error {
	if c.sr.canPost() && c.br.Buffered() == 0 {
		c.sr.post(b)
		return nil
	}
	return c.write(b)
}

func (c *conn) write(b []byte) error {
	n, err := c.nc.Write(b)
	c.t.bytesOut.Add(uint64(n))
	return err
}

func (c *conn) writeChunked(head []byte, body io.Reader) error {
	if err := c.write(head); err != nil {
		return err
	}
	chunk := make([]byte, 32<<10)
	for {
		n, rerr := body.Read(chunk)
		if n > 0 {
			var hdr []byte
			hdr = strconv.AppendInt(hdr, int64(n), 16)
			hdr = append(hdr, "\r\n"...)
			frame := append(append(hdr, chunk[:n]...), "\r\n"...)
			if err := c.write(frame); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return c.write([]byte("0\r\n\r\n"))
		}
		if rerr != nil {
			return fmt.Errorf("request body: %w", rerr)
		}
	}
}

// appendRequestHead appends req's request line and header section (through
// the empty line) to buf: the one serialization of a request, shared by the
// transport and the event loop, which sends each target's bytes as they are.
// chunked says the body must follow chunked.
func appendRequestHead(buf []byte, req *http.Request, close bool) ([]byte, bool) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	buf = append(buf, method...)
	buf = append(buf, ' ')
	u := req.URL
	if u.Opaque != "" {
		buf = append(buf, u.RequestURI()...)
	} else {
		p := u.EscapedPath()
		if p == "" {
			p = "/"
		}
		buf = append(buf, p...)
		if u.RawQuery != "" || u.ForceQuery {
			buf = append(buf, '?')
			buf = append(buf, u.RawQuery...)
		}
	}
	buf = append(buf, " HTTP/1.1\r\nHost: "...)
	host := req.Host
	if host == "" {
		host = u.Host
	}
	buf = append(buf, host...)
	buf = append(buf, "\r\n"...)
	ua := false
	for k, vs := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection":
			continue
		case "User-Agent":
			ua = true
		}
		for _, v := range vs {
			buf = append(buf, k...)
			buf = append(buf, ": "...)
			buf = append(buf, v...)
			buf = append(buf, "\r\n"...)
		}
	}
	if !ua {
		buf = append(buf, "User-Agent: wsgikit-bench\r\n"...)
	}
	if close {
		buf = append(buf, "Connection: close\r\n"...)
	}
	chunked := false
	for _, te := range req.TransferEncoding {
		if te == "chunked" {
			chunked = true
		}
	}
	body := req.Body
	if body == http.NoBody {
		body = nil
	}
	switch {
	case chunked || (body != nil && req.ContentLength <= 0): // 0 with a body means unknown
		chunked = true
		buf = append(buf, "Transfer-Encoding: chunked\r\n"...)
	case req.ContentLength > 0 || body != nil:
		buf = append(buf, "Content-Length: "...)
		buf = strconv.AppendInt(buf, req.ContentLength, 10)
		buf = append(buf, "\r\n"...)
	case method == "POST" || method == "PUT" || method == "PATCH":
		buf = append(buf, "Content-Length: 0\r\n"...)
	}
	return append(buf, "\r\n"...), chunked
}
