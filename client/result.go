package client

import (
	"bytes"
	"fmt"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// Failure is a device token the gateway refused.
type Failure struct {
	Token   string       // the token as given in Message.Tokens
	Outcome apns.Outcome // why: a [wire.Status] on the binary protocol
	ID      uint32       // identifier of the notification (0 if it was never written)
	// Late: the refusal concerns a notification of an earlier Send, whose
	// error response arrived after that Send had returned.
	Late bool
}

// Status is the binary status of the refusal (its String is Apple's
// reason), or 0 when the outcome is not a [wire.Status].
func (f Failure) Status() wire.Status { return binaryStatus(f.Outcome) }

// Result is what one Send knows about its notifications.
//
// APNs answers nothing for accepted notifications and at most one error
// response per connection, after which it closes the connection and
// discards everything written after the notification it names. Send turns
// that into: which tokens failed (Failed), which must be sent again
// (Retry/Retries) and which of those may already have been delivered
// (Uncertain).
//
// Rules (status codes in parentheses):
//   - token error (2, 5, 8, 128): that token is in Failed; every token after
//     it is in Retry.
//   - processing error (1), unknown (255) or an undefined code: that token
//     and every token after it are in Retry; the response is in Errors.
//   - shutdown (10): the response names the last notification accepted;
//     every token after it is in Retry; nothing failed.
//   - message-level error (3, 4, 6, 7: the content is at fault): the named
//     token and every token after it are in Failed with that status and not
//     retried (they would fail the same way); the response is in Errors.
//   - connection lost without an error response (or a write failed): every
//     token written in this Send is in Retry and in Uncertain, because some
//     of them may have been delivered; tokens never written are in Retry only.
//   - an error response naming a notification of an earlier Send on the
//     same connection (it arrived after that Send's ErrorWait; the
//     connection remembers its recent batches, Config.History): reported
//     here with Late set; that Send's discarded tokens, and every token of
//     the Sends on the connection after it, are in Retries() (counted in
//     Revoked), and every token of this Send is in Retry.
//   - an error response naming a notification older than the connection
//     remembers (or 0): the response is in Errors (with ErrHistoryExceeded
//     when older batches were forgotten), every remembered batch is in
//     Retries (counted in Revoked; also in Uncertain for a refusal naming
//     0) and this Send's tokens are handled as for an unplaceable refusal
//     (written ones in Retry and Uncertain) or, for shutdown (10), all in
//     Retry.
type Result struct {
	// Sent counts the notifications written in this call, including the
	// ones later discarded.
	Sent int
	// Accepted counts the notifications of this call known or presumed
	// accepted (no error response within ErrorWait).
	Accepted int
	// Failed lists refused tokens; see the rules above.
	Failed []Failure
	// Errors lists errors not tied to one token: *StatusError (processing
	// error, shutdown, message-level, late responses), connection loss
	// (wrapping ErrConnectionLost) and context cancellation.
	Errors []error
	// Uncertain lists the tokens in Retries whose first copy may already
	// have been delivered (connection lost without an error response, or
	// a refusal that names no notification). Resending them may produce
	// duplicates; not resending may lose them.
	Uncertain []string
	// Revoked counts notifications of earlier Sends that their Results
	// counted as Accepted but that a late error response showed were
	// refused or discarded (they are in Failed or Retries here). Subtract
	// it from running totals of Accepted.
	Revoked int

	cur         *batch     // this Send's batch (nil for a late-only result)
	retryTokens []string   // tokens of cur's message to send again
	late        []*Message // earlier messages' tokens to send again (different content)
}

// NeedsRetry reports whether Retries would return anything.
func (r *Result) NeedsRetry() bool {
	return len(r.retryTokens) > 0 || len(r.late) > 0
}

// Retry returns a message with exactly this message's tokens to send again
// and the same content (a relative expiry is fixed to the time of the
// first send), or nil. It may also hold tokens of an earlier Send with the
// same content whose error response arrived late. It is a shallow copy:
// Alert and Extra maps are shared with the original message.
func (r *Result) Retry() *Message {
	if len(r.retryTokens) == 0 || r.cur == nil {
		return nil
	}
	m := r.cur.retryBase
	m.Tokens = append([]string(nil), r.retryTokens...)
	return &m
}

// Retries returns every message to send again: Retry() first, then those of
// earlier Sends on the same connection that learnt of their failure late
// (different content). Follow them all until no result needs a retry.
func (r *Result) Retries() []*Message {
	var out []*Message
	if m := r.Retry(); m != nil {
		out = append(out, m)
	}
	return append(out, r.late...)
}

// batch is one Send's notifications on one connection, kept until settled,
// and kept by the connection as its last batch until the next Send on it.
type batch struct {
	retryBase Message   // the message without tokens, expiry made absolute
	tokens    []string  // Message.Tokens
	prep      *prepared // binary form
	ids       []uint32  // ids[i] is the identifier of tokens[i], for every notification attempted
}

func newBatch(m *Message, p *prepared) *batch {
	b := &batch{retryBase: *m, tokens: m.Tokens, prep: p}
	b.retryBase.Tokens = nil
	if p.hasExpiry && m.Expiry.At.IsZero() {
		b.retryBase.Expiry = ExpireAt(time.Unix(int64(p.expiry), 0).UTC())
	}
	return b
}

// sameContent reports whether two batches send the same frame content apart
// from token and identifier.
func (b *batch) sameContent(o *batch) bool {
	return b != nil && o != nil && bytes.Equal(b.prep.payload, o.prep.payload) &&
		b.prep.hasExpiry == o.prep.hasExpiry && b.prep.expiry == o.prep.expiry &&
		b.prep.priority == o.prep.priority
}

// index returns the position of the notification with identifier id.
// Identifiers of a batch are consecutive, skipping 0 at the wrap.
func (b *batch) index(id uint32) (int, bool) {
	if len(b.ids) == 0 || id == 0 {
		return 0, false
	}
	guess := int(id - b.ids[0])
	for _, g := range [2]int{guess, guess - 1} {
		if g >= 0 && g < len(b.ids) && b.ids[g] == id {
			return g, true
		}
	}
	return 0, false
}

// outcome is what the connection told about a batch.
type outcome struct {
	resp *wire.ErrorResponse // the error response, if one arrived
	lost error               // the connection ended or a write failed without a response
}

// settle applies the rules documented on Result to the batch cur, of which
// the first written notifications were written completely and the first
// attempted (>= written) were handed to the connection, given the outcome
// on the connection and the previous batch on it (presumed accepted).
func settle(cur *batch, written, attempted int, out outcome, last *batch) *Result {
	n := len(cur.tokens)
	r := &Result{Sent: attempted, cur: cur}
	switch {
	case out.resp != nil:
		resp := *out.resp
		if k, ok := cur.index(resp.ID); ok && k < attempted {
			r.Accepted = r.apply(cur, k, n, resp, false)
			break
		}
		if last != nil {
			if k, ok := last.index(resp.ID); ok {
				late := &Result{cur: last}
				late.apply(last, k, len(last.ids), resp, true)
				r.absorb(late)
				r.retry(cur, 0, n, false) // written after the named one: discarded
				break
			}
		}
		r.Errors = append(r.Errors, &StatusError{Outcome: resp.Status, ID: resp.ID})
		// The response names a notification before this connection's
		// records (or none, 0): the previous batch, written after it, was
		// discarded too (as settleLate has it). Id 0 with a refusal does
		// not say which one failed: the previous batch may have been
		// delivered.
		if last != nil {
			late := &Result{cur: last}
			late.retry(last, 0, len(last.ids), unplaced(resp))
			r.absorb(late)
		}
		if resp.Status == wire.StatusShutdown {
			// Nothing recorded was processed.
			r.retry(cur, 0, n, false)
			break
		}
		// The refused notification cannot be placed: any written one may be it.
		r.retry(cur, 0, attempted, true)
		r.retry(cur, attempted, n, false)
	case out.lost != nil:
		r.Errors = append(r.Errors, fmt.Errorf("%w: %w", ErrConnectionLost, out.lost))
		r.retry(cur, 0, attempted, true)
		r.retry(cur, attempted, n, false)
	default:
		r.Accepted = written
		r.retry(cur, written, n, false)
	}
	return r
}

// settleLate settles the previous batch of a connection whose error
// response arrived after that batch's Send returned. Its Revoked counts
// what that Send had counted as accepted and now is in Failed or Retries.
func settleLate(last *batch, resp wire.ErrorResponse) *Result {
	late := &Result{cur: last}
	defer func() { late.Revoked = len(late.Failed) + len(late.retryTokens) }()
	if k, ok := last.index(resp.ID); ok {
		late.apply(last, k, len(last.ids), resp, true)
		return late
	}
	if resp.Status == wire.StatusShutdown {
		late.Errors = append(late.Errors, &StatusError{Outcome: resp.Status, ID: resp.ID, Late: true})
		late.retry(last, 0, len(last.ids), false)
		return late
	}
	// An id this connection never sent in its last batch: an older one, so
	// the last batch was discarded after it; or 0, naming none, so any of
	// the last batch may have been the refused one and the rest delivered.
	late.Errors = append(late.Errors, &StatusError{Outcome: resp.Status, ID: resp.ID, Late: true})
	late.retry(last, 0, len(last.ids), unplaced(resp))
	return late
}

// unplaced reports whether resp refuses a notification without naming it
// (identifier 0): the gateway did not know which one failed.
func unplaced(resp wire.ErrorResponse) bool {
	return resp.ID == 0 && resp.Status != wire.StatusShutdown
}

// apply handles an error response naming b's notification k; tokens
// [k+1, end) were written after it (or never written) and are discarded.
// It returns how many of b's notifications were accepted.
func (r *Result) apply(b *batch, k, end int, resp wire.ErrorResponse, late bool) int {
	tok := b.tokens[k]
	switch resp.Status.Disposition() {
	case wire.Resume:
		r.Errors = append(r.Errors, &StatusError{Outcome: resp.Status, ID: resp.ID, Token: tok, Late: late})
		r.retry(b, k+1, end, false)
		return k + 1
	case wire.DropToken:
		r.Failed = append(r.Failed, Failure{Token: tok, Outcome: resp.Status, ID: resp.ID, Late: late})
		r.retry(b, k+1, end, false)
	case wire.DropMessage:
		r.Errors = append(r.Errors, &StatusError{Outcome: resp.Status, ID: resp.ID, Token: tok, Late: late})
		for i := k; i < end; i++ {
			var id uint32
			if i < len(b.ids) {
				id = b.ids[i]
			}
			r.Failed = append(r.Failed, Failure{Token: b.tokens[i], Outcome: resp.Status, ID: id, Late: late})
		}
	default: // wire.Retry
		r.Errors = append(r.Errors, &StatusError{Outcome: resp.Status, ID: resp.ID, Token: tok, Late: late})
		r.retry(b, k, end, false)
	}
	return k
}

// retry puts b's tokens [from, to) into r's retry, and into Uncertain too
// when they may have been delivered.
func (r *Result) retry(b *batch, from, to int, uncertain bool) {
	if from >= to {
		return
	}
	r.retryTokens = append(r.retryTokens, b.tokens[from:to]...)
	if uncertain {
		r.Uncertain = append(r.Uncertain, b.tokens[from:to]...)
	}
}

// absorb merges a late result into r: its failures and errors, and its
// retry (into r's own when the content is the same).
func (r *Result) absorb(late *Result) {
	r.Revoked += len(late.Failed) + len(late.retryTokens)
	r.Failed = append(r.Failed, late.Failed...)
	r.Errors = append(r.Errors, late.Errors...)
	r.Uncertain = append(r.Uncertain, late.Uncertain...)
	if len(late.retryTokens) > 0 {
		if r.cur != nil && r.cur.sameContent(late.cur) {
			r.retryTokens = append(r.retryTokens, late.retryTokens...)
		} else {
			r.late = append(r.late, late.Retry())
		}
	}
	r.late = append(r.late, late.late...)
}
