package client_test

import (
	"errors"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// fastRetry retries quickly, so specs do not wait.
var fastRetry = client.HTTP2Retry{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}

var _ = Describe("HTTP2Client retries", func() {
	It("backs off exponentially from BaseDelay to MaxDelay, jittered between half and all", func() {
		c, err := client.NewHTTP2Client("127.0.0.1:1", client.HTTP2Config{Signer: &client.TokenSigner{},
			Retry: client.HTTP2Retry{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}})
		Expect(err).NotTo(HaveOccurred())
		low := func(int64) int64 { return 0 }
		high := func(n int64) int64 { return n - 1 }
		for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
			4: 800 * time.Millisecond, 5: time.Second, 40: time.Second} {
			Expect(client.HTTP2Backoff(c, n, low)).To(Equal(want/2), "attempt %d", n)
			Expect(client.HTTP2Backoff(c, n, high)).To(Equal(want), "attempt %d", n)
			d := client.HTTP2Backoff(c, n, nil)
			Expect(d).To(BeNumerically(">=", want/2))
			Expect(d).To(BeNumerically("<=", want))
		}
	})

	It("retries 429 and 503 with back-off until accepted, each token accepted once", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{Retry: fastRetry}, mockapns.Config{})
		toks := tokens(1, 4)
		_, err := e.srv.AddFault(mockapns.Reject{Reason: apns.ReasonTooManyRequests,
			When: mockapns.Trigger{Token: apns.MustParseToken(toks[0]), Times: mockapns.Times(2)}})
		Expect(err).NotTo(HaveOccurred())
		_, err = e.srv.AddFault(mockapns.Reject{Reason: apns.ReasonServiceUnavailable,
			When: mockapns.Trigger{Token: apns.MustParseToken(toks[1]), Times: mockapns.Times(1)}})
		Expect(err).NotTo(HaveOccurred())
		r, err := e.c.Send(ctx, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Failed).To(BeEmpty())
		Expect(r.Accepted).To(Equal(4))
		Expect(r.Responses[0].Attempts).To(Equal(3))
		Expect(r.Responses[1].Attempts).To(Equal(2))
		Expect(r.Responses[2].Attempts).To(Equal(1))
		acc, ref := e.h2Counts()
		Expect(acc).To(Equal(ones(toks)))
		Expect(ref).To(Equal(map[string]int{toks[0]: 2, toks[1]: 1}))
	})

	It("stops after MaxAttempts and reports the last refusal once", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{Retry: fastRetry}, mockapns.Config{})
		toks := tokens(1, 2)
		_, err := e.srv.AddFault(mockapns.Reject{Reason: apns.ReasonInternalServerError,
			When: mockapns.Trigger{Token: apns.MustParseToken(toks[0]), Times: mockapns.Always}})
		Expect(err).NotTo(HaveOccurred())
		r, err := e.c.Send(ctx, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Failed).To(HaveLen(1))
		Expect(r.Failed[0].Outcome).To(Equal(apns.ReasonInternalServerError))
		Expect(r.Failed[0].HTTPStatus).To(Equal(500))
		Expect(r.Responses[0].Attempts).To(Equal(4))
		_, ref := e.h2Counts()
		Expect(ref).To(Equal(map[string]int{toks[0]: 4}))
	})

	It("gives back to retry, not as accepted, a token whose retry got no response", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{Retry: fastRetry}, mockapns.Config{})
		toks := tokens(1, 1)
		t := apns.MustParseToken(toks[0])
		_, err := e.srv.AddFault(mockapns.Reject{Reason: apns.ReasonTooManyRequests, When: mockapns.Trigger{Token: t}})
		Expect(err).NotTo(HaveOccurred())
		_, err = e.srv.AddFault(mockapns.Disconnect{When: mockapns.Trigger{Token: t, Nth: 2, Protocol: apns.HTTP2}})
		Expect(err).NotTo(HaveOccurred())
		r, err := e.c.Send(ctx, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(BeZero())
		Expect(r.Failed).To(BeEmpty())
		Expect(r.Responses).To(BeEmpty(), "the 429 was not the token's final answer")
		Expect(r.Errors).To(HaveLen(1))
		Expect(r.Retry()).NotTo(BeNil())
		Expect(r.Retry().Tokens).To(Equal(toks))
	})

	DescribeTable("never retries what Apple says never to retry",
		func(ctx SpecContext, reason apns.Reason) {
			e := newH2Env(client.HTTP2Config{Retry: fastRetry}, mockapns.Config{})
			toks := tokens(1, 3)
			_, err := e.srv.AddFault(mockapns.Reject{Reason: reason,
				When: mockapns.Trigger{Token: apns.MustParseToken(toks[1]), Times: mockapns.Always}})
			Expect(err).NotTo(HaveOccurred())
			r, err := e.c.Send(ctx, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic})
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Failed).To(HaveLen(1))
			Expect(r.Failed[0].Token).To(Equal(toks[1]))
			Expect(r.Failed[0].Outcome).To(Equal(reason))
			Expect(r.Failed[0].HTTPStatus).To(Equal(reason.Status()))
			Expect(r.NeedsRetry()).To(BeFalse())
			acc, ref := e.h2Counts()
			Expect(acc).To(Equal(map[string]int{toks[0]: 1, toks[2]: 1}))
			Expect(ref).To(Equal(map[string]int{toks[1]: 1}), "refused exactly once: not retried")
		},
		Entry(nil, apns.ReasonBadDeviceToken),
		Entry(nil, apns.ReasonUnregistered),
		Entry(nil, apns.ReasonDeviceTokenNotForTopic),
		Entry(nil, apns.ReasonExpiredToken),
		Entry(nil, apns.ReasonPayloadTooLarge),
		Entry(nil, apns.ReasonForbidden),
	)

	DescribeTable("loses and duplicates nothing across GOAWAYs",
		func(ctx SpecContext, f mockapns.GoAway) {
			e := newH2Env(client.HTTP2Config{Retry: fastRetry}, mockapns.Config{})
			_, err := e.srv.AddFault(f)
			Expect(err).NotTo(HaveOccurred())
			toks := tokens(1, 200)
			r, err := e.c.Send(ctx, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic})
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Errors).To(BeEmpty())
			Expect(r.Failed).To(BeEmpty())
			Expect(r.Accepted).To(Equal(200))
			acc, ref := e.h2Counts()
			Expect(acc).To(Equal(ones(toks)))
			Expect(ref).To(BeEmpty())
			Expect(e.srv.Stats().HTTP2.GoAways).To(BeNumerically(">=", 1))
		},
		Entry("at the 50th request", mockapns.GoAway{Reason: apns.ReasonShutdown, When: mockapns.Trigger{Nth: 50}}),
		Entry("every 40th request, three times", mockapns.GoAway{Reason: apns.ReasonShutdown,
			When: mockapns.Trigger{Nth: 40, Times: mockapns.Times(3)}}),
	)

	It("follows a stream limit that falls to 1 and recovers, without hanging", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.MaxStreams{Streams: 1, RestoreAfter: 20,
			When: mockapns.Trigger{Nth: 30}})
		Expect(err).NotTo(HaveOccurred())
		toks := tokens(1, 300)
		r, err := e.c.Send(ctx, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Errors).To(BeEmpty())
		Expect(r.Accepted).To(Equal(300))
		acc, _ := e.h2Counts()
		Expect(acc).To(Equal(ones(toks)))
	})
})

var _ = Describe("HTTP2Client against a server that answers GOAWAY in a loop", func() {
	It("gives every token back to retry, with typed errors, within RequestTimeout", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{Retry: fastRetry, RequestTimeout: 1500 * time.Millisecond}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.GoAway{Reason: apns.ReasonShutdown, When: mockapns.Trigger{Times: mockapns.Always}})
		Expect(err).NotTo(HaveOccurred())
		toks := tokens(1, 5)
		r, err := e.c.Send(ctx, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(BeZero())
		Expect(r.Failed).To(BeEmpty())
		Expect(r.Errors).To(HaveLen(5))
		for _, err := range r.Errors {
			var re *client.RequestError
			Expect(errors.As(err, &re)).To(BeTrue(), "%v", err)
			// x/net/http2 re-sends GOAWAY-refused requests itself, with
			// its own back-off, until the request's deadline.
			Expect(err).To(MatchError(client.ErrRequestTimeout))
		}
		Expect(r.Retry()).NotTo(BeNil())
		Expect(r.Retry().Tokens).To(Equal(toks))
		acc, _ := e.h2Counts()
		Expect(acc).To(BeEmpty())
		Expect(e.srv.Stats().HTTP2.GoAways).To(BeNumerically(">=", 2))
	}, SpecTimeout(30*time.Second))
})
