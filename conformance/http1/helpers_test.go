package http1

import (
	"encoding/base64"
	"testing"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

// TestDumpOf: only an environ dump naming the probe id is that request's
// answer; its read outcome travels with it.
func TestDumpOf(t *testing.T) {
	dump := func(id, extra string) []byte {
		return []byte(`{"environ": {"HTTP_X_PROBE_ID": {"t": "str", "b": "` + base64.StdEncoding.EncodeToString([]byte(id)) + `"}}` + extra + `}`)
	}
	for _, c := range []struct {
		name    string
		body    []byte
		want    bool
		readErr string
	}{
		{"own dump", dump("7-te-cl", `, "body": "aGVsbG8="`), true, ""},
		{"own dump, read raised", dump("7-te-cl", `, "read_error": {"type": "OSError", "msg": "bad chunk"}`), true, "OSError: bad chunk"},
		{"the smuggled request's dump", dump("8-te-cl", ""), false, ""},
		{"dump without a probe id", []byte(`{"environ": {}}`), false, ""},
		{"not a dump", []byte("Hello, World!"), false, ""},
	} {
		d := dumpOf(&f.Response{Status: 200, Body: c.body}, "7-te-cl")
		if (d != nil) != c.want {
			t.Errorf("%s: dumpOf = %v, want a dump: %v", c.name, d, c.want)
			continue
		}
		if d == nil {
			continue
		}
		var o Obs
		o.fill(d.Environ, d.Body, d.ReadError, d.Blocked)
		if o.ReadErr != c.readErr || !o.Called {
			t.Errorf("%s: read error %q called %v, want %q", c.name, o.ReadErr, o.Called, c.readErr)
		}
	}
	if dumpOf(nil, "7-te-cl") != nil {
		t.Error("no response is no dump")
	}
}
