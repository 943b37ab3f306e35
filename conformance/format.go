package conformance

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cucumber/godog"
	"github.com/cucumber/godog/formatters"
	messages "github.com/cucumber/messages/go/v34"
)

// formatSeq numbers the formatters registered by Suite.Formats.
var formatSeq atomic.Int64

// Formats rewrites a godog format option ("pretty", "progress,junit:out.xml"
// ...) into formatters that show what godog alone cannot: a scenario
// skipped for a missing capability, or a SHOULD scenario only warned,
// looks passed in godog's own pretty and progress output and is no
// skipped test case in its JUnit report. The formatters returned wrap
// godog's: pretty gets a line under the scenario saying why it was
// skipped or warned, pretty and progress end with the kit's summary
// (Suite.WriteSummary), and junit marks those test cases <skipped/> with
// the reason. Other formats (cucumber, events) already say "skipped" for
// each step and are passed through. Use the result as godog.Options.Format
// of the run of s.
func (s *Suite) Formats(format string) string {
	if format == "" {
		format = "pretty"
	}
	var out []string
	for _, f := range strings.Split(format, ",") {
		name, file, hasFile := strings.Cut(f, ":")
		if name != "pretty" && name != "progress" && name != "junit" {
			out = append(out, f)
			continue
		}
		reg := fmt.Sprintf("conformance-%d-%s", formatSeq.Add(1), name)
		kind := name
		godog.Format(reg, "the kit's "+name+" (skips and warnings shown)", func(suite string, w io.Writer) formatters.Formatter {
			return newKitFormatter(s, kind, suite, w)
		})
		if hasFile {
			reg += ":" + file
		}
		out = append(out, reg)
	}
	return strings.Join(out, ",")
}

// kitFormatter is what the kit adds to one of godog's formatters; the
// types below embed godog's exported formatters (so that godog gives them
// their storage) and call it.
type kitFormatter struct {
	s   *Suite
	out io.Writer
	buf *bytes.Buffer // junit: godog's report, rewritten at Summary

	mu    sync.Mutex
	noted map[string]bool // pickles whose note was written
}

func newKitFormatter(s *Suite, kind string, suite string, w io.Writer) formatters.Formatter {
	k := &kitFormatter{s: s, out: w, noted: map[string]bool{}}
	switch kind {
	case "junit":
		k.buf = &bytes.Buffer{}
		return &kitJUnit{JUnitFmt: godog.NewJUnitFmt(suite, k.buf), k: k}
	case "progress":
		return &kitProgress{ProgressFmt: godog.NewProgressFmt(suite, w), k: k}
	}
	return &kitPretty{PrettyFmt: godog.NewPrettyFmt(suite, w), k: k}
}

func (k *kitFormatter) feature(doc *messages.GherkinDocument, uri string) {
	if doc != nil && doc.Feature != nil {
		k.s.setFeatureName(uri, doc.Feature.Name)
	}
}

// note writes once, under a scenario, why it was skipped or warned.
func (k *kitFormatter) note(p *messages.Pickle) {
	note := k.s.noteFor(p.Id)
	k.mu.Lock()
	defer k.mu.Unlock()
	if note == "" || k.noted[p.Id] {
		return
	}
	k.noted[p.Id] = true
	fmt.Fprintf(k.out, "    %s\n", note)
}

func (k *kitFormatter) summary() {
	fmt.Fprintln(k.out)
	_ = k.s.WriteSummary(k.out)
}

type kitPretty struct {
	*godog.PrettyFmt
	k *kitFormatter
}

func (f *kitPretty) Feature(doc *messages.GherkinDocument, uri string, c []byte) {
	f.k.feature(doc, uri)
	f.PrettyFmt.Feature(doc, uri, c)
}

func (f *kitPretty) Skipped(p *messages.Pickle, st *messages.PickleStep, d *formatters.StepDefinition) {
	f.PrettyFmt.Skipped(p, st, d)
	f.k.note(p)
}

func (f *kitPretty) Summary() {
	f.PrettyFmt.Summary()
	f.k.summary()
}

type kitProgress struct {
	*godog.ProgressFmt
	k *kitFormatter
}

func (f *kitProgress) Feature(doc *messages.GherkinDocument, uri string, c []byte) {
	f.k.feature(doc, uri)
	f.ProgressFmt.Feature(doc, uri, c)
}

func (f *kitProgress) Summary() {
	f.ProgressFmt.Summary()
	f.k.summary()
}

type kitJUnit struct {
	*godog.JUnitFmt
	k *kitFormatter
}

func (f *kitJUnit) Feature(doc *messages.GherkinDocument, uri string, c []byte) {
	f.k.feature(doc, uri)
	f.JUnitFmt.Feature(doc, uri, c)
}

func (f *kitJUnit) Summary() {
	f.JUnitFmt.Summary()
	b, err := f.k.s.annotateJUnit(f.k.buf.Bytes())
	if err != nil {
		fmt.Fprintf(f.k.out, "<!-- conformance: %v -->\n", err)
		b = f.k.buf.Bytes()
	}
	_, _ = f.k.out.Write(b)
}

// The parts of godog's JUnit report the kit rewrites.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Skipped  int         `xml:"skipped,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Time     string      `xml:"time,attr"`
		Cases    []junitCase `xml:"testcase"`
	}
	junitCase struct {
		Name    string        `xml:"name,attr"`
		Status  string        `xml:"status,attr"`
		Time    string        `xml:"time,attr"`
		Failure *junitMessage `xml:"failure,omitempty"`
		Skipped *junitMessage `xml:"skipped,omitempty"`
		Errors  []junitError  `xml:"error"`
	}
	junitMessage struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr,omitempty"`
	}
	junitError struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
	}
)

// annotateJUnit marks the test cases of skipped and warned scenarios
// <skipped message="..."/> in godog's JUnit report, and counts them.
func (s *Suite) annotateJUnit(report []byte) ([]byte, error) {
	var doc junitSuites
	if err := xml.Unmarshal(report, &doc); err != nil {
		return nil, fmt.Errorf("reading godog's JUnit report: %w", err)
	}
	notes := map[string]string{} // by feature name and scenario name
	for _, r := range s.Results() {
		if r.Result == Skipped || r.Result == Warned {
			notes[s.featureName(r.URI)+"\x00"+r.Name] = r.note()
		}
	}
	doc.Skipped = 0
	for i := range doc.Suites {
		ts := &doc.Suites[i]
		ts.Skipped = 0
		for j := range ts.Cases {
			tc := &ts.Cases[j]
			name, _, _ := strings.Cut(tc.Name, " #")
			note, ok := notes[ts.Name+"\x00"+tc.Name]
			if !ok {
				note, ok = notes[ts.Name+"\x00"+name]
			}
			if !ok {
				continue
			}
			tc.Status, tc.Skipped, tc.Errors = "skipped", &junitMessage{Message: note}, nil
			ts.Skipped++
			doc.Skipped++
		}
	}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// note is the line that says why a scenario was skipped or warned.
func (r ScenarioResult) note() string {
	switch r.Result {
	case Skipped:
		return "SKIPPED: " + r.Reason
	case Warned:
		return "WARNING (SHOULD not met): " + firstLine(r.Reason)
	}
	return ""
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
