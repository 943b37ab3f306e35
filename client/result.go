package client

import (
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
	// HTTP/2 only: the response's status, the time APNs last knew the
	// token valid (410 only; zero otherwise), and its apns-id and
	// apns-unique-id headers.
	HTTPStatus int
	Timestamp  time.Time
	APNsID     string
	UniqueID   string
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
	// Responses lists, on HTTP/2, the last response to each token that
	// got one, in the order of Message.Tokens (refused ones too).
	Responses []Response

	cur          *batch     // this Send's batch (nil for a result of earlier batches only)
	retryTokens  []string   // tokens of cur's message to send again
	otherRetries []*Message // earlier messages' tokens to send again (different content)
	spans        []span     // every run of notifications put in Failed or a retry, by batch and position
}

// span is a run [from, to) of batch b's notifications that settling put in
// Failed (failed is the outcome) or in a retry (failed nil; uncertain when
// they may have been delivered). A stream maps its notifications back to
// its callers' items by spans, since tokens may repeat.
type span struct {
	b         *batch
	from, to  int
	failed    apns.Outcome
	uncertain bool
}

// NeedsRetry reports whether Retries would return anything.
func (r *Result) NeedsRetry() bool {
	return len(r.retryTokens) > 0 || len(r.otherRetries) > 0
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
	return append(out, r.otherRetries...)
}
