package client

import (
	"context"
)

// Summary totals a SendAll: the first sends and every resend.
type Summary struct {
	Sent int // notifications written, first copies and resends
	// Accepted counts notifications known or presumed accepted, minus
	// Result.Revoked: a late error response for an earlier call lowers this
	// call's figure, so totals across calls stay exact.
	Accepted  int
	Failed    []Failure // refused tokens, in the order reported
	Errors    []error   // errors not tied to a token, from every round
	Retried   int       // notifications handed to Send again
	Uncertain []string  // tokens resent without knowing whether the first copy was delivered
	Rounds    int       // Send calls made
	// Unsent holds what still needed sending when the loop gave up (see
	// RetryPolicy) or ctx ended (nil when everything was settled).
	Unsent []*Message
}

// SendAll sends m and follows every retry with [Rounds] until nothing needs
// sending, giving up on what is left after maxAttempts fruitless Sends in a
// row (RetryPolicy.MaxAttempts; 0 means DefaultMaxAttempts), and totals
// the rounds. Use Rounds, or Send directly, for control over pacing or
// backoff between rounds.
//
// The error is that of the first Send (nothing was sent); later errors,
// such as a failed reconnect, end the loop and leave the rest in Unsent
// with the error in Errors.
func (s *Session) SendAll(ctx context.Context, addr string, cert *Certificate, m *Message, maxAttempts int) (*Summary, error) {
	sum := &Summary{}
	for rd, err := range Rounds(ctx, s, addr, cert, m, RetryPolicy{MaxAttempts: maxAttempts}) {
		sum.Unsent = append(sum.Unsent, rd.GaveUp...)
		sum.Unsent = append(sum.Unsent, rd.Unsent...)
		if rd.Message == nil { // ctx ended before a Send
			sum.Errors = append(sum.Errors, err)
			break
		}
		sum.Rounds = rd.N
		if err != nil {
			if rd.N == 1 {
				return nil, err
			}
			sum.Errors = append(sum.Errors, err)
			break
		}
		if rd.N > 1 {
			sum.Retried += len(rd.Message.Tokens)
		}
		r := rd.Result
		sum.Sent += r.Sent
		sum.Accepted += r.Accepted - r.Revoked
		sum.Failed = append(sum.Failed, r.Failed...)
		sum.Errors = append(sum.Errors, r.Errors...)
		sum.Uncertain = append(sum.Uncertain, r.Uncertain...)
	}
	return sum, nil
}
