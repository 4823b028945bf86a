package tlsconf

import (
	"crypto/tls"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
)

func names(ids []uint16) string {
	var n []string
	for _, id := range ids {
		n = append(n, CipherName(id))
	}
	return strings.Join(n, ":")
}

// TestParseCiphers: Gunicorn users' OpenSSL cipher strings select what
// OpenSSL would among the suites crypto/tls has; unknown names are skipped
// and told; a list selecting nothing is an error.
func TestParseCiphers(t *testing.T) {
	aead := names(DefaultSuites())
	cases := []struct {
		list, want, ignored, err string
	}{
		{list: "", want: aead},
		// Python 3.10+'s default for ssl.create_default_context.
		{list: "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM",
			want: "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"},
		// Mozilla's intermediate list: the DHE suites crypto/tls lacks are skipped.
		{list: "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305",
			want: aead, ignored: "DHE-RSA-AES128-GCM-SHA256 DHE-RSA-AES256-GCM-SHA384 DHE-RSA-CHACHA20-POLY1305"},
		{list: "ECDHE-RSA-AES128-SHA", want: "ECDHE-RSA-AES128-SHA"},
		{list: "TLS_AES_128_GCM_SHA256:ECDHE+CHACHA20", want: "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"},
		{list: "HIGH:!CHACHA20:!SHA1", want: "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"},
		{list: "aECDSA+AES256:-AESGCM", want: "ECDHE-ECDSA-AES256-SHA"},
		{list: "!AES128 ECDHE+AES128 ECDHE-ECDSA-AES256-SHA", want: "ECDHE-ECDSA-AES256-SHA"},
		{list: "CHACHA20,AESGCM,+CHACHA20", want: "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"},
		{list: "AES128-SHA:RC4-SHA", ignored: "AES128-SHA RC4-SHA", err: "selects no TLS 1.2 cipher suite"},
		{list: "RC4:3DES", err: "selects no TLS 1.2 cipher suite"},
	}
	for _, c := range cases {
		t.Run(c.list, func(t *testing.T) {
			ids, ignored, err := ParseCiphers(c.list)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := names(ids); got != c.want {
				t.Errorf("selected %s\nwant     %s", got, c.want)
			}
			if got := strings.Join(ignored, " "); got != c.ignored {
				t.Errorf("ignored %q, want %q", got, c.ignored)
			}
		})
	}
}

func FuzzParseCiphers(f *testing.F) {
	for _, s := range []string{"", "HIGH:!aNULL", "ECDHE+AESGCM:+CHACHA20:-SHA1", "@STRENGTH:ALL", "!:+:-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		ids, _, err := ParseCiphers(list)
		if err == nil && len(ids) == 0 {
			t.Fatal("no error and no suite")
		}
		for i, id := range ids {
			if !slices.ContainsFunc(suites, func(s suite) bool { return s.id == id }) || slices.Contains(ids[:i], id) {
				t.Fatalf("suite %x unknown or repeated in %v", id, ids)
			}
		}
	})
}

// TestLoad: what the master refuses at start (and keeps the old material
// for on HUP), one line naming the flag and the file.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	tf, err := harness.NewTLSFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	expired, expiredKey, err := tf.Issue("expired", harness.CertOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	future, futureKey, err := tf.Issue("future", harness.CertOptions{NotBefore: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	garbage := write("garbage.pem", "not a certificate\n")
	combined := write("combined.pem", read(tf.Cert)+read(tf.Key))
	encrypted := write("enc-key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})))
	badCert := write("bad-cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})))
	missing := filepath.Join(dir, "missing.pem")
	cases := []struct {
		name string
		s    Settings
		err  string // "" loads
	}{
		{"ok", Settings{CertFile: tf.Cert, KeyFile: tf.Key}, ""},
		{"combined", Settings{CertFile: combined}, ""},
		{"client-certs", Settings{CertFile: tf.Cert, KeyFile: tf.Key, CACerts: tf.CA, CertReqs: CertRequired}, ""},
		{"missing-cert", Settings{CertFile: missing, KeyFile: tf.Key}, "--certfile " + missing + ": no such file or directory"},
		{"missing-key", Settings{CertFile: tf.Cert, KeyFile: missing}, "--keyfile " + missing + ": no such file or directory"},
		{"garbage-cert", Settings{CertFile: garbage, KeyFile: tf.Key}, "--certfile " + garbage + ": no PEM certificate in it"},
		{"garbage-key", Settings{CertFile: tf.Cert, KeyFile: garbage}, "--keyfile " + garbage + ": no PEM private key in it"},
		{"bad-der", Settings{CertFile: badCert, KeyFile: tf.Key}, "--certfile " + badCert + ": certificate 1: "},
		{"switched", Settings{CertFile: tf.Key, KeyFile: tf.Cert}, "--certfile " + tf.Key + ": no PEM certificate in it"},
		{"mismatch", Settings{CertFile: tf.Cert, KeyFile: tf.ClientKey}, "--keyfile " + tf.ClientKey + " does not match --certfile " + tf.Cert + ": private key does not match public key"},
		{"no-key", Settings{CertFile: tf.Cert}, "--certfile " + tf.Cert + " holds no private key: give --keyfile"},
		{"encrypted", Settings{CertFile: tf.Cert, KeyFile: encrypted}, "the private key is encrypted"},
		{"expired", Settings{CertFile: expired, KeyFile: expiredKey}, "--certfile " + expired + ": certificate expired on "},
		{"not-yet", Settings{CertFile: future, KeyFile: futureKey}, "--certfile " + future + ": certificate is not valid before "},
		{"ca-garbage", Settings{CertFile: tf.Cert, KeyFile: tf.Key, CACerts: garbage, CertReqs: CertOptional}, "--ca-certs " + garbage + ": no PEM certificate in it"},
		{"ca-missing", Settings{CertFile: tf.Cert, KeyFile: tf.Key, CACerts: missing}, "--ca-certs " + missing + ": no such file"},
		{"reqs-no-ca", Settings{CertFile: tf.Cert, KeyFile: tf.Key, CertReqs: CertRequired}, "--cert-reqs 2 needs --ca-certs"},
		{"reqs-range", Settings{CertFile: tf.Cert, KeyFile: tf.Key, CertReqs: 3}, "--cert-reqs 3: want 0"},
		{"key-alone", Settings{KeyFile: tf.Key}, "need --certfile"},
		{"ciphers", Settings{CertFile: tf.Cert, KeyFile: tf.Key, Ciphers: "RC4"}, "selects no TLS 1.2 cipher suite"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.s.Load(time.Now())
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				cfg, err := b.Server()
				if err != nil {
					t.Fatal(err)
				}
				if cfg.MinVersion != tls.VersionTLS12 || !slices.Equal(cfg.NextProtos, []string{"http/1.1", "http/1.0"}) {
					t.Errorf("min version %x, ALPN %v", cfg.MinVersion, cfg.NextProtos)
				}
				back, err := Unmarshal(b.Marshal())
				if err != nil || string(back.Key) != string(b.Key) || back.CertReqs != b.CertReqs {
					t.Errorf("bundle round trip: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %v, want one line with %q", err, c.err)
			}
		})
	}
}
