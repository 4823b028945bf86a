package http1

import (
	"encoding/base64"
	"testing"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

// TestAnswersOther: only an environ dump naming another probe id counts as
// the answer to another request.
func TestAnswersOther(t *testing.T) {
	dump := func(id string) []byte {
		return []byte(`{"environ": {"HTTP_X_PROBE_ID": {"t": "str", "b": "` + base64.StdEncoding.EncodeToString([]byte(id)) + `"}}}`)
	}
	for _, c := range []struct {
		name string
		body []byte
		want bool
	}{
		{"own dump", dump("7-te-cl"), false},
		{"the smuggled request's dump", dump("8-te-cl"), true},
		{"dump without a probe id", []byte(`{"environ": {}}`), false},
		{"not a dump", []byte("Hello, World!"), false},
	} {
		if got := answersOther(&f.Response{Status: 200, Body: c.body}, "7-te-cl"); got != c.want {
			t.Errorf("%s: answersOther = %v, want %v", c.name, got, c.want)
		}
	}
}
