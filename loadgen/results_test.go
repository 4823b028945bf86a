package loadgen

import (
	"bytes"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// TestReadResults: a whole file reads back record for record; a file cut
// inside a record is an error naming that record, after the ones before it.
func TestReadResults(t *testing.T) {
	in := []vegeta.Result{
		{Attack: "a", Seq: 0, Code: 200, Latency: 3 * time.Millisecond, Method: "GET", URL: "http://x/"},
		{Attack: "a", Seq: 1, Code: 503, Latency: 5 * time.Millisecond, Method: "POST", URL: "http://x/up", Error: "503 Service Unavailable"},
	}
	var buf bytes.Buffer
	enc := vegeta.NewEncoder(&buf)
	var ends []int
	for i := range in {
		if err := enc.Encode(&in[i]); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, buf.Len())
	}
	whole := buf.Bytes()
	for _, tc := range []struct {
		name    string
		data    []byte
		n       int
		wantErr string
	}{
		{"whole", whole, 2, ""},
		{"empty", nil, 0, ""},
		{"cut in the second record", whole[:ends[0]+(ends[1]-ends[0])/2], 1, "record 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadResults(bytes.NewReader(tc.data))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if len(got) != tc.n {
				t.Fatalf("%d records, want %d", len(got), tc.n)
			}
			for i, r := range got {
				if !r.Equal(in[i]) {
					t.Fatalf("record %d: %+v, want %+v", i, r, in[i])
				}
			}
		})
	}
}
