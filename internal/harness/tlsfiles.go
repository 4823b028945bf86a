package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSFiles is a throw-away certificate authority and what it signed, as PEM
// files in one directory: what servers under test are started with over
// TLS, and what clients (the suite, the driver) trust. Nothing outside a
// test run ever trusts this CA.
type TLSFiles struct {
	Dir        string
	CA         string // the CA certificate (clients' roots; servers' --ca-certs)
	Cert, Key  string // the server's certificate (127.0.0.1, ::1, localhost) and key
	ClientCert string // a client certificate the CA signed (CN wsgikit-client)
	ClientKey  string

	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

// CertOptions shape one certificate, for tests of bad certificates.
type CertOptions struct {
	NotBefore, NotAfter time.Time // default: an hour ago to a week from now
}

// NewTLSFiles makes a CA, a server certificate for the loopback names and a
// client certificate in dir, with ECDSA P-256 keys (the cheapest handshake
// every server under test supports).
func NewTLSFiles(dir string) (*TLSFiles, error) {
	f := &TLSFiles{Dir: dir}
	var err error
	if f.caKey, f.caCert, err = newCA(); err != nil {
		return nil, err
	}
	if f.CA, err = writePEM(dir, "ca.pem", "CERTIFICATE", f.caCert.Raw); err != nil {
		return nil, err
	}
	if f.Cert, f.Key, err = f.Issue("server", CertOptions{}); err != nil {
		return nil, err
	}
	if f.ClientCert, f.ClientKey, err = f.Issue("client", CertOptions{}); err != nil {
		return nil, err
	}
	return f, nil
}

// ClientConfig trusts the CA and offers the client certificate.
func (f *TLSFiles) ClientConfig() (*tls.Config, error) {
	b, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("tls: %s holds no certificate", f.CA)
	}
	cc, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err != nil {
		return nil, fmt.Errorf("tls: client certificate: %w", err)
	}
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cc}, ServerName: "localhost",
		NextProtos: []string{"http/1.1"}}, nil
}

func newCA() (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "wsgikit test CA", Organization: []string{"wsgikit"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: CA certificate: %w", err)
	}
	return key, cert, nil
}

// Issue writes <name>.pem and <name>-key.pem in Dir, signed by the CA: a
// client certificate when name is "client", else a server certificate for
// the loopback names (a renewed or expired one, with o). It returns their
// paths.
func (f *TLSFiles) Issue(name string, o CertOptions) (cert, key string, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("tls: %s key: %w", name, err)
	}
	now := time.Now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.Add(7 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "wsgikit-" + name, Organization: []string{"wsgikit"}},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if name == "client" {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.caCert, &k.PublicKey, f.caKey)
	if err != nil {
		return "", "", fmt.Errorf("tls: %s certificate: %w", name, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", "", fmt.Errorf("tls: %s key: %w", name, err)
	}
	if cert, err = writePEM(f.Dir, name+".pem", "CERTIFICATE", der); err != nil {
		return "", "", err
	}
	if key, err = writePEM(f.Dir, name+"-key.pem", "PRIVATE KEY", kder); err != nil {
		return "", "", err
	}
	return cert, key, nil
}

// serial is a random 128-bit serial number, as RFC 5280 recommends.
func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// writePEM writes one block; keys are readable by their owner only, but
// the directory and certificates by all (Apache's workers run as www-data).
func writePEM(dir, name, typ string, der []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("tls: %w", err)
	}
	mode := os.FileMode(0o644)
	if typ == "PRIVATE KEY" {
		mode = 0o600
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		return "", fmt.Errorf("tls: %w", err)
	}
	return path, nil
}
