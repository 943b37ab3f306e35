package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
)

// scanN hands n tokens to each and counts how many it handed over.
func scanN(n int, handed *atomic.Int64) func(each func(string) error) error {
	return func(each func(string) error) error {
		for i := range n {
			handed.Add(1)
			if err := each(tok(i)); err != nil {
				return err
			}
		}
		return nil
	}
}

// accepted is the Result of a Send that every token accepted.
func accepted(tokens []string) *client.Result {
	r := &client.Result{Sent: len(tokens), Accepted: len(tokens)}
	for _, t := range tokens {
		r.Responses = append(r.Responses, client.Response{Token: t, HTTPStatus: 200, Attempts: 1})
	}
	return r
}

var _ = Describe("h2Pusher", func() {
	It("sends the first token alone, then batches of at most -batch, several at once, each token counted once", func(ctx SpecContext) {
		var mu sync.Mutex
		var sizes []int
		var open, peak atomic.Int64
		gate := make(chan struct{}) // closed once four batches are in flight at once
		var once sync.Once
		p := &h2Pusher{batch: 100, sends: 4, send: func(_ context.Context, tokens []string) (*client.Result, error) {
			mu.Lock()
			sizes = append(sizes, len(tokens))
			first := len(sizes) == 1
			mu.Unlock()
			n := open.Add(1)
			defer open.Add(-1)
			for {
				m := peak.Load()
				if n <= m || peak.CompareAndSwap(m, n) {
					break
				}
			}
			if n == 4 {
				once.Do(func() { close(gate) })
			}
			if !first {
				<-gate
			}
			return accepted(tokens), nil
		}}
		var handed atomic.Int64
		Expect(p.run(ctx, scanN(1001, &handed))).To(Succeed())
		Expect(sizes[0]).To(Equal(1))
		total := 0
		for _, n := range sizes {
			Expect(n).To(BeNumerically("<=", 100))
			total += n
		}
		Expect(total).To(Equal(1001))
		Expect(peak.Load()).To(BeNumerically("==", 4))
		s := p.summary()
		Expect(s.Sent).To(Equal(1001))
		Expect(s.Accepted).To(Equal(1001))
		Expect(s.Failed).To(BeEmpty())
	})

	It("stops reading the list at a connect error of the first token, counting nothing", func(ctx SpecContext) {
		calls := 0
		p := &h2Pusher{batch: 100, sends: 4, send: func(_ context.Context, tokens []string) (*client.Result, error) {
			calls++
			r := &client.Result{}
			for _, t := range tokens {
				r.Errors = append(r.Errors, &client.RequestError{Token: t, Err: fmt.Errorf("%w: 127.0.0.1:1: refused", client.ErrConnect)})
			}
			return r, nil
		}}
		var handed atomic.Int64
		err := p.run(ctx, scanN(100000, &handed))
		Expect(err).To(MatchError(client.ErrConnect))
		Expect(calls).To(Equal(1))
		Expect(handed.Load()).To(Equal(int64(1)))
		s := p.summary()
		Expect(s.Sent).To(BeZero())
		Expect(s.Accepted).To(BeZero())
		Expect(s.Failed).To(BeEmpty())
	})

	It("files refusals and tokens without an answer in the list's order, counting retries and the uncertain", func(ctx SpecContext) {
		p := &h2Pusher{batch: 10, sends: 2, send: func(_ context.Context, tokens []string) (*client.Result, error) {
			if len(tokens) == 1 {
				return accepted(tokens), nil
			}
			r := &client.Result{Sent: 3, Accepted: 1}
			r.Responses = []client.Response{{Token: tokens[0], HTTPStatus: 200, Attempts: 2}, {Token: tokens[2], HTTPStatus: 400, Attempts: 1}}
			r.Failed = []client.Failure{{Token: tokens[2], Outcome: apns.ReasonBadDeviceToken, HTTPStatus: 400}}
			r.Errors = []error{&client.RequestError{Token: tokens[1], Err: client.ErrConnectionLost}}
			r.Uncertain = []string{tokens[1]}
			return r, nil
		}}
		var handed atomic.Int64
		Expect(p.run(ctx, scanN(4, &handed))).To(Succeed())
		s := p.summary()
		Expect(s.Failed).To(Equal([]failure{
			{Token: tok(2), Reason: "no response: " + client.ErrConnectionLost.Error()},
			{Token: tok(3), Status: 400, Reason: "BadDeviceToken"},
		}))
		Expect(s.Accepted).To(Equal(2))
		Expect(s.Sent).To(Equal(1 + 3 + 1))
		Expect(s.Retried).To(Equal(1))
		Expect(s.Uncertain).To(Equal(1))
	})
})
