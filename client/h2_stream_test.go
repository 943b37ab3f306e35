package client_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// h2Outcomes collects a stream's deliveries by token.
type h2Outcomes struct {
	mu sync.Mutex
	by map[string][]client.Delivery
}

func (o *h2Outcomes) add(d client.Delivery) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.by == nil {
		o.by = map[string][]client.Delivery{}
	}
	o.by[d.Token] = append(o.by[d.Token], d)
}

// one returns the single delivery of tok (and fails if it had more).
func (o *h2Outcomes) one(tok string) client.Delivery {
	GinkgoHelper()
	o.mu.Lock()
	defer o.mu.Unlock()
	Expect(o.by[tok]).To(HaveLen(1), "token %s: one outcome", tok)
	return o.by[tok][0]
}

func (o *h2Outcomes) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, ds := range o.by {
		n += len(ds)
	}
	return n
}

// h2Stream opens a stream of an alert on e's client, its h2Outcomes in o.
func (e *h2Env) stream(o *h2Outcomes, opt client.StreamOptions) *client.Stream {
	GinkgoHelper()
	opt.OnOutcome = o.add
	st, err := e.c.Stream(&client.Message{Alert: "x", Topic: h2Topic}, opt)
	Expect(err).NotTo(HaveOccurred())
	return st
}

func pushAll(ctx context.Context, st *client.Stream, toks []string) {
	GinkgoHelper()
	for i, t := range toks {
		Expect(st.Push(ctx, t, i)).To(Succeed())
	}
}

var _ = Describe("HTTP2Client.Stream", func() {
	It("delivers every pushed token once, each outcome reported once with its tag", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{MaxInFlight: 64}, mockapns.Config{})
		var o h2Outcomes
		st := e.stream(&o, client.StreamOptions{})
		toks := tokens(1, 500)
		pushAll(ctx, st, toks)
		Expect(st.Close(ctx)).To(Succeed())
		Expect(o.count()).To(Equal(500))
		for i, t := range toks {
			d := o.one(t)
			Expect(d.Kind).To(Equal(client.Delivered))
			Expect(d.Tag).To(Equal(i))
			Expect(d.Response).NotTo(BeNil())
			Expect(d.Response.HTTPStatus).To(Equal(200))
			Expect(d.Response.APNsID).NotTo(BeEmpty())
			Expect(d.Uncertain).To(BeFalse())
		}
		acc, ref := e.h2Counts()
		Expect(acc).To(Equal(ones(toks)))
		Expect(ref).To(BeEmpty())
		s := st.Stats()
		Expect(s.Pushed).To(Equal(int64(500)))
		Expect(s.Written).To(Equal(int64(500)))
		Expect(s.Delivered).To(Equal(int64(500)))
		Expect(st.Push(ctx, toks[0], nil)).To(MatchError(client.ErrStreamClosed))
	})

	It("queues with PushMany as Push does, stopping at a bad token", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{MaxInFlight: 64}, mockapns.Config{})
		var o h2Outcomes
		st := e.stream(&o, client.StreamOptions{})
		toks := tokens(1, 200)
		tags := make([]any, len(toks))
		for i := range tags {
			tags[i] = i
		}
		n, err := st.PushMany(ctx, append(append([]string(nil), toks[:100]...), "zz"), append(append([]any(nil), tags[:100]...), -1))
		Expect(n).To(Equal(100))
		Expect(err).To(MatchError(client.ErrBadToken))
		n, err = st.PushMany(ctx, toks[100:], tags[100:])
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(100))
		Expect(st.Close(ctx)).To(Succeed())
		for i, t := range toks {
			d := o.one(t)
			Expect(d.Kind).To(Equal(client.Delivered))
			Expect(d.Tag).To(Equal(i))
		}
		acc, _ := e.h2Counts()
		Expect(acc).To(Equal(ones(toks)))
	})

	It("reports refusals typed, retries only what Apple says to retry, and keeps the 410 timestamp", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{Retry: fastRetry}, mockapns.Config{})
		toks := tokens(1, 4)
		_, err := e.srv.AddFault(mockapns.Reject{Reason: apns.ReasonBadDeviceToken,
			When: mockapns.Trigger{Token: apns.MustParseToken(toks[0]), Times: mockapns.Always}})
		Expect(err).NotTo(HaveOccurred())
		_, err = e.srv.AddFault(mockapns.Reject{Reason: apns.ReasonTooManyRequests,
			When: mockapns.Trigger{Token: apns.MustParseToken(toks[2])}})
		Expect(err).NotTo(HaveOccurred())
		gone := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
		Expect(e.srv.SetDevice(mockapns.Device{Token: apns.MustParseToken(toks[1]), UnregisteredAt: gone})).To(Succeed())
		var o h2Outcomes
		st := e.stream(&o, client.StreamOptions{})
		pushAll(ctx, st, toks)
		Expect(st.Flush(ctx)).To(Succeed())

		bad := o.one(toks[0])
		Expect(bad.Kind).To(Equal(client.Refused))
		Expect(errors.Is(bad.Outcome, apns.ReasonBadDeviceToken)).To(BeTrue())
		Expect(bad.Response.HTTPStatus).To(Equal(400))
		Expect(bad.Attempts).To(Equal(1), "never retried")
		unreg := o.one(toks[1])
		Expect(unreg.Kind).To(Equal(client.Refused))
		Expect(unreg.Outcome).To(Equal(apns.ReasonUnregistered))
		Expect(unreg.Timestamp.Equal(gone)).To(BeTrue(), "%v", unreg.Timestamp)
		busy := o.one(toks[2])
		Expect(busy.Kind).To(Equal(client.Delivered), "429 retried after a back-off")
		Expect(busy.Attempts).To(Equal(2))
		Expect(o.one(toks[3]).Kind).To(Equal(client.Delivered))
		Expect(st.Close(ctx)).To(Succeed())
		_, ref := e.h2Counts()
		Expect(ref).To(Equal(map[string]int{toks[0]: 1, toks[1]: 1, toks[2]: 1}))
	})

	It("retries a refusal to retry as often as for any token, whatever connection losses came first", func(ctx SpecContext) {
		// Found by the chaos soak: two requests lost with their
		// connections used up the retries of the 503 that followed, and
		// the token was reported refused without one retry.
		e := newH2Env(client.HTTP2Config{Retry: fastRetry}, mockapns.Config{})
		toks := tokens(1, 1)
		_, err := e.srv.AddFault(mockapns.Disconnect{When: mockapns.Trigger{Token: apns.MustParseToken(toks[0]), Times: mockapns.Times(2)}})
		Expect(err).NotTo(HaveOccurred())
		_, err = e.srv.AddFault(mockapns.Reject{Reason: apns.ReasonServiceUnavailable,
			When: mockapns.Trigger{Token: apns.MustParseToken(toks[0]), Times: mockapns.Times(2)}})
		Expect(err).NotTo(HaveOccurred())
		var o h2Outcomes
		st := e.stream(&o, client.StreamOptions{})
		pushAll(ctx, st, toks)
		Expect(st.Close(ctx)).To(Succeed())
		d := o.one(toks[0])
		Expect(d.Kind).To(Equal(client.Delivered), "%v %v", d.Outcome, d.Err)
		Expect(d.Attempts).To(Equal(5), "two lost, two refused with 503, one delivered")
		Expect(d.Uncertain).To(BeTrue())
		acc, ref := e.h2Counts()
		Expect(acc).To(Equal(ones(toks)))
		Expect(ref).To(Equal(map[string]int{toks[0]: 2}))
	})

	It("loses and duplicates nothing across GOAWAYs", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{Retry: fastRetry}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.GoAway{Reason: apns.ReasonShutdown, When: mockapns.Trigger{Nth: 40, Times: mockapns.Times(3)}})
		Expect(err).NotTo(HaveOccurred())
		var o h2Outcomes
		st := e.stream(&o, client.StreamOptions{})
		toks := tokens(1, 300)
		pushAll(ctx, st, toks)
		Expect(st.Close(ctx)).To(Succeed())
		for _, t := range toks {
			Expect(o.one(t).Kind).To(Equal(client.Delivered))
		}
		acc, _ := e.h2Counts()
		Expect(acc).To(Equal(ones(toks)))
		Expect(e.srv.Stats().HTTP2.GoAways).To(BeNumerically(">=", 3))
	})

	It("resends what a dropped connection took, duplicates only among the uncertain", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{Retry: fastRetry}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.Disconnect{When: mockapns.Trigger{Protocol: apns.HTTP2, Nth: 25, Times: mockapns.Times(2)}})
		Expect(err).NotTo(HaveOccurred())
		var o h2Outcomes
		var resent int
		st := e.stream(&o, client.StreamOptions{OnResend: func(n, _ int) { resent += n }})
		toks := tokens(1, 200)
		pushAll(ctx, st, toks)
		Expect(st.Close(ctx)).To(Succeed())
		acc, _ := e.h2Counts()
		for _, t := range toks {
			d := o.one(t)
			Expect(d.Kind).To(Equal(client.Delivered))
			Expect(acc[t]).To(BeNumerically(">=", 1), "token %s lost", t)
			if acc[t] > 1 {
				Expect(d.Uncertain).To(BeTrue(), "token %s delivered twice without being reported uncertain", t)
			}
		}
		Expect(resent).To(BeNumerically(">", 0))
		Expect(st.Stats().Resent).To(BeNumerically(">=", int64(resent)))
	})

	It("bounds what is in flight: Push blocks at MaxInFlight until ctx ends", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{MaxInFlight: 3}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.Delay{Duration: 30 * time.Minute, When: mockapns.Trigger{Times: mockapns.Always}})
		Expect(err).NotTo(HaveOccurred())
		var o h2Outcomes
		st := e.stream(&o, client.StreamOptions{})
		toks := tokens(1, 4)
		pushAll(ctx, st, toks[:3])
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		Expect(st.Push(short, toks[3], nil)).To(MatchError(context.DeadlineExceeded))

		closeCtx, cancelClose := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancelClose()
		Expect(st.Close(closeCtx)).To(MatchError(context.DeadlineExceeded))
		for _, t := range toks[:3] {
			d := o.one(t)
			Expect(d.Kind).To(Equal(client.Unsent))
			Expect(d.Err).To(MatchError(context.DeadlineExceeded))
			Expect(d.Uncertain).To(BeTrue(), "written: it may have been delivered")
		}
		Expect(st.Stats().Pushed).To(Equal(int64(3)))
	})

	It("stops with ErrConnect when no connection can be opened, reporting what it held", func(ctx SpecContext) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		addr := ln.Addr().String()
		Expect(ln.Close()).To(Succeed())
		e := newH2Env(client.HTTP2Config{}, mockapns.Config{})
		c, err := client.NewHTTP2Client(addr, client.HTTP2Config{Signer: e.signer, RootCAs: e.srv.RootCAs()})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		var o h2Outcomes
		st, err := c.Stream(&client.Message{Alert: "x", Topic: h2Topic}, client.StreamOptions{OnOutcome: o.add})
		Expect(err).NotTo(HaveOccurred())
		toks := tokens(1, 2)
		Expect(st.Push(ctx, toks[0], nil)).To(Succeed())
		Expect(st.Flush(ctx)).To(MatchError(client.ErrConnect))
		Expect(o.one(toks[0]).Kind).To(Equal(client.Unsent))
		Expect(o.one(toks[0]).Err).To(MatchError(client.ErrConnect))
		Expect(st.Push(ctx, toks[1], nil)).To(MatchError(client.ErrConnect))
		Expect(st.Close(ctx)).To(MatchError(client.ErrConnect))
	})

	It("refuses bad input without queueing anything", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{}, mockapns.Config{})
		_, err := e.c.Stream(nil, client.StreamOptions{})
		Expect(err).To(MatchError(client.ErrBadPayload))
		_, err = e.c.Stream(&client.Message{Alert: "x"}, client.StreamOptions{MaxAttempts: -1})
		Expect(err).To(MatchError(client.ErrBadConfig))
		var o h2Outcomes
		st := e.stream(&o, client.StreamOptions{})
		var te *client.TokenError
		Expect(errors.As(st.Push(ctx, "not hex", nil), &te)).To(BeTrue())
		Expect(st.Close(ctx)).To(Succeed())
		Expect(st.Stats().Pushed).To(BeZero())
		Expect(e.srv.Stats().HTTP2.Requests).To(BeZero())
	})
})
