package conformance

import (
	"context"
	"errors"
	"slices"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
)

// Mutants: deliberately broken variants of the Local adapter, compiled only
// into this package's tests. Each wraps our real client and corrupts what it
// does the way a buggy client would, to show that the scenarios catch it.
// Nothing in package client knows about them.

// Mutant names.
const (
	// MutantDropsNextToken forgets the token right after a refused one: it
	// is neither resent nor reported.
	MutantDropsNextToken = "drops the token after a failed one"
	// MutantShutdownIsFailure reports the tokens after a status-10 shutdown
	// as failed instead of resending them.
	MutantShutdownIsFailure = "treats status 10 as a failure"
	// MutantTinyResendBuffer keeps the identifiers of only the last 50
	// notifications written: an error response naming an older one cannot be
	// placed, so nothing is resent and the tail is lost.
	MutantTinyResendBuffer = "tiny resend buffer"
	// MutantHidesUncertain never reports tokens as uncertain, though it
	// resends them after a silent disconnect.
	MutantHidesUncertain = "never reports uncertain tokens"
	// MutantProcessingIsFailure reports the token named by a processing
	// error (status 1) as failed instead of resending it.
	MutantProcessingIsFailure = "treats a processing error as a failed token"
	// MutantNoPooling opens a new session, hence a new connection, for
	// every send.
	MutantNoPooling = "opens a new connection for every send"
	// MutantH2RetriesBadToken sends again, once, every token the HTTP/2
	// API refused with BadDeviceToken, a reason that never gets better.
	MutantH2RetriesBadToken = "retries BadDeviceToken over HTTP/2"
	// MutantH2NeverResends gives every HTTP/2 token one attempt
	// (HTTP2Retry.MaxAttempts 1): a refusal that means "later" (429, 5xx)
	// is final. (Our client resends what a GOAWAY left unprocessed without
	// counting it an attempt, so the GOAWAY scenarios still pass.)
	MutantH2NeverResends = "gives up on 429 and 5xx over HTTP/2"
)

// NewMutant returns the mutant named name, or nil.
func NewMutant(name string) Client {
	switch name {
	case MutantDropsNextToken:
		return mutated(dropsNextToken)
	case MutantShutdownIsFailure:
		return mutated(shutdownIsFailure)
	case MutantTinyResendBuffer:
		return mutated(tinyResendBuffer)
	case MutantHidesUncertain:
		return mutated(func(a *attempt) { a.Uncertain = nil })
	case MutantProcessingIsFailure:
		return mutated(processingIsFailure)
	case MutantH2RetriesBadToken:
		l := NewLocal(LocalOptions{})
		l.resendH2 = retriesBadToken
		return l
	case MutantH2NeverResends:
		l := NewLocal(LocalOptions{})
		l.h2Attempts = 1
		return l
	case MutantNoPooling:
		return &noPooling{Local: NewLocal(LocalOptions{})}
	}
	return newH2Mutant(name)
}

func retriesBadToken(res *client.Result) []string {
	var again []string
	for _, f := range res.Failed {
		if errors.Is(f.Outcome, apns.ReasonBadDeviceToken) {
			again = append(again, f.Token)
		}
	}
	return again
}

func mutated(f func(*attempt)) *Local {
	l := NewLocal(LocalOptions{})
	l.mutate = f
	return l
}

// withoutFirst returns a copy of m without its first token, or nil when
// none is left.
func withoutFirst(m *client.Message) *client.Message {
	if len(m.Tokens) <= 1 {
		return nil
	}
	c := *m
	c.Tokens = slices.Clone(m.Tokens[1:])
	return &c
}

func dropsNextToken(a *attempt) {
	if len(a.Failed) == 0 || len(a.Retries) == 0 {
		return
	}
	if m := withoutFirst(a.Retries[0]); m != nil {
		a.Retries[0] = m
	} else {
		a.Retries = a.Retries[1:]
	}
}

func shutdownIsFailure(a *attempt) {
	if !slices.Contains(a.Statuses, 10) {
		return
	}
	for _, m := range a.Retries {
		for _, t := range m.Tokens {
			a.Failed = append(a.Failed, TokenStatus{Token: t, Status: 10})
		}
	}
	a.Retries = nil
}

func tinyResendBuffer(a *attempt) {
	const keep = 50
	if len(a.Retries) == 0 || len(a.Retries[0].Tokens) == 0 || len(a.Failed)+len(a.Statuses) == 0 {
		return
	}
	resume := slices.Index(a.Tokens, a.Retries[0].Tokens[0])
	if resume < 0 || a.Sent-resume <= keep {
		return
	}
	// The identifier named by the response left the buffer: the client
	// cannot tell which token failed nor what to resend.
	for _, f := range a.Failed {
		a.Statuses = append(a.Statuses, f.Status)
	}
	a.Failed, a.Retries = nil, nil
}

func processingIsFailure(a *attempt) {
	if !slices.Contains(a.Statuses, 1) || len(a.Retries) == 0 || len(a.Retries[0].Tokens) == 0 {
		return
	}
	a.Failed = append(a.Failed, TokenStatus{Token: a.Retries[0].Tokens[0], Status: 1})
	if m := withoutFirst(a.Retries[0]); m != nil {
		a.Retries[0] = m
	} else {
		a.Retries = a.Retries[1:]
	}
}

// noPooling makes a new session (so a new connection) for every send.
type noPooling struct {
	*Local
	ep Endpoint
}

func (n *noPooling) Configure(ctx context.Context, ep Endpoint) error {
	n.ep = ep
	return n.Local.Configure(ctx, ep)
}

func (n *noPooling) Send(ctx context.Context, b Batch) (Outcome, error) {
	if err := n.Local.Configure(ctx, n.ep); err != nil {
		return Outcome{}, err
	}
	return n.Local.Send(ctx, b)
}

// Variants: clients that behave differently from ours in ways Apple allows,
// compiled only into this package's tests, to show that the scenarios judge
// them fairly.

// Variant names.
const (
	// VariantValidatesLocally refuses a payload over 2048 bytes itself:
	// every token failed with status 7, nothing written.
	VariantValidatesLocally = "validates the payload size itself"
	// VariantOmitsDefaultPriority leaves the priority item out when the
	// priority is 10, Apple's default.
	VariantOmitsDefaultPriority = "omits priority 10"
	// VariantResendsAfterStatus7 treats status 7 like a bad token: it
	// reports the notification named as failed and sends the rest again.
	VariantResendsAfterStatus7 = "resends the rest after status 7"
	// VariantReuseOnly declares connection reuse without per-address
	// pools, closing on demand, shutdown or overrides.
	VariantReuseOnly = "reuses one connection, nothing more"
)

// NewVariant returns the variant named name, or nil.
func NewVariant(name string) Client {
	switch name {
	case VariantValidatesLocally:
		return &validatesLocally{Local: NewLocal(LocalOptions{})}
	case VariantResendsAfterStatus7:
		return mutated(resendsAfterStatus7)
	case VariantReuseOnly:
		return &reuseOnly{Local: NewLocal(LocalOptions{})}
	case VariantOmitsDefaultPriority:
		return &omitsDefaultPriority{Local: NewLocal(LocalOptions{})}
	}
	return nil
}

// validatesLocally refuses oversized payloads before writing anything.
type validatesLocally struct{ *Local }

func (v *validatesLocally) Send(ctx context.Context, b Batch) (Outcome, error) {
	const limit = 2048
	if len(b.Payload) <= limit {
		return v.Local.Send(ctx, b)
	}
	var out Outcome
	for _, t := range b.Tokens {
		out.Failed = append(out.Failed, TokenStatus{Token: t, Status: 7})
	}
	return out, nil
}

// omitsDefaultPriority sends no priority item for priority 10.
type omitsDefaultPriority struct{ *Local }

func (o *omitsDefaultPriority) Send(ctx context.Context, b Batch) (Outcome, error) {
	if b.Priority == 10 {
		b.Priority = 0
	}
	return o.Local.Send(ctx, b)
}

func resendsAfterStatus7(a *attempt) {
	if len(a.Failed) < 2 || a.Failed[0].Status != 7 {
		return
	}
	rest := &client.Message{}
	*rest = *a.Msg
	rest.Tokens = nil
	for _, f := range a.Failed[1:] {
		rest.Tokens = append(rest.Tokens, f.Token)
	}
	a.Failed = a.Failed[:1]
	a.Retries = append([]*client.Message{rest}, a.Retries...)
}

// reuseOnly declares CapReuse and CapFeedback only.
type reuseOnly struct{ *Local }

func (*reuseOnly) Capabilities() Capabilities { return Capabilities{CapReuse, CapFeedback} }
