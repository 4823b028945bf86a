package engine

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/server/http1"
	"github.com/wsgikit/wsgikit/server/ipset"
	"github.com/wsgikit/wsgikit/server/tlsconf"
)

// tlsFixture is a throw-away CA's files and the client side of them.
type tlsFixture struct {
	files  *harness.TLSFiles
	client *tls.Config // trusts the CA, offers the client certificate
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	files, err := harness.NewTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	client, err := files.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return &tlsFixture{files: files, client: client}
}

// server is the configuration the master's checks and a worker's loading
// would give (tlsconf), with client certificates per reqs.
func (f *tlsFixture) server(t *testing.T, reqs int) *tls.Config {
	t.Helper()
	s := tlsconf.Settings{CertFile: f.files.Cert, KeyFile: f.files.Key, CertReqs: reqs}
	if reqs != tlsconf.CertNone {
		s.CACerts = f.files.CA
	}
	b, err := s.Load(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := b.Server()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// clientWith is the client configuration changed by edit (no client
// certificate unless edit gives it back).
func (f *tlsFixture) clientWith(edit func(*tls.Config)) *tls.Config {
	c := f.client.Clone()
	c.Certificates = nil
	if edit != nil {
		edit(c)
	}
	return c
}

func startTLSEngine(t *testing.T, app App, threads int, srv *tls.Config) string {
	t.Helper()
	return startEngineWith(t, Config{Threads: threads, TLS: []*tls.Config{srv}}, app)
}

func dialTLS(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	raw := dialEngine(t, addr)
	c := tls.Client(raw, cfg)
	if err := c.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return c
}

// envApp answers with the environ, one "key=value" line each.
type envApp struct{}

func (envApp) Serve(slot int, x *Exchange) {
	var b []byte
	for i := range x.Env.Entries {
		b = append(b, x.Env.keyName(i)...)
		b = append(b, '=')
		b = append(b, x.Env.value(i)...)
		b = append(b, '\n')
	}
	h := Head{Status: []byte("200 OK"), Code: 200, AppCL: -1}
	x.Complete(&h, b)
}

// getEnv sends a GET on c and returns the environ envApp answers with.
func getEnv(t *testing.T, c net.Conn, br *bufio.Reader) map[string]string {
	t.Helper()
	io.WriteString(c, "GET /env HTTP/1.1\r\nHost: localhost\r\n\r\n")
	r, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	return env
}

func TestEnvKeyIndexes(t *testing.T) {
	for k, name := range map[int]string{keyScheme: "wsgi.url_scheme", keyHTTPS: "HTTPS", keySSLProtocol: "SSL_PROTOCOL",
		keySSLCipher: "SSL_CIPHER", keySSLClientVerify: "SSL_CLIENT_VERIFY"} {
		if EnvKeys[k] != name {
			t.Errorf("EnvKeys[%d] = %q, want %q", k, EnvKeys[k], name)
		}
	}
}

// TestEngineTLS: requests over TLS get the https scheme and mod_ssl's
// variables, over 1.3 by default and 1.2 when the client wants; 1.1 is
// refused, and so is a client that offers no HTTP/1.x protocol in ALPN.
func TestEngineTLS(t *testing.T) {
	fx := newTLSFixture(t)
	for _, threads := range []int{1, 3} {
		t.Run(fmt.Sprintf("threads-%d", threads), func(t *testing.T) {
			addr := startTLSEngine(t, envApp{}, threads, fx.server(t, tlsconf.CertNone))
			c := dialTLS(t, addr, fx.clientWith(nil))
			if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
				t.Errorf("ALPN %q, want http/1.1", p)
			}
			br := bufio.NewReader(c)
			for i := range 3 { // keep-alive
				env := getEnv(t, c, br)
				want := map[string]string{"wsgi.url_scheme": "https", "HTTPS": "on", "SSL_PROTOCOL": "TLSv1.3",
					"SSL_CIPHER": tls.CipherSuiteName(c.ConnectionState().CipherSuite), "SSL_CLIENT_VERIFY": "NONE",
					"SSL_TLS_SNI": "localhost", "SERVER_PORT": "443"}
				for k, v := range want {
					if env[k] != v {
						t.Errorf("request %d: %s = %q, want %q", i, k, env[k], v)
					}
				}
				if _, ok := env["SSL_CLIENT_S_DN"]; ok {
					t.Errorf("SSL_CLIENT_S_DN without a client certificate")
				}
			}
			c12 := dialTLS(t, addr, fx.clientWith(func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }))
			env := getEnv(t, c12, bufio.NewReader(c12))
			if env["SSL_PROTOCOL"] != "TLSv1.2" || !strings.HasPrefix(env["SSL_CIPHER"], "ECDHE-ECDSA-") {
				t.Errorf("TLS 1.2: SSL_PROTOCOL %q, SSL_CIPHER %q", env["SSL_PROTOCOL"], env["SSL_CIPHER"])
			}
			for name, edit := range map[string]func(*tls.Config){
				"tls1.1":  func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 },
				"h2-only": func(c *tls.Config) { c.NextProtos = []string{"h2"} },
			} {
				c := tls.Client(dialEngine(t, addr), fx.clientWith(edit))
				if err := c.Handshake(); err == nil {
					t.Errorf("%s: handshake succeeded", name)
				}
			}
		})
	}
}

// sizedApp answers /N with N bytes, each the last digit of N.
type sizedApp struct{}

func (sizedApp) Serve(slot int, x *Exchange) {
	var n int
	fmt.Sscanf(string(x.Req.Target), "/%d", &n)
	h := Head{Status: []byte("200 OK"), Code: 200, AppCL: -1}
	x.Complete(&h, []byte(strings.Repeat(string(x.Req.Target[len(x.Req.Target)-1]), n)))
}

// TestEngineTLSPipelinedBackpressure: many pipelined requests whose answers
// overflow the socket's buffers before the client reads any: the loop keeps
// encrypted records for the socket (tlsWire.out), and every answer arrives,
// in order, whole.
func TestEngineTLSPipelinedBackpressure(t *testing.T) {
	fx := newTLSFixture(t)
	for _, threads := range []int{1, 3} {
		t.Run(fmt.Sprintf("threads-%d", threads), func(t *testing.T) {
			addr := startTLSEngine(t, sizedApp{}, threads, fx.server(t, tlsconf.CertNone))
			c := dialTLS(t, addr, fx.clientWith(nil))
			const n = 1500 // about 12 MB of answers
			var reqs strings.Builder
			for i := range n {
				fmt.Fprintf(&reqs, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", 8000+i)
			}
			if _, err := io.WriteString(c, reqs.String()); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			for i := range n {
				r, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				b, err := io.ReadAll(r.Body)
				want := strings.Repeat(fmt.Sprint((8000+i)%10), 8000+i)
				if err != nil || string(b) != want {
					t.Fatalf("response %d: %d bytes (%v), want %d", i, len(b), err, len(want))
				}
			}
		})
	}
}

// trickleConn writes the first bytes of each write one per segment (a
// record header and the start of its body arrive in pieces), then the rest.
type trickleConn struct{ net.Conn }

func (c trickleConn) Write(p []byte) (int, error) {
	for i := range min(len(p), 40) {
		if _, err := c.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
		time.Sleep(time.Millisecond) // separate segments, not a verdict
	}
	if len(p) > 40 {
		if _, err := c.Conn.Write(p[40:]); err != nil {
			return 40, err
		}
	}
	return len(p), nil
}

// TestEngineTLSTrickled: a handshake and request arriving a byte at a time
// (records read in pieces, kept by crypto/tls between the loop's reads)
// are served, and hold nobody else up.
func TestEngineTLSTrickled(t *testing.T) {
	fx := newTLSFixture(t)
	addr := startTLSEngine(t, envApp{}, 1, fx.server(t, tlsconf.CertNone))
	c := tls.Client(trickleConn{dialEngine(t, addr)}, fx.clientWith(nil))
	done := make(chan map[string]string, 1)
	go func() {
		if err := c.Handshake(); err != nil {
			done <- map[string]string{"error": err.Error()}
			return
		}
		done <- getEnv(t, c, bufio.NewReader(c))
	}()
	other := dialTLS(t, addr, fx.clientWith(nil))
	if env := getEnv(t, other, bufio.NewReader(other)); env["HTTPS"] != "on" {
		t.Errorf("other client: %v", env)
	}
	if env := <-done; env["HTTPS"] != "on" {
		t.Fatalf("trickled client: %v", env)
	}
}

// bodyApp answers with the SHA-256 of the request body; /file sends the
// file named by the query (wsgi.file_wrapper's path).
type bodyApp struct{}

func (bodyApp) Serve(slot int, x *Exchange) {
	h := Head{Status: []byte("200 OK"), Code: 200, AppCL: -1}
	if q := string(x.Req.Query); q != "" {
		f, err := os.Open(q)
		if err != nil {
			x.Fail()
			return
		}
		defer f.Close()
		st, _ := f.Stat()
		if err := x.SendFile(&h, int(f.Fd()), 1, st.Size()-1); err != nil {
			x.Fail()
			return
		}
		x.Finish()
		return
	}
	sum := sha256.New()
	buf := make([]byte, 7000)
	for {
		n, err := x.ReadBody(buf)
		sum.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			x.Fail()
			return
		}
	}
	x.Complete(&h, []byte(hex.EncodeToString(sum.Sum(nil))))
}

// TestEngineTLSBodiesAndFiles: a large request body read by the application
// (blocking reads from its thread), then a file sent through
// wsgi.file_wrapper's path (read+write: no sendfile over TLS), on one
// keep-alive connection.
func TestEngineTLSBodiesAndFiles(t *testing.T) {
	fx := newTLSFixture(t)
	for _, threads := range []int{1, 2} {
		t.Run(fmt.Sprintf("threads-%d", threads), func(t *testing.T) {
			addr := startTLSEngine(t, bodyApp{}, threads, fx.server(t, tlsconf.CertNone))
			c := dialTLS(t, addr, fx.clientWith(nil))
			br := bufio.NewReader(c)
			body := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
			go fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			r, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(r.Body)
			if sum := sha256.Sum256([]byte(body)); string(got) != hex.EncodeToString(sum[:]) {
				t.Fatalf("body hash %q", got)
			}
			file := filepath.Join(t.TempDir(), "file")
			data := strings.Repeat("wsgi.file_wrapper ", 20000)
			os.WriteFile(file, []byte(data), 0o644)
			fmt.Fprintf(c, "GET /?%s HTTP/1.1\r\nHost: x\r\n\r\n", file)
			if r, err = http.ReadResponse(br, nil); err != nil {
				t.Fatal(err)
			}
			if got, err := io.ReadAll(r.Body); err != nil || string(got) != data[1:] {
				t.Fatalf("file: %d bytes (%v), want %d", len(got), err, len(data)-1)
			}
		})
	}
}

// recordConn notes the type of the last TLS record it read (TLS 1.2:
// alerts travel as alert records).
type recordConn struct {
	net.Conn
	mu   sync.Mutex
	seen []byte
}

func (c *recordConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.seen = append(c.seen, p[:n]...)
	c.mu.Unlock()
	return n, err
}

func (c *recordConn) lastRecordType() byte {
	var typ byte
	for b := c.seen; len(b) >= 5; {
		typ = b[0]
		b = b[min(len(b), 5+(int(b[3])<<8|int(b[4]))):]
	}
	return typ
}

// TestEngineTLSCloseNotify: a close-delimited body (HTTP/1.0, no length)
// ends with close_notify, so a client can tell it complete; a response cut
// after its head sends none.
func TestEngineTLSCloseNotify(t *testing.T) {
	fx := newTLSFixture(t)
	addr := startTLSEngine(t, streamApp{[]string{"ab", "cde"}}, 1, fx.server(t, tlsconf.CertNone))
	rc := &recordConn{Conn: dialEngine(t, addr)}
	c := tls.Client(rc, fx.clientWith(func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }))
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	b, err := io.ReadAll(c)
	if err != nil || !strings.HasSuffix(string(b), "\r\n\r\nabcde") {
		t.Fatalf("response %q (%v)", b, err)
	}
	if typ := rc.lastRecordType(); typ != 21 {
		t.Errorf("last record type %d, want 21 (alert: close_notify)", typ)
	}
}

// TestEngineTLSClientCertificates: with certificates required, a client
// without one is refused, and one with the CA's certificate is served with
// mod_ssl's SSL_CLIENT_* variables; optional ones are asked for, not required.
func TestEngineTLSClientCertificates(t *testing.T) {
	fx := newTLSFixture(t)
	addr := startTLSEngine(t, envApp{}, 1, fx.server(t, tlsconf.CertRequired))
	anon := tls.Client(dialEngine(t, addr), fx.clientWith(nil))
	io.WriteString(anon, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // TLS 1.3: the refusal comes after the client's Finished
	if b, err := io.ReadAll(anon); err == nil || len(b) > 0 {
		t.Errorf("without a certificate: read %q, %v", b, err)
	}
	c := dialTLS(t, addr, fx.client)
	env := getEnv(t, c, bufio.NewReader(c))
	want := map[string]string{"SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_S_DN": "CN=wsgikit-client,O=wsgikit",
		"SSL_CLIENT_S_DN_CN": "wsgikit-client", "SSL_CLIENT_I_DN": "CN=wsgikit test CA,O=wsgikit"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if !strings.HasPrefix(env["SSL_CLIENT_CERT"], "-----BEGIN CERTIFICATE-----") || env["SSL_CLIENT_M_SERIAL"] == "" || !strings.HasSuffix(env["SSL_CLIENT_V_END"], " GMT") {
		t.Errorf("SSL_CLIENT_CERT %.40q, M_SERIAL %q, V_END %q", env["SSL_CLIENT_CERT"], env["SSL_CLIENT_M_SERIAL"], env["SSL_CLIENT_V_END"])
	}

	opt := startTLSEngine(t, envApp{}, 1, fx.server(t, tlsconf.CertOptional))
	c = dialTLS(t, opt, fx.clientWith(nil))
	if env := getEnv(t, c, bufio.NewReader(c)); env["SSL_CLIENT_VERIFY"] != "NONE" {
		t.Errorf("optional, none given: SSL_CLIENT_VERIFY %q", env["SSL_CLIENT_VERIFY"])
	}
}

// TestEngineTLSHandshakeBounds: a client that never completes its
// handshake is closed at the header timeout, a plaintext request to a TLS
// port gets a 400 saying so, and a stop does not wait for handshakes.
func TestEngineTLSHandshakeBounds(t *testing.T) {
	fx := newTLSFixture(t)
	addr := startEngineWith(t, Config{HeaderTimeout: 300 * time.Millisecond, TLS: []*tls.Config{fx.server(t, tlsconf.CertNone)}}, envApp{})
	silent := dialEngine(t, addr)
	if n, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("silent client: read %d, %v; want EOF at the header timeout", n, err)
	}
	plain := dialEngine(t, addr)
	io.WriteString(plain, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if b, _ := io.ReadAll(plain); !strings.HasPrefix(string(b), "HTTP/1.0 400 Bad Request\r\n") {
		t.Errorf("plaintext request: %q", b)
	}
}

// TestTLSWireNonblocking: the loop's side of a TLS connection over a
// socket pair. A write that finds the socket full takes its bytes whole
// and keeps the records the socket did not take; the next takes nothing
// until those are gone; flushes then deliver every byte once, in order. A
// read returns what the peer sent and then "would block", with nothing
// left behind in crypto/tls.
func TestTLSWireNonblocking(t *testing.T) {
	fx := newTLSFixture(t)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	fc := &fdConn{fd: fds[0], wtimeout: 10 * time.Second}
	defer fc.Close()
	peerFile := os.NewFile(uintptr(fds[1]), "peer")
	peerRaw, err := net.FileConn(peerFile)
	peerFile.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer peerRaw.Close()
	peerRaw.SetDeadline(time.Now().Add(20 * time.Second))
	peer := tls.Client(peerRaw, fx.clientWith(nil))

	tc := &tlsConn{}
	tc.w.c = fc
	tc.tc = tls.Server(&tc.w, fx.server(t, tlsconf.CertNone))
	fc.tls = tc
	hs := make(chan error, 1)
	go func() { hs <- peer.Handshake() }()
	if err := tc.handshake(&conn{}, time.Now().Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := <-hs; err != nil {
		t.Fatal(err)
	}

	// Reads: one request, then "would block" with nothing held.
	if _, err := io.WriteString(peer, "GET / HTTP/1.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	fc.nonblock = true
	var got []byte
	for len(got) < 18 {
		n, err := fc.Read(buf)
		if err != nil && err != http1.ErrWouldBlock {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
		if err == http1.ErrWouldBlock && len(got) < 18 {
			unix.Poll([]unix.PollFd{{Fd: int32(fc.fd), Events: unix.POLLIN}}, 10000) // the rest is on its way
		}
	}
	if string(got) != "GET / HTTP/1.1\r\n\r\n" {
		t.Fatalf("read %q", got)
	}
	if n, err := fc.Read(buf); n != 0 || err != http1.ErrWouldBlock || !fc.drained {
		t.Fatalf("after the request: read %d, %v, drained %v; want would-block, drained", n, err, fc.drained)
	}
	fc.nonblock = false

	// Writes: until the socket is full.
	var sent []byte
	chunk := func(i int) []byte { return []byte(strings.Repeat(string(rune('a'+i%26)), 3000)) }
	i := 0
	for {
		p := chunk(i)
		n, err := fc.write(p, true)
		if n != len(p) {
			t.Fatalf("write %d took %d of %d (%v): a TLS write takes all or nothing", i, n, len(p), err)
		}
		sent = append(sent, p...)
		i++
		if err == http1.ErrWouldBlock {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, err := fc.write(chunk(i), true); n != 0 || err != http1.ErrWouldBlock {
		t.Fatalf("write while records wait: took %d (%v), want 0, would-block", n, err)
	}
	recv := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(sent))
		n, _ := io.ReadFull(peer, b)
		recv <- b[:n]
	}()
	for {
		pending, err := tc.w.flushNow()
		if err != nil {
			t.Fatal(err)
		}
		if !pending {
			break
		}
		unix.Poll([]unix.PollFd{{Fd: int32(fc.fd), Events: unix.POLLOUT}}, 10000)
	}
	if b := <-recv; string(b) != string(sent) {
		t.Fatalf("peer got %d bytes, want %d (or they differ)", len(b), len(sent))
	}
}

// TestEngineTLSAfterProxyHeader: a trusted proxy relaying TLS sends its
// PROXY header in the clear first; the handshake follows on the same bytes
// (in the same segment here), and the app sees the proxy's client.
func TestEngineTLSAfterProxyHeader(t *testing.T) {
	fx := newTLSFixture(t)
	allow, err := ipset.Parse("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	addr := startEngineWith(t, Config{ProxyProtocol: "v1", ProxyAllow: allow, TLS: []*tls.Config{fx.server(t, tlsconf.CertNone)}}, envApp{})
	raw := dialEngine(t, addr)
	c := tls.Client(&prefixConn{Conn: raw, prefix: []byte("PROXY TCP4 192.0.2.7 192.0.2.1 40000 443\r\n")}, fx.clientWith(nil))
	env := getEnv(t, c, bufio.NewReader(c))
	if env["REMOTE_ADDR"] != "192.0.2.7" || env["HTTPS"] != "on" {
		t.Fatalf("REMOTE_ADDR %q, HTTPS %q", env["REMOTE_ADDR"], env["HTTPS"])
	}
}

// prefixConn sends prefix with its first write.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Write(p []byte) (int, error) {
	if c.prefix != nil {
		b := append(c.prefix, p...)
		c.prefix = nil
		if _, err := c.Conn.Write(b); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}
