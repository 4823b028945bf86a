package conformance

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wsgikit/wsgikit/conformance/framework"
	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
	"github.com/wsgikit/wsgikit/internal/textutil"
	"github.com/wsgikit/wsgikit/reports"
)

// mutants maps each defect of the broken-server family
// (testdata/broken_server.py --defect NAME) to the specs that must catch
// it: FAIL or NON-STRICT. Spec IDs are written without "pep3333/" for
// brevity where they start with a section of the PEP; http1 IDs in full.
var mutants = map[string][]string{
	// request line
	"method-any-bytes":    {"http1/chars/method-separator", "http1/chars/method-nul"},
	"target-with-spaces":  {"http1/chars/target-space"},
	"split-on-whitespace": {"http1/whitespace/request-line-double-space", "http1/whitespace/request-line-tab"},
	"version-any": {"http1/http10/version-two-digit-minor", "http1/http10/version-three-digits", "http1/http10/version-lowercase",
		"http1/http10/version-other-protocol", "http1/http10/version-garbage", "http1/http10/version-2"},
	"missing-target-root": {"http1/http10/missing-target"},
	"no-leading-crlf":     {"http1/whitespace/leading-empty-line"},
	"request-line-4k":     {"http1/limits/request-line-8000"},
	"long-target-400":     {"http1/limits/request-line-huge"},
	"absolute-form-raw":   {"http1/host/absolute-form-accepted", "environ/absolute-form"},
	"any-target-form":     {"http1/host/asterisk-non-options", "http1/host/authority-form-non-connect"},
	"fragment-kept":       {"environ/path-info-fragment"},
	// header fields
	"lenient-field-names": {"http1/chars/header-name-empty", "http1/chars/header-name-nul", "http1/chars/header-name-non-ascii",
		"http1/chars/header-name-x85-suffix", "http1/chars/header-name-separator"},
	"ctl-in-values":      {"http1/chars/header-value-nul", "http1/chars/header-value-bare-cr"},
	"space-before-colon": {"http1/whitespace/before-colon-content-length", "http1/whitespace/before-colon-header", "http1/whitespace/tab-before-colon"},
	"obs-fold-dropped":   {"http1/whitespace/obs-fold", "http1/smuggling/te-obs-fold"},
	"leading-ws-header":  {"http1/whitespace/before-first-header"},
	"no-host-check": {"http1/host/missing", "http1/host/duplicate", "http1/host/invalid-space", "http1/host/invalid-userinfo",
		"http1/host/invalid-slash"},
	// request framing
	"lenient-content-length": {"http1/framing/content-length-plus", "http1/framing/content-length-minus", "http1/framing/content-length-hex",
		"http1/framing/content-length-underscore", "http1/framing/content-length-inner-space", "http1/framing/content-length-letters",
		"http1/framing/content-length-empty", "http1/framing/content-length-comma-differs"},
	"content-length-last-wins": {"http1/framing/content-length-duplicate-differing"},
	"content-length-wraps":     {"http1/framing/content-length-overflow"},
	"content-length-short":     {"http1/framing/content-length-valid"},
	"short-body-waits":         {"http1/framing/body-shorter-than-length"},
	"no-length-until-close":    {"http1/framing/no-length-no-body", "http1/pipelining/zero-length-post-then-get"},
	"lenient-chunk-size": {"http1/framing/chunk-size-hex-prefix", "http1/framing/chunk-size-plus", "http1/framing/chunk-size-minus",
		"http1/framing/chunk-size-underscore", "http1/framing/chunk-size-leading-space", "http1/framing/chunk-size-empty",
		"http1/framing/chunk-size-non-hex", "http1/framing/chunk-bare-cr", "http1/framing/chunk-bare-lf", "http1/framing/chunk-data-too-long",
		"input/chunked-malformed"},
	"chunk-size-last-digit": {"http1/framing/chunk-size-overflow"},
	"chunk-ext-rejected":    {"http1/framing/chunk-extension", "http1/framing/chunk-extension-bws"},
	"chunked-eof-is-end":    {"http1/framing/chunk-missing-terminator"},
	"trailers-merged":       {"http1/framing/trailer-not-merged"},
	"chunked-not-decoded":   {"input/chunked-request"},
	"te-untrimmed": {"http1/smuggling/te-trailing-space", "http1/smuggling/te-leading-tab", "http1/smuggling/te-uppercase",
		"http1/smuggling/te-leading-comma", "http1/smuggling/te-trailing-comma", "http1/smuggling/te-duplicated", "http1/smuggling/te-nbsp",
		"http1/smuggling/te-vtab", "http1/smuggling/te-identity-chunked"},
	"tecl-keepalive": {"http1/smuggling/cl-te", "http1/smuggling/te-cl", "http1/smuggling/cl-te-then-get", "http1/keepalive/close-after-te-cl"},
	// The old oracle passed these (#15): Cheroot 9.0 answers the bytes its
	// app left of the chunked body with a 400 and closes ("chunked-and-
	// closed"); a 500 counted as "rejected".
	"tecl-reads-on": {"http1/smuggling/cl-te", "http1/smuggling/te-cl", "http1/smuggling/cl-te-then-get", "http1/keepalive/close-after-te-cl"},
	"errors-as-500": {"http1/host/missing", "http1/framing/content-length-plus", "http1/whitespace/before-colon-header",
		"http1/smuggling/te-duplicated", "http1/chars/header-name-empty", "http1/chars/method-separator", "http1/whitespace/obs-fold",
		"environ/path-info-fragment"},
	"body-error-500":     {"http1/framing/chunk-size-plus", "http1/framing/chunk-bare-cr", "http1/framing/chunk-missing-terminator"},
	"te-cl-wins":         {"http1/smuggling/cl-te", "http1/smuggling/te-cl", "http1/smuggling/cl-te-then-get"},
	"te-unknown-ignored": {"http1/smuggling/te-not-final", "http1/smuggling/te-chunked-then-identity", "http1/smuggling/te-unknown", "http1/smuggling/te-unknown-501"},
	"te-unknown-400":     {"http1/smuggling/te-unknown-501"},
	"http10-te-kept":     {"http1/http10/te-chunked"},
	// connections
	"keep-reading-after-400":  {"http1/keepalive/after-400"},
	"close-not-announced":     {"http1/keepalive/close-announced"},
	"http10-kept-open":        {"http1/keepalive/http10-default-close"},
	"ignore-connection-close": {"connection/close-honoured", "http1/keepalive/close-announced"},
	"good-lost-on-bad":        {"http1/pipelining/bad-after-good"},
	"one-recv":                {"http1/pipelining/fragmented-bytes", "http1/pipelining/fragmented-header-boundary"},
	"pipeline-reorder":        {"connection/pipelined-order"},
	// environ
	"keyword-call":                {"app/positional-args"},
	"environ-subclass":            {"app/environ-is-dict"},
	"app-called-twice":            {"app/invoked-once-per-request"},
	"shared-environ":              {"environ/fresh-per-request"},
	"method-lowercased":           {"environ/request-method-get", "environ/request-method-post", "environ/request-method-put", "environ/request-method-delete", "environ/request-method-options", "environ/request-method-patch"},
	"head-as-get":                 {"body/head-method-preserved"},
	"script-name-slash":           {"environ/script-name-root"},
	"path-utf8":                   {"environ/path-info-percent-decoded-latin1", "environ/path-info-percent-ff", "environ/no-code-points-above-ff"},
	"path-not-unquoted":           {"environ/path-info-percent-space", "environ/path-info-percent-decoded-latin1", "environ/url-reconstruction"},
	"root-path-empty":             {"environ/path-info-root"},
	"path-with-query":             {"environ/path-info-excludes-query"},
	"query-unquoted":              {"environ/query-string-raw"},
	"query-keeps-mark":            {"environ/query-string-empty"},
	"query-absent-none":           {"environ/query-string-absent"},
	"query-utf8":                  {"environ/query-string-latin1"},
	"content-type-dropped":        {"environ/content-type-present"},
	"content-type-default":        {"environ/content-type-absent"},
	"http-content-keys":           {"environ/no-http-content-type", "environ/no-http-content-length"},
	"content-length-int":          {"environ/content-length-present"},
	"server-port-int":             {"environ/cgi-values-are-str", "environ/server-name-port"},
	"content-length-zero-default": {"environ/content-length-absent"},
	"server-name-empty":           {"environ/server-name-port"},
	"server-port-wrong":           {"environ/server-port-matches"},
	"protocol-as-10":              {"environ/server-protocol-11"},
	"protocol-as-11":              {"environ/server-protocol-10"},
	"header-names-raw":            {"environ/http-header-name-mapping"},
	"invented-header":             {"environ/http-header-not-invented"},
	"empty-header-dropped":        {"environ/empty-header-value"},
	"ows-kept":                    {"environ/header-ows-trimmed"},
	"duplicate-last-wins":         {"environ/duplicate-headers-joined"},
	"underscore-headers":          {"environ/underscore-header-no-collision", "environ/underscore-content-length"},
	"script-name-from-header":     {"environ/header-cannot-set-script-name"},
	"header-utf8":                 {"environ/no-code-points-above-ff"},
	"obs-text-stripped":           {"environ/header-obs-text-latin1"},
	"wsgi-version-list":           {"environ/wsgi-version"},
	"url-scheme-https":            {"environ/url-scheme"},
	"no-run-once":                 {"environ/required-keys"},
	"input-no-readlines":          {"environ/wsgi-input-methods", "input/readlines"},
	"errors-no-writelines":        {"environ/wsgi-errors-methods", "errors/write-writelines-flush"},
	"flags-int":                   {"environ/concurrency-flags-bool"},
	"run-once-true":               {"environ/run-once-false"},
	"bad-extension-key":           {"environ/server-keys-prefixed"},
	"no-remote-addr":              {"environ/remote-addr"},
	"remote-user-from-auth":       {"environ/remote-user-absent"},
	// wsgi.input
	"read-ignores-size":        {"input/read-size"},
	"read-requires-size":       {"input/read-no-argument"},
	"no-eof-simulation":        {"input/eof-at-content-length", "input/no-read-into-next-request"},
	"empty-readlines-list":     {"input/empty-stream"},
	"readline-strips-newline":  {"input/readline", "input/readlines", "input/iterate", "input/mixed-binary"},
	"readline-ignores-size":    {"input/readline-size"},
	"readline-rereads":         {"input/readline-long"},
	"readlines-hint-typeerror": {"input/readlines-hint"},
	"iter-by-bytes":            {"input/iterate"},
	"large-body-truncated":     {"input/large-body"},
	"unread-body-kept":         {"input/unread-body-keepalive"},
	"expect-417":               {"input/expect-100-continue"},
	"stray-100":                {"input/expect-100-not-read"},
	"continue-to-http10":       {"input/expect-100-http10"},
	// start_response
	"no-sr-validation": {"start_response/status-empty", "start_response/status-letters", "start_response/status-four-digits",
		"start_response/status-two-digits", "start_response/status-no-space", "start_response/status-leading-space",
		"start_response/status-crlf-injection", "start_response/status-nul", "start_response/status-bytes", "start_response/status-int",
		"start_response/headers-tuple", "start_response/headers-dict", "start_response/headers-none", "start_response/headers-triples",
		"start_response/header-name-bytes", "start_response/header-value-int", "start_response/header-name-space",
		"start_response/header-name-colon", "start_response/header-name-empty", "start_response/header-name-newline",
		"start_response/header-value-crlf", "start_response/header-value-lf", "start_response/header-value-nul",
		"start_response/header-value-ctl", "start_response/header-value-non-latin1"},
	"reason-replaced":                {"start_response/status-transmitted"},
	"headers-utf8":                   {"start_response/header-value-latin1"},
	"no-write-callable":              {"start_response/returns-write", "write/basic", "write/before-iterable"},
	"exc-info-keyword-only":          {"start_response/exc-info-none-positional"},
	"second-call-allowed":            {"start_response/second-call-without-exc-info"},
	"exc-info-always-raises":         {"start_response/exc-info-first-call", "start_response/exc-info-before-headers"},
	"exc-info-ignored-after-headers": {"start_response/exc-info-after-headers", "start_response/exc-info-after-headers-reraises", "start_response/exc-info-after-headers-abort"},
	"exc-info-raises-new":            {"start_response/exc-info-after-headers-reraises"},
	"exc-info-kept":                  {"start_response/exc-info-not-retained"},
	"headers-at-start-response":      {"start_response/no-transmit-on-start", "start_response/empty-chunk-no-headers", "error_handling/exception-before-body"},
	"headers-on-empty-chunk":         {"start_response/empty-chunk-no-headers"},
	"no-date":                        {"start_response/date-header"},
	"always-add-date-server":         {"start_response/no-duplicate-server-date"},
	"content-length-case-sensitive":  {"start_response/header-names-case-insensitive"},
	"join-repeated-headers":          {"start_response/repeated-headers-preserved"},
	"hop-by-hop-passed": {"start_response/hop-by-hop-connection", "start_response/hop-by-hop-keep-alive", "start_response/hop-by-hop-upgrade",
		"start_response/hop-by-hop-te", "start_response/hop-by-hop-trailer", "start_response/hop-by-hop-proxy-authenticate",
		"start_response/hop-by-hop-transfer-encoding"},
	// response body
	"trailing-crlf": {"body/list", "body/tuple", "body/generator", "body/custom-iterator", "body/empty-list", "body/many-chunks",
		"body/large-chunk"},
	"newline-translation":           {"body/binary-exact"},
	"start-response-required-first": {"body/lazy-start-response"},
	"sniffs-iterable":               {"body/iterable-attributes"},
	"buffered-body":                 {"body/streaming-no-buffering", "body/streaming-no-buffering-http10", "write/no-buffering"},
	"overrun-sent":                  {"body/content-length-overrun", "body/content-length-overrun-stops"},
	"iterate-past-length":           {"body/content-length-overrun-stops"},
	"underrun-kept-alive":           {"body/content-length-underrun"},
	"length-from-single-item":       {"body/no-length-inference-with-write"},
	"empty-chunk-terminates":        {"body/chunked-response-valid"},
	"chunked-to-http10":             {"body/http10-no-chunked"},
	"chunked-with-length":           {"body/no-content-length-with-chunked"},
	"body-on-204-304":               {"body/204-no-body", "body/304-no-body"},
	"length-on-204":                 {"body/204-no-content-length"},
	"body-on-head":                  {"body/head-no-body", "body/head-no-body-without-length", "file_wrapper/head"},
	"head-drops-length":             {"body/head-content-length-kept"},
	"close-after-head":              {"body/head-keeps-connection"},
	"no-app-length-check":           {"body/invalid-app-content-length"},
	"own-error-pages":               {"body/status-passthrough"},
	"never-close": {"close/after-completion", "close/on-returned-object", "close/on-iteration-error", "close/on-error-before-body",
		"close/on-client-disconnect", "close/on-client-reset", "close/on-content-length-reached", "close/on-head", "close/on-204",
		"close/after-exc-info-abort", "close/after-write", "file_wrapper/closes-file"},
	"close-iter-not-result": {"close/on-returned-object"},
	"close-exception-fatal": {"close/exception-trapped"},
	"die-after-app-error":   {"error_handling/keeps-serving"},
	"app-error-200":         {"error_handling/exception-before-start"},
	"finish-after-error": {"error_handling/exception-after-body-length", "error_handling/exception-after-body-chunked",
		"error_handling/str-item-after-body", "start_response/exc-info-after-headers-abort"},
	"no-start-is-200":   {"error_handling/no-start-response", "error_handling/yield-before-start"},
	"str-items-encoded": {"error_handling/str-item", "error_handling/none-item", "error_handling/str-item-after-body"},
	"bad-return-200":    {"error_handling/return-none", "error_handling/return-int", "error_handling/return-bytes"},
	"errors-ascii":      {"errors/unicode", "errors/lone-surrogate"},
	// wsgi.file_wrapper
	"fw-drops-last-byte": {"file_wrapper/real-file", "file_wrapper/blksize", "file_wrapper/bytesio", "file_wrapper/read-only-object",
		"file_wrapper/consumed-by-middleware"},
	"fw-sent-when-created": {"file_wrapper/not-returned"},
	"fw-from-start":        {"file_wrapper/file-position"},
	"fw-ignores-length":    {"file_wrapper/content-length-limit", "file_wrapper/content-length-limit-bytesio"},
	"fw-no-close":          {"file_wrapper/closes-file"},
	// write()
	"write-after-iterable":     {"write/before-iterable"},
	"write-accepts-str":        {"write/non-bytes"},
	"write-truncates-silently": {"write/past-content-length"},
}

// notMutated lists the MUST and SHOULD specs no defect of the family is
// required to catch, each with its reason. It is empty: every spec can
// fail, and the test below shows it.
var notMutated = map[string]string{}

// specID expands a mutants entry to a full spec ID.
func specID(s string) string {
	if strings.HasPrefix(s, "http1/") || strings.HasPrefix(s, "pep3333/") {
		return s
	}
	return "pep3333/" + s
}

// brokenScript is the family's server, for /usr/bin/python3.
func brokenScript(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		testenv.Missing(t, "no /usr/bin/python3: apt-get install python3")
	}
	script, err := filepath.Abs(filepath.Join("testdata", "broken_server.py"))
	if err != nil {
		t.Fatal(err)
	}
	return script
}

// TestMutants proves every MUST and SHOULD spec can fail: the family's
// clean server passes them all (so a verdict below is the defect's doing),
// each defect is caught by the specs listed for it (FAIL or NON-STRICT),
// and every MUST spec FAILs (NON-STRICT where it has no FAIL outcome) and
// every SHOULD spec is NON-STRICT on at least one defect.
func TestMutants(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: starts servers")
	}
	script := brokenScript(t)
	out, err := exec.Command("/usr/bin/python3", script, "--list-defects").Output()
	if err != nil {
		t.Fatalf("--list-defects: %v", err)
	}
	defects := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		defects[strings.SplitN(line, "\t", 2)[0]] = true
	}
	specs := map[string]*framework.Spec{}
	for _, s := range Specs() {
		specs[s.ID] = s
	}
	for d, ids := range mutants {
		if !defects[d] {
			t.Errorf("mutants lists %s, which broken_server.py does not have", d)
		}
		for _, id := range ids {
			if specs[specID(id)] == nil {
				t.Errorf("mutants[%s]: no spec %s", d, specID(id))
			}
		}
	}
	for d := range defects {
		if _, ok := mutants[d]; !ok {
			t.Errorf("defect %s has no specs listed to catch it in mutants", d)
		}
	}
	if t.Failed() {
		return
	}

	user := []*harness.Profile{brokenProfile(t, "broken", "")}
	names := slices.Sorted(maps.Keys(mutants))
	for _, d := range names {
		user = append(user, brokenProfile(t, "broken-"+d, "--defect "+d))
	}
	start := HarnessStarter(HarnessConfig{User: user})
	var mu sync.Mutex
	verdicts := map[string]map[string]reports.CheckResult{} // profile → spec → result
	run := func(name, focus, level string) {
		c, err := Run(context.Background(), Options{Servers: []string{name}, Focus: focus, Level: level, Start: start})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		s := c.Servers[0]
		if s.Error != "" {
			t.Errorf("%s could not run: %s", name, s.Error)
			return
		}
		got := map[string]reports.CheckResult{}
		for _, r := range s.Results {
			got[r.ID] = r
			if r.Verdict == framework.ERROR {
				t.Errorf("%s: %s ERROR: %s\n%s", name, r.ID, r.Detail, r.Transcript)
			}
		}
		verdicts[name] = got
	}
	// The clean server passes every MUST and SHOULD spec.
	run("broken", "", framework.SHOULD)
	for id, r := range verdicts["broken"] {
		switch r.Verdict {
		case framework.FAIL, framework.NONSTRICT, framework.UNSUPPORTED:
			t.Errorf("the family's clean server: %s %s: %s", r.Verdict, id, textutil.FirstLine(r.Detail, " …"))
		}
	}
	if t.Failed() {
		return
	}
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, d := range names {
		ids := make([]string, len(mutants[d]))
		for i, id := range mutants[d] {
			ids[i] = specID(id)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			run("broken-"+d, strings.Join(ids, ","), "")
		}()
	}
	wg.Wait()

	// Each defect is caught by each spec listed for it.
	caughtBy := map[string][]string{} // spec → defects it caught at its level's verdict
	for _, d := range names {
		for _, id := range mutants[d] {
			id = specID(id)
			r, ok := verdicts["broken-"+d][id]
			if !ok {
				continue // the run failed: reported above
			}
			if r.Verdict != framework.FAIL && r.Verdict != framework.NONSTRICT {
				t.Errorf("defect %s not caught by %s: %s %s", d, id, r.Verdict, textutil.FirstLine(r.Detail, " …"))
				continue
			}
			if r.Verdict == worst(specs[id]) {
				caughtBy[id] = append(caughtBy[id], d)
			}
		}
	}
	// Every MUST spec FAILs and every SHOULD spec is NON-STRICT somewhere.
	var table strings.Builder
	covered := map[string]int{}
	total := map[string]int{}
	for _, id := range slices.Sorted(maps.Keys(specs)) {
		s := specs[id]
		if s.Level != framework.MUST && s.Level != framework.SHOULD {
			continue
		}
		total[s.Level]++
		switch ds := caughtBy[id]; {
		case len(ds) > 0:
			covered[s.Level]++
			fmt.Fprintf(&table, "  %-6s %-62s %-10s %s\n", s.Level, id, worst(s), strings.Join(ds, ", "))
		case notMutated[id] != "":
			fmt.Fprintf(&table, "  %-6s %-62s %-10s (exception: %s)\n", s.Level, id, "-", notMutated[id])
		default:
			t.Errorf("%s %s: no defect makes it %s", s.Level, id, worst(s))
		}
	}
	t.Logf("mutation coverage: %d/%d MUST specs FAIL (NON-STRICT where a MUST spec has no FAIL outcome), %d/%d SHOULD specs NON-STRICT, "+
		"on %d defects; %d exceptions; the clean server passes all %d\n%s",
		covered[framework.MUST], total[framework.MUST], covered[framework.SHOULD], total[framework.SHOULD], len(names), len(notMutated),
		total[framework.MUST]+total[framework.SHOULD], table.String())
}

// worst is the verdict a spec gives a server that breaks it at its level:
// FAIL for a MUST spec with a FAIL outcome, else NON-STRICT.
func worst(s *framework.Spec) string {
	for _, o := range s.Outcomes {
		if o.Verdict == framework.FAIL {
			return framework.FAIL
		}
	}
	return framework.NONSTRICT
}
