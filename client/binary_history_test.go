package client_test

import (
	"slices"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("An error response naming a batch several Sends back", func() {
	// The gateway stalls before reading anything, so three Sends on the one
	// pooled connection each presume their batch accepted; then it reads the
	// first batch, refuses token 3 and discards everything after it: the
	// rest of batch 1 and the whole of batches 2 and 3. Whenever the
	// response reaches the client (during a later Send, or while the
	// connection idles until Shutdown), all of that must come back for
	// resending, not only the last batch.
	It("resends every batch written after the refused notification", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 20 * time.Millisecond, PoolSize: 1}, mockapns.Config{})
		batches := [][]string{tokens(1, 5), tokens(101, 5), tokens(201, 5)}
		bad := batches[0][2]
		raw, err := apns.ParseToken(bad)
		Expect(err).NotTo(HaveOccurred())
		_, err = e.srv.AddFault(mockapns.Delay{Duration: 300 * time.Millisecond, When: mockapns.Trigger{Nth: 1}})
		Expect(err).NotTo(HaveOccurred())
		_, err = e.srv.AddFault(mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: raw}})
		Expect(err).NotTo(HaveOccurred())

		var results []*client.Result
		for _, b := range batches {
			r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: b, Alert: "x"})
			Expect(err).NotTo(HaveOccurred())
			results = append(results, r)
		}
		_, err = e.srv.WaitNotifications(ctx, mockapns.Filter{Status: mockapns.Rejected}, 1)
		Expect(err).NotTo(HaveOccurred())
		Expect(e.sess.Shutdown(ctx)).To(Succeed()) // waits for the gateway's verdict
		results = append(results, e.sess.Late()...)

		Expect(failures(results)).To(HaveLen(1))
		Expect(failures(results)).To(HaveKey(bad))
		var resend []string
		for _, r := range results {
			for _, m := range r.Retries() {
				resend = append(resend, m.Tokens...)
			}
		}
		want := append(append(slices.Clone(batches[0][3:]), batches[1]...), batches[2]...)
		slices.Sort(resend)
		slices.Sort(want)
		Expect(resend).To(Equal(want), "exactly what the gateway discarded")

		// Sent again on a new session, every token but the bad one is
		// accepted exactly once.
		sess, err := client.NewSession(client.Config{RootCAs: e.srv.RootCAs(), ErrorWait: 20 * time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { Expect(sess.Shutdown(ctx)).To(Succeed()) })
		r, err := sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: resend, Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.NeedsRetry()).To(BeFalse())
		e.waitAccepted(ctx, 14)
		counts := e.acceptedCounts()
		Expect(counts).To(HaveLen(14))
		Expect(counts).NotTo(HaveKey(bad))
		for tok, n := range counts {
			Expect(n).To(Equal(1), tok)
		}
	}, SpecTimeout(20*time.Second))

	It("refuses a negative History", func() {
		_, err := client.NewSession(client.Config{History: -1})
		Expect(err).To(MatchError(client.ErrBadConfig))
	})
})
