package client

import (
	"fmt"

	"github.com/apnskit/apnskit/wire"
)

// observed is what the I/O of one batch saw on its connection: all that
// settle needs to decide the batch's Result.
type observed struct {
	written   int                 // notifications whose bytes were all written
	attempted int                 // written, and those of a write that failed (>= written)
	resp      *wire.ErrorResponse // the error response, if the reader got one
	lost      error               // the connection ended, or a write failed, without a response
	ctxErr    error               // ctx ended the writes or a wait
	refused   error               // a TLS alert refused the certificate: nothing was processed
	ended     bool                // the connection cannot carry another batch
}

// settle decides the Result of the batch cur from what its I/O observed and
// the connection's history of earlier batches (presumed accepted), by the
// rules documented on Result. It returns the history the connection keeps
// for its next batch: cleared when the connection ended, with cur added
// when cur wrote anything, unchanged otherwise (a late error response may
// still name the previous batch). It does no I/O; cur.ids holds the
// identifiers of the attempted notifications.
func settle(cur *batch, obs observed, hist history) (*Result, history) {
	r := settleWithHistory(cur, obs, &hist)
	if obs.ctxErr != nil {
		r.Errors = append(r.Errors, obs.ctxErr)
	}
	switch {
	case obs.ended:
		hist.reset()
	case obs.attempted > 0:
		hist.add(cur)
	}
	return r, hist
}

// settleWithHistory settles cur. An error response that names none of
// cur's notifications, on a connection with a history, concerns an earlier
// batch: settleAgainst names it in the batch that holds it, and every batch
// written after that one was discarded. A response naming none of them (an
// older notification, or 0) discards them all.
func settleWithHistory(cur *batch, obs observed, hist *history) *Result {
	if obs.resp == nil || len(hist.batches) == 0 {
		return settleAgainst(cur, obs, nil)
	}
	if _, mine := cur.index(obs.resp.ID); mine {
		return settleAgainst(cur, obs, nil)
	}
	at, after := hist.locate(obs.resp.ID)
	last := at
	if at == nil {
		last, after = hist.newest(), hist.batches[:len(hist.batches)-1]
	}
	r := settleAgainst(cur, obs, last)
	hist.discard(r, after, at == nil && unplaced(*obs.resp))
	if at == nil && hist.forgot {
		r.Errors = append(r.Errors, fmt.Errorf("%w (identifier %d)", ErrHistoryExceeded, obs.resp.ID))
	}
	return r
}

// settleAgainst applies the rules documented on Result to the batch cur,
// given what was observed and last, the batch on the connection before cur
// that the error response may name (nil when none may).
func settleAgainst(cur *batch, obs observed, last *batch) *Result {
	n := len(cur.tokens)
	written, attempted, out := obs.written, obs.attempted, obs
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
				prev := &Result{cur: last}
				prev.apply(last, k, len(last.ids), resp, true)
				r.absorb(prev)
				r.retry(cur, 0, n, false) // written after the named one: discarded
				break
			}
		}
		r.Errors = append(r.Errors, &StatusError{Outcome: resp.Status, ID: resp.ID})
		// The response names a notification before this connection's
		// records (or none, 0): the previous batch, written after it, was
		// discarded too (as settleEarlier has it). Id 0 with a refusal does
		// not say which one failed: the previous batch may have been
		// delivered.
		if last != nil {
			prev := &Result{cur: last}
			prev.retry(last, 0, len(last.ids), unplaced(resp))
			r.absorb(prev)
		}
		if resp.Status == wire.StatusShutdown {
			// Nothing recorded was processed.
			r.retry(cur, 0, n, false)
			break
		}
		// The refused notification cannot be placed: any written one may be it.
		r.retry(cur, 0, attempted, true)
		r.retry(cur, attempted, n, false)
	case out.refused != nil:
		r.Sent = 0
		r.Errors = append(r.Errors, out.refused)
		r.retry(cur, 0, n, false)
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

// settleEarlier settles an earlier batch of a connection, last, whose
// error response arrived after that batch's Send returned. Its Revoked
// counts what that Send had counted as accepted and now is in Failed or
// Retries.
func settleEarlier(last *batch, resp wire.ErrorResponse) *Result {
	prev := &Result{cur: last}
	defer func() { prev.Revoked = len(prev.Failed) + len(prev.retryTokens) }()
	if k, ok := last.index(resp.ID); ok {
		prev.apply(last, k, len(last.ids), resp, true)
		return prev
	}
	if resp.Status == wire.StatusShutdown {
		prev.Errors = append(prev.Errors, &StatusError{Outcome: resp.Status, ID: resp.ID, Late: true})
		prev.retry(last, 0, len(last.ids), false)
		return prev
	}
	// An id this connection never sent in its last batch: an older one, so
	// the last batch was discarded after it; or 0, naming none, so any of
	// the last batch may have been the refused one and the rest delivered.
	prev.Errors = append(prev.Errors, &StatusError{Outcome: resp.Status, ID: resp.ID, Late: true})
	prev.retry(last, 0, len(last.ids), unplaced(resp))
	return prev
}

// unplaced reports whether resp refuses a notification without naming it
// (identifier 0): the gateway did not know which one failed.
func unplaced(resp wire.ErrorResponse) bool {
	return resp.ID == 0 && resp.Status != wire.StatusShutdown
}

// apply handles an error response naming b's notification k; tokens
// [k+1, end) were written after it (or never written) and are discarded.
// earlier: b is a batch of an earlier Send (the response is reported as
// Late). It returns how many of b's notifications were accepted.
func (r *Result) apply(b *batch, k, end int, resp wire.ErrorResponse, earlier bool) int {
	tok := b.tokens[k]
	switch resp.Status.Disposition() {
	case wire.Resume:
		r.Errors = append(r.Errors, &StatusError{Outcome: resp.Status, ID: resp.ID, Token: tok, Late: earlier})
		r.retry(b, k+1, end, false)
		return k + 1
	case wire.DropToken:
		r.Failed = append(r.Failed, Failure{Token: tok, Outcome: resp.Status, ID: resp.ID, Late: earlier})
		r.spans = append(r.spans, span{b: b, from: k, to: k + 1, failed: resp.Status})
		r.retry(b, k+1, end, false)
	case wire.DropMessage:
		r.Errors = append(r.Errors, &StatusError{Outcome: resp.Status, ID: resp.ID, Token: tok, Late: earlier})
		for i := k; i < end; i++ {
			var id uint32
			if i < len(b.ids) {
				id = b.ids[i]
			}
			r.Failed = append(r.Failed, Failure{Token: b.tokens[i], Outcome: resp.Status, ID: id, Late: earlier})
		}
		if k < end {
			r.spans = append(r.spans, span{b: b, from: k, to: end, failed: resp.Status})
		}
	default: // wire.Retry
		r.Errors = append(r.Errors, &StatusError{Outcome: resp.Status, ID: resp.ID, Token: tok, Late: earlier})
		r.retry(b, k, end, false)
	}
	return k
}

// retry puts b's tokens [from, to) into r's retry, and into Uncertain too
// when they may have been delivered. For a Stream's batch only the span is
// kept: the stream resends by spans, and copying the tokens of everything
// a refusal discarded cost more than the rest of its settlement.
func (r *Result) retry(b *batch, from, to int, uncertain bool) {
	if from >= to {
		return
	}
	r.spans = append(r.spans, span{b: b, from: from, to: to, uncertain: uncertain})
	if b.chunk != nil {
		return
	}
	r.retryTokens = append(r.retryTokens, b.tokens[from:to]...)
	if uncertain {
		r.Uncertain = append(r.Uncertain, b.tokens[from:to]...)
	}
}

// absorb merges prev, the result of earlier batches, into r: its failures
// and errors, and its retry (into r's own when the content is the same).
func (r *Result) absorb(prev *Result) {
	r.Revoked += len(prev.Failed) + len(prev.retryTokens)
	r.Failed = append(r.Failed, prev.Failed...)
	r.Errors = append(r.Errors, prev.Errors...)
	r.Uncertain = append(r.Uncertain, prev.Uncertain...)
	r.spans = append(r.spans, prev.spans...)
	if len(prev.retryTokens) > 0 {
		if r.cur != nil && r.cur.sameContent(prev.cur) {
			r.retryTokens = append(r.retryTokens, prev.retryTokens...)
		} else {
			r.otherRetries = append(r.otherRetries, prev.Retry())
		}
	}
	r.otherRetries = append(r.otherRetries, prev.otherRetries...)
}
