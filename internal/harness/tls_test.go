package harness

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTLSProfilesServeHTTPS starts every built-in that has TLS with
// Options.TLS and fetches hello over https:// with the instance's client
// configuration; the ones without TLS say why.
func TestTLSProfilesServeHTTPS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers; not in -short")
	}
	for _, p := range Builtin() {
		if strings.HasSuffix(p.Name, DebianSuffix) {
			continue // the same flags as the plain profile's
		}
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			if ok, why := p.SupportsTLS(); !ok {
				_, err := Start(context.Background(), p, App{Module: "hello", Dir: "."}, Options{TLS: true})
				if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), why) {
					t.Fatalf("a profile without TLS: %v, want ErrUnsupported saying %q", err, why)
				}
				return
			}
			requireInstalled(t, p)
			app, err := BuiltinApp("hello")
			if err != nil {
				t.Fatal(err)
			}
			inst, err := Start(context.Background(), p, app, Options{TLS: true})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := inst.Stop(); err != nil {
					t.Error(err)
				}
			}()
			if !strings.HasPrefix(inst.URL(), "https://") {
				t.Errorf("URL %s, want https://", inst.URL())
			}
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: inst.ClientTLS()}}
			resp, err := c.Get(inst.URL() + "/")
			if err != nil {
				t.Fatalf("GET over TLS: %v\n%s", err, inst.LogTail(20))
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "Hello, World!" || resp.TLS == nil {
				t.Errorf("GET over TLS: %d %q (TLS state %v)", resp.StatusCode, body, resp.TLS != nil)
			}
			// The port speaks TLS only: a plaintext request gets no 200.
			conn, err := net.DialTimeout("tcp", inst.Addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
			got, _ := io.ReadAll(conn)
			if strings.HasPrefix(string(got), "HTTP/1.1 200") {
				t.Errorf("plaintext on the TLS port answered 200: %q", got)
			}
		})
	}
}
