package harness

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestTLSFiles: a server started with the harness's certificate and the CA
// as client roots completes a mutual handshake with ClientConfig; a client
// trusting only the system roots, or a server with an expired certificate,
// does not.
func TestTLSFiles(t *testing.T) {
	f, err := NewTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(f.Key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key %s: %v, mode %v", f.Key, err, st.Mode())
	}
	handshake := func(cert, key string, cfg *tls.Config) (string, error) {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		ca, _ := os.ReadFile(f.CA)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		peer := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				peer <- ""
				return
			}
			defer c.Close()
			tc := c.(*tls.Conn)
			tc.SetDeadline(time.Now().Add(time.Minute))
			if tc.Handshake() != nil || len(tc.ConnectionState().PeerCertificates) == 0 {
				peer <- ""
				return
			}
			peer <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
		}()
		d := &net.Dialer{Timeout: time.Minute}
		c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), cfg)
		if err != nil {
			return "", err
		}
		defer c.Close()
		if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
			t.Errorf("ALPN: %q", p)
		}
		return <-peer, nil
	}
	cfg, err := f.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cn, err := handshake(f.Cert, f.Key, cfg); err != nil || cn != "wsgikit-client" {
		t.Fatalf("mutual handshake: client CN %q, %v", cn, err)
	}
	if _, err := handshake(f.Cert, f.Key, &tls.Config{ServerName: "localhost"}); !errors.As(err, new(*tls.CertificateVerificationError)) {
		t.Errorf("system roots only: want a verification error, got %v", err)
	}
	old, oldKey, err := f.Issue("expired", CertOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(old, oldKey, cfg); !errors.As(err, new(*tls.CertificateVerificationError)) {
		t.Errorf("expired server certificate: want a verification error, got %v", err)
	}
}
