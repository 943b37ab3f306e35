package mockapns_test

import (
	"crypto/tls"
	"errors"
	"io"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// reads returns the size of every read until the server closes, and all
// the bytes.
func reads(conn *tls.Conn) ([]int, []byte) {
	GinkgoHelper()
	var sizes []int
	var all []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			sizes = append(sizes, n)
			all = append(all, buf[:n]...)
		}
		if err != nil {
			Expect(isClosedErr(err)).To(BeTrue(), "read ended with %v", err)
			return sizes, all
		}
	}
}

// decodeTuples parses every tuple of b.
func decodeTuples(b []byte) ([]wire.FeedbackTuple, error) {
	var out []wire.FeedbackTuple
	r := wire.NewFeedbackReader(bytesReader(b))
	for {
		t, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, t)
	}
}

var _ = Describe("Feedback", func() {
	var (
		srv    *mockapns.Server
		tuples []wire.FeedbackTuple
	)

	BeforeEach(func() {
		srv = startServer(mockapns.Config{})
		base := time.Date(2020, 9, 13, 12, 26, 40, 0, time.UTC)
		tuples = []wire.FeedbackTuple{
			{Time: base, Token: token(1)},
			{Time: base.Add(time.Hour), Token: token(2)},
			{Time: base.Add(2 * time.Hour), Token: token(3)},
		}
		srv.QueueFeedback(tuples...)
	})

	It("writes one tuple per write, closes, and empties the queue", func() {
		Expect(srv.PendingFeedback()).To(Equal(tuples))
		sizes, all := reads(dial(srv, srv.FeedbackAddr()))
		Expect(sizes).To(Equal([]int{38, 38, 38}))
		got, err := decodeTuples(all)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(tuples))
		Expect(srv.PendingFeedback()).To(BeEmpty())
		Eventually(func() mockapns.Stats { return srv.Stats() }).Should(And(
			HaveField("FeedbackServed", BeEquivalentTo(3)),
			HaveField("FeedbackConnections", BeEquivalentTo(1))))

		// Destructive read: the next connection gets nothing.
		sizes, _ = reads(dial(srv, srv.FeedbackAddr()))
		Expect(sizes).To(BeEmpty())
	})

	It("coalesces every tuple into one write on demand", func() {
		_, err := srv.AddFault(mockapns.FeedbackCoalesce{})
		Expect(err).NotTo(HaveOccurred())
		sizes, all := reads(dial(srv, srv.FeedbackAddr()))
		Expect(sizes).To(Equal([]int{3 * 38}))
		Expect(decodeTuples(all)).To(Equal(tuples))
		// Once only: the next connection is back to one per write.
		srv.QueueFeedback(tuples[:2]...)
		sizes, _ = reads(dial(srv, srv.FeedbackAddr()))
		Expect(sizes).To(Equal([]int{38, 38}))
	})

	It("splits each tuple in two writes on demand", func() {
		_, err := srv.AddFault(mockapns.FeedbackSplit{})
		Expect(err).NotTo(HaveOccurred())
		sizes, all := reads(dial(srv, srv.FeedbackAddr()))
		Expect(sizes).To(Equal([]int{19, 19, 19, 19, 19, 19}))
		Expect(decodeTuples(all)).To(Equal(tuples))
	})

	It("cuts the connection mid-tuple, and the tuples taken are gone", func() {
		_, err := srv.AddFault(mockapns.FeedbackCut{AfterBytes: 50})
		Expect(err).NotTo(HaveOccurred())
		_, all := reads(dial(srv, srv.FeedbackAddr()))
		Expect(all).To(HaveLen(50))
		got, err := decodeTuples(all)
		Expect(errors.Is(err, wire.ErrMalformedFeedback)).To(BeTrue())
		Expect(got).To(Equal(tuples[:1]))
		Expect(srv.PendingFeedback()).To(BeEmpty())
		Eventually(func() uint64 { return srv.Stats().FeedbackServed }).Should(BeEquivalentTo(1))
	})

	It("honours each tuple's token length", func() {
		srv.Reset()
		odd := []wire.FeedbackTuple{
			{Time: time.Unix(1, 0).UTC(), Token: []byte{0xab}},
			{Time: time.Unix(2, 0).UTC(), Token: make([]byte, 100)},
			{Time: time.Unix(3, 0).UTC(), Token: token(7)},
		}
		srv.QueueFeedback(odd...)
		sizes, all := reads(dial(srv, srv.FeedbackAddr()))
		Expect(sizes).To(Equal([]int{7, 106, 38}))
		Expect(decodeTuples(all)).To(Equal(odd))
	})

	It("serves an empty queue by closing at once", func() {
		srv.Reset()
		sizes, _ := reads(dial(srv, srv.FeedbackAddr()))
		Expect(sizes).To(BeEmpty())
	})

	It("copies queued tokens", func() {
		srv.Reset()
		tok := token(5)
		srv.QueueFeedback(wire.FeedbackTuple{Time: time.Unix(10, 0).UTC(), Token: tok})
		tok[0] = 0
		Expect(srv.PendingFeedback()[0].Token).To(Equal(token(5)))
	})
})
