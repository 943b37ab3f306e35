package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// KitVersion is the version of the conformance kit: its scenarios, steps
// and judging rules. ProtocolVersion is the version of the external
// adapter protocol it speaks (conformance/README.md).
const (
	KitVersion      = "2.1.0"
	ProtocolVersion = 3
)

// Identified is a Client that can say what it is: the suite puts its name
// and version in the report. External and Local implement it.
type Identified interface {
	// Identity returns the client's name and version ("" when unknown).
	Identity() (name, version string)
}

// Report is the kit's verdict on one client, as Suite.WriteReport writes
// it.
type Report struct {
	Client        string          `json:"client"`
	ClientVersion string          `json:"client_version,omitempty"`
	Kit           string          `json:"kit_version"`
	Seed          int64           `json:"seed"`
	Strict        bool            `json:"strict"`
	Counts        map[Result]int  `json:"counts"`
	Features      []FeatureReport `json:"features"`
}

// FeatureReport is the scenarios of one feature, in file order of their
// names.
type FeatureReport struct {
	Name      string         `json:"name"`
	URI       string         `json:"uri"`
	Scenarios []ReportedCase `json:"scenarios"`
}

// ReportedCase is one row of the report.
type ReportedCase struct {
	Name    string `json:"name"`
	Level   Level  `json:"level"`
	Result  Result `json:"result"`
	Reason  string `json:"reason,omitempty"`  // one line: why it failed, warned or was skipped
	Outcome string `json:"outcome,omitempty"` // what the client reported, send by send
}

// Report builds the report of the scenarios run so far.
func (s *Suite) Report() Report {
	res := s.Results()
	s.mu.Lock()
	r := Report{Client: s.clientName, ClientVersion: s.clientVersion, Kit: KitVersion, Seed: s.Seed, Strict: s.Strict,
		Counts: map[Result]int{Passed: 0, Failed: 0, Warned: 0, Skipped: 0}}
	s.mu.Unlock()
	if r.Client == "" {
		r.Client = "unknown client"
	}
	byURI := map[string]*FeatureReport{}
	for _, x := range res {
		r.Counts[x.Result]++
		f := byURI[x.URI]
		if f == nil {
			f = &FeatureReport{Name: s.featureName(x.URI), URI: x.URI}
			byURI[x.URI] = f
		}
		f.Scenarios = append(f.Scenarios, ReportedCase{Name: x.Name, Level: x.Level, Result: x.Result,
			Reason: firstLine(x.Reason), Outcome: x.Outcome})
	}
	for _, f := range byURI {
		slices.SortStableFunc(f.Scenarios, func(a, b ReportedCase) int { return strings.Compare(a.Name, b.Name) })
		r.Features = append(r.Features, *f)
	}
	slices.SortFunc(r.Features, func(a, b FeatureReport) int { return strings.Compare(a.URI, b.URI) })
	return r
}

// WriteReport writes the report as Markdown (a table per feature) or, when
// asJSON, as JSON.
func (s *Suite) WriteReport(w io.Writer, asJSON bool) error {
	r := s.Report()
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	var b strings.Builder
	who := r.Client
	if r.ClientVersion != "" {
		who += " " + r.ClientVersion
	}
	fmt.Fprintf(&b, "# APNs conformance: %s\n\n", mdEscape(who))
	mode := "SHOULD failures are warnings"
	if r.Strict {
		mode = "strict: SHOULD failures fail"
	}
	fmt.Fprintf(&b, "apnskit conformance kit %s, seed %d, %s.\n\n", r.Kit, r.Seed, mode)
	fmt.Fprintf(&b, "**%d passed, %d failed (MUST), %d warned (SHOULD), %d skipped.**\n",
		r.Counts[Passed], r.Counts[Failed], r.Counts[Warned], r.Counts[Skipped])
	for _, f := range r.Features {
		fmt.Fprintf(&b, "\n## %s\n\n", mdEscape(f.Name))
		b.WriteString("| scenario | level | result | reason | the client's outcome |\n|---|---|---|---|---|\n")
		for _, c := range f.Scenarios {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdEscape(c.Name), c.Level, c.Result, mdEscape(c.Reason), mdEscape(c.Outcome))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteReportFile writes the report to path: JSON when the name ends in
// .json, Markdown otherwise.
func (s *Suite) WriteReportFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = s.WriteReport(f, strings.EqualFold(filepath.Ext(path), ".json"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// mdEscape keeps a value inside one table cell.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	const max = 300
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// outcomeSummary describes, send by send, what the client reported.
func (w *world) outcomeSummary() string {
	w.mu.Lock()
	outs, errs := slices.Clone(w.outcomes), slices.Clone(w.sendErrs)
	w.mu.Unlock()
	var parts []string
	for i, o := range outs {
		var p []string
		if errs[i] != nil {
			parts = append(parts, fmt.Sprintf("send %d: refused (%s)", i+1, firstLine(errs[i].Error())))
			continue
		}
		byStatus := map[int][]string{}
		var statuses []int
		for _, f := range o.Failed {
			if _, ok := byStatus[f.Status]; !ok {
				statuses = append(statuses, f.Status)
			}
			byStatus[f.Status] = append(byStatus[f.Status], f.Token)
		}
		for _, st := range statuses {
			p = append(p, fmt.Sprintf("failed %s (status %d)", w.describeAll(byStatus[st]), st))
		}
		if len(o.Reasons) > 0 {
			var rs []string
			for _, r := range o.Reasons {
				what := fmt.Sprintf("%s %s (%d", w.describeAll([]string{r.Token}), r.Reason, r.HTTPStatus)
				if !r.Timestamp.IsZero() {
					what += ", since " + r.Timestamp.UTC().Format(time.RFC3339)
				}
				rs = append(rs, what+")")
			}
			p = append(p, "reasons "+strings.Join(rs, ", "))
		}
		if len(o.Statuses) > 0 {
			p = append(p, fmt.Sprintf("statuses %v", o.Statuses))
		}
		if len(o.Retried) > 0 {
			p = append(p, "sent again "+w.describeAll(o.Retried))
		}
		if len(o.Uncertain) > 0 {
			p = append(p, "uncertain "+w.describeAll(o.Uncertain))
		}
		if len(o.Unsent) > 0 {
			p = append(p, "unsent "+w.describeAll(o.Unsent))
		}
		if len(o.Errors) > 0 {
			p = append(p, fmt.Sprintf("%d error(s): %s", len(o.Errors), firstLine(o.Errors[0])))
		}
		if len(p) == 0 {
			p = append(p, "nothing to report")
		}
		parts = append(parts, fmt.Sprintf("send %d: %s", i+1, strings.Join(p, "; ")))
	}
	return strings.Join(parts, " / ")
}
