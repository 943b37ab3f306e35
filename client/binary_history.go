package client

import (
	"fmt"

	"github.com/apnskit/apnskit/wire"
)

// DefaultHistory is the default of Config.History.
const DefaultHistory = 1 << 17

// history holds the batches of a connection whose Sends have returned,
// oldest first, all presumed accepted. The gateway may read a batch long
// after Send wrote it and waited ErrorWait (socket buffers hold megabytes,
// and a busy gateway lags), so an error response can name a notification
// several batches back; everything written after that one was discarded and
// must be sent again. The history keeps at least the last limit
// notifications and forgets older batches.
type history struct {
	batches []*batch
	n       int  // notifications in batches
	limit   int  // notifications kept at least
	forgot  bool // older batches were forgotten
}

// add appends b (its frames written, its Send returned) and forgets the
// oldest batches beyond the limit. b's binary tokens are dropped: only the
// hex tokens and identifiers are needed to settle it.
func (h *history) add(b *batch) {
	if len(b.ids) == 0 {
		return
	}
	if b.chunk != nil {
		b.prep.tokens = nil // the chunk's own copy of the content
	} else {
		b.prep = b.prep.withoutTokens()
	}
	h.batches = append(h.batches, b)
	h.n += len(b.ids)
	for len(h.batches) > 1 && h.n-len(h.batches[0].ids) >= h.limit {
		h.n -= len(h.batches[0].ids)
		h.batches[0] = nil
		h.batches = h.batches[1:]
		h.forgot = true
	}
}

// locate returns the batch holding the notification id (nil when none
// does: id names an older notification, or none) and the batches written
// after it, which the gateway discarded.
func (h *history) locate(id uint32) (at *batch, after []*batch) {
	for i := len(h.batches) - 1; i >= 0; i-- {
		if _, ok := h.batches[i].index(id); ok {
			return h.batches[i], h.batches[i+1:]
		}
	}
	return nil, h.batches
}

// reset forgets everything (the connection ended, or an error response
// named a later notification: everything before it was processed).
func (h *history) reset() {
	clear(h.batches)
	h.batches, h.n, h.forgot = h.batches[:0], 0, false
}

// newest returns the last batch added, or nil.
func (h *history) newest() *batch {
	if len(h.batches) == 0 {
		return nil
	}
	return h.batches[len(h.batches)-1]
}

// settleAll settles every batch of the history against an error response
// that arrived after the Sends of its batches returned; nil when there is
// nothing to settle.
func (h *history) settleAll(resp wire.ErrorResponse) *Result {
	if len(h.batches) == 0 {
		return nil
	}
	at, after := h.locate(resp.ID)
	var r *Result
	if at != nil {
		r = settleEarlier(at, resp)
	} else {
		r = settleEarlier(after[0], resp) // names none of them: the oldest is discarded whole
		after = after[1:]
		if h.forgot {
			r.Errors = append(r.Errors, fmt.Errorf("%w (identifier %d)", ErrHistoryExceeded, resp.ID))
		}
	}
	h.discard(r, after, at == nil && unplaced(resp))
	h.reset()
	return r
}

// discard puts the batches the gateway threw away whole into r's retries
// (and Uncertain when the refusal named none: any of them may have been
// the refused one and the others delivered).
func (h *history) discard(r *Result, batches []*batch, uncertain bool) {
	for _, b := range batches {
		d := &Result{cur: b}
		d.retry(b, 0, len(b.ids), uncertain)
		r.absorb(d)
	}
}

// popOldest removes and returns the oldest batch, nil when there is none.
// A response naming one of its notifications can no longer be placed, so
// the history counts as having forgotten.
func (h *history) popOldest() *batch {
	if len(h.batches) == 0 {
		return nil
	}
	b := h.batches[0]
	h.batches[0] = nil
	h.batches = h.batches[1:]
	h.n -= len(b.ids)
	h.forgot = true
	return b
}
