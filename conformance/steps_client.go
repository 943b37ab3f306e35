package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apnskit/apnskit/certs"
)

func (w *world) registerSteps(sc stepRegistrar) {
	w.registerGatewaySteps(sc)
	w.registerClientSteps(sc)
	w.registerPoolingSteps(sc)
	w.registerFeedbackSteps(sc)
	w.registerHTTP2Steps(sc)
}

func (w *world) registerClientSteps(sc stepRegistrar) {
	// Configuration.
	sc.Step(`^a client configured with the server's test certificates$`, w.configuredWithTestCerts)
	sc.Step(`^a client configured with the test certificate and key in a single PEM text$`, w.configuredWithCombinedPEM)
	sc.Step(`^a client configured with the second certificate$`, w.configuredWithSecondCert)
	sc.Step(`^a client configured with a certificate issued by another authority$`, w.configuredWithForeignCert)
	sc.Step(`^a client configured to trust only another authority$`, w.configuredWithForeignCA)
	sc.Step(`^the client waits (\d+)ms for late errors$`, w.clientWaits)
	sc.Step(`^a second client certificate from the same authority$`, w.aSecondCertificate)

	// The notifications' content.
	sc.Step(`^the notifications use command (\d+)$`, w.notificationsUseCommand)
	sc.Step(`^the notifications have priority (\d+)$`, w.notificationsHavePriority)
	sc.Step(`^the notifications expire at (\S+)$`, w.notificationsExpireAt)
	sc.Step(`^the notifications carry a payload of (\d+) bytes$`, w.notificationsCarryPayload)

	// Sending.
	sc.Step(`^the client (?:sends|has sent) (\d+) notifications?$`, w.clientSends)

	// What the client reported.
	sc.Step(`^the client reports tokens? `+reList+` as failed with `+reStatus+`$`, w.reportsFailed)
	sc.Step(`^the client reports no other failed token$`, w.reportsNoOtherFailed)
	sc.Step(`^the client reports no failed token$`, w.reportsNoFailed)
	sc.Step(`^the client reports `+reStatus+` not tied to a token$`, w.reportsStatus)
	sc.Step(`^the client reports no uncertain token$`, w.reportsNoUncertain)
	sc.Step(`^the client reports tokens? `+reList+` as uncertain$`, w.reportsUncertain)
	sc.Step(`^the client sent again at least tokens (\d+) to (\d+)$`, w.sentAgainAtLeast)
	sc.Step(`^the client sent again (no token|tokens (\d+) to (\d+))$`, w.sentAgainColumn)
	sc.Step(`^the client sent no token again$`, w.sentNoTokenAgain)
	sc.Step(`^the send fails$`, w.sendFails)
}

// endpoint returns the endpoint of the scenario's first server with its
// test credentials.
func (w *world) endpoint() (Endpoint, error) {
	s, err := w.server(0)
	if err != nil {
		return Endpoint{}, err
	}
	p := s.PKI()
	return Endpoint{
		Gateway:   s.GatewayAddr(),
		Feedback:  s.FeedbackAddr(),
		CAPEM:     p.CA.CertPEM,
		CertPEM:   p.Client.CertPEM,
		KeyPEM:    p.Client.KeyPEM,
		ErrorWait: w.suite.errorWait(),
		Clock:     w.clock.client,
		KeepAlive: w.keepAlive,
	}, nil
}

func (w *world) configure(ctx context.Context, ep Endpoint) error {
	w.ep = ep
	if err := w.client.Configure(ctx, ep); err != nil {
		return fmt.Errorf("configuring the client: %w", err)
	}
	return nil
}

func (w *world) configuredWithTestCerts(ctx context.Context) error {
	ep, err := w.endpoint()
	if err != nil {
		return err
	}
	return w.configure(ctx, ep)
}

func (w *world) configuredWithCombinedPEM(ctx context.Context) error {
	ep, err := w.endpoint()
	if err != nil {
		return err
	}
	ep.CertPEM = slices.Concat(ep.CertPEM, ep.KeyPEM)
	ep.KeyPEM = nil
	return w.configure(ctx, ep)
}

func (w *world) configuredWithSecondCert(ctx context.Context) error {
	ep, err := w.endpoint()
	if err != nil {
		return err
	}
	if w.second == nil {
		return errors.New("no second certificate: add \"Given a second client certificate from the same authority\"")
	}
	ep.CertPEM, ep.KeyPEM = w.second.CertPEM, w.second.KeyPEM
	return w.configure(ctx, ep)
}

func (w *world) configuredWithForeignCert(ctx context.Context) error {
	ep, err := w.endpoint()
	if err != nil {
		return err
	}
	other, err := certs.New(certs.Options{})
	if err != nil {
		return err
	}
	ep.CertPEM, ep.KeyPEM = other.Client.CertPEM, other.Client.KeyPEM
	return w.configure(ctx, ep)
}

func (w *world) configuredWithForeignCA(ctx context.Context) error {
	ep, err := w.endpoint()
	if err != nil {
		return err
	}
	other, err := certs.New(certs.Options{})
	if err != nil {
		return err
	}
	ep.CAPEM = other.CA.CertPEM
	return w.configure(ctx, ep)
}

func (w *world) clientWaits(ctx context.Context, ms int) error {
	if w.ep.Gateway == "" {
		return errors.New("the client is not configured yet")
	}
	ep := w.ep
	ep.ErrorWait = time.Duration(ms) * time.Millisecond
	return w.configure(ctx, ep)
}

func (w *world) aSecondCertificate() error {
	s, err := w.server(0)
	if err != nil {
		return err
	}
	p, err := s.PKI().IssueClient(certs.ClientOptions{})
	if err != nil {
		return err
	}
	w.second = &p
	return nil
}

func (w *world) notificationsUseCommand(cmd int) error {
	if cmd < 0 || cmd > 2 {
		return fmt.Errorf("command %d: the binary commands are 0, 1 and 2", cmd)
	}
	w.command = &cmd
	return nil
}

func (w *world) notificationsHavePriority(p int) error {
	w.priority = p
	return nil
}

func (w *world) notificationsExpireAt(at string) error {
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return fmt.Errorf("expiry %q: %w", at, err)
	}
	w.expiry = t
	return nil
}

// notificationsCarryPayload makes a valid JSON payload of exactly size bytes.
func (w *world) notificationsCarryPayload(size int) error {
	const head, tail = `{"aps":{"alert":"`, `"}}`
	if size < len(head)+len(tail) {
		return fmt.Errorf("a payload of %d bytes is too small for an alert", size)
	}
	p := []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
	if !json.Valid(p) || len(p) != size {
		return fmt.Errorf("internal: built a bad %d-byte payload", len(p))
	}
	w.payload = p
	return nil
}

// send sends a batch and records what the client reported.
func (w *world) send(ctx context.Context, b Batch) error {
	if w.closed {
		return errors.New("the client was already closed to read the gateway's journal: put journal checks after the sends")
	}
	if err := w.installPayloadFaults(); err != nil {
		return err
	}
	cctx, cancel := ctxFor(ctx, w.suite.sendTimeout())
	defer cancel()
	out, err := w.client.Send(cctx, b)
	w.recordSend(out, err)
	return nil
}

func (w *world) clientSends(ctx context.Context, n int) error {
	return w.send(ctx, w.batch(w.allocate(n, 0)))
}

// sendResult is what one Send returned.
type sendResult struct {
	out Outcome
	err error
}

// lastSend returns what the last send returned; ok is false when there was
// none.
func (w *world) lastSend() (r sendResult, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.outcomes) == 0 {
		return sendResult{}, false
	}
	return sendResult{w.outcomes[len(w.outcomes)-1], w.sendErrs[len(w.sendErrs)-1]}, true
}

// checkSends fails when a send could not be attempted at all, which the
// outcome steps never expect.
func (w *world) checkSends() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.outcomes) == 0 {
		return errors.New("the client sent nothing")
	}
	for i, err := range w.sendErrs {
		if err != nil {
			return fmt.Errorf("send %d failed: %w", i+1, err)
		}
	}
	return nil
}

func (w *world) reportsFailed(list string, status int) error {
	if err := w.checkSends(); err != nil {
		return err
	}
	toks, err := w.tokensNumbered(list)
	if err != nil {
		return err
	}
	failed := w.merged().Failed
	if w.mention == nil {
		w.mention = map[string]bool{}
	}
	var missing []string
	for _, t := range toks {
		w.mention[t] = true
		found := false
		for _, f := range failed {
			if f.Token == t && f.Status == status {
				found = true
			}
		}
		if !found {
			missing = append(missing, w.describe(t))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("want %s reported failed with status %d; missing: %s; the client reported failed: %s%s",
			w.describeAll(toks), status, strings.Join(missing, ", "), w.describeFailed(failed), w.sendsSummary())
	}
	return nil
}

func (w *world) describeFailed(failed []TokenStatus) string {
	if len(failed) == 0 {
		return "none"
	}
	parts := make([]string, len(failed))
	for i, f := range failed {
		parts[i] = fmt.Sprintf("%s (status %d)", w.describe(f.Token), f.Status)
	}
	return strings.Join(parts, ", ")
}

func (w *world) reportsNoOtherFailed() error {
	if err := w.checkSends(); err != nil {
		return err
	}
	var other []TokenStatus
	seen := map[string]int{}
	for _, f := range w.merged().Failed {
		seen[f.Token]++
		if !w.mention[f.Token] || seen[f.Token] > 1 {
			other = append(other, f)
		}
	}
	if len(other) > 0 {
		return fmt.Errorf("the client reported other failed tokens (or the same one twice): %s", w.describeFailed(other))
	}
	return nil
}

func (w *world) reportsNoFailed() error {
	if err := w.checkSends(); err != nil {
		return err
	}
	if f := w.merged().Failed; len(f) > 0 {
		return fmt.Errorf("want no failed token, the client reported: %s", w.describeFailed(f))
	}
	return nil
}

func (w *world) reportsStatus(status int) error {
	if err := w.checkSends(); err != nil {
		return err
	}
	m := w.merged()
	if !slices.Contains(m.Statuses, status) {
		return fmt.Errorf("want status %d reported as not tied to a token; the client reported statuses %v (errors: %q)", status, m.Statuses, m.Errors)
	}
	return nil
}

func (w *world) reportsNoUncertain() error {
	if err := w.checkSends(); err != nil {
		return err
	}
	if u := w.merged().Uncertain; len(u) > 0 {
		return fmt.Errorf("want no uncertain token, the client reported: %s", w.describeAll(u))
	}
	return nil
}

// reportsUncertain checks that the tokens are reported as uncertain, and
// so sent again.
func (w *world) reportsUncertain(list string) error {
	if err := w.checkSends(); err != nil {
		return err
	}
	toks, err := w.tokensNumbered(list)
	if err != nil {
		return err
	}
	m := w.merged()
	var notUncertain, notResent []string
	for _, t := range toks {
		if !slices.Contains(m.Uncertain, t) {
			notUncertain = append(notUncertain, t)
		}
		if !slices.Contains(m.Retried, t) {
			notResent = append(notResent, t)
		}
	}
	if len(notUncertain) > 0 || len(notResent) > 0 {
		return fmt.Errorf("want tokens %s reported as uncertain and sent again; not reported uncertain: %s; not sent again: %s (uncertain: %s; sent again: %s)",
			w.describeAll(toks), w.describeAll(notUncertain), w.describeAll(notResent), w.describeAll(m.Uncertain), w.describeAll(m.Retried))
	}
	return nil
}

// tokenRange returns tokens a to b.
func (w *world) tokenRange(a, b int) ([]string, error) {
	var out []string
	for n := a; n <= b; n++ {
		t, err := w.token(n)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func (w *world) sentAgain(a, b int, exact bool) error {
	if err := w.checkSends(); err != nil {
		return err
	}
	want, err := w.tokenRange(a, b)
	if err != nil {
		return err
	}
	got := w.merged().Retried
	var missing, extra []string
	for _, t := range want {
		if !slices.Contains(got, t) {
			missing = append(missing, t)
		}
	}
	if exact {
		for _, t := range got {
			if !slices.Contains(want, t) && !slices.Contains(extra, t) {
				extra = append(extra, t)
			}
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		return fmt.Errorf("want tokens %s sent again; the client sent again %s (missing: %s; not expected: %s)",
			w.describeAll(want), w.describeAll(got), w.describeAll(missing), w.describeAll(extra))
	}
	return nil
}

func (w *world) sentAgainAtLeast(a, b int) error { return w.sentAgain(a, b, false) }

func (w *world) sentAgainColumn(what string, a, b string) error {
	if what == "no token" {
		return w.sentNoTokenAgain()
	}
	var x, y int
	if _, err := fmt.Sscan(a+" "+b, &x, &y); err != nil {
		return err
	}
	return w.sentAgain(x, y, true)
}

func (w *world) sentNoTokenAgain() error {
	if err := w.checkSends(); err != nil {
		return err
	}
	if got := w.merged().Retried; len(got) > 0 {
		return fmt.Errorf("want no token sent again; the client sent again %s", w.describeAll(got))
	}
	return nil
}

// sendFails checks that the last send reported a failure: an error, or
// problems in its outcome, and not every token delivered.
func (w *world) sendFails() error {
	r, ok := w.lastSend()
	if !ok {
		return errors.New("the client sent nothing")
	}
	out := r.out
	if r.err != nil {
		return nil
	}
	if len(out.Errors) > 0 || len(out.Unsent) > 0 || len(out.Failed) > 0 {
		return nil
	}
	return fmt.Errorf("want the send to fail; it reported no error and no undelivered token: %s", describeOutcome(out))
}

func describeOutcome(o Outcome) string {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(o)
	return strings.TrimSpace(b.String())
}
