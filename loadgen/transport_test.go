package loadgen

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestTransportSimpleGet(t *testing.T) {
	srv := httptest.NewServer(fixtureHandler())
	defer srv.Close()
	tr := &Transport{Timeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for i := 0; i < 3; i++ {
		resp, err := c.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != "Hello, World!" {
			t.Fatalf("body %q err %v", b, err)
		}
	}
	if s := tr.Stats(); s.Dials != 1 || s.Reuses != 2 {
		t.Fatalf("stats %+v", s)
	}
}
