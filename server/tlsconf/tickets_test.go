package tlsconf

import (
	"crypto/tls"
	"io"

	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
)

// TestTicketKeys: the keys are a function of the secret and the period:
// the same for every worker at one time, another secret or period gives
// others, and the next period's encrypting key is this one's third.
func TestTicketKeys(t *testing.T) {
	s1, s2 := NewTicketSecret(), NewTicketSecret()
	now := time.Unix(1_800_000_000, 0)
	a, b := TicketKeys(s1, now), TicketKeys(s1, now.Add(time.Minute))
	if len(a) != 3 || a[0] != b[0] || a[1] != b[1] || a[2] != b[2] {
		t.Fatal("two workers of one master at the same time derive different keys")
	}
	if TicketKeys(s2, now)[0] == a[0] {
		t.Fatal("another master's secret derives the same key")
	}
	next := TicketKeys(s1, now.Add(TicketPeriod))
	if next[0] != a[2] || next[1] != a[0] || a[0] == a[1] || a[0] == a[2] {
		t.Fatal("the periods' keys do not roll over: next period encrypts with this one's third key, accepts this one's first")
	}
}

// TestTicketsResumeAcrossWorkers: two servers configured from one bundle
// (two workers of one master) resume each other's sessions; servers from
// bundles with different secrets (two masters, or no secret: each its
// own keys) do not.
func TestTicketsResumeAcrossWorkers(t *testing.T) {
	dir := t.TempDir()
	tf, err := harness.NewTLSFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	load := func(secret []byte) *Bundle {
		b, err := (&Settings{CertFile: tf.Cert, KeyFile: tf.Key}).Load(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		b.TicketSecret = secret
		return b
	}
	shared := NewTicketSecret()
	cases := []struct {
		name   string
		a, b   *Bundle
		resume bool
	}{
		{"one master's workers", load(shared), load(shared), true},
		{"two masters", load(shared), load(NewTicketSecret()), false},
		{"no secret", load(nil), load(nil), false},
	}
	for _, tc := range cases {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(tc.name+"/"+tls.VersionName(v), func(t *testing.T) {
				client, err := tf.ClientConfig()
				if err != nil {
					t.Fatal(err)
				}
				client.Certificates = nil
				client.MaxVersion = v
				client.ClientSessionCache = tls.NewLRUClientSessionCache(4)
				first := handshake(t, tc.a, client)
				second := handshake(t, tc.b, client)
				if first.DidResume || second.DidResume != tc.resume {
					t.Fatalf("first resumed %v, second resumed %v; want false, %v", first.DidResume, second.DidResume, tc.resume)
				}
			})
		}
	}
}

// handshake serves one connection on a fresh listener with a server
// configured from b and connects to it with client; a byte each way
// makes sure TLS 1.3's ticket, sent after the handshake, has arrived.
func handshake(t *testing.T, b *Bundle, client *tls.Config) tls.ConnectionState {
	t.Helper()
	cfg, err := b.Server()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var p [1]byte
		if _, err := io.ReadFull(c, p[:]); err == nil {
			c.Write(p[:])
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	var p [1]byte
	if _, err := c.Write([]byte{'x'}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, p[:]); err != nil {
		t.Fatal(err)
	}
	return c.ConnectionState()
}
