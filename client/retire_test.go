package client_test

import (
	"encoding/hex"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// lateRejection installs faults that make the gateway refuse the 10th
// notification it reads, but only after stalling for delay (longer than
// the client's error window).
func (e *env) lateRejection(delay time.Duration) {
	_, err := e.srv.AddFault(mockapns.Delay{Duration: delay, When: mockapns.Trigger{Nth: 1}})
	Expect(err).NotTo(HaveOccurred())
	_, err = e.srv.AddFault(mockapns.Reject{Status: 8, When: mockapns.Trigger{Nth: 10}})
	Expect(err).NotTo(HaveOccurred())
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
	Expect(late[0].Failed).To(ConsistOf(client.Failure{Token: bad, Status: 8, ID: rejected[0].ID, Late: true}))
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
	})
})
