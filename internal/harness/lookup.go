package harness

import (
	"fmt"
	"sort"
	"strings"
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
	if m := closeMatches(name, names); len(m) > 0 {
		return nil, fmt.Errorf("unknown server profile %q; did you mean %s? (`wsgikit servers` lists them all)", name, strings.Join(m, " or "))
	}
	return nil, fmt.Errorf("unknown server profile %q; `wsgikit servers` lists them all (or give --cmd 'TEMPLATE' / --profiles FILE)", name)
}

// closeMatches returns names within a small edit distance of s, or that
// contain it, best first.
func closeMatches(s string, names []string) []string {
	type cand struct {
		n string
		d int
	}
	var cs []cand
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		d := EditDistance(strings.ToLower(s), strings.ToLower(n))
		if d <= 1+len(n)/4 || (len(s) >= 3 && strings.Contains(n, strings.ToLower(s))) {
			cs = append(cs, cand{n, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	var out []string
	for i, c := range cs {
		if i == 3 {
			break
		}
		out = append(out, c.n)
	}
	return out
}

// EditDistance is the Levenshtein distance, for "did you mean" hints
// everywhere in wsgikit.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
