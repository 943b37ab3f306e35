package mockapns_test

import (
	"bytes"
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/mockapns"
)

// waitResult is the outcome of one WaitNotifications call.
type waitResult struct {
	entries []mockapns.Entry
	err     error
}

var _ = Describe("WaitNotifications bookkeeping", func() {
	var srv *mockapns.Server

	// h2 journals one HTTP/2 request to the token filled with b.
	h2 := func(b byte, status int) {
		srv.JournalH2(mockapns.H2Request{Conn: 1, At: time.Now(), Token: bytes.Repeat([]byte{b}, 32),
			Payload: []byte(`{}`), APNsID: []byte("id"), HTTPStatus: status})
	}
	// waitAsync starts a wait, bounded by ioTimeout, and waits until it is
	// registered.
	waitAsync := func(f mockapns.Filter, n int) <-chan waitResult {
		done := make(chan waitResult, 1)
		before := srv.WaitersForTest()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
			defer cancel()
			es, err := srv.WaitNotifications(ctx, f, n)
			done <- waitResult{es, err}
		}()
		Eventually(srv.WaitersForTest, ioTimeout).Should(Equal(before + 1))
		return done
	}

	BeforeEach(func() { srv = startServer(mockapns.Config{JournalSize: 4}) })

	It("wakes each token's wait on its own notifications only", func() {
		one := waitAsync(mockapns.Filter{Token: tokenOf(token(1))}, 2)
		two := waitAsync(mockapns.Filter{Token: tokenOf(token(2))}, 1)
		h2(1, 200)
		h2(3, 200)
		Consistently(one, 50*time.Millisecond).ShouldNot(Receive())
		Consistently(two).ShouldNot(Receive())
		h2(2, 200)
		var r waitResult
		Eventually(two, ioTimeout).Should(Receive(&r))
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.entries).To(HaveLen(1))
		h2(1, 200)
		Eventually(one, ioTimeout).Should(Receive(&r))
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.entries).To(HaveLen(2))
	})

	It("counts a token's entries the ring drops: a wait is met by what the journal holds", func() {
		w := waitAsync(mockapns.Filter{Token: tokenOf(token(1))}, 2)
		h2(1, 200)
		for range 4 { // token 1's entry falls out of the 4-entry ring
			h2(9, 200)
		}
		h2(1, 200)
		Consistently(w, 50*time.Millisecond).ShouldNot(Receive())
		h2(1, 200)
		var r waitResult
		Eventually(w, ioTimeout).Should(Receive(&r))
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.entries).To(HaveLen(2))
	})

	It("filters a token's wait by status too", func() {
		w := waitAsync(mockapns.Filter{Token: tokenOf(token(1)), Status: mockapns.Rejected}, 1)
		h2(1, 200)
		Consistently(w, 50*time.Millisecond).ShouldNot(Receive())
		h2(1, 410)
		var r waitResult
		Eventually(w, ioTimeout).Should(Receive(&r))
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.entries[0].Status).To(Equal(410))
	})

	It("wakes waits without a token when their count is met, whatever the others wait for", func() {
		small := waitAsync(mockapns.Filter{Status: mockapns.Accepted}, 2)
		big := waitAsync(mockapns.Filter{}, 3)
		h2(1, 400)
		h2(1, 200)
		Consistently(small, 50*time.Millisecond).ShouldNot(Receive())
		h2(2, 200)
		var r waitResult
		Eventually(small, ioTimeout).Should(Receive(&r))
		Expect(r.entries).To(HaveLen(2))
		Eventually(big, ioTimeout).Should(Receive(&r))
		Expect(r.entries).To(HaveLen(3))
	})

	It("keeps waiting across a Reset, counting from empty", func() {
		w := waitAsync(mockapns.Filter{Token: tokenOf(token(1))}, 2)
		p := waitAsync(mockapns.Filter{}, 2)
		h2(1, 200)
		srv.Reset()
		Eventually(srv.WaitersForTest, ioTimeout).Should(Equal(2))
		h2(1, 200)
		Consistently(w, 50*time.Millisecond).ShouldNot(Receive())
		Consistently(p).ShouldNot(Receive())
		h2(1, 200)
		var r waitResult
		Eventually(w, ioTimeout).Should(Receive(&r))
		Expect(r.entries).To(HaveLen(2))
		Eventually(p, ioTimeout).Should(Receive(&r))
		Expect(r.entries).To(HaveLen(2))
	})

	It("forgets a wait whose context ends, and goes on ingesting", func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := srv.WaitNotifications(ctx, mockapns.Filter{Token: tokenOf(token(1))}, 5)
			done <- err
		}()
		Eventually(srv.WaitersForTest, ioTimeout).Should(Equal(1))
		cancel()
		Eventually(done, ioTimeout).Should(Receive(MatchError(context.Canceled)))
		Expect(srv.WaitersForTest()).To(Equal(0))
		for range 6 {
			h2(1, 200)
		}
		Expect(srv.Notifications(mockapns.Filter{})).To(HaveLen(4))
	})
})
