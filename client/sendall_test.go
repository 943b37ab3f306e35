package client_test

import (
	"context"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("SendAll", func() {
	It("follows retries and totals the rounds", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: time.Second}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.Reject{Status: 8, When: mockapns.Trigger{Nth: 500}})
		Expect(err).NotTo(HaveOccurred())
		all := tokens(1, 1000)
		sum, err := e.sess.SendAll(ctx, e.addr, e.cert, &client.Message{Tokens: all, Alert: "x"}, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(sum.Rounds).To(Equal(2))
		Expect(sum.Failed).To(ConsistOf(HaveField("Token", all[499])))
		Expect(sum.Accepted).To(Equal(999))
		Expect(sum.Retried).To(Equal(500))
		Expect(sum.Sent).To(BeNumerically(">=", 1000)) // the first round may stop writing once the error arrives
		Expect(sum.Sent).To(BeNumerically("<=", 1500))
		Expect(sum.Unsent).To(BeNil())
		Expect(sum.Uncertain).To(BeEmpty())
		e.waitAccepted(ctx, 999)
		Expect(e.srv.Stats().Accepted).To(Equal(uint64(999)))
	})

	It("keeps what is left when the rounds run out", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 5 * time.Second}, mockapns.Config{}) // every round ends with an answer
		_, err := e.srv.AddFault(mockapns.Reject{Status: 1, When: mockapns.Trigger{Times: mockapns.Always}})
		Expect(err).NotTo(HaveOccurred())
		all := tokens(1, 3)
		sum, err := e.sess.SendAll(ctx, e.addr, e.cert, &client.Message{Tokens: all, Alert: "x"}, 2)
		Expect(err).NotTo(HaveOccurred())
		Expect(sum.Rounds).To(Equal(2))
		Expect(sum.Unsent).To(HaveLen(1))
		Expect(sum.Unsent[0].Tokens).To(Equal(all))
		Expect(sum.Errors).To(HaveLen(2))
	})

	It("returns the first Send's error", func() {
		e := newEnv(client.Config{}, mockapns.Config{})
		_, err := e.sess.SendAll(context.Background(), e.addr, e.cert, &client.Message{}, 0)
		Expect(err).To(MatchError(client.ErrNoTokens))
	})
})

var _ = Describe("Rounds", func() {
	It("gives up after MaxAttempts Sends in a row that settle nothing, yielding each Send", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 5 * time.Second}, mockapns.Config{}) // every Send ends with an answer
		_, err := e.srv.AddFault(mockapns.Reject{Status: 1, When: mockapns.Trigger{Times: mockapns.Always}})
		Expect(err).NotTo(HaveOccurred())
		all := tokens(1, 3)
		m := &client.Message{Tokens: all, Alert: "x"}
		var rounds []*client.Round
		for rd, err := range client.Rounds(ctx, e.sess, e.addr, e.cert, m, client.RetryPolicy{MaxAttempts: 3}) {
			Expect(err).NotTo(HaveOccurred())
			rounds = append(rounds, rd)
		}
		Expect(rounds).To(HaveLen(3))
		Expect(rounds[0].Message).To(BeIdenticalTo(m))
		for i, rd := range rounds {
			Expect(rd.N).To(Equal(i + 1))
			Expect(rd.Message.Tokens).To(Equal(all))
			Expect(rd.Result.Errors).To(ContainElement(MatchError(wire.StatusProcessingError)))
		}
		Expect(rounds[0].GaveUp).To(BeEmpty())
		Expect(rounds[1].GaveUp).To(BeEmpty())
		Expect(rounds[2].GaveUp).To(HaveLen(1))
		Expect(rounds[2].GaveUp[0].Tokens).To(Equal(all))
	})

	It("keeps going while each Send settles something", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 5 * time.Second}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.Reject{Status: 8, When: mockapns.Trigger{Nth: 1, Times: mockapns.Always}})
		Expect(err).NotTo(HaveOccurred())
		all := tokens(1, 4)
		n := 0
		for rd, err := range client.Rounds(ctx, e.sess, e.addr, e.cert, &client.Message{Tokens: all, Alert: "x"}, client.RetryPolicy{MaxAttempts: 1}) {
			Expect(err).NotTo(HaveOccurred())
			Expect(rd.GaveUp).To(BeEmpty())
			Expect(rd.Result.Failed).To(ConsistOf(HaveField("Token", all[n])))
			n++
		}
		Expect(n).To(Equal(4))
	})

	It("ends with ctx's error, everything still to send in Unsent", func(ctx SpecContext) {
		e := newEnv(client.Config{}, mockapns.Config{})
		done, cancel := context.WithCancel(ctx)
		cancel()
		m := &client.Message{Tokens: tokens(1, 2), Alert: "x"}
		var last *client.Round
		var lastErr error
		for rd, err := range client.Rounds(done, e.sess, e.addr, e.cert, m, client.RetryPolicy{}) {
			last, lastErr = rd, err
		}
		Expect(lastErr).To(MatchError(context.Canceled))
		Expect(last.Message).To(BeNil())
		Expect(last.Unsent).To(Equal([]*client.Message{m}))
	})
})
