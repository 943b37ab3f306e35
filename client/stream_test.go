package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// outcomes collects a stream's deliveries by tag (the token's position).
type outcomes struct {
	mu   sync.Mutex
	by   map[int]client.Delivery
	dups []int
	errs []error
}

func newOutcomes() *outcomes { return &outcomes{by: map[int]client.Delivery{}} }

func (o *outcomes) add(d client.Delivery) {
	o.mu.Lock()
	defer o.mu.Unlock()
	i := d.Tag.(int)
	if _, ok := o.by[i]; ok {
		o.dups = append(o.dups, i)
	}
	o.by[i] = d
}

func (o *outcomes) addErr(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.errs = append(o.errs, err)
}

// stream pushes toks on a stream of e's session with opt and closes it.
func (e *env) stream(ctx context.Context, opt client.StreamOptions, toks []string) *outcomes {
	out := newOutcomes()
	opt.OnOutcome, opt.OnError = out.add, out.addErr
	st, err := e.sess.Stream(e.addr, e.cert, &client.Message{Alert: "hello"}, opt)
	Expect(err).NotTo(HaveOccurred())
	for i, t := range toks {
		Expect(st.Push(ctx, t, i)).To(Succeed())
	}
	Expect(st.Close(ctx)).To(Succeed())
	out.mu.Lock()
	defer out.mu.Unlock()
	Expect(out.dups).To(BeEmpty(), "outcomes reported twice")
	Expect(out.by).To(HaveLen(len(toks)), "every token has its outcome")
	return out
}

// checkJournal checks the mock's journal against the outcomes: every
// delivered token accepted, exactly once unless reported uncertain; every
// refused one never accepted.
func (e *env) checkJournal(ctx context.Context, toks []string, out *outcomes, exactlyOnce bool) {
	delivered := 0
	for _, d := range out.by {
		if d.Kind == client.Delivered {
			delivered++
		}
	}
	e.waitAccepted(ctx, delivered)
	counts := e.acceptedCounts()
	for i, t := range toks {
		d := out.by[i]
		Expect(d.Token).To(Equal(t))
		switch d.Kind {
		case client.Delivered:
			Expect(counts[t]).To(BeNumerically(">=", 1), "token %d delivered but not accepted", i)
			if exactlyOnce || !d.Uncertain {
				Expect(counts[t]).To(Equal(1), "token %d accepted %d times (uncertain %v)", i, counts[t], d.Uncertain)
			}
		case client.Refused:
			if exactlyOnce || !d.Uncertain {
				Expect(counts[t]).To(BeZero(), "refused token %d accepted", i)
			}
		default:
			Fail(fmt.Sprintf("token %d unsent: %v", i, d.Err))
		}
	}
}

var _ = Describe("Stream", func() {
	const n = 3000

	It("delivers every token once, confirmed by the sentinel, on several connections", func(ctx SpecContext) {
		e := newEnv(client.Config{PoolSize: 3}, mockapns.Config{})
		toks := tokens(1, n)
		out := e.stream(ctx, client.StreamOptions{Window: 500}, toks)
		e.checkJournal(ctx, toks, out, true)
		for _, d := range out.by {
			Expect(d.Kind).To(Equal(client.Delivered))
			Expect(d.Presumed).To(BeFalse())
			Expect(d.Attempts).To(Equal(1))
		}
		Expect(e.srv.Stats().ConnectionsTotal).To(BeNumerically(">=", 3))
		Expect(e.sess.Stats().Open).To(BeZero(), "the sentinel ends every connection")
	})

	It("falls back to the error window when the gateway accepts the sentinel", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 50 * time.Millisecond, PoolSize: 2}, mockapns.Config{NoValidation: true})
		toks := tokens(1, 2000)
		out := e.stream(ctx, client.StreamOptions{SentinelWait: 100 * time.Millisecond, Window: 500}, toks)
		e.checkJournal(ctx, toks, out, true)
		for _, d := range out.by {
			Expect(d.Presumed).To(BeTrue())
		}
		// The connections whose sentinel went unanswered are retired, not
		// kept: a detached connection is never reused.
		Eventually(func() int { return e.sess.Stats().Open }).WithContext(ctx).WithTimeout(10 * time.Second).Should(BeZero())
		Expect(e.sess.Stats().Idle).To(BeZero())
	})

	It("confirms by the error window and keeps its connections", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 20 * time.Millisecond, PoolSize: 2}, mockapns.Config{})
		toks := tokens(1, n)
		out := e.stream(ctx, client.StreamOptions{Confirm: client.ConfirmErrorWait, Window: 700}, toks)
		e.checkJournal(ctx, toks, out, true)
		Expect(e.sess.Stats().Idle).To(Equal(2))
	})

	It("confirms by close", func(ctx SpecContext) {
		e := newEnv(client.Config{}, mockapns.Config{})
		toks := tokens(1, n)
		out := e.stream(ctx, client.StreamOptions{Confirm: client.ConfirmByClose, Window: 1000}, toks)
		e.checkJournal(ctx, toks, out, true)
	})

	It("refuses a bad token in Push and nothing is queued", func(ctx SpecContext) {
		e := newEnv(client.Config{}, mockapns.Config{})
		st, err := e.sess.Stream(e.addr, e.cert, &client.Message{Alert: "x"}, client.StreamOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Push(ctx, "xyz", nil)).To(MatchError(client.ErrBadToken))
		Expect(st.Close(ctx)).To(Succeed())
		Expect(st.Stats().Pushed).To(BeZero())
		Expect(st.Push(ctx, tokens(1, 1)[0], nil)).To(MatchError(client.ErrStreamClosed))
	})

	// stalled opens a stream of window 100 on one connection to a mock
	// that stalls on its first notification for a minute: the windows fill.
	stalled := func() (*env, *client.Stream) {
		GinkgoHelper()
		e := newEnv(client.Config{PoolSize: 1}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.Delay{Duration: time.Minute, When: mockapns.Trigger{Nth: 1}})
		Expect(err).NotTo(HaveOccurred())
		st, err := e.sess.Stream(e.addr, e.cert, &client.Message{Alert: "x"}, client.StreamOptions{Window: 100, SentinelWait: time.Minute})
		Expect(err).NotTo(HaveOccurred())
		return e, st
	}

	It("applies backpressure: Push blocks while the windows are full", func(ctx SpecContext) {
		e, st := stalled()
		toks := tokens(1, 5000)
		pushed := 0
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		for _, t := range toks {
			if st.Push(pctx, t, nil) != nil {
				break
			}
			pushed++
		}
		Expect(pushed).To(BeNumerically("<", 5000))
		Expect(pushed).To(BeNumerically("<=", 2*100+1024)) // a window written, one confirmed, a chunk queued
		cctx, ccancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer ccancel()
		Expect(st.Close(cctx)).To(MatchError(context.DeadlineExceeded))
		// The connection after the stalled one may have been answered
		// (its window confirmed) before Close gave up: those are delivered.
		s := st.Stats()
		Expect(s.Unsent + s.Delivered).To(Equal(int64(pushed)))
		Expect(s.Unsent).To(BeNumerically(">=", 100), "the stalled connection's window")
		Expect(int(s.Delivered)).To(BeNumerically("<=", len(e.acceptedCounts())))
	})

	It("queues with PushMany what Push would, in order, stopping at a bad token", func(ctx SpecContext) {
		e := newEnv(client.Config{PoolSize: 2}, mockapns.Config{})
		out := newOutcomes()
		st, err := e.sess.Stream(e.addr, e.cert, &client.Message{Alert: "x"}, client.StreamOptions{Window: 700, OnOutcome: out.add})
		Expect(err).NotTo(HaveOccurred())
		toks := tokens(1, 1000)
		tags := make([]any, len(toks))
		for i := range tags {
			tags[i] = i
		}
		_, err = st.PushMany(ctx, toks, tags[:3])
		Expect(err).To(MatchError(client.ErrTagCount))
		bad := append(append(append([]string(nil), toks[:500]...), "00zz"), toks[500:]...)
		badTags := append(append(append([]any(nil), tags[:500]...), -1), tags[500:]...)
		n, err := st.PushMany(ctx, bad, badTags)
		Expect(n).To(Equal(500))
		var te *client.TokenError
		Expect(errors.As(err, &te)).To(BeTrue())
		Expect(te.Token).To(Equal("00zz"))
		n, err = st.PushMany(ctx, toks[500:], tags[500:])
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(500))
		Expect(st.Close(ctx)).To(Succeed())
		Expect(out.by).To(HaveLen(len(toks)))
		e.checkJournal(ctx, toks, out, true)
		Expect(st.Stats().Pushed).To(Equal(int64(len(toks))))
	})

	It("stops PushMany when ctx ends while the stream is full, counting what it queued", func(ctx SpecContext) {
		_, st := stalled()
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		n, err := st.PushMany(pctx, tokens(1, 5000), nil)
		Expect(err).To(MatchError(context.DeadlineExceeded))
		Expect(n).To(BeNumerically("<=", 2*100+1024))
		Expect(st.Stats().Pushed).To(Equal(int64(n)))
		cctx, ccancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer ccancel()
		Expect(st.Close(cctx)).To(MatchError(context.DeadlineExceeded))
		s := st.Stats()
		Expect(s.Unsent + s.Delivered).To(Equal(int64(n)))
	})

	It("writes on the next connection while the last one waits for its sentinel's answer, beyond PoolSize", func(ctx SpecContext) {
		e := newEnv(client.Config{PoolSize: 1}, mockapns.Config{})
		// The gateway stalls on connection 1 before its 500th notification,
		// so the answer to that connection's sentinel waits.
		_, err := e.srv.AddFault(mockapns.Delay{Duration: 1500 * time.Millisecond, When: mockapns.Trigger{Nth: 500}})
		Expect(err).NotTo(HaveOccurred())
		out := newOutcomes()
		st, err := e.sess.Stream(e.addr, e.cert, &client.Message{Alert: "x"}, client.StreamOptions{Window: 1000, OnOutcome: out.add})
		Expect(err).NotTo(HaveOccurred())
		toks := tokens(1, 3000) // within 2 × Window + a chunk: Push does not block
		for i, t := range toks {
			Expect(st.Push(ctx, t, i)).To(Succeed())
		}
		flushed := make(chan error, 1)
		go func() { flushed <- st.Flush(ctx) }()
		onConn2 := func() int {
			n := 0
			for _, en := range e.srv.Notifications(mockapns.Filter{Status: mockapns.Accepted}) {
				if en.Conn == 2 {
					n++
				}
			}
			return n
		}
		// Connection 1 took one window (at least 1,000), connection 2 the rest.
		Eventually(onConn2).WithContext(ctx).WithTimeout(10*time.Second).Should(BeNumerically(">", 0), "accepted on connection 2 during the stall")
		Expect(e.sess.Stats().Open).To(Equal(2), "the connection waiting for its answer, and the next")
		out.mu.Lock()
		Expect(out.by).To(BeEmpty(), "nothing confirmed before connection 1 answers")
		out.mu.Unlock()
		Eventually(flushed).WithTimeout(10 * time.Second).Should(Receive(BeNil()))
		Expect(st.Close(ctx)).To(Succeed())
		Expect(out.by).To(HaveLen(len(toks)))
		e.checkJournal(ctx, toks, out, true)
		Expect(onConn2()).To(BeNumerically("<=", 2000))
		Eventually(func() int { return e.sess.Stats().Open }).WithContext(ctx).WithTimeout(10 * time.Second).Should(BeZero())
	})

	type faultCase struct {
		fault       func(pos int) mockapns.Fault
		failStatus  wire.Status
		exactlyOnce bool
	}
	reject := func(st wire.Status) func(int) mockapns.Fault {
		return func(pos int) mockapns.Fault { return mockapns.Reject{Status: st, When: mockapns.Trigger{Nth: pos}} }
	}
	cases := map[string]faultCase{
		"invalid token (8)":      {fault: reject(8), failStatus: 8, exactlyOnce: true},
		"invalid token size (5)": {fault: reject(5), failStatus: 5, exactlyOnce: true},
		"missing token (2)":      {fault: reject(2), failStatus: 2, exactlyOnce: true},
		"processing error (1)":   {fault: reject(1), exactlyOnce: true},
		"unknown (255)":          {fault: reject(255), exactlyOnce: true},
		"protocol error (128)":   {fault: reject(128), failStatus: 128, exactlyOnce: true},
		"shutdown (10)": {fault: func(pos int) mockapns.Fault {
			return mockapns.Shutdown{When: mockapns.Trigger{Nth: pos}}
		}, exactlyOnce: true},
		"silent disconnect": {fault: func(pos int) mockapns.Fault {
			return mockapns.Disconnect{When: mockapns.Trigger{Nth: pos}}
		}},
		"delay": {fault: func(pos int) mockapns.Fault {
			return mockapns.Delay{Duration: 100 * time.Millisecond, When: mockapns.Trigger{Nth: pos}}
		}, exactlyOnce: true},
	}
	for name, fc := range cases {
		for _, pos := range []int{1, 1500, 3000} {
			for _, confirm := range []client.Confirmation{client.ConfirmSentinel, client.ConfirmErrorWait} {
				It(fmt.Sprintf("settles every token after %s at position %d (%s)", name, pos, confirm), func(ctx SpecContext) {
					e := newEnv(client.Config{ErrorWait: time.Second, PoolSize: 2}, mockapns.Config{})
					_, err := e.srv.AddFault(fc.fault(pos))
					Expect(err).NotTo(HaveOccurred())
					toks := tokens(1, n)
					out := e.stream(ctx, client.StreamOptions{Window: 700, Confirm: confirm}, toks)
					e.checkJournal(ctx, toks, out, fc.exactlyOnce)
					refused := 0
					for _, d := range out.by {
						if d.Kind == client.Refused {
							refused++
							Expect(d.Outcome).To(Equal(apns.Outcome(fc.failStatus)))
						}
					}
					if fc.failStatus != 0 {
						Expect(refused).To(Equal(1))
					} else {
						Expect(refused).To(BeZero())
					}
				})
			}
		}
	}

	It("refuses bad tokens by token and never delivers them", func(ctx SpecContext) {
		e := newEnv(client.Config{PoolSize: 2}, mockapns.Config{})
		toks := tokens(1, n)
		bad := map[string]bool{}
		for _, i := range []int{0, 17, 999, 1000, 2999} {
			bad[toks[i]] = true
			_, err := e.srv.AddFault(mockapns.Reject{Status: 8, When: mockapns.Trigger{Token: apns.MustParseToken(toks[i]), Times: mockapns.Always}})
			Expect(err).NotTo(HaveOccurred())
		}
		out := e.stream(ctx, client.StreamOptions{Window: 600}, toks)
		e.checkJournal(ctx, toks, out, true)
		for i, t := range toks {
			Expect(out.by[i].Kind == client.Refused).To(Equal(bad[t]), "token %d", i)
		}
	})

	It("survives random refusals of every kind, disconnects mid-frame and shutdowns", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: time.Second, PoolSize: 3}, mockapns.Config{Seed: 7})
		for _, f := range []mockapns.Fault{
			mockapns.Reject{Status: 8, When: mockapns.Trigger{Probability: 0.001, Times: mockapns.Always}},
			mockapns.Reject{Status: 1, When: mockapns.Trigger{Probability: 0.0005, Times: mockapns.Always}},
			mockapns.Shutdown{When: mockapns.Trigger{Probability: 0.0003, Times: mockapns.Always}},
			mockapns.Disconnect{When: mockapns.Trigger{Probability: 0.0003, Times: mockapns.Always}},
			mockapns.Disconnect{AfterBytes: 50_000, When: mockapns.Trigger{Times: mockapns.Times(3)}},
		} {
			_, err := e.srv.AddFault(f)
			Expect(err).NotTo(HaveOccurred())
		}
		toks := tokens(1, 20_000)
		out := e.stream(ctx, client.StreamOptions{Window: 2000, MaxAttempts: 50}, toks)
		e.checkJournal(ctx, toks, out, false)
		for _, d := range out.by {
			if d.Kind == client.Refused {
				Expect(d.Outcome).To(Equal(apns.Outcome(wire.StatusInvalidToken)))
			}
		}
	})

	It("bounds the uncertain notifications after a silent disconnect by CheckpointEvery", func(ctx SpecContext) {
		uncertainAfter := func(every int) int {
			e := newEnv(client.Config{PoolSize: 1}, mockapns.Config{})
			_, err := e.srv.AddFault(mockapns.Disconnect{When: mockapns.Trigger{Nth: 4500}})
			Expect(err).NotTo(HaveOccurred())
			toks := tokens(1, 5000)
			out := e.stream(ctx, client.StreamOptions{CheckpointEvery: every}, toks)
			e.checkJournal(ctx, toks, out, false)
			u := 0
			for _, d := range out.by {
				if d.Uncertain {
					u++
				}
			}
			return u
		}
		Expect(uncertainAfter(0)).To(BeNumerically(">=", 4000), "without checkpoints everything written is uncertain")
		Expect(uncertainAfter(1000)).To(BeNumerically("<=", 1024+1000), "at most a checkpoint's worth, rounded up to a chunk")
	})

	It("confirms a paused stream after CheckpointInterval without a Flush", func(ctx SpecContext) {
		e := newEnv(client.Config{}, mockapns.Config{})
		got := make(chan client.Delivery, 10)
		st, err := e.sess.Stream(e.addr, e.cert, &client.Message{Alert: "x"}, client.StreamOptions{
			CheckpointInterval: 50 * time.Millisecond, OnOutcome: func(d client.Delivery) { got <- d }})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { Expect(st.Close(ctx)).To(Succeed()) })
		for _, t := range tokens(1, 10) {
			Expect(st.Push(ctx, t, nil)).To(Succeed())
		}
		Expect(st.Stats().Delivered).To(BeZero(), "a partial chunk waits for more")
		for range 10 {
			var d client.Delivery
			Eventually(ctx, got).WithTimeout(10 * time.Second).Should(Receive(&d))
			Expect(d.Kind).To(Equal(client.Delivered))
		}
	})
})
