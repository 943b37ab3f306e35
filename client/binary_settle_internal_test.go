package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apnskit/apnskit/wire"
	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// toks returns n one-byte hex tokens with a prefix digit: "00", "01", ...
func toks(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%x", prefix, i))
	}
	return out
}

// batchOf builds a batch of tokens (content: alert "x") whose first n
// notifications were attempted with identifiers from first (consecutive,
// skipping 0).
func batchOf(toks []string, first uint32, n int) *batch {
	m := &Message{Tokens: toks, Alert: "x"}
	p, err := m.prepare(time.Now(), nil)
	if err != nil {
		panic(err)
	}
	b := newBatch(m, p)
	id := first
	for range n {
		if id == 0 {
			id = 1
		}
		b.ids = append(b.ids, id)
		id++
	}
	return b
}

// historyOf is a connection's history holding bs, oldest first, all
// written, keeping at least limit notifications (0: DefaultHistory).
func historyOf(limit int, bs ...*batch) history {
	if limit == 0 {
		limit = DefaultHistory
	}
	h := history{limit: limit}
	for _, b := range bs {
		h.add(b)
	}
	return h
}

// settleOne settles a batch of tokens with identifiers from firstID, of
// which written were written completely and attempted were handed to the
// connection, given the error response or the loss observed; last (may be
// nil) is the previous batch on the connection, all of it written, with
// identifiers from lastFirstID.
func settleOne(tokens []string, firstID uint32, written, attempted int, resp *wire.ErrorResponse, lost error, last []string, lastFirstID uint32) *Result {
	var hist history
	if last != nil {
		hist = historyOf(0, batchOf(last, lastFirstID, len(last)))
	}
	obs := observed{written: written, attempted: attempted, resp: resp, lost: lost, ended: resp != nil || lost != nil}
	r, _ := settle(batchOf(tokens, firstID, attempted), obs, hist)
	return r
}

// settleLateOne settles, as a late error response does, a previous batch of
// tokens, all written, with identifiers from firstID.
func settleLateOne(tokens []string, firstID uint32, resp wire.ErrorResponse) *Result {
	h := historyOf(0, batchOf(tokens, firstID, len(tokens)))
	return h.settleAll(resp)
}

// summary is the observable part of a Result, for cmp.Diff.
type summary struct {
	Sent, Accepted int
	Failed         []Failure
	Retry          []string
	Uncertain      []string
	Statuses       []wire.Status // of *StatusError in Errors
	Lost           bool          // Errors holds ErrConnectionLost
}

func summarize(r *Result) summary {
	s := summary{Sent: r.Sent, Accepted: r.Accepted, Failed: r.Failed, Uncertain: r.Uncertain}
	for _, m := range r.Retries() {
		s.Retry = append(s.Retry, m.Tokens...)
	}
	for _, err := range r.Errors {
		var se *StatusError
		if errors.As(err, &se) {
			s.Statuses = append(s.Statuses, se.Status())
		}
		if errors.Is(err, ErrConnectionLost) {
			s.Lost = true
		}
	}
	return s
}

var _ = Describe("Result rules (pure settle)", func() {
	cur := toks("0", 0, 10) // ids 100..109
	last := toks("a", 0, 3) // ids 90..92 (previous batch on the connection)
	resp := func(st wire.Status, id uint32) *wire.ErrorResponse { return &wire.ErrorResponse{Status: st, ID: id} }

	type tc struct {
		written, attempted int
		resp               *wire.ErrorResponse
		lost               error
		withLast           bool
		want               summary
	}
	DescribeTable("computes accepted, failed, retry and uncertain",
		func(c tc) {
			var l []string
			if c.withLast {
				l = last
			}
			r := settleOne(cur, 100, c.written, c.attempted, c.resp, c.lost, l, 90)
			Expect(cmp.Diff(c.want, summarize(r))).To(BeEmpty())
			Expect(r.NeedsRetry()).To(Equal(len(c.want.Retry) > 0))
			if len(c.want.Retry) == 0 {
				Expect(r.Retry()).To(BeNil())
			}
		},
		Entry("no error response within the window: all presumed accepted", tc{written: 10, attempted: 10,
			want: summary{Sent: 10, Accepted: 10}}),
		Entry("cancelled between writes: unsent retried, nothing uncertain", tc{written: 6, attempted: 6,
			want: summary{Sent: 6, Accepted: 6, Retry: cur[6:]}}),
		Entry("invalid token (8): bad one out, later ones retried", tc{written: 10, attempted: 10, resp: resp(8, 104),
			want: summary{Sent: 10, Accepted: 4, Failed: []Failure{{Token: cur[4], Outcome: wire.Status(8), ID: 104}}, Retry: cur[5:]}}),
		Entry("invalid token size (5)", tc{written: 10, attempted: 10, resp: resp(5, 100),
			want: summary{Sent: 10, Accepted: 0, Failed: []Failure{{Token: cur[0], Outcome: wire.Status(5), ID: 100}}, Retry: cur[1:]}}),
		Entry("missing token (2) on the last one", tc{written: 10, attempted: 10, resp: resp(2, 109),
			want: summary{Sent: 10, Accepted: 9, Failed: []Failure{{Token: cur[9], Outcome: wire.Status(2), ID: 109}}}}),
		Entry("protocol error (128) is a token error", tc{written: 10, attempted: 10, resp: resp(128, 107),
			want: summary{Sent: 10, Accepted: 7, Failed: []Failure{{Token: cur[7], Outcome: wire.Status(128), ID: 107}}, Retry: cur[8:]}}),
		Entry("token error mid-batch, rest never written: unsent retried too", tc{written: 5, attempted: 5, resp: resp(8, 102),
			want: summary{Sent: 5, Accepted: 2, Failed: []Failure{{Token: cur[2], Outcome: wire.Status(8), ID: 102}}, Retry: cur[3:]}}),
		Entry("processing error (1): that one and later retried", tc{written: 10, attempted: 10, resp: resp(1, 104),
			want: summary{Sent: 10, Accepted: 4, Retry: cur[4:], Statuses: []wire.Status{1}}}),
		Entry("unknown (255): kept", tc{written: 10, attempted: 10, resp: resp(255, 100),
			want: summary{Sent: 10, Retry: cur, Statuses: []wire.Status{255}}}),
		Entry("undefined code (9): kept", tc{written: 10, attempted: 10, resp: resp(9, 108),
			want: summary{Sent: 10, Accepted: 8, Retry: cur[8:], Statuses: []wire.Status{9}}}),
		Entry("shutdown (10) names the last accepted: everything after retried, nothing failed", tc{written: 10, attempted: 10, resp: resp(10, 104),
			want: summary{Sent: 10, Accepted: 5, Retry: cur[5:], Statuses: []wire.Status{10}}}),
		Entry("shutdown (10) naming none (0): everything retried, the last batch too", tc{written: 10, attempted: 10, resp: resp(10, 0), withLast: true,
			want: summary{Sent: 10, Retry: append(append([]string{}, last...), cur...), Statuses: []wire.Status{10}}}),
		Entry("payload too large (7): the rest fails the same way, not retried", tc{written: 6, attempted: 6, resp: resp(7, 104),
			want: summary{Sent: 6, Accepted: 4, Statuses: []wire.Status{7}, Failed: []Failure{
				{Token: cur[4], Outcome: wire.Status(7), ID: 104}, {Token: cur[5], Outcome: wire.Status(7), ID: 105},
				{Token: cur[6], Outcome: wire.Status(7)}, {Token: cur[7], Outcome: wire.Status(7)}, {Token: cur[8], Outcome: wire.Status(7)}, {Token: cur[9], Outcome: wire.Status(7)}}}}),
		Entry("missing payload (4)", tc{written: 10, attempted: 10, resp: resp(4, 109),
			want: summary{Sent: 10, Accepted: 9, Statuses: []wire.Status{4}, Failed: []Failure{{Token: cur[9], Outcome: wire.Status(4), ID: 109}}}}),
		Entry("silent disconnect: everything written retried and uncertain, unsent retried", tc{written: 6, attempted: 8, lost: io.EOF,
			want: summary{Sent: 8, Retry: cur, Uncertain: cur[:8], Lost: true}}),
		Entry("error naming an unknown id: written ones uncertain", tc{written: 10, attempted: 10, resp: resp(8, 5000),
			want: summary{Sent: 10, Retry: cur, Uncertain: cur, Statuses: []wire.Status{8}}}),
		Entry("late error for the previous batch: reported, its rest and all of this batch retried", tc{written: 10, attempted: 10, resp: resp(8, 91), withLast: true,
			want: summary{Sent: 10, Failed: []Failure{{Token: last[1], Outcome: wire.Status(8), ID: 91, Late: true}},
				Retry: append([]string{last[2]}, cur...)}}),
		Entry("late shutdown naming the previous batch's first", tc{written: 3, attempted: 3, resp: resp(10, 90), withLast: true,
			want: summary{Sent: 3, Retry: append(append([]string{}, last[1:]...), cur...), Statuses: []wire.Status{10}}}),
	)

	It("skips identifier 0 at the wrap and still finds the right token", func() {
		four := toks("0", 0, 4) // ids 0xfffffffe, 0xffffffff, 1, 2
		r := settleOne(four, 0xfffffffe, 4, 4, resp(8, 1), nil, nil, 0)
		Expect(cmp.Diff(summary{Sent: 4, Accepted: 2, Failed: []Failure{{Token: four[2], Outcome: wire.Status(8), ID: 1}}, Retry: four[3:]}, summarize(r))).To(BeEmpty())
	})

	It("keeps the content of the message in Retry, with a relative expiry fixed", func() {
		r := settleOne(cur, 100, 10, 10, resp(1, 100), nil, nil, 0)
		m := r.Retry()
		Expect(m.Alert).To(Equal("x"))
		Expect(m.Tokens).To(Equal(cur))
		var se *StatusError
		Expect(errors.As(r.Errors[0], &se)).To(BeTrue())
		Expect(r.Errors[0]).To(MatchError(wire.StatusProcessingError))
		Expect(se.Token).To(Equal(cur[0]))
	})
})

var _ = Describe("An error response naming an id older than the connection's records", func() {
	// ids: previous batch 90..92, this batch 100..109; 50 was written on
	// the connection before both, so both were discarded after it.
	cur := toks("0", 0, 10)
	last := toks("a", 0, 3)

	It("retries the previous batch when it arrives during the next Send, as when it arrives while idle", func() {
		resp := &wire.ErrorResponse{Status: 8, ID: 50}
		r := settleOne(cur, 100, 10, 10, resp, nil, last, 90)
		want := summary{Sent: 10, Retry: append(append([]string{}, last...), cur...), Uncertain: cur, Statuses: []wire.Status{8}}
		Expect(cmp.Diff(want, summarize(r))).To(BeEmpty())
		Expect(r.Revoked).To(Equal(len(last)))
	})

	It("does the same for a processing error naming none (0), the previous batch uncertain too", func() {
		resp := &wire.ErrorResponse{Status: 1, ID: 0}
		r := settleOne(cur, 100, 4, 4, resp, nil, last, 90)
		want := summary{Sent: 4, Retry: append(append([]string{}, last...), cur...),
			Uncertain: append(append([]string{}, last...), cur[:4]...), Statuses: []wire.Status{1}}
		Expect(cmp.Diff(want, summarize(r))).To(BeEmpty())
		Expect(r.Revoked).To(Equal(len(last)))
	})
})

var _ = Describe("Late settlement (pure history.settleAll)", func() {
	last := toks("a", 0, 3) // ids 90..92
	DescribeTable("puts every token of the batch in exactly one place",
		func(resp wire.ErrorResponse, want summary, revoked int) {
			r := settleLateOne(last, 90, resp)
			Expect(cmp.Diff(want, summarize(r))).To(BeEmpty())
			Expect(r.Revoked).To(Equal(revoked))
		},
		Entry("token error naming the second", wire.ErrorResponse{Status: 8, ID: 91},
			summary{Failed: []Failure{{Token: last[1], Outcome: wire.Status(8), ID: 91, Late: true}}, Retry: last[2:]}, 2),
		Entry("shutdown naming the last: nothing revoked", wire.ErrorResponse{Status: 10, ID: 92},
			summary{Statuses: []wire.Status{10}}, 0),
		Entry("shutdown naming none", wire.ErrorResponse{Status: 10, ID: 0},
			summary{Retry: last, Statuses: []wire.Status{10}}, 3),
		Entry("refusal of an older id: all discarded, not delivered", wire.ErrorResponse{Status: 8, ID: 50},
			summary{Retry: last, Statuses: []wire.Status{8}}, 3),
		Entry("refusal naming none (0): any may have been delivered", wire.ErrorResponse{Status: 1, ID: 0},
			summary{Retry: last, Uncertain: last, Statuses: []wire.Status{1}}, 3),
		Entry("message-level error on the first: all failed", wire.ErrorResponse{Status: 7, ID: 90},
			summary{Statuses: []wire.Status{7}, Failed: []Failure{
				{Token: last[0], Outcome: wire.Status(7), ID: 90, Late: true}, {Token: last[1], Outcome: wire.Status(7), ID: 91, Late: true},
				{Token: last[2], Outcome: wire.Status(7), ID: 92, Late: true}}}, 3),
	)

	It("finds an identifier past the wrap", func() {
		r := settleLateOne(last, 0xffffffff, wire.ErrorResponse{Status: 8, ID: 2}) // ids 0xffffffff, 1, 2
		Expect(cmp.Diff(summary{Failed: []Failure{{Token: last[2], Outcome: wire.Status(8), ID: 2, Late: true}}}, summarize(r))).To(BeEmpty())
		Expect(r.Revoked).To(Equal(1))
	})
})

// settleCase is one row of the settle table: a batch cur (tokens "00".."09",
// ids 100..109) on a connection whose history holds hist (oldest first), what
// the batch's I/O observed, and what settle must decide.
type settleCase struct {
	hist        func() history
	obs         observed
	want        summary
	revoked     int
	exceeded    bool // Errors holds ErrHistoryExceeded
	ctxErr      error
	wantHistory []int // lengths of the batches the returned history holds
}

var _ = Describe("settle, the pure decision of a batch's Result, rule by rule", func() {
	cur := toks("0", 0, 10)     // ids 100..109
	older := toks("b", 0, 3)    // ids 80..82
	previous := toks("a", 0, 3) // ids 90..92
	resp := func(st wire.Status, id uint32) *wire.ErrorResponse { return &wire.ErrorResponse{Status: st, ID: id} }
	none := func() history { return historyOf(0) }
	two := func() history {
		return historyOf(0, batchOf(older, 80, 3), batchOf(previous, 90, 3))
	}
	// forgetful remembers at least 3 notifications: adding previous forgets older.
	forgetful := func() history {
		return historyOf(3, batchOf(older, 80, 3), batchOf(previous, 90, 3))
	}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	failed := func(st wire.Status, late bool, tok string, id uint32) Failure {
		return Failure{Token: tok, Outcome: st, ID: id, Late: late}
	}
	all := func(n int) observed { return observed{written: n, attempted: n} }
	refused := func(st wire.Status, id uint32) observed {
		return observed{written: 10, attempted: 10, resp: resp(st, id), ended: true}
	}

	DescribeTable("decides accepted, failed, retry, uncertain, revoked and the history kept",
		func(c settleCase) {
			r, h := settle(batchOf(cur, 100, c.obs.attempted), c.obs, c.hist())
			Expect(cmp.Diff(c.want, summarize(r))).To(BeEmpty())
			Expect(r.Revoked).To(Equal(c.revoked))
			Expect(r.NeedsRetry()).To(Equal(len(c.want.Retry) > 0))
			exceeded := false
			for _, err := range r.Errors {
				exceeded = exceeded || errors.Is(err, ErrHistoryExceeded)
			}
			Expect(exceeded).To(Equal(c.exceeded))
			if c.ctxErr != nil {
				Expect(r.Errors).To(ContainElement(MatchError(c.ctxErr)))
			}
			var kept []int
			for _, b := range h.batches {
				kept = append(kept, len(b.ids))
			}
			Expect(kept).To(Equal(c.wantHistory))
		},
		Entry("no error response: the written ones accepted, the batch joins the history", settleCase{hist: two, obs: all(10),
			want: summary{Sent: 10, Accepted: 10}, wantHistory: []int{3, 3, 10}}),
		Entry("ctx ended between writes: the unsent retried, ctx's error reported", settleCase{hist: none,
			obs:  observed{written: 4, attempted: 4, ctxErr: context.Canceled},
			want: summary{Sent: 4, Accepted: 4, Retry: cur[4:]}, ctxErr: context.Canceled, wantHistory: []int{4}}),
		Entry("ctx ended before any write: the history stays for a late response", settleCase{hist: two,
			obs:  observed{ctxErr: context.Canceled},
			want: summary{Retry: cur}, ctxErr: context.Canceled, wantHistory: []int{3, 3}}),
		Entry("token error (8): that token failed, every token after it retried", settleCase{hist: none, obs: refused(8, 103),
			want: summary{Sent: 10, Accepted: 3, Failed: []Failure{failed(8, false, cur[3], 103)}, Retry: cur[4:]}}),
		Entry("token error (2) on the last: nothing to retry", settleCase{hist: none, obs: refused(2, 109),
			want: summary{Sent: 10, Accepted: 9, Failed: []Failure{failed(2, false, cur[9], 109)}}}),
		Entry("token error (5)", settleCase{hist: none, obs: refused(5, 100),
			want: summary{Sent: 10, Failed: []Failure{failed(5, false, cur[0], 100)}, Retry: cur[1:]}}),
		Entry("token error (128)", settleCase{hist: none, obs: refused(128, 105),
			want: summary{Sent: 10, Accepted: 5, Failed: []Failure{failed(128, false, cur[5], 105)}, Retry: cur[6:]}}),
		Entry("processing error (1): that token and every one after it retried, the response in Errors", settleCase{hist: none, obs: refused(1, 106),
			want: summary{Sent: 10, Accepted: 6, Retry: cur[6:], Statuses: []wire.Status{1}}}),
		Entry("unknown (255)", settleCase{hist: none, obs: refused(255, 101),
			want: summary{Sent: 10, Accepted: 1, Retry: cur[1:], Statuses: []wire.Status{255}}}),
		Entry("an undefined code (42)", settleCase{hist: none, obs: refused(42, 102),
			want: summary{Sent: 10, Accepted: 2, Retry: cur[2:], Statuses: []wire.Status{42}}}),
		Entry("shutdown (10) names the last accepted: every token after it retried, nothing failed", settleCase{hist: none, obs: refused(10, 107),
			want: summary{Sent: 10, Accepted: 8, Retry: cur[8:], Statuses: []wire.Status{10}}}),
		Entry("message-level error (3): the named token and every one after it failed, none retried", settleCase{hist: none,
			obs: observed{written: 8, attempted: 8, resp: resp(3, 106), ended: true},
			want: summary{Sent: 8, Accepted: 6, Statuses: []wire.Status{3}, Failed: []Failure{
				failed(3, false, cur[6], 106), failed(3, false, cur[7], 107), failed(3, false, cur[8], 0), failed(3, false, cur[9], 0)}}}),
		Entry("message-level error (6)", settleCase{hist: none, obs: refused(6, 109),
			want: summary{Sent: 10, Accepted: 9, Statuses: []wire.Status{6}, Failed: []Failure{failed(6, false, cur[9], 109)}}}),
		Entry("connection lost without a response: the written retried and uncertain, the unwritten retried only", settleCase{hist: two,
			obs:  observed{written: 5, attempted: 7, lost: io.EOF, ended: true},
			want: summary{Sent: 7, Retry: cur, Uncertain: cur[:7], Lost: true}}),
		Entry("a write failed: the same", settleCase{hist: none,
			obs:  observed{written: 0, attempted: 3, lost: errors.New("broken pipe"), ended: true},
			want: summary{Sent: 3, Retry: cur, Uncertain: cur[:3], Lost: true}}),
		Entry("a response naming the previous batch: reported late, its rest and all of this batch retried", settleCase{hist: two, obs: refused(8, 91),
			want:    summary{Sent: 10, Failed: []Failure{failed(8, true, previous[1], 91)}, Retry: cat(previous[2:], cur)},
			revoked: 2}),
		Entry("a response naming an older batch: every batch after it retried too", settleCase{hist: two, obs: refused(8, 81),
			want:    summary{Sent: 10, Failed: []Failure{failed(8, true, older[1], 81)}, Retry: cat(older[2:], cur, previous)},
			revoked: 5}),
		Entry("a late message-level error: the rest of that batch failed, the later batches retried", settleCase{hist: two, obs: refused(7, 81),
			want: summary{Sent: 10, Statuses: []wire.Status{7}, Failed: []Failure{failed(7, true, older[1], 81), failed(7, true, older[2], 82)},
				Retry: cat(cur, previous)},
			revoked: 5}),
		Entry("a late shutdown naming the previous batch's first: the rest of it retried", settleCase{hist: two, obs: refused(10, 90),
			want:    summary{Sent: 10, Retry: cat(previous[1:], cur), Statuses: []wire.Status{10}},
			revoked: 2}),
		Entry("a refusal older than the history: the response in Errors, every batch retried, this one's written ones uncertain", settleCase{hist: two, obs: refused(8, 50),
			want:    summary{Sent: 10, Retry: cat(previous, cur, older), Uncertain: cur, Statuses: []wire.Status{8}},
			revoked: 6}),
		Entry("… with ErrHistoryExceeded when older batches were forgotten", settleCase{hist: forgetful, obs: refused(8, 81),
			want:    summary{Sent: 10, Retry: cat(previous, cur), Uncertain: cur, Statuses: []wire.Status{8}},
			revoked: 3, exceeded: true}),
		Entry("a refusal naming none (0): every remembered batch retried and uncertain", settleCase{hist: two, obs: refused(1, 0),
			want:    summary{Sent: 10, Retry: cat(previous, cur, older), Uncertain: cat(previous, cur, older), Statuses: []wire.Status{1}},
			revoked: 6}),
		Entry("a shutdown naming none (0): every remembered batch and this one retried, none uncertain", settleCase{hist: two, obs: refused(10, 0),
			want:    summary{Sent: 10, Retry: cat(previous, cur, older), Statuses: []wire.Status{10}},
			revoked: 6}),
	)
})
