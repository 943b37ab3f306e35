package client_test

import (
	"context"
	"encoding/hex"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("A Send that writes nothing on a pooled connection", func() {
	// The previous batch's error response is still on its way when a Send
	// whose ctx has already ended takes the connection: that Send writes
	// nothing, so the connection's record of the previous batch must stay,
	// or the late rejection can no longer be placed.
	It("keeps the previous batch's records for its late error response", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: time.Minute}, mockapns.Config{})
		delayID := e.lateRejection(2 * time.Second)
		all := tokens(1, 20)

		sendPresumedUntilJudged(ctx, e, delayID, all)

		// The same connection, a ctx already ended: nothing is written.
		gone, cancelGone := context.WithCancel(ctx)
		cancelGone()
		next := tokens(1001, 3)
		r2, err := e.sess.Send(gone, e.addr, e.cert, &client.Message{Tokens: next, Alert: "y"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r2.Sent).To(BeZero())
		Expect(r2.Retry().Tokens).To(Equal(next))
		Expect(r2.Errors).To(ContainElement(MatchError(context.Canceled)))
		Expect(e.sess.Stats().Dials).To(Equal(uint64(1)))

		// Shutdown's graceful retirement receives the late rejection.
		Expect(e.sess.Shutdown(ctx)).To(Succeed())
		e.expectLateRejection(e.sess.Late(), all)
	}, SpecTimeout(time.Minute))
})

// sendPresumedUntilJudged sends all on e, whose gateway stalls (fault
// delayID) before judging it, and cuts the Send's error wait short by
// cancelling its ctx once the gateway has the batch: the Send presumes
// everything accepted, whatever the gateway answers later.
func sendPresumedUntilJudged(ctx context.Context, e *env, delayID int, all []string) {
	first, cancelFirst := context.WithCancel(ctx)
	defer cancelFirst()
	done := make(chan *client.Result, 1)
	go func() {
		defer GinkgoRecover()
		r, err := e.sess.Send(first, e.addr, e.cert, &client.Message{Tokens: all, Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		done <- r
	}()
	// The gateway has read the batch and stalls before judging it; the
	// Send is in its error wait, which cancelling ctx cuts short.
	Eventually(func() int { return e.fired(delayID) }).WithContext(ctx).Should(Equal(1))
	cancelFirst()
	var r1 *client.Result
	Eventually(done).WithContext(ctx).Should(Receive(&r1))
	Expect(r1.Accepted).To(Equal(len(all))) // presumed
	Expect(r1.Failed).To(BeEmpty())
}

var _ = Describe("A late result reported by Late", func() {
	It("counts in Revoked the notifications its earlier Send counted as accepted", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: time.Minute}, mockapns.Config{})
		delayID := e.lateRejection(time.Second)
		all := tokens(1, 20)
		sendPresumedUntilJudged(ctx, e, delayID, all)
		Expect(e.sess.Shutdown(ctx)).To(Succeed())
		late := e.sess.Late()
		e.expectLateRejection(late, all)
		// The 10th was refused and the 10 after it discarded: 11 of the
		// 20 the Send reported as accepted were not.
		Expect(late[0].Revoked).To(Equal(11))
		Expect(late[0].Accepted).To(BeZero())
	}, SpecTimeout(time.Minute))
})

// closeCounter dials TCP and counts the connections dialled and closed.
type closeCounter struct {
	dialled, closed atomic.Int64
}

type countedConn struct {
	net.Conn
	once sync.Once
	cc   *closeCounter
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.cc.closed.Add(1) })
	return c.Conn.Close()
}

func (cc *closeCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cc.dialled.Add(1)
	return &countedConn{Conn: nc, cc: cc}, nil
}

var _ = Describe("The feedback iterator", func() {
	var (
		e  *env
		cc *closeCounter
	)
	BeforeEach(func() {
		cc = &closeCounter{}
		e = newEnv(client.Config{DialContext: cc.dial}, mockapns.Config{})
		for _, tok := range tokens(1, 3) {
			raw, _ := hex.DecodeString(tok)
			e.srv.QueueFeedback(wire.FeedbackTuple{Time: time.Unix(1700000000, 0), Token: raw})
		}
	})
	closedOnReturn := func() {
		Expect(cc.dialled.Load()).To(Equal(int64(1)))
		Expect(cc.closed.Load()).To(Equal(int64(1)))
	}

	It("has closed its connection when the loop ends at the end of the stream", func(ctx SpecContext) {
		n := 0
		for _, err := range e.sess.Feedback(ctx, e.srv.FeedbackAddr(), e.cert) {
			Expect(err).NotTo(HaveOccurred())
			n++
		}
		Expect(n).To(Equal(3))
		closedOnReturn()
	})

	It("has closed its connection when the caller breaks out", func(ctx SpecContext) {
		for _, err := range e.sess.Feedback(ctx, e.srv.FeedbackAddr(), e.cert) {
			Expect(err).NotTo(HaveOccurred())
			break
		}
		closedOnReturn()
	})

	It("yields ctx's error once and has closed its connection when ctx ends mid-iteration", func(ctx SpecContext) {
		inner, cancel := context.WithCancel(ctx)
		defer cancel()
		var errs []error
		n := 0
		for _, err := range e.sess.Feedback(inner, e.srv.FeedbackAddr(), e.cert) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			n++
			cancel()
		}
		Expect(n).To(Equal(1))
		Expect(errs).To(HaveLen(1))
		Expect(errs[0]).To(MatchError(context.Canceled))
		closedOnReturn()
	})

	It("has closed its connection when the stream is cut mid-tuple", func(ctx SpecContext) {
		_, err := e.srv.AddFault(mockapns.FeedbackCut{AfterBytes: 38 + 10})
		Expect(err).NotTo(HaveOccurred())
		n := 0
		for _, err := range e.sess.Feedback(ctx, e.srv.FeedbackAddr(), e.cert) {
			Expect(err).NotTo(HaveOccurred())
			n++
		}
		Expect(n).To(Equal(1))
		closedOnReturn()
	})
})
