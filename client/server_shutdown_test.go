package client_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("A push interrupted by the mock's Shutdown", func() {
	It("ends with the client's accepted count equal to the mock's journal", func(ctx SpecContext) {
		e := newEnv(client.Config{}, mockapns.Config{})
		m := &client.Message{Tokens: tokens(1, 100000), Payload: []byte(`{"aps":{}}`)}
		type outcome struct {
			sum *client.Summary
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			sum, err := e.sess.SendAll(ctx, e.addr, e.cert, m, 3)
			done <- outcome{sum, err}
		}()
		Eventually(func() uint64 { return e.srv.Stats().Accepted }).WithContext(ctx).Should(BeNumerically(">=", 5000))
		Expect(e.srv.Shutdown(ctx)).To(Succeed())
		var out outcome
		Eventually(done).WithContext(ctx).Should(Receive(&out))
		Expect(out.err).NotTo(HaveOccurred())
		accepted := out.sum.Accepted
		for _, r := range e.sess.Late() {
			accepted += r.Accepted - r.Revoked
		}
		st := e.srv.Stats()
		Expect(st.Accepted).To(BeNumerically("<", 100000), "the shutdown came mid-push")
		Expect(accepted).To(BeEquivalentTo(st.Accepted))
		Expect(e.srv.Notifications(mockapns.Filter{Status: mockapns.Accepted})).To(HaveLen(accepted))
	})
})
