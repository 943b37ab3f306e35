package conformance

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// Regular-expression pieces shared by the steps.
const (
	// reList matches "3", "3 and 7", "1, 2 and 3", "1 to 3 and 7 to 9".
	reList = `(\d+(?: to \d+)?(?:(?:, | and )\d+(?: to \d+)?)*)`
	// reStatus matches "status 8" and "status 8 (invalid token)".
	reStatus = `status (\d+)(?: \([^)]*\))?`
	// reServer matches "the gateway" and "the second gateway".
	reServer = `the (second )?gateway`
)

// parseList reads a reList match.
func parseList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.FieldsFunc(strings.ReplaceAll(s, " and ", ","), func(r rune) bool { return r == ',' }) {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, " to ")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("token list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("token list %q: %w", s, err)
			}
		}
		if b < a {
			return nil, fmt.Errorf("token list %q: range %d to %d goes backwards", s, a, b)
		}
		for n := a; n <= b; n++ {
			out = append(out, n)
		}
	}
	return out, nil
}

func serverIndex(second string) int {
	if second != "" {
		return 1
	}
	return 0
}

func (w *world) registerGatewaySteps(sc stepRegistrar) {
	sc.Step(`^a mock APNs server$`, w.aMockServer)
	sc.Step(`^a second mock APNs server sharing the same certificates$`, w.aSecondMockServer)

	// Faults.
	sc.Step(`^the gateway refuses token (\d+) with `+reStatus+`$`, w.gatewayRefusesToken)
	sc.Step(`^the gateway answers `+reStatus+` once to token (\d+)$`, w.gatewayAnswersOnce)
	sc.Step(`^the gateway refuses the payload with `+reStatus+` from token (\d+) on$`, w.gatewayRefusesPayloadFrom)
	sc.Step(`^the gateway answers `+reStatus+` to notification (\d+)$`, w.gatewayAnswersNth)
	sc.Step(`^the gateway shuts down after (\d+) notifications?$`, w.gatewayShutsDownAfter)
	sc.Step(`^the gateway shuts down when it reads token (\d+)$`, w.gatewayShutsDownAtToken)
	sc.Step(`^the gateway drops the connection without a word after (\d+) notifications?$`, w.gatewayDropsAfter)
	sc.Step(`^the gateway drops the connection without a word when it reads token (\d+)$`, w.gatewayDropsAtToken)
	sc.Step(`^the gateway cuts the connection after (\d+) bytes$`, w.gatewayCutsAfterBytes)
	sc.Step(`^the gateway stalls for (\d+)ms before reading token (\d+)$`, w.gatewayStallsAtToken)
	sc.Step(`^the gateway stalls for (\d+)ms before reading notification (\d+)$`, w.gatewayStallsAtNth)
	sc.Step(`^the gateway stalls, for longer than the client waits for late errors, before reading notification (\d+)$`, w.gatewayStallsLongAtNth)
	sc.Step(`^the gateway closes every open connection$`, w.gatewayClosesConnections)

	// Waiting for the gateway.
	sc.Step(`^the gateway has refused token (\d+)$`, w.gatewayHasRefused)
	sc.Step(`^`+reServer+` has accepted (\d+) notifications?$`, w.gatewayHasAccepted)

	// The journal.
	sc.Step(`^`+reServer+` accepted every token exactly once$`, w.acceptedEveryExactlyOnce)
	sc.Step(`^`+reServer+` accepted every token except tokens? `+reList+` exactly once$`, w.acceptedEveryExceptExactlyOnce)
	sc.Step(`^`+reServer+` accepted tokens? `+reList+` exactly once$`, w.acceptedListExactlyOnce)
	sc.Step(`^`+reServer+` never accepted tokens? `+reList+`$`, w.neverAccepted)
	sc.Step(`^`+reServer+` accepted every token at least once$`, w.acceptedEveryAtLeastOnce)
	sc.Step(`^the gateway accepted token (\d+) at most once, or the client reports it as failed with `+reStatus+`$`, w.acceptedOnceOrFailed)
	sc.Step(`^only tokens the client reports as uncertain were accepted more than once$`, w.onlyUncertainDuplicated)
	sc.Step(`^`+reServer+` accepted no notification$`, w.acceptedNone)
	sc.Step(`^`+reServer+` accepted (\d+) notifications?$`, w.acceptedCount)
	sc.Step(`^`+reServer+` refused (\d+) notifications? with `+reStatus+`$`, w.refusedCount)
	sc.Step(`^every notification the gateway received was refused with `+reStatus+`$`, w.everyReceivedRefused)
	sc.Step(`^the gateway received every notification with command (\d+)$`, w.receivedCommand)
	sc.Step(`^the gateway received every notification with priority (\d+)$`, w.receivedPriority)
	sc.Step(`^the gateway received every notification with expiry (\S+)$`, w.receivedExpiry)
	sc.Step(`^the gateway received every payload unchanged$`, w.receivedPayload)

	// Counters.
	sc.Step(`^`+reServer+` completed (\d+) handshakes?$`, w.completedHandshakes)
	sc.Step(`^`+reServer+` completed at most (\d+) handshakes?$`, w.completedAtMostHandshakes)
	sc.Step(`^`+reServer+` has (\d+) open connections?$`, w.hasOpenConnections)
	sc.Step(`^the gateway refused the client's handshake$`, w.refusedHandshake)
	sc.Step(`^the gateway refused no handshake$`, w.refusedNoHandshake)
}

func (w *world) aMockServer() error {
	if len(w.servers) > 0 {
		return fmt.Errorf("a mock APNs server is already running")
	}
	s, err := mockapns.Start(mockapns.Config{Clock: w.clock.server})
	if err != nil {
		return err
	}
	w.servers = append(w.servers, s)
	return nil
}

func (w *world) aSecondMockServer() error {
	first, err := w.server(0)
	if err != nil {
		return err
	}
	if len(w.servers) > 1 {
		return fmt.Errorf("a second mock APNs server is already running")
	}
	s, err := mockapns.Start(mockapns.Config{PKI: first.PKI(), Clock: w.clock.server})
	if err != nil {
		return err
	}
	w.servers = append(w.servers, s)
	return nil
}

func (w *world) addFault(f mockapns.Fault) error {
	s, err := w.server(0)
	if err != nil {
		return err
	}
	if _, err := s.AddFault(f); err != nil {
		return fmt.Errorf("installing fault %+v: %w", f, err)
	}
	return nil
}

// gatewayRefusesToken refuses a token every time it is sent, as Apple
// refuses a bad token whenever it sees it.
func (w *world) gatewayRefusesToken(n, status int) error {
	return w.rejectToken(n, status, mockapns.Always)
}

// gatewayAnswersOnce refuses a token once (a transient error such as a
// processing error): sent again, it is accepted.
func (w *world) gatewayAnswersOnce(status, n int) error {
	return w.rejectToken(n, status, mockapns.Count{})
}

func (w *world) rejectToken(n, status int, times mockapns.Count) error {
	b, err := w.tokenBytes(n)
	if err != nil {
		return err
	}
	if status < 1 || status > 255 {
		return fmt.Errorf("status %d is not a status byte", status)
	}
	return w.addFault(mockapns.Reject{Status: wire.Status(status), When: mockapns.Trigger{Token: b, Times: times}})
}

// gatewayRefusesPayloadFrom makes the gateway judge the message's payload
// bad from token n on: every notification of token n or later is refused
// with status, every time it is sent, as Apple answers the same payload
// the same way. The faults are installed as the tokens are handed out.
func (w *world) gatewayRefusesPayloadFrom(status, n int) error {
	if status < 1 || status > 255 {
		return fmt.Errorf("status %d is not a status byte", status)
	}
	if n < 1 {
		return fmt.Errorf("token %d: tokens are numbered from 1", n)
	}
	w.payloadFault = &payloadFault{from: n, status: wire.Status(status)}
	return nil
}

// payloadFault refuses every token from a number on.
type payloadFault struct {
	from   int
	status wire.Status
}

// installPayloadFaults installs the payload fault for the tokens handed out
// so far that do not have it yet.
func (w *world) installPayloadFaults() error {
	f := w.payloadFault
	if f == nil {
		return nil
	}
	for ; f.from <= len(w.sent); f.from++ {
		s := w.sent[f.from-1]
		tok, err := apns.ParseToken(s.token)
		if err != nil {
			return err
		}
		srv, err := w.server(s.server)
		if err != nil {
			return err
		}
		if _, err := srv.AddFault(mockapns.Reject{Status: f.status, When: mockapns.Trigger{Token: tok, Times: mockapns.Always}}); err != nil {
			return fmt.Errorf("installing the payload fault: %w", err)
		}
	}
	return nil
}

func (w *world) gatewayAnswersNth(status, nth int) error {
	if status < 1 || status > 255 {
		return fmt.Errorf("status %d is not a status byte", status)
	}
	return w.addFault(mockapns.Reject{Status: wire.Status(status), When: mockapns.Trigger{Nth: nth}})
}

func (w *world) gatewayShutsDownAfter(n int) error {
	return w.addFault(mockapns.Shutdown{When: mockapns.Trigger{Nth: n + 1}})
}

func (w *world) gatewayShutsDownAtToken(n int) error {
	b, err := w.tokenBytes(n)
	if err != nil {
		return err
	}
	return w.addFault(mockapns.Shutdown{When: mockapns.Trigger{Token: b}})
}

func (w *world) gatewayDropsAfter(n int) error {
	return w.addFault(mockapns.Disconnect{When: mockapns.Trigger{Nth: n + 1}})
}

func (w *world) gatewayDropsAtToken(n int) error {
	b, err := w.tokenBytes(n)
	if err != nil {
		return err
	}
	return w.addFault(mockapns.Disconnect{When: mockapns.Trigger{Token: b}})
}

func (w *world) gatewayCutsAfterBytes(n int64) error {
	return w.addFault(mockapns.Disconnect{AfterBytes: n})
}

func (w *world) gatewayStallsAtToken(ms, n int) error {
	b, err := w.tokenBytes(n)
	if err != nil {
		return err
	}
	return w.addFault(mockapns.Delay{Duration: time.Duration(ms) * time.Millisecond, When: mockapns.Trigger{Token: b}})
}

func (w *world) gatewayStallsAtNth(ms, nth int) error {
	return w.addFault(mockapns.Delay{Duration: time.Duration(ms) * time.Millisecond, When: mockapns.Trigger{Nth: nth}})
}

// gatewayStallsLongAtNth stalls for three times the client's error wait.
func (w *world) gatewayStallsLongAtNth(nth int) error {
	wait := w.ep.ErrorWait
	if wait <= 0 {
		return errors.New("the client is not configured yet")
	}
	return w.addFault(mockapns.Delay{Duration: 3 * wait, When: mockapns.Trigger{Nth: nth}})
}

func (w *world) gatewayClosesConnections(ctx context.Context) error {
	s, err := w.server(0)
	if err != nil {
		return err
	}
	s.CloseClientConnections()
	cctx, cancel := ctxFor(ctx, w.suite.settleTimeout())
	defer cancel()
	if !poll(cctx, func() bool { return s.Stats().ConnectionsOpen == 0 }) {
		return fmt.Errorf("the gateway still has %d open connections after closing them all", s.Stats().ConnectionsOpen)
	}
	return nil
}

func (w *world) gatewayHasRefused(ctx context.Context, n int) error {
	s, err := w.server(0)
	if err != nil {
		return err
	}
	b, err := w.tokenBytes(n)
	if err != nil {
		return err
	}
	cctx, cancel := ctxFor(ctx, w.suite.settleTimeout())
	defer cancel()
	if _, err := s.WaitNotifications(cctx, mockapns.Filter{Token: b, Status: mockapns.Rejected}, 1); err != nil {
		return fmt.Errorf("the gateway did not refuse token %d within %v: %w", n, w.suite.settleTimeout(), err)
	}
	return nil
}

func (w *world) gatewayHasAccepted(ctx context.Context, second string, n int) error {
	s, err := w.server(serverIndex(second))
	if err != nil {
		return err
	}
	cctx, cancel := ctxFor(ctx, w.suite.settleTimeout())
	defer cancel()
	got, err := s.WaitNotifications(cctx, mockapns.Filter{Status: mockapns.Accepted}, n)
	if err != nil {
		return fmt.Errorf("the gateway accepted %d notifications, want %d within %v: %w", len(got), n, w.suite.settleTimeout(), err)
	}
	return nil
}

// accepted settles the gateways and counts the acceptances of each token
// by gateway srv.
func (w *world) accepted(ctx context.Context, srv int) (map[string]int, error) {
	s, err := w.server(srv)
	if err != nil {
		return nil, err
	}
	if err := w.settle(ctx); err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, e := range s.Notifications(mockapns.Filter{Status: mockapns.Accepted}) {
		counts[hex.EncodeToString(e.Token)]++
	}
	return counts, nil
}

// checkExactlyOnce checks that each of want was accepted exactly once.
func (w *world) checkExactlyOnce(counts map[string]int, want []string) error {
	var missing, dup []string
	for _, t := range want {
		switch c := counts[t]; {
		case c == 0:
			missing = append(missing, t)
		case c > 1:
			dup = append(dup, fmt.Sprintf("%s (%d times)", w.describe(t), c))
		}
	}
	if len(missing) > 0 || len(dup) > 0 {
		err := fmt.Errorf("want each of tokens %s accepted exactly once; never accepted: %s; accepted more than once: %s%s",
			w.describeAll(want), w.describeAll(missing), listOrNone(dup), w.sendsSummary())
		return w.lossIf(missing, err)
	}
	return nil
}

// lossIf marks err as a silent loss when one of the tokens missing from the
// gateway was not reported by the client as failed or unsent.
func (w *world) lossIf(missing []string, err error) error {
	m := w.merged()
	for _, t := range missing {
		if !slices.Contains(m.Unsent, t) && !slices.ContainsFunc(m.Failed, func(f TokenStatus) bool { return f.Token == t }) {
			return fmt.Errorf("%w: %w", errLoss, err)
		}
	}
	return err
}

// sendsSummary describes what the client reported, for failure messages.
func (w *world) sendsSummary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for i, o := range w.outcomes {
		fmt.Fprintf(&b, "\n  send %d: ", i+1)
		if err := w.sendErrs[i]; err != nil {
			fmt.Fprintf(&b, "error: %v", err)
			continue
		}
		b.WriteString(describeOutcome(o))
	}
	return b.String()
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func (w *world) tokensNumbered(list string) ([]string, error) {
	nums, err := parseList(list)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(nums))
	for i, n := range nums {
		if out[i], err = w.token(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (w *world) acceptedEveryExactlyOnce(ctx context.Context, second string) error {
	srv := serverIndex(second)
	counts, err := w.accepted(ctx, srv)
	if err != nil {
		return err
	}
	want := w.tokensOf(srv)
	if len(want) == 0 {
		return fmt.Errorf("the scenario sent no token to this gateway")
	}
	if err := w.checkExactlyOnce(counts, want); err != nil {
		return err
	}
	return w.checkNoStranger(counts, want)
}

// checkNoStranger checks that the gateway accepted no token the scenario
// did not send it.
func (w *world) checkNoStranger(counts map[string]int, want []string) error {
	var extra []string
	for t := range counts {
		if !slices.Contains(want, t) {
			extra = append(extra, w.describe(t))
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return fmt.Errorf("the gateway accepted tokens that were not sent to it: %s", strings.Join(extra, ", "))
	}
	return nil
}

func (w *world) acceptedEveryExceptExactlyOnce(ctx context.Context, second, list string) error {
	srv := serverIndex(second)
	except, err := w.tokensNumbered(list)
	if err != nil {
		return err
	}
	counts, err := w.accepted(ctx, srv)
	if err != nil {
		return err
	}
	var want []string
	for _, t := range w.tokensOf(srv) {
		if !slices.Contains(except, t) {
			want = append(want, t)
		}
	}
	return w.checkExactlyOnce(counts, want)
}

func (w *world) acceptedListExactlyOnce(ctx context.Context, second, list string) error {
	want, err := w.tokensNumbered(list)
	if err != nil {
		return err
	}
	counts, err := w.accepted(ctx, serverIndex(second))
	if err != nil {
		return err
	}
	return w.checkExactlyOnce(counts, want)
}

func (w *world) neverAccepted(ctx context.Context, second, list string) error {
	toks, err := w.tokensNumbered(list)
	if err != nil {
		return err
	}
	counts, err := w.accepted(ctx, serverIndex(second))
	if err != nil {
		return err
	}
	var bad []string
	for _, t := range toks {
		if counts[t] > 0 {
			bad = append(bad, fmt.Sprintf("%s (%d times)", w.describe(t), counts[t]))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("want tokens %s never accepted; got accepted: %s", w.describeAll(toks), strings.Join(bad, ", "))
	}
	return nil
}

func (w *world) acceptedEveryAtLeastOnce(ctx context.Context, second string) error {
	srv := serverIndex(second)
	counts, err := w.accepted(ctx, srv)
	if err != nil {
		return err
	}
	var missing []string
	for _, t := range w.tokensOf(srv) {
		if counts[t] == 0 {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return w.lossIf(missing, fmt.Errorf("want every token accepted at least once; never accepted: %s%s", w.describeAll(missing), w.sendsSummary()))
	}
	return nil
}

// acceptedOnceOrFailed checks that token n was either accepted once, or not
// at all and reported failed with status: never lost without a word.
func (w *world) acceptedOnceOrFailed(ctx context.Context, n, status int) error {
	tok, err := w.token(n)
	if err != nil {
		return err
	}
	counts, err := w.accepted(ctx, 0)
	if err != nil {
		return err
	}
	failed := slices.ContainsFunc(w.merged().Failed, func(f TokenStatus) bool { return f.Token == tok && f.Status == status })
	switch c := counts[tok]; {
	case c > 1:
		return fmt.Errorf("token %d was accepted %d times%s", n, c, w.sendsSummary())
	case c == 1 && failed:
		return fmt.Errorf("token %d was accepted and reported failed with status %d%s", n, status, w.sendsSummary())
	case c == 0 && !failed:
		return fmt.Errorf("%w: token %d was never accepted and not reported failed with status %d%s", errLoss, n, status, w.sendsSummary())
	}
	return nil
}

func (w *world) onlyUncertainDuplicated(ctx context.Context) error {
	var bad []string
	uncertain := w.merged().Uncertain
	for srv := range w.servers {
		counts, err := w.accepted(ctx, srv)
		if err != nil {
			return err
		}
		for t, c := range counts {
			if c > 1 && !slices.Contains(uncertain, t) {
				bad = append(bad, fmt.Sprintf("%s (%d times)", w.describe(t), c))
			}
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("tokens accepted more than once but not reported as uncertain: %s (uncertain: %s)",
			strings.Join(bad, ", "), w.describeAll(uncertain))
	}
	return nil
}

func (w *world) acceptedNone(ctx context.Context, second string) error {
	return w.acceptedCount(ctx, second, 0)
}

func (w *world) acceptedCount(ctx context.Context, second string, n int) error {
	counts, err := w.accepted(ctx, serverIndex(second))
	if err != nil {
		return err
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	if total != n {
		return fmt.Errorf("the gateway accepted %d notifications, want %d", total, n)
	}
	return nil
}

// entries settles the gateways and returns the journal of gateway srv.
func (w *world) entries(ctx context.Context, srv int, f mockapns.Filter) ([]mockapns.Entry, error) {
	s, err := w.server(srv)
	if err != nil {
		return nil, err
	}
	if err := w.settle(ctx); err != nil {
		return nil, err
	}
	return s.Notifications(f), nil
}

func (w *world) refusedCount(ctx context.Context, second string, n, status int) error {
	es, err := w.entries(ctx, serverIndex(second), mockapns.Filter{Status: mockapns.Rejected})
	if err != nil {
		return err
	}
	got := 0
	var others []string
	for _, e := range es {
		if int(e.Status) == status {
			got++
		} else {
			others = append(others, fmt.Sprintf("%s with status %d", w.describe(hex.EncodeToString(e.Token)), e.Status))
		}
	}
	if got != n {
		return fmt.Errorf("the gateway refused %d notifications with status %d, want %d (other refusals: %s)", got, status, n, listOrNone(others))
	}
	return nil
}

// everyReceivedRefused checks that the gateway refused, with status, every
// notification it received, however many that was (none, when the client
// judged them itself).
func (w *world) everyReceivedRefused(ctx context.Context, status int) error {
	es, err := w.entries(ctx, 0, mockapns.Filter{})
	if err != nil {
		return err
	}
	var others []string
	for _, e := range es {
		if e.Status != status {
			others = append(others, fmt.Sprintf("%s with status %d", w.describe(hex.EncodeToString(e.Token)), e.Status))
		}
	}
	if len(others) > 0 {
		return fmt.Errorf("want every notification received refused with status %d; got %s", status, strings.Join(others, ", "))
	}
	return nil
}

// everyEntry checks a property of every notification the gateway received.
func (w *world) everyEntry(ctx context.Context, what string, check func(e mockapns.Entry) (got string, ok bool)) error {
	es, err := w.entries(ctx, 0, mockapns.Filter{})
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return fmt.Errorf("the gateway received no notification")
	}
	for _, e := range es {
		if got, ok := check(e); !ok {
			return fmt.Errorf("%s: got %s for %s", what, got, w.describe(hex.EncodeToString(e.Token)))
		}
	}
	return nil
}

func (w *world) receivedCommand(ctx context.Context, cmd int) error {
	return w.everyEntry(ctx, fmt.Sprintf("want command %d", cmd), func(e mockapns.Entry) (string, bool) {
		return fmt.Sprintf("command %d", e.Command), int(e.Command) == cmd
	})
}

// receivedPriority checks the priority of every notification. The item is
// optional and Apple applies 10 without it, so an absent priority is
// priority 10.
func (w *world) receivedPriority(ctx context.Context, p int) error {
	return w.everyEntry(ctx, fmt.Sprintf("want priority %d", p), func(e mockapns.Entry) (string, bool) {
		v, set := e.Priority.Value()
		if !set {
			return fmt.Sprintf("no priority item (priority %d)", e.Priority.Effective()), int(e.Priority.Effective()) == p
		}
		return fmt.Sprintf("priority %d", v), int(v) == p
	})
}

func (w *world) receivedExpiry(ctx context.Context, at string) error {
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return fmt.Errorf("expiry %q: %w", at, err)
	}
	want := uint32(t.Unix())
	return w.everyEntry(ctx, fmt.Sprintf("want expiry %d (%s)", want, at), func(e mockapns.Entry) (string, bool) {
		return fmt.Sprintf("expiry %d (%s)", e.Expiry, time.Unix(int64(e.Expiry), 0).UTC().Format(time.RFC3339)), e.Expiry == want
	})
}

func (w *world) receivedPayload(ctx context.Context) error {
	want := w.batch(nil).Payload
	return w.everyEntry(ctx, fmt.Sprintf("want the %d-byte payload as sent", len(want)), func(e mockapns.Entry) (string, bool) {
		return fmt.Sprintf("a %d-byte payload %.60q", len(e.Payload), e.Payload), bytes.Equal(e.Payload, want)
	})
}

// counter waits until a counter of gateway srv reaches want (counters only
// grow) and compares.
func (w *world) counter(ctx context.Context, srv int, what string, get func(mockapns.Stats) uint64, want uint64) error {
	s, err := w.server(srv)
	if err != nil {
		return err
	}
	cctx, cancel := ctxFor(ctx, w.suite.settleTimeout())
	defer cancel()
	poll(cctx, func() bool { return get(s.Stats()) >= want })
	if got := get(s.Stats()); got != want {
		return fmt.Errorf("the gateway %s %d, want %d", what, got, want)
	}
	return nil
}

func (w *world) completedHandshakes(ctx context.Context, second string, n int) error {
	return w.counter(ctx, serverIndex(second), "completed handshakes:", func(s mockapns.Stats) uint64 { return s.ConnectionsTotal }, uint64(n))
}

func (w *world) completedAtMostHandshakes(second string, n int) error {
	s, err := w.server(serverIndex(second))
	if err != nil {
		return err
	}
	if got := s.Stats().ConnectionsTotal; got > uint64(n) {
		return fmt.Errorf("the gateway completed %d handshakes, want at most %d", got, n)
	}
	return nil
}

func (w *world) hasOpenConnections(ctx context.Context, second string, n int) error {
	s, err := w.server(serverIndex(second))
	if err != nil {
		return err
	}
	cctx, cancel := ctxFor(ctx, w.suite.settleTimeout())
	defer cancel()
	if !poll(cctx, func() bool { return s.Stats().ConnectionsOpen == int64(n) }) {
		return fmt.Errorf("the gateway has %d open connections, want %d (waited %v)", s.Stats().ConnectionsOpen, n, w.suite.settleTimeout())
	}
	return nil
}

func (w *world) refusedHandshake(ctx context.Context) error {
	s, err := w.server(0)
	if err != nil {
		return err
	}
	cctx, cancel := ctxFor(ctx, w.suite.settleTimeout())
	defer cancel()
	if !poll(cctx, func() bool { return s.Stats().HandshakesFailed > 0 }) {
		return fmt.Errorf("the gateway refused %d handshakes, want at least 1", s.Stats().HandshakesFailed)
	}
	return nil
}

func (w *world) refusedNoHandshake() error {
	s, err := w.server(0)
	if err != nil {
		return err
	}
	if got := s.Stats().HandshakesFailed; got != 0 {
		return fmt.Errorf("the gateway refused %d handshakes, want 0", got)
	}
	return nil
}
