// Package tlsconf is the server's TLS policy and material: reading and
// checking the certificate, key and CA files (Gunicorn's --certfile,
// --keyfile, --ca-certs, --cert-reqs and --ciphers), the cipher policy and
// its reading of OpenSSL cipher strings, and the crypto/tls configuration
// the engine serves with. The master reads and checks the files (at start
// and on HUP) and hands their bytes to each worker it starts; a worker
// builds its configuration from those bytes and never reads the files.
package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Client certificate policies: Gunicorn's --cert-reqs values (Python's
// ssl.CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED).
const (
	CertNone     = 0
	CertOptional = 1 // asked for; one given must verify
	CertRequired = 2
)

// Settings are the TLS flags of `wsgikit serve`.
type Settings struct {
	CertFile string // PEM: the certificate, then its chain (and the key when KeyFile is empty)
	KeyFile  string
	CACerts  string // PEM: the CAs client certificates must chain to
	CertReqs int    // CertNone, CertOptional, CertRequired
	Ciphers  string // an OpenSSL cipher list for TLS 1.2; "": the policy's
}

// Enabled reports whether a certificate was given.
func (s *Settings) Enabled() bool { return s.CertFile != "" }

// Check validates the settings without reading the files: the errors name
// the flag.
func (s *Settings) Check() error {
	if !s.Enabled() {
		if s.KeyFile != "" || s.CACerts != "" || s.CertReqs != 0 || s.Ciphers != "" {
			return errors.New("--keyfile, --ca-certs, --cert-reqs and --ciphers need --certfile (the server's certificate)")
		}
		return nil
	}
	if s.CertReqs < CertNone || s.CertReqs > CertRequired {
		return fmt.Errorf("--cert-reqs %d: want 0 (no client certificate), 1 (optional) or 2 (required)", s.CertReqs)
	}
	if s.CertReqs != CertNone && s.CACerts == "" {
		// Python would verify against the system's web CAs: any publicly
		// issued certificate would get in.
		return fmt.Errorf("--cert-reqs %d needs --ca-certs: the CAs whose client certificates are accepted", s.CertReqs)
	}
	_, _, err := ParseCiphers(s.Ciphers)
	return err
}

// Bundle is what a worker serves TLS with: the files' bytes (their names
// only for messages) and the settings that shape the handshake.
type Bundle struct {
	CertFile string   `json:"certfile"`
	KeyFile  string   `json:"keyfile"`
	CAFile   string   `json:"ca_certs,omitempty"`
	Cert     []byte   `json:"cert"`
	Key      []byte   `json:"key"`
	CA       []byte   `json:"ca,omitempty"`
	CertReqs int      `json:"cert_reqs"`
	Suites   []uint16 `json:"suites"`
	// TicketSecret is what every worker of a master derives the same
	// session ticket keys from (tickets.go); nil: each worker its own.
	TicketSecret []byte `json:"ticket_secret,omitempty"`
}

// Load reads the files and checks that a worker can serve with them at
// now: the key matches the certificate, no certificate of the chain has
// expired or is not yet valid, the CA file holds certificates. Every error
// is one line naming the flag and the file.
func (s *Settings) Load(now time.Time) (*Bundle, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	b := &Bundle{CertFile: s.CertFile, KeyFile: s.KeyFile, CAFile: s.CACerts, CertReqs: s.CertReqs}
	b.Suites, _, _ = ParseCiphers(s.Ciphers)
	var err error
	if b.Cert, err = readFile("--certfile", s.CertFile); err != nil {
		return nil, err
	}
	b.Key = b.Cert // Python's load_cert_chain: the key may follow the certificate
	if s.KeyFile != "" {
		if b.Key, err = readFile("--keyfile", s.KeyFile); err != nil {
			return nil, err
		}
	} else {
		b.KeyFile = s.CertFile
	}
	if s.CACerts != "" {
		if b.CA, err = readFile("--ca-certs", s.CACerts); err != nil {
			return nil, err
		}
	}
	cfg, err := b.Server()
	if err != nil {
		return nil, err
	}
	for i, der := range cfg.Certificates[0].Certificate {
		c, _ := x509.ParseCertificate(der) // parsed once already by Server
		what := "certificate"
		if i > 0 {
			what = fmt.Sprintf("chain certificate %d (%s)", i, c.Subject)
		}
		if now.After(c.NotAfter) {
			return nil, fmt.Errorf("--certfile %s: %s expired on %s", s.CertFile, what, c.NotAfter.UTC().Format(time.DateTime+" MST"))
		}
		if now.Before(c.NotBefore) {
			return nil, fmt.Errorf("--certfile %s: %s is not valid before %s", s.CertFile, what, c.NotBefore.UTC().Format(time.DateTime+" MST"))
		}
	}
	return b, nil
}

func readFile(flag, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s %s: %v", flag, path, err)
	}
	return b, nil
}

// Summary names the certificate for logs: its subject and when it expires.
func (b *Bundle) Summary() string {
	block, rest := pem.Decode(b.Cert)
	for block != nil && block.Type != "CERTIFICATE" {
		block, rest = pem.Decode(rest)
	}
	if block == nil {
		return b.CertFile
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return b.CertFile
	}
	return fmt.Sprintf("%s (%s, valid until %s)", b.CertFile, c.Subject, c.NotAfter.UTC().Format(time.DateTime+" MST"))
}

// Server is the crypto/tls configuration the engine serves with: TLS 1.2
// at least (1.3 preferred: crypto/tls negotiates the highest), the cipher
// policy, ALPN "http/1.1" (and "http/1.0" for HTTP/1.0 clients that offer
// it; a client offering neither, e.g. only "h2", is refused, RFC 7301),
// the client certificate policy, and the session ticket keys the master's
// workers share (tickets.go). It does not check the certificate against the
// clock: a worker started after the certificate expired serves it rather
// than not at all (the master refuses it at start and on HUP).
func (b *Bundle) Server() (*tls.Config, error) {
	if err := checkCertPEM(b.Cert, b.CertFile); err != nil {
		return nil, err
	}
	if err := checkKeyPEM(b.Key, b.KeyFile, b.CertFile); err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(b.Cert, b.Key)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "tls: ")
		if b.KeyFile != b.CertFile {
			return nil, fmt.Errorf("--keyfile %s does not match --certfile %s: %s", b.KeyFile, b.CertFile, msg)
		}
		return nil, fmt.Errorf("--certfile %s: %s", b.CertFile, msg)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: b.Suites,
		NextProtos:   []string{"http/1.1", "http/1.0"}, // preferred first; without http/1.0, curl -0 is refused
		Certificates: []tls.Certificate{cert},
	}
	if len(b.CA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b.CA) {
			return nil, fmt.Errorf("--ca-certs %s: no PEM certificate in it", b.CAFile)
		}
		cfg.ClientCAs = pool
	}
	switch b.CertReqs {
	case CertOptional:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case CertRequired:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	b.shareTickets(cfg)
	return cfg, nil
}

// checkCertPEM makes sure every certificate block parses, so that a bad one
// is named rather than reported as crypto/tls's first complaint.
func checkCertPEM(data []byte, file string) error {
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		n++
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("--certfile %s: certificate %d: %v", file, n, strings.TrimPrefix(err.Error(), "x509: "))
		}
	}
	if n == 0 {
		return fmt.Errorf("--certfile %s: no PEM certificate in it", file)
	}
	return nil
}

// checkKeyPEM finds the private key block; an encrypted key is refused:
// there is no one to ask for its passphrase.
func checkKeyPEM(data []byte, file, certFile string) error {
	flag := "--keyfile"
	if file == certFile {
		flag = "--certfile"
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] == "4,ENCRYPTED" {
			return fmt.Errorf("%s %s: the private key is encrypted; wsgikit cannot ask for its passphrase (decrypt it: openssl pkey -in KEY -out KEY.plain)", flag, file)
		}
		if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			return nil
		}
	}
	if file == certFile {
		return fmt.Errorf("--certfile %s holds no private key: give --keyfile", file)
	}
	return fmt.Errorf("--keyfile %s: no PEM private key in it", file)
}

// Marshal encodes the bundle for a worker.
func (b *Bundle) Marshal() []byte {
	raw, _ := json.Marshal(b) // plain fields only: it cannot fail
	return raw
}

// Unmarshal decodes a bundle the master passed.
func Unmarshal(raw []byte) (*Bundle, error) {
	var b Bundle
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&b); err != nil {
		return nil, fmt.Errorf("tls bundle: %w", err)
	}
	return &b, nil
}
