package server_test

// TLS end to end: the real binary and interpreter, TLS clients from
// crypto/tls, certificates from the harness's throw-away CA. Every wait is
// for an event (a log line, an answer, a certificate seen), bounded.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
)

// tlsServer is `wsgikit serve` with TLS binds.
type tlsServer struct {
	*served
	plain  string      // the http:// bind's address, when there is one
	client *tls.Config // trusts the CA and offers its client certificate
}

var listenAtRE = regexp.MustCompile(`listening at: (https?)://(\S+) `)

func newTLSFiles(t *testing.T) *harness.TLSFiles {
	t.Helper()
	f, err := harness.NewTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// serveTLS starts `wsgikit serve wkapp` with args (binds included) and
// waits until its first https bind answers.
func serveTLS(t *testing.T, files *harness.TLSFiles, args ...string) *tlsServer {
	t.Helper()
	client, err := files.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata/apps")
	s := &tlsServer{served: launch(t, append(append([]string{"serve", "--chdir", dir}, args...), "wkapp:application")), client: client}
	s.waitReady(func() bool {
		for _, m := range listenAtRE.FindAllStringSubmatch(s.Log(), -1) {
			if m[1] == "https" && s.addr == "" {
				s.addr = m[2]
			}
			if m[1] == "http" && s.plain == "" {
				s.plain = m[2]
			}
		}
		if s.addr == "" {
			return false
		}
		_, _, err := s.get(s.client, "/__ready")
		return err == nil
	})
	return s
}

// get sends one GET over a new TLS connection.
func (s *tlsServer) get(cfg *tls.Config, path string) (*http.Response, tls.ConnectionState, error) {
	raw, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		return nil, tls.ConnectionState{}, err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	c := tls.Client(raw, cfg)
	if err := c.Handshake(); err != nil {
		return nil, tls.ConnectionState{}, err
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path)
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, c.ConnectionState(), err
	}
	b, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return r, c.ConnectionState(), err
}

// env GETs /env over TLS and decodes the environ the app saw.
func (s *tlsServer) env(cfg *tls.Config) map[string]string {
	s.t.Helper()
	r, _, err := s.get(cfg, "/env")
	if err != nil {
		s.t.Fatalf("GET /env: %v\n%s", err, s.Log())
	}
	var raw map[string]any
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		s.t.Fatal(err)
	}
	env := map[string]string{}
	for k, v := range raw {
		env[k] = fmt.Sprint(v)
	}
	return env
}

// without is cfg without the client certificate, changed by edit.
func without(cfg *tls.Config, edit func(*tls.Config)) *tls.Config {
	c := cfg.Clone()
	c.Certificates = nil
	if edit != nil {
		edit(c)
	}
	return c
}

// TestTLSServe: one server, a TLS bind and a plaintext one; over TLS the
// app sees https and mod_ssl's variables, ALPN says http/1.1, TLS 1.1 is
// refused, and wsgi.file_wrapper's file is sent without going through
// Python (read+write in Go instead of sendfile).
func TestTLSServe(t *testing.T) {
	files := newTLSFiles(t)
	s := serveTLS(t, files, "-b", "https://127.0.0.1:0", "-b", "http://127.0.0.1:0", "--threads", "2",
		"--certfile", files.Cert, "--keyfile", files.Key)
	env := s.env(without(s.client, nil))
	want := map[string]string{"wsgi.url_scheme": "https", "HTTPS": "on", "SSL_PROTOCOL": "TLSv1.3",
		"SSL_CIPHER": "TLS_AES_128_GCM_SHA256", "SSL_CLIENT_VERIFY": "NONE", "SSL_TLS_SNI": "localhost"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("over TLS: %s = %q, want %q", k, env[k], v)
		}
	}
	r, cs, err := s.get(without(s.client, nil), "/file-sendfile")
	if err != nil || r.StatusCode != 200 || cs.NegotiatedProtocol != "http/1.1" {
		t.Fatalf("file over TLS: %v, %v, ALPN %q", r, err, cs.NegotiatedProtocol)
	}
	src, _ := os.ReadFile("testdata/apps/wkapp.py")
	if b, _ := io.ReadAll(r.Body); !bytes.Equal(b, src) {
		t.Errorf("file over TLS: %d bytes, want %d", len(b), len(src))
	}
	if _, _, err := s.get(without(s.client, func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }), "/"); err == nil {
		t.Errorf("a TLS 1.1 client was served")
	}
	if s.plain == "" {
		t.Fatalf("no plaintext bind in the log:\n%s", s.Log())
	}
	s.served.addr = s.plain
	pr := s.served.get("/env")
	var penv map[string]any
	json.Unmarshal(pr.body, &penv)
	if penv["wsgi.url_scheme"] != "http" || penv["HTTPS"] != nil {
		t.Errorf("plaintext bind: wsgi.url_scheme %q, HTTPS %q", penv["wsgi.url_scheme"], penv["HTTPS"])
	}
}

// TestTLSClientCertificates: --cert-reqs 2 refuses a client without a
// certificate and serves one with the CA's, whose subject the app sees.
func TestTLSClientCertificates(t *testing.T) {
	files := newTLSFiles(t)
	s := serveTLS(t, files, "-b", "https://127.0.0.1:0", "--certfile", files.Cert, "--keyfile", files.Key,
		"--ca-certs", files.CA, "--cert-reqs", "2")
	if r, _, err := s.get(without(s.client, nil), "/"); err == nil {
		t.Fatalf("served without a client certificate: %v", r.Status)
	}
	env := s.env(s.client)
	if env["SSL_CLIENT_S_DN"] != "CN=wsgikit-client,O=wsgikit" || env["SSL_CLIENT_VERIFY"] != "SUCCESS" ||
		env["SSL_CLIENT_I_DN"] != "CN=wsgikit test CA,O=wsgikit" || !strings.HasPrefix(env["SSL_CLIENT_CERT"], "-----BEGIN CERTIFICATE-----") {
		t.Errorf("client certificate environ: S_DN %q, VERIFY %q, I_DN %q, CERT %.30q", env["SSL_CLIENT_S_DN"],
			env["SSL_CLIENT_VERIFY"], env["SSL_CLIENT_I_DN"], env["SSL_CLIENT_CERT"])
	}
}

// TestTLSGunicornCommandLine: Gunicorn's TLS flags run unchanged: every
// bind speaks TLS with --certfile, --cert-reqs 1 asks for a certificate
// without requiring one, and the flags without a meaning here are
// accepted with a note.
func TestTLSGunicornCommandLine(t *testing.T) {
	files := newTLSFiles(t)
	s := serveTLS(t, files, "-b", "127.0.0.1:0", "--certfile", files.Cert, "--keyfile", files.Key, "--ca-certs", files.CA,
		"--cert-reqs", "1", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256", "--ssl-version", "TLSv1_2",
		"--do-handshake-on-connect", "--suppress-ragged-eofs")
	if env := s.env(without(s.client, nil)); env["SSL_CLIENT_VERIFY"] != "NONE" {
		t.Errorf("no certificate: SSL_CLIENT_VERIFY %q", env["SSL_CLIENT_VERIFY"])
	}
	if env := s.env(s.client); env["SSL_CLIENT_VERIFY"] != "SUCCESS" {
		t.Errorf("with a certificate: SSL_CLIENT_VERIFY %q", env["SSL_CLIENT_VERIFY"])
	}
	r, cs, err := s.get(without(s.client, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }), "/")
	if err != nil || r.StatusCode != 200 || cs.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
		t.Errorf("TLS 1.2 with --ciphers: %v, suite %s", err, tls.CipherSuiteName(cs.CipherSuite))
	}
	for _, note := range []string{"--ssl-version TLSv1_2: ignored", "--do-handshake-on-connect, --suppress-ragged-eofs: accepted",
		"--ciphers: skipped what crypto/tls does not have (as OpenSSL skips unknown names): DHE-RSA-AES128-GCM-SHA256"} {
		s.waitLog(note)
	}
}

// TestTLSBadInputs: what cannot serve stops `serve` (and --check-config)
// with exit 2 and one line naming it.
func TestTLSBadInputs(t *testing.T) {
	files := newTLSFiles(t)
	expired, expiredKey, err := files.Issue("expired", harness.CertOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(files.Dir, "garbage.pem")
	os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"), 0o644)
	missing := filepath.Join(files.Dir, "missing.pem")
	bin := wsgikitBin(t)
	dir, _ := filepath.Abs("testdata/apps")
	https := []string{"-b", "https://127.0.0.1:0"}
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"missing-file", append(https, "--certfile", missing, "--keyfile", files.Key), "--certfile " + missing + ": no such file or directory"},
		{"key-mismatch", append(https, "--certfile", files.Cert, "--keyfile", files.ClientKey), "--keyfile " + files.ClientKey + " does not match --certfile " + files.Cert},
		{"expired", append(https, "--certfile", expired, "--keyfile", expiredKey), "--certfile " + expired + ": certificate expired on "},
		{"garbage-pem", append(https, "--certfile", garbage, "--keyfile", files.Key), "--certfile " + garbage + ": certificate 1: "},
		{"no-certfile", https, "bind https://127.0.0.1:0: TLS needs --certfile and --keyfile"},
		{"ambiguous-bind", append(https, "-b", "127.0.0.1:0", "--certfile", files.Cert, "--keyfile", files.Key), "bind 127.0.0.1:0: say http:// or https://"},
		{"reqs-without-ca", append(https, "--certfile", files.Cert, "--keyfile", files.Key, "--cert-reqs", "2"), "--cert-reqs 2 needs --ca-certs"},
		{"ciphers", append(https, "--certfile", files.Cert, "--keyfile", files.Key, "--ciphers", "RC4:3DES"), "selects no TLS 1.2 cipher suite"},
		{"check-config-expired", append(https, "--check-config", "--certfile", expired, "--keyfile", expiredKey), "certificate expired on "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, code := runToExit(t, exec.Command(bin, append(append([]string{"serve", "--chdir", dir}, c.args...), "wkapp")...))
			if code != 2 || !strings.Contains(string(out), c.msg) || strings.Count(strings.TrimSpace(string(out)), "\n") > 0 {
				t.Errorf("exit %d, want 2 and one line with %q:\n%s", code, c.msg, out)
			}
		})
	}
	out, code := runToExit(t, exec.Command(bin, "serve", "--check-config", "--chdir", dir, "-b", "https://127.0.0.1:0",
		"--certfile", files.Cert, "--keyfile", files.Key, "--ca-certs", files.CA, "--cert-reqs", "2", "wkapp"))
	if code != 0 || !strings.Contains(string(out), "config OK") {
		t.Errorf("--check-config with good TLS files: exit %d\n%s", code, out)
	}
}

// keepAliveClient sends GETs on one keep-alive TLS connection at a time,
// as a browser or an HTTP library does: a request that finds its reused
// connection closed before any byte of an answer is sent again on a new
// one (RFC 9112 §9.3.1); any other error is a failure.
type keepAliveClient struct {
	addr    string
	cfg     *tls.Config
	c       *tls.Conn
	br      *bufio.Reader
	n       atomic.Int64 // bytes read on c
	serials chan<- string
}

type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (r countReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n.Add(int64(n))
	return n, err
}

func (k *keepAliveClient) close() {
	if k.c != nil {
		k.c.Close()
		k.c = nil
	}
}

func (k *keepAliveClient) get() (retried bool, err error) {
	for attempt := 0; ; attempt++ {
		reused := k.c != nil
		if !reused {
			raw, err := net.DialTimeout("tcp", k.addr, 10*time.Second)
			if err != nil {
				return false, err
			}
			raw.SetDeadline(time.Now().Add(waitBound))
			k.c = tls.Client(raw, k.cfg)
			if err := k.c.Handshake(); err != nil {
				k.close()
				return false, fmt.Errorf("handshake: %w", err)
			}
			k.serials <- k.c.ConnectionState().PeerCertificates[0].SerialNumber.String()
			k.n.Store(0)
			k.br = bufio.NewReader(countReader{k.c, &k.n})
		}
		_, werr := io.WriteString(k.c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		var r *http.Response
		if werr == nil {
			before := k.n.Load()
			r, err = http.ReadResponse(k.br, nil)
			if err != nil && k.n.Load() > before {
				k.close()
				return false, fmt.Errorf("cut response: %w", err)
			}
		}
		if werr != nil || err != nil {
			k.close()
			if reused && attempt == 0 {
				continue // closed between requests: send it again
			}
			return false, fmt.Errorf("fresh connection: write %v, read %v", werr, err)
		}
		b, err := io.ReadAll(r.Body)
		if err != nil || r.StatusCode != 200 || string(b) != "Hello, World!" {
			k.close()
			return false, fmt.Errorf("%s %q (%v)", r.Status, b, err)
		}
		if r.Close {
			k.close()
		}
		return attempt > 0, nil
	}
}

func serialOf(t *testing.T, certFile string) string {
	t.Helper()
	b, _ := os.ReadFile(certFile)
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM", certFile)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.String()
}

// TestTLSHUPRenewsCertificate: under keep-alive load, a HUP whose files do
// not serve (a key that does not match) keeps the old certificate and says
// why; a HUP after the certificate was renewed serves the new one to new
// connections. No request fails throughout.
func TestTLSHUPRenewsCertificate(t *testing.T) {
	files := newTLSFiles(t)
	s := serveTLS(t, files, "-b", "https://127.0.0.1:0", "-w", "2", "--threads", "2", "--certfile", files.Cert, "--keyfile", files.Key)
	oldSerial := serialOf(t, files.Cert)
	var ok, failed, retried atomic.Int64
	var firstErr atomic.Value
	serials := make(chan string, 1024)
	seen := map[string]int{}
	var seenMu sync.Mutex
	counted := make(chan struct{})
	go func() {
		defer close(counted)
		for sn := range serials {
			seenMu.Lock()
			seen[sn]++
			seenMu.Unlock()
		}
	}()
	seenCount := func(sn string) int { seenMu.Lock(); defer seenMu.Unlock(); return seen[sn] }
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := &keepAliveClient{addr: s.addr, cfg: without(s.client, nil), serials: serials}
			defer k.close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				again, err := k.get()
				switch {
				case err != nil:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				default:
					ok.Add(1)
					if again {
						retried.Add(1)
					}
				}
			}
		}()
	}
	finish := func() {
		close(stop)
		wg.Wait()
		close(serials)
		<-counted
	}
	// waitOK waits (bounded) until n more requests were answered.
	waitOK := func(n int64, what string) {
		t.Helper()
		target := ok.Load() + n
		for deadline := time.Now().Add(waitBound); ok.Load() < target && failed.Load() == 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if ok.Load() < target || failed.Load() > 0 {
			finish()
			t.Fatalf("%s: %d answered, %d failed (first: %v)\n%s", what, ok.Load(), failed.Load(), firstErr.Load(), s.Log())
		}
	}
	waitOK(200, "before the reloads")

	key, _ := os.ReadFile(files.Key)
	clientKey, _ := os.ReadFile(files.ClientKey)
	os.WriteFile(files.Key, clientKey, 0o600) // a renewal half done: the key does not match
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	s.waitLog("HUP: --keyfile " + files.Key + " does not match --certfile " + files.Cert)
	s.waitLogCount("reload done", 1)
	waitOK(200, "after a HUP with a mismatched key")
	os.WriteFile(files.Key, key, 0o600)

	if _, _, err := files.Issue("server", harness.CertOptions{}); err != nil { // renewed: new key, new serial
		t.Fatal(err)
	}
	newSerial := serialOf(t, files.Cert)
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	s.waitLog("HUP: TLS certificate " + files.Cert)
	s.waitLogCount("reload done", 2)
	for deadline := time.Now().Add(waitBound); seenCount(newSerial) == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if seenCount(newSerial) == 0 {
		finish()
		t.Fatalf("no connection saw the renewed certificate\n%s", s.Log())
	}
	// "reload done" is when the master TERMs the old workers; each may still
	// accept in the instant before its listener closes. Once all four old
	// workers (two per HUP) have stopped, only the renewed certificate serves.
	s.waitLogCount("(reload, ", 4)
	if r, cs, err := s.get(without(s.client, nil), "/"); err != nil || r.StatusCode != 200 || cs.PeerCertificates[0].SerialNumber.String() != newSerial {
		got := ""
		if err == nil {
			got = fmt.Sprintf("status %d, certificate serial %s (renewed %s, old %s)", r.StatusCode, cs.PeerCertificates[0].SerialNumber, newSerial, oldSerial)
		}
		t.Errorf("a new connection after the old workers stopped: %v %s", err, got)
	}
	waitOK(200, "after the renewal")
	finish()
	t.Logf("%d requests, %d sent again after a keep-alive close; certificates: old %d connections, new %d",
		ok.Load(), retried.Load(), seen[oldSerial], seen[newSerial])
	if len(seen) != 2 {
		t.Errorf("connections saw %d certificates, want the old and the renewed one: %v", len(seen), seen)
	}
}

// TestTLSSessionsResumeAcrossWorkers: the workers of one server share
// their session ticket keys, so a client's new connection resumes its
// session whichever worker accepts it (tlsconf's tests prove the keys'
// side with two configurations; this is the real server, -w 2).
func TestTLSSessionsResumeAcrossWorkers(t *testing.T) {
	files := newTLSFiles(t)
	s := serveTLS(t, files, "-b", "https://127.0.0.1:0", "-w", "2", "--certfile", files.Cert, "--keyfile", files.Key)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := without(s.client, func(c *tls.Config) {
			c.MaxVersion = v
			c.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		})
		pids := map[string]int{}
		// Sequential connections spread over the two workers as their
		// accept wake-ups fall (a worker can take a few hundred in a row);
		// both workers seen is what makes the check mean something, so
		// connect until both answered, bounded (a resumed connection takes
		// well under a millisecond here).
		for i := 0; i < 3000 && (len(pids) < 2 || i < 20); i++ {
			r, cs, err := s.get(cfg, "/pid")
			if err != nil {
				t.Fatalf("%s connection %d: %v\n%s", tls.VersionName(v), i, err, s.Log())
			}
			b, _ := io.ReadAll(r.Body)
			pids[string(b)]++
			if i > 0 && !cs.DidResume {
				t.Fatalf("%s connection %d (worker %s) did not resume the session; workers so far %v", tls.VersionName(v), i, b, pids)
			}
		}
		if len(pids) < 2 {
			t.Fatalf("%s: every connection went to one worker %v: the test could not cross workers", tls.VersionName(v), pids)
		}
		t.Logf("%s: connections by worker %v, all resumed after the first", tls.VersionName(v), pids)
	}
}
