package client_test

import (
	"context"
	"encoding/hex"
	"net"
	"os"
	"strings"
	"sync"
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

// blockedWriter is a net.Conn that reports whether a Write is in progress,
// so that a spec can cancel exactly while a write is blocked.
type blockedWriter struct {
	net.Conn
	mu      sync.Mutex
	writing bool
	writes  int
	written int64
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.writing, w.writes = true, w.writes+1
	w.mu.Unlock()
	n, err := w.Conn.Write(p)
	w.mu.Lock()
	w.writing, w.written = false, w.written+int64(n)
	w.mu.Unlock()
	return n, err
}

// state returns whether a Write is in progress, how many were started and
// how many bytes were written by those that returned.
func (w *blockedWriter) state() (bool, int, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writing, w.writes, w.written
}

var _ = Describe("Closing a connection whose write was interrupted", func() {
	It("does not wait to send close_notify into a full socket buffer", func(ctx SpecContext) {
		conns := make(chan *blockedWriter, 1)
		e := newEnv(client.Config{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			w := &blockedWriter{Conn: nc}
			select {
			case conns <- w:
			default:
			}
			return w, nil
		}}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.Delay{Duration: time.Minute, When: mockapns.Trigger{Nth: 1}})
		Expect(err).NotTo(HaveOccurred())

		// ~40 MB of frames: far more than loopback socket buffers hold, so
		// with the gateway stalled a write must block.
		sctx, scancel := context.WithCancel(ctx)
		defer scancel()
		type sent struct {
			r   *client.Result
			err error
		}
		done := make(chan sent, 1)
		go func() {
			r, err := e.sess.Send(sctx, e.addr, e.cert, &client.Message{Tokens: tokens(1, 20_000), Alert: strings.Repeat("x", 1900)})
			done <- sent{r, err}
		}()
		var w *blockedWriter
		Eventually(conns).WithContext(ctx).Should(Receive(&w))
		// Blocked: a Write in progress that is still the same one a
		// moment later, after more than the socket buffers were offered.
		lastWrites := -1
		Eventually(func() bool {
			writing, writes, written := w.state()
			blocked := writing && writes == lastWrites && written > 1<<20
			lastWrites = writes
			return blocked
		}).WithContext(ctx).WithPolling(50 * time.Millisecond).WithTimeout(30 * time.Second).Should(BeTrue())

		// Go gives a close_notify 5s to be written: far more than this budget.
		budget, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		scancel()
		var s sent
		Eventually(done).WithContext(budget).Should(Receive(&s))
		Expect(s.err).NotTo(HaveOccurred())
		Expect(s.r.Errors).To(ContainElement(MatchError(context.Canceled)))
		Expect(s.r.Errors).To(ContainElement(MatchError(client.ErrConnectionLost)))
		Expect(s.r.Uncertain).NotTo(BeEmpty(), "the cut write's notifications are uncertain")
		Expect(e.sess.Shutdown(budget)).To(Succeed())
		Expect(budget.Err()).NotTo(HaveOccurred(), "Send and Shutdown outlasted the budget")
		Expect(e.sess.Stats().Open).To(BeZero())
	}, SpecTimeout(time.Minute))
})
