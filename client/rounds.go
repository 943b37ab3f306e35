package client

import (
	"context"
	"iter"

	"github.com/apnskit/apnskit/internal/retry"
)

// Sender sends one message and reports what it knows; [*Session] is one.
type Sender interface {
	Send(ctx context.Context, addr string, cert *Certificate, m *Message) (*Result, error)
}

// DefaultMaxAttempts is the RetryPolicy.MaxAttempts of a zero policy.
const DefaultMaxAttempts = retry.DefaultMaxAttempts

// RetryPolicy says when [Rounds] gives up.
//
// A Send is fruitless when it settled none of the notifications it carried:
// none failed, and all of them (or more: an earlier Send's, learnt late)
// are in its Retries. After MaxAttempts fruitless Sends in a row, the
// Retries of the last one are given up (Round.GaveUp) and Rounds goes on
// with what else is queued; giving up does not reset the count, so each
// following fruitless Send gives up its Retries too. A Send that settles
// anything resets it.
type RetryPolicy struct {
	// MaxAttempts is the number of fruitless Sends in a row after which
	// their Retries are given up; 0 means DefaultMaxAttempts.
	MaxAttempts int
}

// Round is one Send made by [Rounds].
type Round struct {
	// N counts the Sends made, this one included.
	N int
	// Message is what was sent: the first message, or one of the Retries
	// of an earlier Round. It is nil in a last Round whose ctx ended
	// before the Send.
	Message *Message
	// Result is what Send returned (nil with an error).
	Result *Result
	// GaveUp holds the Retries of Result that Rounds gives up on (see
	// RetryPolicy): they are not sent.
	GaveUp []*Message
	// Unsent holds, in the last Round of a loop that ended early (a Send
	// error, or ctx ended), the messages that will not be sent: Message
	// itself after a Send error, and every retry still queued.
	Unsent []*Message
}

// Rounds sends m with s, then every message of each Result's Retries, until
// none is left or policy gives up, and yields a Round per Send. The error
// is non-nil only in the last Round: Send's error (nothing of that message
// was sent; the loop ends), or ctx's when it ended before a Send. Breaking
// out of the loop stops it. It is the loop every caller of Send would
// write; SendAll totals it.
func Rounds(ctx context.Context, s Sender, addr string, cert *Certificate, m *Message, policy RetryPolicy) iter.Seq2[*Round, error] {
	send := func(ctx context.Context, m *Message) (*Result, retry.Step[*Message], error) {
		r, err := s.Send(ctx, addr, cert, m)
		if err != nil {
			return nil, retry.Step[*Message]{}, err
		}
		return r, resultStep(m, r), nil
	}
	return func(yield func(*Round, error) bool) {
		for rd, err := range retry.Run(ctx, []*Message{m}, retry.Policy{MaxAttempts: policy.MaxAttempts}, send) {
			if !yield(&Round{N: rd.N, Message: rd.Job, Result: rd.Result, GaveUp: rd.GaveUp, Unsent: rd.Unsent}, err) {
				return
			}
		}
	}
}

// resultStep is what the retry loop needs of r, the Result of m.
func resultStep(m *Message, r *Result) retry.Step[*Message] {
	st := retry.Step[*Message]{Retry: r.Retries(), Carried: len(m.Tokens), Failed: len(r.Failed)}
	for _, rm := range st.Retry {
		st.Again += len(rm.Tokens)
	}
	return st
}
