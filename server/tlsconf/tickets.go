package tlsconf

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"sync/atomic"
	"time"
)

// Session tickets: a client that resumes a TLS session sends a ticket
// encrypted with a key of the server that issued it. Each worker is its
// own crypto/tls server, and by default each makes its own random keys,
// so a client whose next connection lands on another worker pays a full
// handshake. All the workers of one master derive the same keys instead,
// from a secret the master makes at start (and keeps across reloads, so
// that tickets issued before a HUP still resume after it), without talking
// to each other: the key of a period is a MAC of its number. A key is
// used to issue tickets for one TicketPeriod and accepted for one more,
// which is what crypto/tls's own rotation does with its keys.

// TicketPeriod is how long one session ticket key issues tickets.
const TicketPeriod = 24 * time.Hour

// NewTicketSecret returns a fresh random secret for TicketKeys.
func NewTicketSecret() []byte {
	s := make([]byte, 32)
	rand.Read(s) // never fails (crypto/rand panics on a broken source)
	return s
}

// TicketKeys are the session ticket keys at now: the current period's
// first (it encrypts), then the previous period's (its tickets still
// resume) and the next one's (a worker that rolled over before this one,
// its keys being refreshed hourly, may already issue them).
func TicketKeys(secret []byte, now time.Time) [][32]byte {
	p := now.Unix() / int64(TicketPeriod/time.Second)
	return [][32]byte{ticketKey(secret, p), ticketKey(secret, p-1), ticketKey(secret, p+1)}
}

func ticketKey(secret []byte, period int64) [32]byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("wsgikit session ticket key"))
	binary.Write(m, binary.BigEndian, period)
	var k [32]byte
	copy(k[:], m.Sum(nil))
	return k
}

// shareTickets gives cfg the session ticket keys derived from the
// bundle's secret (nothing without one) and keeps them current: each
// handshake first checks, at the cost of reading the clock, whether an
// hour has passed since the keys were last set.
func (b *Bundle) shareTickets(cfg *tls.Config) {
	if len(b.TicketSecret) == 0 {
		return
	}
	secret := b.TicketSecret
	var next atomic.Int64 // unix seconds
	refresh := func(now time.Time) {
		if now.Unix() >= next.Load() {
			cfg.SetSessionTicketKeys(TicketKeys(secret, now))
			next.Store(now.Add(time.Hour).Unix())
		}
	}
	refresh(time.Now())
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		refresh(time.Now())
		return nil, nil // nil: serve with cfg itself
	}
}
