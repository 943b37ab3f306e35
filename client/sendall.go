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
	// Unsent holds what still needed sending when maxRounds ran out or
	// ctx ended (nil when everything was settled).
	Unsent []*Message
}

// SendAll sends m and follows every retry (Result.Retries) until nothing
// needs sending, at most maxRounds Send calls in all (0 means 10). It is
// the loop every caller of Send would write; use Send directly for control
// over pacing or backoff between rounds.
//
// The error is that of the first Send (nothing was sent); later errors,
// such as a failed reconnect, end the loop and leave the rest in Unsent
// with the error in Errors.
func (s *Session) SendAll(ctx context.Context, addr string, cert *Certificate, m *Message, maxRounds int) (*Summary, error) {
	if maxRounds <= 0 {
		maxRounds = 10
	}
	sum := &Summary{}
	queue := []*Message{m}
	for len(queue) > 0 {
		if sum.Rounds == maxRounds || ctx.Err() != nil {
			if err := ctx.Err(); err != nil {
				sum.Errors = append(sum.Errors, err)
			}
			sum.Unsent = queue
			return sum, nil
		}
		next := queue[0]
		queue = queue[1:]
		r, err := s.Send(ctx, addr, cert, next)
		sum.Rounds++
		if err != nil {
			if sum.Rounds == 1 {
				return nil, err
			}
			sum.Errors = append(sum.Errors, err)
			sum.Unsent = append([]*Message{next}, queue...)
			return sum, nil
		}
		if sum.Rounds > 1 {
			sum.Retried += len(next.Tokens)
		}
		sum.Sent += r.Sent
		sum.Accepted += r.Accepted - r.Revoked
		sum.Failed = append(sum.Failed, r.Failed...)
		sum.Errors = append(sum.Errors, r.Errors...)
		sum.Uncertain = append(sum.Uncertain, r.Uncertain...)
		queue = append(queue, r.Retries()...)
	}
	return sum, nil
}
