package harness

import (
	"fmt"
	"strings"

	"github.com/wsgikit/wsgikit/internal/textutil"
)

// Lookup finds a profile by name among the user's profiles (which shadow
// built-ins of the same name) and the built-ins. "behind-nginx:<name>" puts
// nginx in front of <name>. An unknown name is an error with close matches.
func Lookup(name string, user []*Profile) (*Profile, error) {
	if inner, ok := strings.CutPrefix(name, NginxPrefix); ok {
		if strings.HasPrefix(inner, NginxPrefix) {
			return nil, fmt.Errorf("profile %q: nginx in front of nginx is not a useful setup", name)
		}
		p, err := Lookup(inner, user)
		if err != nil {
			return nil, err
		}
		return behindNginx(p), nil
	}
	all := append(append([]*Profile{}, user...), Builtin()...)
	for _, p := range all {
		if p.Name == name {
			return p, nil
		}
	}
	var names []string
	for _, p := range all {
		names = append(names, p.Name)
	}
	if m := textutil.CloseMatches(name, names, 3); len(m) > 0 {
		return nil, fmt.Errorf("unknown server profile %q; did you mean %s? (`wsgikit servers` lists them all)", name, strings.Join(m, " or "))
	}
	return nil, fmt.Errorf("unknown server profile %q; `wsgikit servers` lists them all (or give --cmd 'TEMPLATE' / --profiles FILE)", name)
}
