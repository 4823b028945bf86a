package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/wsgikit/wsgikit/internal/textutil"
)

// JUnit mapping of verdicts (one <testsuite> per server, one <testcase> per
// spec, classname = the spec ID's directory with dots):
//
//	PASS         passes
//	FAIL         <failure type="FAIL">
//	NON-STRICT   <failure type="NON-STRICT"> when strict; otherwise passes,
//	             with the observation in <system-out> (so CI stays green
//	             unless --strict, like the check verb's exit code)
//	INFO         passes; the option the server took goes to <system-out>
//	UNSUPPORTED  <skipped>
//	ERROR        <error> (the harness failed, not the server)
//
// A server that could not be run at all gets one <error> test case
// "harness/start", so a CI dashboard shows it rather than an empty suite.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

// Bodies are CDATA, so transcripts keep their line breaks readable in CI
// tools that show the raw text.
type junitProblem struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",cdata"`
}

type junitText struct {
	Body string `xml:",cdata"`
}

// xmlSafe replaces what XML 1.0 cannot carry (NUL and other control bytes,
// which smuggling transcripts do contain) with a visible \xNN escape.
func xmlSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF && r != utf8.RuneError,
			r >= 0xE000 && r <= 0xFFFD && r != utf8.RuneError,
			r >= 0x10000 && r <= 0x10FFFF:
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String()
}

// junitFileName is the file a server's suite is written to:
// junit-<server>.xml, with characters unsafe in file names replaced.
func junitFileName(server string) string {
	var b strings.Builder
	for _, r := range server {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return "junit-" + b.String() + ".xml"
}

func classname(id string) string {
	if i := strings.LastIndexByte(id, '/'); i > 0 {
		return strings.ReplaceAll(id[:i], "/", ".")
	}
	return "wsgikit"
}

// writeJUnit writes one server's verdicts as a JUnit XML document.
func writeJUnit(w io.Writer, s CheckServer, strict bool) error {
	suite := junitSuite{Name: s.Name, Properties: []junitProperty{
		{"server", s.Name}, {"version", s.Version}, {"strict", fmt.Sprint(strict)},
	}}
	total := 0.0
	for _, r := range s.Results {
		v := strings.ToUpper(r.Verdict)
		r.Detail = xmlSafe(r.Detail)
		c := junitCase{Classname: classname(r.ID), Name: xmlSafe(r.ID), Time: fmt.Sprintf("%.3f", r.Seconds)}
		total += r.Seconds
		body := problemBody(r)
		switch v {
		case VerdictPass:
		case VerdictFail:
			c.Failure = &junitProblem{Message: r.Level + ": " + textutil.FirstLine(r.Detail, cutMark), Type: VerdictFail, Body: body}
		case VerdictNonStrict:
			if strict {
				c.Failure = &junitProblem{Message: r.Level + ": " + textutil.FirstLine(r.Detail, cutMark), Type: VerdictNonStrict, Body: body}
			} else {
				c.SystemOut = &junitText{xmlSafe("NON-STRICT (a SHOULD not met; a failure under --strict): " + r.Detail)}
			}
		case VerdictInfo:
			c.SystemOut = &junitText{xmlSafe("INFO: " + r.Detail)}
		case VerdictUnsupported:
			c.Skipped = &junitProblem{Message: "UNSUPPORTED: " + textutil.FirstLine(r.Detail, cutMark)}
		case VerdictError:
			c.Error = &junitProblem{Message: "harness error: " + textutil.FirstLine(r.Detail, cutMark), Type: VerdictError, Body: body}
		default:
			c.Error = &junitProblem{Message: fmt.Sprintf("unknown verdict %q", r.Verdict), Type: "UNKNOWN", Body: body}
		}
		suite.add(c)
	}
	if s.Error != "" {
		suite.add(junitCase{Classname: "harness", Name: "harness/start", Time: "0.000",
			Error: &junitProblem{Message: "server could not be run: " + textutil.FirstLine(s.Error, cutMark), Type: VerdictError, Body: s.Error}})
	}
	suite.Time = fmt.Sprintf("%.3f", total)
	doc := junitSuites{Name: "wsgikit check", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit %s: %w", s.Name, err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit %s: %w", s.Name, err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit %s: %w", s.Name, err)
	}
	return nil
}

func (s *junitSuite) add(c junitCase) {
	s.Tests++
	switch {
	case c.Failure != nil:
		s.Failures++
	case c.Error != nil:
		s.Errors++
	case c.Skipped != nil:
		s.Skipped++
	}
	s.Cases = append(s.Cases, c)
}

func problemBody(r CheckResult) string {
	var b strings.Builder
	if r.Sentence != "" {
		fmt.Fprintf(&b, "spec: %s\n", r.Sentence)
	}
	if r.Stimulus != "" {
		fmt.Fprintf(&b, "stimulus: %s\n", r.Stimulus)
	}
	fmt.Fprintf(&b, "observed: %s\n", r.Detail)
	if r.Transcript != "" {
		fmt.Fprintf(&b, "wire:\n%s", r.Transcript)
	}
	return xmlSafe(b.String())
}
