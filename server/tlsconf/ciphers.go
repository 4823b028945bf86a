package tlsconf

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// The cipher policy. TLS 1.3 is preferred and its three suites are always
// on (crypto/tls does not let them be chosen, as OpenSSL keeps them apart
// from the cipher list). TLS 1.2 offers, by default, only the suites with
// forward secrecy (ECDHE) and an AEAD cipher (AES-GCM, ChaCha20-Poly1305):
// Mozilla's "intermediate" list less the finite-field DHE suites crypto/tls
// does not have. --ciphers may add the ECDHE CBC-SHA1 suites for old
// clients; nothing else (RSA key exchange, RC4, 3DES, CBC-SHA256) can be
// selected: crypto/tls counts them insecure. crypto/tls picks among the
// enabled suites in its own order (AES-GCM first when the CPU has AES
// instructions), so the order of a list does not matter.

// suite is one TLS 1.2 cipher suite wsgikit can enable, with the attributes
// OpenSSL's cipher-string aliases select on.
type suite struct {
	id      uint16
	openssl string // OpenSSL's name (SSL_CIPHER in the environ, --ciphers)
	au      string // authentication: "RSA" or "ECDSA"
	enc     string // "AESGCM", "AES" (CBC) or "CHACHA20"
	bits    int
	aead    bool
}

var suites = []suite{
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDSA", "AESGCM", 128, true},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", "RSA", "AESGCM", 128, true},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDSA", "AESGCM", 256, true},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", "RSA", "AESGCM", 256, true},
	{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDSA", "CHACHA20", 256, true},
	{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305", "RSA", "CHACHA20", 256, true},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA", "ECDSA", "AES", 128, false},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA", "RSA", "AES", 128, false},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA", "ECDSA", "AES", 256, false},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA", "RSA", "AES", 256, false},
}

// DefaultSuites are the TLS 1.2 suites offered without --ciphers.
func DefaultSuites() []uint16 {
	var ids []uint16
	for _, s := range suites {
		if s.aead {
			ids = append(ids, s.id)
		}
	}
	return ids
}

// CipherName is the OpenSSL name of a negotiated suite (TLS 1.3's are the
// IANA names in OpenSSL too), as Apache's mod_ssl puts it in SSL_CIPHER.
func CipherName(id uint16) string {
	for _, s := range suites {
		if s.id == id {
			return s.openssl
		}
	}
	return tls.CipherSuiteName(id)
}

// aliases are OpenSSL's cipher-string words, as predicates over our suites.
// Words naming what crypto/tls lacks (DHE, RSA key exchange, RC4, 3DES,
// NULL, PSK...) select nothing, as they would in OpenSSL on a build without
// those ciphers.
var aliases = map[string]func(suite) bool{
	"ALL": all, "DEFAULT": all, "HIGH": all, "ECDHE": all, "EECDH": all, "ECDH": all, "kECDHE": all, "kEECDH": all,
	"aRSA":   func(s suite) bool { return s.au == "RSA" },
	"aECDSA": func(s suite) bool { return s.au == "ECDSA" }, "ECDSA": func(s suite) bool { return s.au == "ECDSA" },
	"AESGCM":   func(s suite) bool { return s.enc == "AESGCM" },
	"AES":      func(s suite) bool { return s.enc == "AESGCM" || s.enc == "AES" },
	"AES128":   func(s suite) bool { return s.enc != "CHACHA20" && s.bits == 128 },
	"AES256":   func(s suite) bool { return s.enc != "CHACHA20" && s.bits == 256 },
	"CHACHA20": func(s suite) bool { return s.enc == "CHACHA20" },
	"AEAD":     func(s suite) bool { return s.aead }, "TLSv1.2": func(s suite) bool { return s.aead },
	"SHA1": func(s suite) bool { return !s.aead }, "SHA": func(s suite) bool { return !s.aead },
	"TLSv1": func(s suite) bool { return !s.aead }, "TLSv1.0": func(s suite) bool { return !s.aead }, "SSLv3": func(s suite) bool { return !s.aead },
}

func all(suite) bool  { return true }
func none(suite) bool { return false }

func init() {
	for _, w := range strings.Fields("COMPLEMENTOFDEFAULT COMPLEMENTOFALL MEDIUM LOW EXPORT EXP NULL eNULL aNULL " +
		"RSA kRSA DH DHE EDH kDHE kEDH ADH AECDH aDSS DSS PSK kPSK aPSK SRP kSRP RC4 DES 3DES MD5 SHA256 SHA384 " +
		"CAMELLIA SEED IDEA ARIA AESCCM AESCCM8 CBC FIPS") {
		aliases[w] = none
	}
}

// tls13Names are accepted in a list and change nothing: TLS 1.3's suites are always on.
var tls13Names = map[string]bool{"TLS_AES_128_GCM_SHA256": true, "TLS_AES_256_GCM_SHA384": true, "TLS_CHACHA20_POLY1305_SHA256": true}

// ParseCiphers reads an OpenSSL cipher list (Gunicorn's --ciphers, e.g.
// "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL" or a list of names) with OpenSSL's
// rules: words joined by ":", "," or spaces; "+"-joined words select their
// intersection; a leading "!" removes for good, "-" removes, "+" moves to
// the end; "@..." is ignored (order does not matter here). Like OpenSSL,
// it skips names it does not know (returned in ignored, to be told) and
// fails only when nothing is selected. "" is the default policy.
func ParseCiphers(list string) (ids []uint16, ignored []string, err error) {
	if strings.TrimSpace(list) == "" {
		return DefaultSuites(), nil, nil
	}
	var active []int
	banned := make([]bool, len(suites))
	for _, tok := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' || r == ';' }) {
		op := byte(0)
		if tok[0] == '!' || tok[0] == '-' || tok[0] == '+' {
			op, tok = tok[0], tok[1:]
		}
		if tok == "" || tok[0] == '@' {
			continue
		}
		match, ok := selector(tok)
		if !ok {
			if !tls13Names[tok] {
				ignored = append(ignored, tok)
			}
			continue
		}
		switch op {
		case 0:
			for i, s := range suites {
				if match(s) && !banned[i] && !slices.Contains(active, i) {
					active = append(active, i)
				}
			}
		case '!', '-':
			active = slices.DeleteFunc(active, func(i int) bool { return match(suites[i]) })
			if op == '!' {
				for i, s := range suites {
					banned[i] = banned[i] || match(s)
				}
			}
		case '+':
			var moved []int
			active = slices.DeleteFunc(active, func(i int) bool {
				if match(suites[i]) {
					moved = append(moved, i)
					return true
				}
				return false
			})
			active = append(active, moved...)
		}
	}
	if len(active) == 0 {
		var names []string
		for _, s := range suites {
			names = append(names, s.openssl)
		}
		return nil, ignored, fmt.Errorf("--ciphers %q selects no TLS 1.2 cipher suite wsgikit has (crypto/tls: %s; TLS 1.3's are always on)", list, strings.Join(names, ", "))
	}
	for _, i := range active {
		ids = append(ids, suites[i].id)
	}
	return ids, ignored, nil
}

// selector is the predicate for one word or "+"-joined words, and whether
// every word is known.
func selector(tok string) (func(suite) bool, bool) {
	var preds []func(suite) bool
	for _, w := range strings.Split(tok, "+") {
		if p, ok := aliases[w]; ok {
			preds = append(preds, p)
			continue
		}
		i := slices.IndexFunc(suites, func(s suite) bool { return s.openssl == w })
		if i < 0 {
			return nil, false
		}
		id := suites[i].id
		preds = append(preds, func(s suite) bool { return s.id == id })
	}
	return func(s suite) bool {
		for _, p := range preds {
			if !p(s) {
				return false
			}
		}
		return true
	}, true
}
