package client_test

import (
	"context"
	"encoding/hex"
	"os"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("A gateway that stops reading", func() {
	// 100,000 notifications (~10 MB) cannot all fit in the socket buffers
	// of a gateway that does not read, so the writes block.
	const many = 100_000

	stall := func(e *env) {
		_, err := e.srv.AddFault(mockapns.Delay{Duration: time.Minute, When: mockapns.Trigger{Nth: 1}})
		Expect(err).NotTo(HaveOccurred())
	}

	It("returns at ctx's deadline with the unsent tokens in Retry, and written ones Uncertain if a write was cut", func(ctx SpecContext) {
		e := newEnv(client.Config{}, mockapns.Config{})
		_, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens(0, 1), Alert: "warm-up"})
		Expect(err).NotTo(HaveOccurred())
		stall(e)
		all := tokens(1, many)
		sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		r, err := e.sess.Send(sctx, e.addr, e.cert, &client.Message{Tokens: all, Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Errors).To(ContainElement(MatchError(context.DeadlineExceeded)))
		Expect(r.Sent).To(BeNumerically("<", many))
		Expect(r.Retry().Tokens).To(Equal(all[r.Accepted:]))
		if r.Accepted == 0 { // nothing written, or a write was interrupted and the connection closed
			Expect(r.Uncertain).To(HaveLen(r.Sent))
			Expect(append([]string{}, r.Uncertain...)).To(Equal(append([]string{}, all[:r.Sent]...)))
			Expect(e.sess.Stats().Open).To(BeZero())
		} else { // stopped between writes: the written ones stay presumed accepted
			Expect(r.Accepted).To(Equal(r.Sent))
			Expect(r.Uncertain).To(BeEmpty())
		}
	})

	It("gives up after WriteTimeout the same way", func(ctx SpecContext) {
		e := newEnv(client.Config{WriteTimeout: 200 * time.Millisecond, ErrorWait: 50 * time.Millisecond}, mockapns.Config{})
		_, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens(0, 1), Alert: "warm-up"})
		Expect(err).NotTo(HaveOccurred())
		stall(e)
		all := tokens(1, many)
		r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: all, Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Errors).To(ContainElement(MatchError(client.ErrConnectionLost)))
		Expect(r.Errors).To(ContainElement(MatchError(os.ErrDeadlineExceeded)))
		Expect(r.Retry().Tokens).To(Equal(all))
		Expect(r.Uncertain).To(HaveLen(r.Sent))
		Expect(append([]string{}, r.Uncertain...)).To(Equal(append([]string{}, all[:r.Sent]...)))
	})
})

var _ = Describe("Late error responses on connections closed while idle", func() {
	It("are kept for Late after Outdate", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 20 * time.Millisecond}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.Delay{Duration: 200 * time.Millisecond, When: mockapns.Trigger{Nth: 1}})
		Expect(err).NotTo(HaveOccurred())
		_, err = e.srv.AddFault(mockapns.Reject{Status: 8, When: mockapns.Trigger{Nth: 10}})
		Expect(err).NotTo(HaveOccurred())
		all := tokens(1, 20)
		r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: all, Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(20)) // presumed
		Eventually(func() uint64 { return e.srv.Stats().Rejected }).WithContext(ctx).Should(Equal(uint64(1)))
		Eventually(func() int {
			return e.sess.Outdate(time.Hour) // closes only dead ones
		}).WithContext(ctx).Should(Equal(1))
		rejected := e.srv.Notifications(mockapns.Filter{Status: mockapns.Rejected})
		Expect(rejected).To(HaveLen(1))
		bad := hex.EncodeToString(rejected[0].Token)

		late := e.sess.Late()
		Expect(late).To(HaveLen(1))
		Expect(late[0].Failed).To(ConsistOf(client.Failure{Token: bad, Outcome: wire.Status(8), ID: rejected[0].ID, Late: true}))
		var resend []string
		for _, m := range late[0].Retries() {
			resend = append(resend, m.Tokens...)
		}
		idx := -1
		for i, t := range all {
			if t == bad {
				idx = i
			}
		}
		Expect(resend).To(Equal(all[idx+1:]))
		Expect(e.sess.Late()).To(BeEmpty())
	})
})

var _ = Describe("Closing a connection whose write was interrupted", func() {
	It("does not wait to send close_notify into a full socket buffer", func(ctx SpecContext) {
		// A ctx ending during a blocked write breaks the connection. Should
		// it end before the connection is up or before the first write
		// (preparing 100,000 tokens is slow under -race) or between two
		// writes instead, the connection stays
		// healthy and Shutdown rightly retires it gracefully, waiting for a
		// stalled gateway: such an attempt is repeated.
		for attempt := 1; ; attempt++ {
			Expect(attempt).To(BeNumerically("<=", 5), "no Send was stopped inside a write")
			e := newEnv(client.Config{}, mockapns.Config{})
			_, err := e.srv.AddFault(mockapns.Delay{Duration: time.Minute, When: mockapns.Trigger{Nth: 1}})
			Expect(err).NotTo(HaveOccurred())
			// Go gives a close_notify 5s to be written: far more than this budget.
			budget, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			sctx, scancel := context.WithTimeout(budget, 300*time.Millisecond)
			defer scancel()
			r, err := e.sess.Send(sctx, e.addr, e.cert, &client.Message{Tokens: tokens(1, 100_000), Alert: "x"})
			if err != nil { // the dial did not make it in time on a loaded machine
				Expect(err).To(MatchError(client.ErrConnect))
				continue
			}
			Expect(r.Errors).To(ContainElement(MatchError(context.DeadlineExceeded)))
			if len(r.Uncertain) == 0 { // stopped before the first write or between two
				_ = e.sess.Shutdown(budget) // nil, or the ctx error if the gateway stalled
				Expect(e.sess.Stats().Open).To(BeZero())
				continue
			}
			Expect(r.Errors).To(ContainElement(MatchError(client.ErrConnectionLost)))
			Expect(e.sess.Shutdown(budget)).To(Succeed())
			Expect(budget.Err()).NotTo(HaveOccurred(), "Send and Shutdown outlasted the budget")
			Expect(e.sess.Stats().Open).To(BeZero())
			return
		}
	}, SpecTimeout(time.Minute))
})
