package conformance

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
	"github.com/cucumber/godog"
)

func (w *world) registerFeedbackSteps(sc stepRegistrar) {
	sc.Step(`^the feedback service holds these tuples:$`, w.feedbackHolds)
	sc.Step(`^the feedback service holds (\d+) tuples$`, w.feedbackHoldsMany)
	sc.Step(`^the feedback service writes every tuple in two pieces$`, w.feedbackSplits)
	sc.Step(`^the feedback service writes all tuples at once$`, w.feedbackCoalesces)
	sc.Step(`^the feedback service cuts the connection after (\d+) bytes$`, w.feedbackCuts)
	sc.Step(`^the feedback service is down$`, w.feedbackDown)
	sc.Step(`^the client reads the feedback service$`, w.clientReadsFeedback)
	sc.Step(`^the (first |second |last )?read gets these tuples:$`, w.readGetsTuples)
	sc.Step(`^the (first |second |last )?read gets no tuple$`, w.readGetsNone)
	sc.Step(`^the (first |second |last )?read gets (\d+) tuples?$`, w.readGetsCount)
	sc.Step(`^the (first |second |last )?read reports no error$`, w.readNoError)
	sc.Step(`^the (first |second |last )?read fails$`, w.readFails)
	sc.Step(`^the feedback service served (\d+) connections?$`, w.feedbackServed)
}

// parseTuples reads a table with the columns token (a number), time
// (RFC 3339) and optionally bytes (the token's length, 32 if absent).
func parseTuples(t *godog.Table) ([]FeedbackTuple, error) {
	if len(t.Rows) == 0 {
		return nil, errors.New("empty table")
	}
	col := map[string]int{}
	for i, c := range t.Rows[0].Cells {
		col[strings.TrimSpace(c.Value)] = i
	}
	ti, ok1 := col["token"]
	mi, ok2 := col["time"]
	if !ok1 || !ok2 {
		return nil, errors.New(`the table needs the columns "token" and "time" (and optionally "bytes")`)
	}
	bi, hasBytes := col["bytes"]
	var out []FeedbackTuple
	for _, row := range t.Rows[1:] {
		n, err := strconv.Atoi(row.Cells[ti].Value)
		if err != nil {
			return nil, fmt.Errorf("token %q: %w", row.Cells[ti].Value, err)
		}
		size := 32
		if hasBytes {
			if size, err = strconv.Atoi(row.Cells[bi].Value); err != nil {
				return nil, fmt.Errorf("bytes %q: %w", row.Cells[bi].Value, err)
			}
		}
		at, err := time.Parse(time.RFC3339, row.Cells[mi].Value)
		if err != nil {
			return nil, fmt.Errorf("time %q: %w", row.Cells[mi].Value, err)
		}
		out = append(out, FeedbackTuple{Token: tokenHex(n, size), Time: at.UTC()})
	}
	return out, nil
}

func (w *world) queue(tuples []FeedbackTuple) error {
	s, err := w.server(0)
	if err != nil {
		return err
	}
	wt := make([]wire.FeedbackTuple, len(tuples))
	for i, t := range tuples {
		b, err := hex.DecodeString(t.Token)
		if err != nil {
			return err
		}
		wt[i] = wire.FeedbackTuple{Time: t.Time, Token: b}
	}
	s.QueueFeedback(wt...)
	return nil
}

func (w *world) feedbackHolds(t *godog.Table) error {
	tuples, err := parseTuples(t)
	if err != nil {
		return err
	}
	return w.queue(tuples)
}

func (w *world) feedbackHoldsMany(n int) error {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tuples := make([]FeedbackTuple, n)
	for i := range tuples {
		tuples[i] = FeedbackTuple{Token: tokenHex(i+1, 32), Time: base.Add(time.Duration(i) * time.Second)}
	}
	return w.queue(tuples)
}

func (w *world) feedbackSplits() error    { return w.addFault(mockapns.FeedbackSplit{}) }
func (w *world) feedbackCoalesces() error { return w.addFault(mockapns.FeedbackCoalesce{}) }
func (w *world) feedbackCuts(n int) error { return w.addFault(mockapns.FeedbackCut{AfterBytes: n}) }

func (w *world) feedbackDown() error {
	s, err := w.server(0)
	if err != nil {
		return err
	}
	s.Close()
	return nil
}

func (w *world) clientReadsFeedback(ctx context.Context) error {
	cctx, cancel := ctxFor(ctx, w.suite.sendTimeout())
	defer cancel()
	tuples, err := w.client.Feedback(cctx)
	w.feedback = append(w.feedback, feedbackRead{tuples: tuples, err: err})
	return nil
}

// read returns the read named by which ("first ", "second ", "last " or "").
func (w *world) read(which string) (feedbackRead, error) {
	idx := len(w.feedback) - 1
	switch strings.TrimSpace(which) {
	case "first":
		idx = 0
	case "second":
		idx = 1
	}
	if idx < 0 || idx >= len(w.feedback) {
		return feedbackRead{}, fmt.Errorf("the client read the feedback service %d times; no %sread", len(w.feedback), which)
	}
	return w.feedback[idx], nil
}

func (w *world) describeTuples(ts []FeedbackTuple) string {
	if len(ts) == 0 {
		return "none"
	}
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s at %s", t.Token, t.Time.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, ", ")
}

func (w *world) readGetsTuples(which string, t *godog.Table) error {
	r, err := w.read(which)
	if err != nil {
		return err
	}
	want, err := parseTuples(t)
	if err != nil {
		return err
	}
	ok := len(r.tuples) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.EqualFold(r.tuples[i].Token, want[i].Token) && r.tuples[i].Time.Equal(want[i].Time)
	}
	if !ok {
		return fmt.Errorf("the read got %d tuples: %s; want %d: %s (read error: %v)",
			len(r.tuples), w.describeTuples(r.tuples), len(want), w.describeTuples(want), r.err)
	}
	return nil
}

func (w *world) readGetsNone(which string) error { return w.readGetsCount(which, 0) }

func (w *world) readGetsCount(which string, n int) error {
	r, err := w.read(which)
	if err != nil {
		return err
	}
	if len(r.tuples) != n {
		return fmt.Errorf("the read got %d tuples, want %d (read error: %v)", len(r.tuples), n, r.err)
	}
	return nil
}

func (w *world) readNoError(which string) error {
	r, err := w.read(which)
	if err != nil {
		return err
	}
	if r.err != nil {
		return fmt.Errorf("want no error from the read, got: %w", r.err)
	}
	return nil
}

func (w *world) readFails(which string) error {
	r, err := w.read(which)
	if err != nil {
		return err
	}
	if r.err == nil {
		return fmt.Errorf("want the read to fail; it got %d tuples and no error", len(r.tuples))
	}
	return nil
}

func (w *world) feedbackServed(ctx context.Context, n int) error {
	return w.counter(ctx, 0, "served feedback connections:", func(s mockapns.Stats) uint64 { return s.FeedbackConnections }, uint64(n))
}
