// Package retry is the loop that follows resends until nothing is left to
// send, and its one rule for giving up. Package client exposes it as
// client.Rounds; the command-line client and the conformance kit run it over
// their own job types.
package retry

import (
	"context"
	"iter"
)

// DefaultMaxAttempts is the MaxAttempts of a zero Policy.
const DefaultMaxAttempts = 10

// Policy says when a loop gives up.
//
// The rule: a send is fruitless when it settled none of the notifications
// it carried, that is none failed and all of them (or more: an earlier
// send's, learnt late) came back to be sent again. After MaxAttempts
// fruitless sends in a row, the resends of the last one are given up
// (Round.GaveUp) and the loop goes on with what else is queued; the count
// of fruitless sends is not reset by giving up, so each following
// fruitless send gives up its resends too. Any send that settles something
// resets the count.
type Policy struct {
	// MaxAttempts is the number of fruitless sends in a row after which
	// the resends are given up; 0 means DefaultMaxAttempts.
	MaxAttempts int
}

func (p Policy) maxAttempts() int {
	if p.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return p.MaxAttempts
}

// Step is what one send of a job came to, as the loop needs it.
type Step[J any] struct {
	Retry   []J // jobs to send next
	Carried int // notifications the job carried
	Failed  int // notifications refused for good
	Again   int // notifications in Retry
}

// fruitless reports whether the send settled nothing it carried.
func (s Step[J]) fruitless() bool { return s.Failed == 0 && s.Again >= s.Carried }

// Round is one turn of the loop.
type Round[J, R any] struct {
	// N counts the sends made, this one included.
	N int
	// Sent reports whether Job was handed to the send function; it is
	// false only in the last Round when ctx ended first.
	Sent bool
	// Job is what was sent.
	Job J
	// Result is what the send function returned for it.
	Result R
	// GaveUp holds the resends of this send that the loop gives up on
	// (see Policy); they are not sent.
	GaveUp []J
	// Unsent holds, in the last Round of a loop that ends early (a send
	// error, ctx ended), the jobs that will not be sent: Job itself after
	// a send error, and everything still queued.
	Unsent []J
}

// Run sends the jobs of queue, oldest first, and then every job each send
// asks to send again, until none is left, and yields each Round. The error
// is non-nil only in the last Round: the send's error (the loop ends), or
// ctx's when it ended before a send. Breaking out of the loop stops it.
func Run[J, R any](ctx context.Context, queue []J, p Policy, send func(context.Context, J) (R, Step[J], error)) iter.Seq2[*Round[J, R], error] {
	return func(yield func(*Round[J, R], error) bool) {
		queue := append([]J(nil), queue...)
		limit := p.maxAttempts()
		fruitless, n := 0, 0
		for len(queue) > 0 {
			if err := ctx.Err(); err != nil {
				yield(&Round[J, R]{N: n, Unsent: queue}, err)
				return
			}
			j := queue[0]
			queue = queue[1:]
			n++
			res, st, err := send(ctx, j)
			rd := &Round[J, R]{N: n, Sent: true, Job: j, Result: res}
			if err != nil {
				rd.Unsent = append([]J{j}, queue...)
				yield(rd, err)
				return
			}
			if st.fruitless() {
				fruitless++
			} else {
				fruitless = 0
			}
			if len(st.Retry) > 0 && fruitless >= limit {
				rd.GaveUp = st.Retry
			} else {
				queue = append(queue, st.Retry...)
			}
			if !yield(rd, nil) {
				return
			}
		}
	}
}
