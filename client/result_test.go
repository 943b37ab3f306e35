package client_test

import (
	"errors"
	"fmt"
	"io"

	"github.com/apnskit/apnskit/client"
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

// summary is the observable part of a Result, for cmp.Diff.
type summary struct {
	Sent, Accepted int
	Failed         []client.Failure
	Retry          []string
	Uncertain      []string
	Statuses       []wire.Status // of *StatusError in Errors
	Lost           bool          // Errors holds ErrConnectionLost
}

func summarize(r *client.Result) summary {
	s := summary{Sent: r.Sent, Accepted: r.Accepted, Failed: r.Failed, Uncertain: r.Uncertain}
	for _, m := range r.Retries() {
		s.Retry = append(s.Retry, m.Tokens...)
	}
	for _, err := range r.Errors {
		var se *client.StatusError
		if errors.As(err, &se) {
			s.Statuses = append(s.Statuses, se.Status())
		}
		if errors.Is(err, client.ErrConnectionLost) {
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
			r := client.SettleForTest(cur, 100, c.written, c.attempted, c.resp, c.lost, l, 90)
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
			want: summary{Sent: 10, Accepted: 4, Failed: []client.Failure{{Token: cur[4], Outcome: wire.Status(8), ID: 104}}, Retry: cur[5:]}}),
		Entry("invalid token size (5)", tc{written: 10, attempted: 10, resp: resp(5, 100),
			want: summary{Sent: 10, Accepted: 0, Failed: []client.Failure{{Token: cur[0], Outcome: wire.Status(5), ID: 100}}, Retry: cur[1:]}}),
		Entry("missing token (2) on the last one", tc{written: 10, attempted: 10, resp: resp(2, 109),
			want: summary{Sent: 10, Accepted: 9, Failed: []client.Failure{{Token: cur[9], Outcome: wire.Status(2), ID: 109}}}}),
		Entry("protocol error (128) is a token error", tc{written: 10, attempted: 10, resp: resp(128, 107),
			want: summary{Sent: 10, Accepted: 7, Failed: []client.Failure{{Token: cur[7], Outcome: wire.Status(128), ID: 107}}, Retry: cur[8:]}}),
		Entry("token error mid-batch, rest never written: unsent retried too", tc{written: 5, attempted: 5, resp: resp(8, 102),
			want: summary{Sent: 5, Accepted: 2, Failed: []client.Failure{{Token: cur[2], Outcome: wire.Status(8), ID: 102}}, Retry: cur[3:]}}),
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
			want: summary{Sent: 6, Accepted: 4, Statuses: []wire.Status{7}, Failed: []client.Failure{
				{Token: cur[4], Outcome: wire.Status(7), ID: 104}, {Token: cur[5], Outcome: wire.Status(7), ID: 105},
				{Token: cur[6], Outcome: wire.Status(7)}, {Token: cur[7], Outcome: wire.Status(7)}, {Token: cur[8], Outcome: wire.Status(7)}, {Token: cur[9], Outcome: wire.Status(7)}}}}),
		Entry("missing payload (4)", tc{written: 10, attempted: 10, resp: resp(4, 109),
			want: summary{Sent: 10, Accepted: 9, Statuses: []wire.Status{4}, Failed: []client.Failure{{Token: cur[9], Outcome: wire.Status(4), ID: 109}}}}),
		Entry("silent disconnect: everything written retried and uncertain, unsent retried", tc{written: 6, attempted: 8, lost: io.EOF,
			want: summary{Sent: 8, Retry: cur, Uncertain: cur[:8], Lost: true}}),
		Entry("error naming an unknown id: written ones uncertain", tc{written: 10, attempted: 10, resp: resp(8, 5000),
			want: summary{Sent: 10, Retry: cur, Uncertain: cur, Statuses: []wire.Status{8}}}),
		Entry("late error for the previous batch: reported, its rest and all of this batch retried", tc{written: 10, attempted: 10, resp: resp(8, 91), withLast: true,
			want: summary{Sent: 10, Failed: []client.Failure{{Token: last[1], Outcome: wire.Status(8), ID: 91, Late: true}},
				Retry: append([]string{last[2]}, cur...)}}),
		Entry("late shutdown naming the previous batch's first", tc{written: 3, attempted: 3, resp: resp(10, 90), withLast: true,
			want: summary{Sent: 3, Retry: append(append([]string{}, last[1:]...), cur...), Statuses: []wire.Status{10}}}),
	)

	It("skips identifier 0 at the wrap and still finds the right token", func() {
		four := toks("0", 0, 4) // ids 0xfffffffe, 0xffffffff, 1, 2
		r := client.SettleForTest(four, 0xfffffffe, 4, 4, resp(8, 1), nil, nil, 0)
		Expect(cmp.Diff(summary{Sent: 4, Accepted: 2, Failed: []client.Failure{{Token: four[2], Outcome: wire.Status(8), ID: 1}}, Retry: four[3:]}, summarize(r))).To(BeEmpty())
	})

	It("keeps the content of the message in Retry, with a relative expiry fixed", func() {
		r := client.SettleForTest(cur, 100, 10, 10, resp(1, 100), nil, nil, 0)
		m := r.Retry()
		Expect(m.Alert).To(Equal("x"))
		Expect(m.Tokens).To(Equal(cur))
		var se *client.StatusError
		Expect(errors.As(r.Errors[0], &se)).To(BeTrue())
		Expect(r.Errors[0]).To(MatchError(wire.StatusProcessingError))
		Expect(se.Token).To(Equal(cur[0]))
	})
})
