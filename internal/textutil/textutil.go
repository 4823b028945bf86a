// Package textutil owns the short text helpers that messages share across
// wsgikit: the first line of a multi-line text, one line for quoted input,
// clipping to a length, and the close matches behind every "did you mean".
package textutil

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// FirstLine is s up to its first line break, with more appended when the
// text went on past it (" …" to show it was cut; "" when the caller shows
// that another way or not at all).
func FirstLine(s, more string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + more
	}
	return s
}

// OneLine is s with its control characters written as Go escapes (a
// newline as \n): a message that quotes input, such as a TOML decoder's,
// stays on one line.
func OneLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Head is the first n bytes of s, or all of s when it is shorter.
func Head[S ~string | ~[]byte](s S, n int) S {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Clip is the first n bytes of s, with "…" marking a cut.
func Clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// CloseMatches returns up to limit names of known that s may have been meant as,
// best first, comparing without case: the likely typos (an edit distance of
// at most a quarter of the name, plus one) or, when there are none, the
// names sharing a word of s (runs of letters and digits, three or more
// long), most shared letters first. Duplicates are listed once.
func CloseMatches(s string, known []string, limit int) []string {
	type cand struct {
		name  string
		score int // typos: the distance (lower is better); words: minus the letters shared
	}
	ls := strings.ToLower(s)
	var words []string
	for _, w := range strings.FieldsFunc(ls, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len(w) >= 3 {
			words = append(words, w)
		}
	}
	var typos, sharing []cand
	seen := map[string]bool{}
	for _, k := range known {
		if seen[k] {
			continue
		}
		seen[k] = true
		lk := strings.ToLower(k)
		if d := editDistance(ls, lk); d <= 1+len(lk)/4 {
			typos = append(typos, cand{k, d})
			continue
		}
		shared := 0
		for _, w := range words {
			if strings.Contains(lk, w) {
				shared += len(w)
			}
		}
		if shared > 0 {
			sharing = append(sharing, cand{k, -shared})
		}
	}
	cs := typos
	if len(cs) == 0 {
		cs = sharing
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].score < cs[j].score })
	var out []string
	for _, c := range cs {
		if len(out) == limit {
			break
		}
		out = append(out, c.name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
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
