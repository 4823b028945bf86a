package master

import (
	"fmt"
	"strings"
	"time"

	"github.com/wsgikit/wsgikit/server/tlsconf"
)

// TLS in the master: which binds speak it, and the certificate material it
// reads at start and again on HUP (a renewed certificate is the common
// case), for the workers it starts from then on. Workers never read the
// files: they may run as another user, and a file that went bad keeps the
// server on the material it has.

// splitScheme cuts "https://" or "http://" off a bind.
func splitScheme(bind string) (scheme, rest string) {
	for _, s := range []string{"https", "http"} {
		if r, ok := strings.CutPrefix(bind, s+"://"); ok {
			return s, r
		}
	}
	return "", bind
}

func anyHTTPS(binds []string) bool {
	for _, b := range binds {
		if s, _ := splitScheme(b); s == "https" {
			return true
		}
	}
	return false
}

// checkBinds: an https:// bind needs a certificate; next to one, a bind
// without a scheme is ambiguous (Gunicorn makes every bind TLS when
// --certfile is given, which is surely not what was meant).
func checkBinds(binds []string, tls *tlsconf.Settings) error {
	if !anyHTTPS(binds) {
		return nil
	}
	for _, b := range binds {
		s, _ := splitScheme(b)
		if s == "https" && !tls.Enabled() {
			return fmt.Errorf("bind %s: TLS needs --certfile and --keyfile", b)
		}
		if s == "" {
			return fmt.Errorf("bind %s: say http:// or https://: next to an https:// bind, a bind without a scheme is ambiguous (Gunicorn would make every bind TLS)", b)
		}
	}
	return nil
}

// tlsListeners says, by listener, which speak TLS; nil when none does.
func (m *Master) tlsListeners() []bool {
	var on []bool
	any := false
	for _, l := range m.listeners {
		on = append(on, l.TLS)
		any = any || l.TLS
	}
	if !any {
		return nil
	}
	return on
}

// loadTLS reads the certificate material when a listener speaks TLS.
func (m *Master) loadTLS() error {
	if m.tlsListeners() == nil {
		return nil
	}
	b, err := m.cfg.TLS.Load(time.Now())
	if err != nil {
		return err
	}
	// One secret for every worker, kept across reloads: a session resumes
	// whichever worker a client's next connection lands on.
	b.TicketSecret = tlsconf.NewTicketSecret()
	m.exec.tls = b
	return nil
}

// reloadTLS re-reads the files on HUP; when they no longer serve (a key
// that does not match yet, an expired certificate), the new workers keep
// the material the old ones have.
func (m *Master) reloadTLS() {
	if m.exec.tls == nil {
		return
	}
	b, err := m.cfg.TLS.Load(time.Now())
	if err != nil {
		m.log.Error(fmt.Sprintf("HUP: %v; the new workers keep serving %s", err, m.exec.tls.Summary()))
		return
	}
	b.TicketSecret = m.exec.tls.TicketSecret
	m.exec.tls = b
	m.log.Info("HUP: TLS certificate " + b.Summary())
}
