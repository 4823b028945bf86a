package ipset

import (
	"fmt"
	"net/netip"
	"strings"
)

// Set is a list of addresses and CIDR ranges ("*" matches everything).
type Set struct {
	all      bool
	prefixes []netip.Prefix
}

// Parse parses a comma-separated list of IPs and CIDRs.
func Parse(s string) (*Set, error) {
	set := &Set{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case f == "*":
			set.all = true
		case strings.Contains(f, "/"):
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP or CIDR range (e.g. 10.0.0.0/8)", f)
			}
			set.prefixes = append(set.prefixes, p.Masked())
		default:
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP or CIDR range (e.g. 127.0.0.1)", f)
			}
			set.prefixes = append(set.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return set, nil
}

// Contains reports whether ip (text, as in REMOTE_ADDR) is in the set.
func (s *Set) Contains(ip []byte) bool {
	if s == nil {
		return false
	}
	if s.all {
		return true
	}
	a, err := netip.ParseAddr(string(ip))
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
