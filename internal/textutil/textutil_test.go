package textutil

import (
	"reflect"
	"strings"
	"testing"
)

func TestFirstLine(t *testing.T) {
	for _, tc := range []struct{ in, more, want string }{
		{"one", " …", "one"},
		{"one\ntwo", " …", "one …"},
		{"one\ntwo", "", "one"},
		{"\ntwo", "", ""},
		{"", " …", ""},
	} {
		if got := FirstLine(tc.in, tc.more); got != tc.want {
			t.Errorf("FirstLine(%q, %q) = %q, want %q", tc.in, tc.more, got, tc.want)
		}
	}
}

func TestHeadAndClip(t *testing.T) {
	for _, tc := range []struct {
		in         string
		n          int
		head, clip string
	}{
		{"hello", 10, "hello", "hello"},
		{"hello", 5, "hello", "hello"},
		{"hello", 3, "hel", "hel…"},
		{"hello", 0, "", "…"},
	} {
		if got := Head(tc.in, tc.n); got != tc.head {
			t.Errorf("Head(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.head)
		}
		if got := string(Head([]byte(tc.in), tc.n)); got != tc.head {
			t.Errorf("Head([]byte(%q), %d) = %q, want %q", tc.in, tc.n, got, tc.head)
		}
		if got := Clip(tc.in, tc.n); got != tc.clip {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.clip)
		}
	}
}

func TestCloseMatches(t *testing.T) {
	profiles := []string{"wsgikit", "gunicorn-sync", "gunicorn-gthread", "gunicorn-gevent", "uwsgi", "mod_wsgi", "waitress", "gunicorn-sync"}
	ids := []string{"http1/host/missing", "pep3333/environ/url-scheme", "pep3333/input/read", "pep3333/environ/wsgi-version"}
	for _, tc := range []struct {
		name  string
		s     string
		known []string
		limit int
		want  []string
	}{
		{"typo", "gunicorn-gthred", profiles, 3, []string{"gunicorn-gthread"}},
		{"case and punctuation", "MODWSGI", profiles, 3, []string{"mod_wsgi"}},
		{"typos best first", "uwsgj", []string{"wsgi", "uwsgi"}, 3, []string{"uwsgi", "wsgi"}},
		{"a word of a longer name", "gunicorn", profiles, 3, []string{"gunicorn-sync", "gunicorn-gthread", "gunicorn-gevent"}},
		{"limit, duplicates once", "gunicorn", profiles, 2, []string{"gunicorn-sync", "gunicorn-gthread"}},
		{"most shared first", "pep3333/nope/zzz-environ", ids, 5, []string{"pep3333/environ/url-scheme", "pep3333/environ/wsgi-version", "pep3333/input/read"}},
		{"a known name inside", "hello-world", []string{"json", "hello"}, 3, []string{"hello"}},
		{"transposition", "jsno", []string{"hello", "json"}, 3, []string{"json"}},
		{"nothing close", "zzz", profiles, 3, nil},
		{"short words ignored", "x-y", profiles, 3, nil},
	} {
		if got := CloseMatches(tc.s, tc.known, tc.limit); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: CloseMatches(%q) = %q, want %q", tc.name, tc.s, got, tc.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, é", "plain text, é"},
		{"not a binary number: '0b\n'", `not a binary number: '0b\n'`},
		{"a\r\nb\tc\x00d\u0085e", `a\r\nb\tc\x00d\u0085e`},
		{"", ""},
	} {
		if got := OneLine(tc.in); got != tc.want || strings.ContainsAny(got, "\r\n") {
			t.Errorf("OneLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
