package loadgen

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestTransportTLS: https:// through the lean transport, on kept-alive
// connections and with a new connection per request, whose handshakes
// resume the first one's session; without a TLS configuration https:// is
// refused.
func TestTransportTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.Proto)
	}))
	defer srv.Close()
	cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig
	for _, tc := range []struct {
		name               string
		newConn            bool
		wantDials, minResu uint64
	}{
		{"keep-alive", false, 1, 0},
		{"new-conn", true, 5, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &Transport{TLS: cfg, DisableKeepAlives: tc.newConn}
			defer tr.CloseIdleConnections()
			for i := 0; i < 5; i++ {
				req, _ := http.NewRequest("GET", srv.URL+"/", nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != "hello HTTP/1.1" {
					t.Fatalf("%d %q", resp.StatusCode, b)
				}
			}
			st := tr.Stats()
			if st.Dials != tc.wantDials || st.Resumed < tc.minResu {
				t.Errorf("dials %d (want %d), resumed %d (want ≥ %d)", st.Dials, tc.wantDials, st.Resumed, tc.minResu)
			}
		})
	}
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	if _, err := (&Transport{}).RoundTrip(req); err == nil {
		t.Error("https:// without a TLS configuration was not refused")
	}
}
