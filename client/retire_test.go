package client_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// lateRejection installs faults that make the gateway refuse the 10th
// notification it reads, but only after stalling for delay (longer than
// the client's error window).
// It returns the delay's fault id.
func (e *env) lateRejection(delay time.Duration) int {
	id, err := e.srv.AddFault(mockapns.Delay{Duration: delay, When: mockapns.Trigger{Nth: 1}})
	Expect(err).NotTo(HaveOccurred())
	_, err = e.srv.AddFault(mockapns.Reject{Status: 8, When: mockapns.Trigger{Nth: 10}})
	Expect(err).NotTo(HaveOccurred())
	return id
}

// fired returns how often the fault with id fired.
func (e *env) fired(id int) int {
	for _, f := range e.srv.Faults() {
		if f.ID == id {
			return f.Fired
		}
	}
	return 0
}

// expectLateRejection checks that late holds exactly the mock's one
// rejection among all, with every token sent after it to send again.
func (e *env) expectLateRejection(late []*client.Result, all []string) {
	rejected := e.srv.Notifications(mockapns.Filter{Status: mockapns.Rejected})
	Expect(rejected).To(HaveLen(1))
	bad := hex.EncodeToString(rejected[0].Token)
	idx := -1
	for i, t := range all {
		if t == bad {
			idx = i
		}
	}
	Expect(idx).To(BeNumerically(">=", 0), "the rejected token is not one of the batch")

	Expect(late).To(HaveLen(1))
	Expect(late[0].Failed).To(ConsistOf(client.Failure{Token: bad, Outcome: wire.Status(8), ID: rejected[0].ID, Late: true}))
	var resend []string
	for _, m := range late[0].Retries() {
		resend = append(resend, m.Tokens...)
	}
	Expect(resend).To(Equal(all[idx+1:]))
}

var _ = Describe("An error response arriving between a Send's error wait and its check-in", func() {
	It("is kept for Late, not dropped with the dead connection", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 20 * time.Millisecond}, mockapns.Config{})
		client.HoldCheckinUntilDead(ctx, e.sess)
		e.lateRejection(200 * time.Millisecond)
		all := tokens(1, 20)
		r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: all, Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(20)) // presumed: the answer came after the window
		Expect(r.Failed).To(BeEmpty())
		Expect(e.sess.Stats().Open).To(BeZero()) // the dead connection was dropped at check-in
		e.expectLateRejection(e.sess.Late(), all)
		Expect(e.sess.Late()).To(BeEmpty())
	}, SpecTimeout(time.Minute))
})

var _ = Describe("Retiring connections gracefully", func() {
	// The gateway answers the last batch only after the client's error
	// window: the answer is late, and only a graceful close catches it.
	const errorWait, delay = 20 * time.Millisecond, 300 * time.Millisecond

	sendPresumed := func(ctx context.Context, e *env, all []string) {
		r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: all, Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(len(all))) // presumed: the answer comes after the window
		Expect(r.Failed).To(BeEmpty())
	}

	It("Shutdown waits for the gateway's answer to close_notify and keeps a late rejection for Late", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: errorWait}, mockapns.Config{})
		e.lateRejection(delay)
		all := tokens(1, 20)
		sendPresumed(ctx, e, all)
		Expect(e.sess.Shutdown(ctx)).To(Succeed())
		Expect(e.sess.Stats().Open).To(BeZero())
		Eventually(func() int64 { return e.srv.Stats().ConnectionsOpen }).WithContext(ctx).Should(BeZero())
		e.expectLateRejection(e.sess.Late(), all)
		Expect(e.sess.Late()).To(BeEmpty())
	}, SpecTimeout(time.Minute))

	It("Outdate retires in the background and keeps a late rejection for Late", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: errorWait}, mockapns.Config{})
		e.lateRejection(delay)
		all := tokens(1, 20)
		sendPresumed(ctx, e, all)
		Expect(e.sess.Outdate(0)).To(Equal(1))
		Expect(e.sess.Stats().Idle).To(BeZero())
		var late []*client.Result
		Eventually(func() []*client.Result {
			late = append(late, e.sess.Late()...)
			return late
		}).WithContext(ctx).Should(HaveLen(1))
		e.expectLateRejection(late, all)
		Eventually(func() int64 { return e.srv.Stats().ConnectionsOpen }).WithContext(ctx).Should(BeZero())
		Eventually(func() int { return e.sess.Stats().Open }).WithContext(ctx).Should(BeZero())
	}, SpecTimeout(time.Minute))

	It("Outdate's late rejection is reported by the next Send on the key", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: errorWait}, mockapns.Config{})
		e.lateRejection(delay)
		all := tokens(1, 20)
		sendPresumed(ctx, e, all)
		Expect(e.sess.Outdate(0)).To(Equal(1))
		Eventually(func() int { return e.sess.Stats().Open }).WithContext(ctx).Should(BeZero()) // retired
		next := tokens(1001, 5)
		r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: next, Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(len(next)))
		rejected := e.srv.Notifications(mockapns.Filter{Status: mockapns.Rejected})
		Expect(rejected).To(HaveLen(1))
		bad := hex.EncodeToString(rejected[0].Token)
		Expect(r.Failed).To(ConsistOf(client.Failure{Token: bad, Outcome: wire.Status(8), ID: rejected[0].ID, Late: true}))
		Expect(r.Retry().Tokens).To(Equal(all[10:])) // same content: in this Send's Retry
		Expect(r.Revoked).To(Equal(11))
		Expect(e.sess.Late()).To(BeEmpty())
	}, SpecTimeout(time.Minute))

	It("Shutdown retires a connection busy at the time when its Send ends, keeping its late rejection", func(ctx SpecContext) {
		// The Send is still in its error window when Shutdown starts.
		e := newEnv(client.Config{ErrorWait: 500 * time.Millisecond}, mockapns.Config{})
		delayID := e.lateRejection(2 * time.Second)
		all := tokens(1, 20)
		type outcome struct {
			r   *client.Result
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: all, Alert: "x"})
			done <- outcome{r, err}
		}()
		// The gateway has the batch: the Send is writing or waiting.
		Eventually(func() int { return e.fired(delayID) }).WithContext(ctx).Should(Equal(1))
		Expect(e.sess.Shutdown(ctx)).To(Succeed())
		var got outcome
		Eventually(done).WithContext(ctx).Should(Receive(&got))
		Expect(got.err).NotTo(HaveOccurred())
		Expect(got.r.Accepted).To(Equal(len(all)))
		e.expectLateRejection(e.sess.Late(), all)
	}, SpecTimeout(time.Minute))

	It("an orderly close confirms the last batch: nothing late", func(ctx SpecContext) {
		var buf bytes.Buffer
		var mu sync.Mutex
		h := slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug})
		e := newEnv(client.Config{ErrorWait: errorWait, Logger: slog.New(h)}, mockapns.Config{})
		all := tokens(1, 20)
		sendPresumed(ctx, e, all)
		Expect(e.sess.Shutdown(ctx)).To(Succeed())
		Expect(e.sess.Late()).To(BeEmpty())
		// The mock closes in order only after judging everything it read.
		Expect(e.srv.Stats().Accepted).To(Equal(uint64(len(all))))
		mu.Lock()
		defer mu.Unlock()
		Expect(buf.String()).To(ContainSubstring("orderly close confirms the last batch"))
	}, SpecTimeout(time.Minute))

	It("closes hard when the Shutdown ctx ends before the gateway answers", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: errorWait}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.Delay{Duration: time.Minute, When: mockapns.Trigger{Nth: 1}})
		Expect(err).NotTo(HaveOccurred())
		sendPresumed(ctx, e, tokens(1, 20))
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		Expect(e.sess.Shutdown(short)).To(MatchError(context.DeadlineExceeded))
		Expect(e.sess.Stats().Open).To(BeZero()) // closed hard before Shutdown returned
		Expect(e.sess.Late()).To(BeEmpty())      // the last batch stays presumed accepted
	}, SpecTimeout(time.Minute))
})
