package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/internal/retry"
	"github.com/apnskit/apnskit/wire"
)

// errInterrupted is the cause of a push stopped by a signal.
var errInterrupted = errors.New("interrupted")

// job is a list of tokens to send one notification each, and the message
// to resend them with (nil: a first send, built from the flags).
type job struct {
	tokens    []string
	msg       *client.Message
	uncertain int // how many of tokens may have been delivered already
}

func tokenCount(jobs []job) int {
	n := 0
	for _, j := range jobs {
		n += len(j.tokens)
	}
	return n
}

// round is what one send came to.
type round struct {
	sent   int         // notifications written
	failed []failure   // notifications refused for good (possibly of an earlier send: late errors)
	retry  []job       // what to send again (possibly of an earlier send)
	status wire.Status // the last status of an error response not tied to a token, if any
	errs   []error     // problems not tied to a token (logged with -v)
}

// sendFunc sends one notification to each token of a job. An error means
// nothing could be sent (no connection): the push stops.
type sendFunc func(ctx context.Context, j job) (round, error)

// pusher sends a token list batch by batch, several batches at once, and
// follows every batch until nothing is left to resend.
type pusher struct {
	send        sendFunc
	batch       int // tokens per batch
	parallel    int // batches in flight
	maxAttempts int // sends in a row that settle nothing before giving up (retry.Policy)
	log         io.Writer
	c           counters

	mu       sync.Mutex
	total    int // tokens in the list
	sum      summary
	failed   [][]failure // per batch, so the output follows the list's order
	unsettle int         // tokens neither accepted nor failed when the push stopped
}

// push sends tokens and returns the summary (without the timing fields) and
// the error that stopped it early, if any (see run).
func (p *pusher) push(ctx context.Context, tokens []string) (summary, error) {
	err := p.run(ctx, tokens)
	return p.summary(), err
}

// run sends tokens and returns the error that stopped it early, if any: a
// connection error, or errInterrupted when ctx was cancelled.
func (p *pusher) run(ctx context.Context, tokens []string) error {
	return p.runScan(ctx, func(each func(string) error) error {
		for _, t := range tokens {
			if err := each(t); err != nil {
				return err
			}
		}
		return nil
	})
}

// errStopped ends the scan of a token list once the push has stopped.
var errStopped = errors.New("push stopped")

// runScan sends the tokens scan hands over (a tokenSource's scan), cut
// into batches as they are read, so that memory holds only the batches in
// flight, never the list. It returns the error that stopped it early, if
// any: a connection error, the scan's own error, or errInterrupted when
// ctx was cancelled.
func (p *pusher) runScan(ctx context.Context, scan func(each func(string) error) error) error {
	return pumpBatches(ctx, scan, p.batch, p.parallel, p, func(ctx context.Context, index int, tokens []string) error {
		return p.runQueue(ctx, index, []job{{tokens: tokens}}, true)
	})
}

// addBatch files a batch of n tokens just read and returns its index.
func (p *pusher) addBatch(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total += n
	p.failed = append(p.failed, nil)
	return len(p.failed) - 1
}

// late takes in what a send reported after run had ended (error responses
// that arrived late, see client.Session.Late): its failures, and its
// resends, which are sent now unless stop says the push was stopped.
func (p *pusher) late(ctx context.Context, r round, stop error) error {
	p.record(r, false, 0)
	p.c.failed.Add(int64(len(r.failed)))
	index := p.addBatch(0)
	p.settle(index, 0, r.failed)
	if stop != nil {
		p.settle(index, tokenCount(r.retry), nil)
		return stop
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if err := p.runQueue(ctx, index, r.retry, false); err != nil {
		cancel(err)
	}
	return stopCause(ctx)
}

// stopCause returns why ctx ended: errInterrupted for a plain
// cancellation, else the cause given; nil while it has not ended.
func stopCause(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	err := context.Cause(ctx)
	if errors.Is(err, context.Canceled) {
		err = errInterrupted
	}
	return err
}

// summary returns the totals so far, without the timing fields.
func (p *pusher) summary() summary {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.sum
	s.Failed = nil
	for _, f := range p.failed {
		s.Failed = append(s.Failed, f...)
	}
	s.Accepted = p.total - p.unsettle - len(s.Failed)
	return s
}

// runQueue sends the jobs of one batch (first: the batch itself, not yet
// sent), then what each send says to resend, with the client's retry loop
// and its give-up rule (-max-attempts sends in a row that settle nothing).
// On return, every token is accepted, failed, or counted as unsettled.
// Failures are filed under the batch's index.
func (p *pusher) runQueue(ctx context.Context, index int, queue []job, first bool) error {
	for rd, err := range retry.Run(ctx, queue, retry.Policy{MaxAttempts: p.maxAttempts}, p.step) {
		if !rd.Sent {
			p.settle(index, tokenCount(rd.Unsent), nil)
			return context.Cause(ctx)
		}
		p.c.attempts.Add(1)
		if err != nil {
			p.settle(index, tokenCount(rd.Unsent), nil)
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return err
		}
		r := rd.Result
		p.record(r, first && rd.N == 1, rd.Job.uncertain)
		for _, e := range r.errs {
			p.logf("batch %d: %v", index+1, e)
		}
		for _, f := range r.failed {
			p.logf("batch %d: error response status %d (%s) for token %s", index+1, f.Status, f.Reason, f.Token)
		}
		again := tokenCount(r.retry)
		p.c.done.Add(int64(len(rd.Job.tokens) - again))
		p.c.failed.Add(int64(len(r.failed)))
		if rd.GaveUp != nil {
			p.giveUp(index, rd.GaveUp, r)
			continue
		}
		if again > 0 {
			p.logf("batch %d: resending %d notifications (%d uncertain)", index+1, again, uncertainCount(r.retry))
		}
		p.settle(index, 0, r.failed)
	}
	return nil
}

// step sends one job for the retry loop.
func (p *pusher) step(ctx context.Context, j job) (round, retry.Step[job], error) {
	r, err := p.send(ctx, j)
	if err != nil {
		return r, retry.Step[job]{}, err
	}
	return r, retry.Step[job]{Retry: r.retry, Carried: len(j.tokens), Failed: len(r.failed), Again: tokenCount(r.retry)}, nil
}

// uncertainCount adds up the uncertain notifications of jobs.
func uncertainCount(jobs []job) int {
	n := 0
	for _, j := range jobs {
		n += j.uncertain
	}
	return n
}

// record adds the counts of one send; uncertain is how many of the
// notifications it resent may have been delivered before.
func (p *pusher) record(r round, first bool, uncertain int) {
	p.c.sent.Add(int64(r.sent))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sum.Sent += r.sent
	p.sum.Uncertain += uncertain
	if !first {
		p.sum.Retried += r.sent
		p.c.retried.Add(int64(r.sent))
	}
}

// settle records failures and tokens left unsettled by batch index.
func (p *pusher) settle(index, unsettled int, failed []failure) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unsettle += unsettled
	p.failed[index] = append(p.failed[index], failed...)
}

// giveUp fails the tokens still to resend after maxAttempts fruitless sends,
// with the last status the gateway gave, if any.
func (p *pusher) giveUp(index int, jobs []job, last round) {
	reason := fmt.Sprintf("gave up after %d attempts", p.maxAttempts)
	if last.status != 0 {
		reason += ": " + last.status.String()
	} else if len(last.errs) > 0 {
		reason += ": " + last.errs[len(last.errs)-1].Error()
	}
	n := tokenCount(jobs)
	fs := make([]failure, 0, len(last.failed)+n)
	fs = append(fs, last.failed...)
	for _, j := range jobs {
		for _, t := range j.tokens {
			fs = append(fs, failure{Token: t, Status: int(last.status), Reason: reason})
		}
	}
	p.c.failed.Add(int64(n))
	p.c.done.Add(int64(n))
	p.logf("batch %d: %s; %d notifications not sent", index+1, reason, n)
	p.settle(index, 0, fs)
}

func (p *pusher) logf(format string, args ...any) {
	if p.log == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.log, "apnsclient push: "+format+"\n", args...)
}
