package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"
)

// DefaultErrorWait is the error-wait window the scenarios configure on a
// client unless Suite.ErrorWait says otherwise: short, so that the suite
// runs fast, and still far longer than a loopback round trip on a loaded
// machine (a response later than this is reported late, which most
// scenarios, sending once, would see as lost).
const DefaultErrorWait = 300 * time.Millisecond

// Suite runs the scenarios of features/ against the clients NewClient
// makes; its InitializeScenario is the ScenarioInitializer of a
// godog.TestSuite (see the package documentation). Every scenario gets a fresh client and a fresh mock server (or two),
// closed when it ends, so scenarios may run concurrently.
type Suite struct {
	// NewClient makes the client for one scenario. It is called once per
	// scenario, and the client is closed when the scenario ends.
	NewClient func(ctx context.Context) (Client, error)
	// ErrorWait is the error-wait window configured on the clients; 0 means
	// DefaultErrorWait.
	ErrorWait time.Duration
	// Strict makes the failures of SHOULD scenarios fail the run. Otherwise
	// they are warnings: the scenario stops at the step that failed, is
	// recorded as Warned, and godog sees it as skipped.
	Strict bool
	// SendTimeout bounds one Send, retries included, and one feedback
	// read; 0 means DefaultSendTimeout. Raise it for a client with a long
	// reconnect back-off.
	SendTimeout time.Duration
	// SettleTimeout bounds the other waits of a step: for the gateway to
	// settle or reach a state, for the client to close, shut down or
	// answer; 0 means DefaultSettleTimeout.
	SettleTimeout time.Duration
	// Seed is the seed of the scenarios' order, for the report (the
	// caller gives it to godog as Options.Randomize).
	Seed int64

	mu       sync.Mutex
	results  []ScenarioResult
	notes    map[string]string // by pickle ID: why it is skipped or warned
	features map[string]string // feature names by URI

	clientName, clientVersion string // from the first client that said
}

func (s *Suite) setNote(pickleID, note string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.notes == nil {
		s.notes = map[string]string{}
	}
	s.notes[pickleID] = note
}

func (s *Suite) noteFor(pickleID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notes[pickleID]
}

func (s *Suite) setFeatureName(uri, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.features == nil {
		s.features = map[string]string{}
	}
	s.features[uri] = name
}

// featureName returns the name of the feature at uri, or uri when it was
// not seen by one of the kit's formatters.
func (s *Suite) featureName(uri string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.features[uri]; n != "" {
		return n
	}
	return uri
}

// Result is how a scenario ended.
type Result string

// Scenario results.
const (
	Passed  Result = "passed"
	Failed  Result = "failed"  // a MUST scenario failed (or a SHOULD one, when strict)
	Warned  Result = "warned"  // a SHOULD scenario failed and the suite is not strict
	Skipped Result = "skipped" // the client lacks a capability the scenario needs
)

// ScenarioResult records one scenario run by a Suite.
type ScenarioResult struct {
	Name   string   // scenario name, as in the feature file (outlines: with the example values)
	URI    string   // feature file
	Tags   []string // tags, with their @
	Level  Level
	Result Result
	// Reason says why a scenario was skipped or how it failed or warned.
	Reason string
	// Outcome describes, send by send, what the client reported.
	Outcome string
}

// Results returns the results of the scenarios run so far, in the order
// they ended.
func (s *Suite) Results() []ScenarioResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.results)
}

// Failures returns the names of the scenarios that failed, sorted.
func (s *Suite) Failures() []string { return s.names(Failed) }

// Warnings returns the names of the SHOULD scenarios that failed without
// failing the run (the suite is not strict), sorted.
func (s *Suite) Warnings() []string { return s.names(Warned) }

// OK reports whether the client passed: no scenario failed.
func (s *Suite) OK() bool { return len(s.Failures()) == 0 }

// SkippedNames returns the names of the scenarios that were skipped, sorted.
func (s *Suite) SkippedNames() []string { return s.names(Skipped) }

func (s *Suite) names(r Result) []string {
	var out []string
	for _, res := range s.Results() {
		if res.Result == r {
			out = append(out, res.Name)
		}
	}
	slices.Sort(out)
	return out
}

// WriteSummary writes the kit's verdict: how many scenarios passed, failed
// (MUST, or SHOULD when strict), were warned (SHOULD) and skipped, then one
// line per failed, warned and skipped scenario with the reason (its first
// line).
func (s *Suite) WriteSummary(w io.Writer) error {
	res := s.Results()
	slices.SortFunc(res, func(a, b ScenarioResult) int {
		return strings.Compare(a.URI+"\x00"+a.Name, b.URI+"\x00"+b.Name)
	})
	count := map[Result]int{}
	for _, r := range res {
		count[r.Result]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "conformance: %d scenario(s): %d passed, %d failed (MUST), %d warned (SHOULD), %d skipped\n",
		len(res), count[Passed], count[Failed], count[Warned], count[Skipped])
	for _, kind := range []Result{Failed, Warned, Skipped} {
		for _, r := range res {
			if r.Result == kind {
				fmt.Fprintf(&b, "  %s %s: %s: %q: %s\n", strings.ToUpper(string(kind)), r.Level, r.URI, r.Name, firstLine(r.Reason))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSkipReport writes one line per skipped scenario with the reason, or
// nothing when none was skipped.
func (s *Suite) WriteSkipReport(w io.Writer) error {
	var skipped []ScenarioResult
	for _, r := range s.Results() {
		if r.Result == Skipped {
			skipped = append(skipped, r)
		}
	}
	if len(skipped) == 0 {
		return nil
	}
	slices.SortFunc(skipped, func(a, b ScenarioResult) int {
		return strings.Compare(a.URI+"\x00"+a.Name, b.URI+"\x00"+b.Name)
	})
	var b strings.Builder
	fmt.Fprintf(&b, "conformance: %d scenario(s) skipped:\n", len(skipped))
	for _, r := range skipped {
		fmt.Fprintf(&b, "  - %s: %q: %s\n", r.URI, r.Name, r.Reason)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (s *Suite) record(r ScenarioResult) {
	s.mu.Lock()
	s.results = append(s.results, r)
	s.mu.Unlock()
}

func (s *Suite) sendTimeout() time.Duration {
	if s.SendTimeout > 0 {
		return s.SendTimeout
	}
	return DefaultSendTimeout
}

func (s *Suite) settleTimeout() time.Duration {
	if s.SettleTimeout > 0 {
		return s.SettleTimeout
	}
	return DefaultSettleTimeout
}

func (s *Suite) errorWait() time.Duration {
	if s.ErrorWait > 0 {
		return s.ErrorWait
	}
	return DefaultErrorWait
}

// capabilityTags maps the tags that need a capability to it.
var capabilityTags = map[string]Capability{}

func init() {
	for _, c := range []Capability{CapCommand0, CapCommand1, CapReuse, CapPools, CapOutdate, CapShutdown,
		CapOverrides, CapPooling, CapFeedback, CapConcurrent, CapHTTP2, CapClock, CapKeepAlive} {
		capabilityTags["@"+string(c)] = c
	}
}

// InitializeScenario registers the steps and hooks of one scenario; godog
// calls it once per scenario.
func (s *Suite) InitializeScenario(sc *godog.ScenarioContext) {
	w := &world{suite: s}
	sc.Before(func(ctx context.Context, p *godog.Scenario) (context.Context, error) {
		w.name, w.uri, w.pickleID = p.Name, p.Uri, p.Id
		for _, t := range p.Tags {
			w.tags = append(w.tags, t.Name)
		}
		w.level = levelOf(w.tags)
		c, err := s.NewClient(ctx)
		if err != nil {
			return ctx, fmt.Errorf("starting the client under test: %w", err)
		}
		w.client, w.caps = c, c.Capabilities()
		if id, ok := c.(Identified); ok {
			name, version := id.Identity()
			s.mu.Lock()
			if s.clientName == "" {
				s.clientName, s.clientVersion = name, version
			}
			s.mu.Unlock()
		}
		for _, t := range w.tags {
			if need, ok := capabilityTags[t]; ok && !w.caps.Has(need) {
				w.skipReason = fmt.Sprintf("%s: the client does not declare the capability %q", t, need)
				if ex, ok := c.(interface{ missingCapability(Capability) string }); ok {
					if why := ex.missingCapability(need); why != "" {
						w.skipReason = t + ": " + why
					}
				}
				s.setNote(p.Id, ScenarioResult{Result: Skipped, Reason: w.skipReason}.note())
				return ctx, fmt.Errorf("%s: %w", w.skipReason, godog.ErrSkip)
			}
		}
		return ctx, nil
	})
	sc.After(func(ctx context.Context, p *godog.Scenario, err error) (context.Context, error) {
		cerr := w.close(ctx)
		res := ScenarioResult{Name: w.name, URI: w.uri, Tags: w.tags, Level: w.level, Result: Passed, Outcome: w.outcomeSummary()}
		switch {
		case w.skipReason != "":
			res.Result, res.Reason = Skipped, w.skipReason
		case cerr != nil:
			res.Result, res.Reason = Failed, cerr.Error()
		case w.warning != nil && (err == nil || errors.Is(err, godog.ErrSkip)):
			res.Result, res.Reason = Warned, w.warning.Error()
		case err != nil:
			res.Result, res.Reason = Failed, err.Error()
		}
		s.record(res)
		return ctx, cerr
	})
	w.registerSteps(levelled{sc: sc, w: w})
}
