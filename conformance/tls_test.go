package conformance

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wsgikit/wsgikit/conformance/framework"
	"github.com/wsgikit/wsgikit/conformance/overtls"
	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
)

// TestOverTLS runs the whole suite over TLS against wsgikit and two peers:
// every registry spec must earn its plaintext golden verdict (the HTTP/1.1
// and PEP 3333 requirements do not change with the transport), and the TLS
// specs the verdicts below (all three set wsgi.url_scheme to "https" and
// refuse plaintext on the TLS port).
func TestOverTLS(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: no servers")
	}
	if *serverFlag != "" {
		t.Skip("-wsgikit.server given: only the Ginkgo suite runs")
	}
	if err := framework.Validate(SpecsOver(true)); err != nil {
		t.Fatal(err)
	}
	servers := []string{"wsgikit", "gunicorn-gthread", "granian"}
	for _, s := range servers {
		p, err := harness.Lookup(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Version(); err != nil {
			testenv.Missing(t, "%v", err)
		}
	}
	tlsWant := map[string]string{
		"pep3333/tls/url-scheme-https":  framework.PASS,
		"pep3333/tls/https-key":         framework.VINFO,
		"pep3333/tls/plaintext-refused": framework.PASS,
	}
	c, err := Run(context.Background(), Options{Servers: servers, TLS: true, Parallel: len(servers), Instances: checkInstances})
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range c.Servers {
		t.Run(cs.Name, func(t *testing.T) {
			if cs.Error != "" {
				t.Fatalf("%s could not run over TLS: %s", cs.Name, cs.Error)
			}
			b, err := os.ReadFile(filepath.Join("testdata", "verdicts", cs.Name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var want golden
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			for id := range overtls.PlaintextOnly {
				delete(want.Verdicts, id)
			}
			for id, v := range tlsWant {
				want.Verdicts[id] = v
			}
			got := golden{Verdicts: map[string]string{}}
			detail := map[string]string{}
			for _, r := range cs.Results {
				got.Verdicts[r.ID], detail[r.ID] = r.Verdict, r.Detail
				if r.Verdict == framework.ERROR {
					t.Errorf("%s: ERROR over TLS: %s\n%s", r.ID, r.Detail, r.Transcript)
				}
			}
			if diff := verdictDiff(want, got, detail); diff != "" {
				t.Errorf("%s over TLS: verdicts differ from the plaintext golden (and the TLS specs' expected):\n%s", cs.Name, diff)
			}
		})
	}
}
