package mockapns_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// addFault installs f on srv and returns its id, failing the spec on error.
func addFault(srv *mockapns.Server, f mockapns.Fault) int {
	GinkgoHelper()
	id, err := srv.AddFault(f)
	Expect(err).NotTo(HaveOccurred())
	return id
}

var _ = Describe("Faults", func() {
	var srv *mockapns.Server

	BeforeEach(func() {
		srv = startServer(mockapns.Config{})
	})

	DescribeTable("Reject answers its status naming the notification, then closes",
		func(status wire.Status) {
			addFault(srv, mockapns.Reject{Status: status, When: mockapns.Trigger{Token: tokenOf(token(9))}})
			conn := dial(srv, srv.GatewayAddr())
			send(conn, concat(framed(1, token(1), payload), framed(2, token(9), payload), framed(3, token(1), payload)))
			expectClosedWith(conn, response(status, 2))
			es := srv.Notifications(mockapns.Filter{})
			Expect(ids(es)).To(Equal([]uint32{1, 2}))
			Expect(es[1].Status).To(Equal(int(status)))
			Eventually(func() uint64 { return srv.Stats().Discarded }).Should(BeEquivalentTo(1))
			Expect(srv.Faults()[0].Fired).To(Equal(1))
		},
		Entry("processing error", wire.StatusProcessingError),
		Entry("missing token", wire.StatusMissingToken),
		Entry("missing topic", wire.StatusMissingTopic),
		Entry("missing payload", wire.StatusMissingPayload),
		Entry("invalid token size", wire.StatusInvalidTokenSize),
		Entry("invalid topic size", wire.StatusInvalidTopicSize),
		Entry("invalid payload size", wire.StatusInvalidPayloadSize),
		Entry("invalid token", wire.StatusInvalidToken),
		Entry("protocol error", wire.StatusProtocolError),
		Entry("unknown", wire.StatusUnknown),
	)

	It("Reject with status 10 names the last accepted notification, as Shutdown does", func() {
		// Found by the chaos soak: naming the refused notification told
		// the client it had been accepted, and it was lost.
		addFault(srv, mockapns.Reject{Status: wire.StatusShutdown, When: mockapns.Trigger{Token: tokenOf(token(9))}})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(framed(1, token(1), payload), framed(2, token(9), payload), framed(3, token(1), payload)))
		expectClosedWith(conn, response(wire.StatusShutdown, 1))
		es := srv.Notifications(mockapns.Filter{})
		Expect(ids(es)).To(Equal([]uint32{1, 2}))
		Expect(es[0].Status).To(Equal(0))
		Expect(es[1].Status).To(Equal(int(wire.StatusShutdown)))
		Eventually(func() uint64 { return srv.Stats().Discarded }).Should(BeEquivalentTo(1))
	})

	It("Reject on command 0 closes without a response", func() {
		addFault(srv, mockapns.Reject{Status: wire.StatusInvalidToken})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, simple(token(1), payload))
		expectClosedWith(conn, nil)
		Expect(srv.Notifications(mockapns.Filter{})[0].Status).To(Equal(int(wire.StatusInvalidToken)))
	})

	It("Shutdown answers 10 naming the last accepted notification of the connection", func() {
		addFault(srv, mockapns.Shutdown{When: mockapns.Trigger{Nth: 3}})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(framed(11, token(1), payload), framed(12, token(1), payload), framed(13, token(1), payload), framed(14, token(1), payload)))
		expectClosedWith(conn, response(wire.StatusShutdown, 12))
		Expect(ids(srv.Notifications(mockapns.Filter{Status: mockapns.Accepted}))).To(Equal([]uint32{11, 12}))
		rej := srv.Notifications(mockapns.Filter{Status: mockapns.Rejected})
		Expect(ids(rej)).To(Equal([]uint32{13}))
		Expect(rej[0].Status).To(Equal(int(wire.StatusShutdown)))
		Eventually(func() uint64 { return srv.Stats().Discarded }).Should(BeEquivalentTo(1))
	})

	It("Shutdown before anything was accepted names 0", func() {
		addFault(srv, mockapns.Shutdown{})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(77, token(1), payload))
		expectClosedWith(conn, response(wire.StatusShutdown, 0))
		Expect(srv.Stats().Accepted).To(BeZero())
	})

	It("counts the last accepted notification per connection", func() {
		addFault(srv, mockapns.Shutdown{When: mockapns.Trigger{Token: tokenOf(token(9))}})
		first := dial(srv, srv.GatewayAddr())
		send(first, framed(5, token(1), payload))
		Eventually(func() uint64 { return srv.Stats().Accepted }).Should(BeEquivalentTo(1))
		second := dial(srv, srv.GatewayAddr())
		send(second, framed(6, token(9), payload))
		expectClosedWith(second, response(wire.StatusShutdown, 0))
	})

	It("Disconnect at the nth notification closes without a word", func() {
		addFault(srv, mockapns.Disconnect{When: mockapns.Trigger{Nth: 3}})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(framed(1, token(1), payload), framed(2, token(1), payload), framed(3, token(1), payload), framed(4, token(1), payload), framed(5, token(1), payload)))
		expectClosedWith(conn, nil)
		Expect(ids(srv.Notifications(mockapns.Filter{}))).To(Equal([]uint32{1, 2}))
		Eventually(func() uint64 { return srv.Stats().Discarded }).Should(BeEquivalentTo(3))
		Expect(srv.Stats().Rejected).To(BeZero())
	})

	It("Disconnect after bytes cuts mid-frame and keeps the frames before the cut", func() {
		f := len(framed(1, token(1), payload))
		addFault(srv, mockapns.Disconnect{AfterBytes: int64(2*f + f/2)})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(1, token(1), payload), framed(2, token(1), payload))
		Eventually(func() uint64 { return srv.Stats().Accepted }).Should(BeEquivalentTo(2))
		send(conn, concat(framed(3, token(1), payload), framed(4, token(1), payload)))
		expectClosedWith(conn, nil)
		Expect(ids(srv.Notifications(mockapns.Filter{}))).To(Equal([]uint32{1, 2}))
		Expect(srv.Faults()[0].Fired).To(Equal(1))
		Eventually(func() uint64 { return srv.Stats().Discarded }).Should(BeEquivalentTo(2))
		// Fired once: the next connection is not cut.
		again := dial(srv, srv.GatewayAddr())
		send(again, concat(framed(5, token(1), payload), framed(6, token(1), payload), framed(7, token(1), payload)))
		Expect(again.CloseWrite()).To(Succeed())
		expectClosedWith(again, nil)
		Expect(srv.Stats().Accepted).To(BeEquivalentTo(5))
	})

	It("Disconnect after bytes cuts no more once removed, and the cut added after it still cuts", func() {
		f := len(framed(1, token(1), payload))
		first := addFault(srv, mockapns.Disconnect{AfterBytes: int64(f / 2)})
		addFault(srv, mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: tokenOf(token(9))}})
		addFault(srv, mockapns.Disconnect{AfterBytes: int64(f + f/2)})
		Expect(srv.RemoveFault(first)).To(BeTrue())
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(framed(1, token(1), payload), framed(2, token(1), payload)))
		expectClosedWith(conn, nil)
		Expect(ids(srv.Notifications(mockapns.Filter{}))).To(Equal([]uint32{1}))
		Expect(srv.Faults()[1].Fired).To(Equal(1))
	})

	It("Delay stalls reading until it is over", func() {
		addFault(srv, mockapns.Delay{Duration: 20 * time.Millisecond, When: mockapns.Trigger{Nth: 2}})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(framed(1, token(1), payload), framed(2, token(1), payload), framed(3, token(1), payload)))
		Expect(conn.CloseWrite()).To(Succeed())
		expectClosedWith(conn, nil)
		Expect(ids(srv.Notifications(mockapns.Filter{}))).To(Equal([]uint32{1, 2, 3}))
		Expect(srv.Faults()[0].Fired).To(Equal(1))
	})

	It("Delay and Reject in the middle of a read journal every notification with its own bytes, in order", func() {
		addFault(srv, mockapns.Delay{Duration: 10 * time.Millisecond, When: mockapns.Trigger{Nth: 2, Times: mockapns.Always}})
		addFault(srv, mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: tokenOf(token(5))}})
		conn := dial(srv, srv.GatewayAddr())
		var frames [][]byte
		for i := 1; i <= 6; i++ {
			frames = append(frames, framed(uint32(i), token(byte(i)), fmt.Sprintf(`{"aps":{"badge":%d}}`, i)))
		}
		send(conn, concat(frames...))
		expectClosedWith(conn, response(wire.StatusInvalidToken, 5))
		es := srv.Notifications(mockapns.Filter{})
		Expect(ids(es)).To(Equal([]uint32{1, 2, 3, 4, 5}))
		for i, e := range es {
			Expect(e.Token).To(Equal(token(byte(i + 1))))
			Expect(string(e.Payload)).To(Equal(fmt.Sprintf(`{"aps":{"badge":%d}}`, i+1)))
		}
		Expect(es[4].Status).To(Equal(int(wire.StatusInvalidToken)))
		Expect(srv.Faults()[0].Fired).To(Equal(2)) // the 2nd and the 4th
	})

	It("Delay holds the notification and those after it while stalled", func() {
		addFault(srv, mockapns.Delay{Duration: time.Hour, When: mockapns.Trigger{Nth: 2}})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(framed(1, token(1), payload), framed(2, token(1), payload), framed(3, token(1), payload)))
		Eventually(func() []mockapns.FaultInfo { return srv.Faults() }).Should(ContainElement(HaveField("Fired", 1)))
		Expect(ids(srv.Notifications(mockapns.Filter{}))).To(Equal([]uint32{1}))
		// Cutting the connection ends the stall; the held frames are lost.
		srv.CloseClientConnections()
		expectClosedWith(conn, nil)
		Eventually(func() int64 { return srv.Stats().ConnectionsOpen }).Should(BeZero())
		Expect(srv.Stats().Accepted).To(BeEquivalentTo(1))
	})

	It("Close ends a stall", func() {
		s := startServer(mockapns.Config{Faults: []mockapns.Fault{mockapns.Delay{Duration: time.Hour}}})
		conn := dial(s, s.GatewayAddr())
		send(conn, framed(1, token(1), payload))
		Eventually(func() []mockapns.FaultInfo { return s.Faults() }).Should(ContainElement(HaveField("Fired", 1)))
		s.Close()
		expectClosedWith(conn, nil)
	})

	It("fires as often as Times says, in the order faults were added", func() {
		addFault(srv, mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: tokenOf(token(8)), Times: mockapns.Times(2)}})
		addFault(srv, mockapns.Reject{Status: wire.StatusProcessingError, When: mockapns.Trigger{Token: tokenOf(token(8)), Times: mockapns.Always}})
		want := []wire.Status{wire.StatusInvalidToken, wire.StatusInvalidToken, wire.StatusProcessingError, wire.StatusProcessingError}
		for i, status := range want {
			conn := dial(srv, srv.GatewayAddr())
			send(conn, framed(uint32(i), token(8), payload))
			expectClosedWith(conn, response(status, uint32(i)))
		}
		infos := srv.Faults()
		Expect(infos).To(HaveLen(2))
		Expect(infos[0].Fired).To(Equal(2))
		Expect(infos[1].Fired).To(Equal(2))
	})

	It("among faults for many tokens, fires those of the notification's token and those without a token, in the order added", func() {
		for i := range 1000 {
			other := token(0xee)
			other[0], other[1] = byte(i>>8), byte(i)
			addFault(srv, mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: tokenOf(other)}})
		}
		// Then, in this order, a token-less reject of every 3rd
		// notification and token 9's own.
		addFault(srv, mockapns.Reject{Status: wire.StatusProcessingError, When: mockapns.Trigger{Nth: 3}})
		addFault(srv, mockapns.Reject{Status: wire.StatusMissingToken, When: mockapns.Trigger{Token: tokenOf(token(9))}})
		conn := dial(srv, srv.GatewayAddr())
		// Token 9 is the 2nd notification: its own reject fires (the
		// nth-3 reject only counts it); the faults of the other tokens
		// are not consulted.
		send(conn, concat(framed(1, token(1), payload), framed(2, token(9), payload), framed(3, token(9), payload)))
		expectClosedWith(conn, response(wire.StatusMissingToken, 2))
		fired := map[int]int{}
		for _, f := range srv.Faults() {
			fired[f.ID] = f.Fired
		}
		Expect(fired[1001]).To(Equal(0))
		Expect(fired[1002]).To(Equal(1))
		// The nth-3 reject saw two notifications: the next one fires it
		// even though it goes to token 9, whose own fault is spent.
		conn = dial(srv, srv.GatewayAddr())
		send(conn, framed(4, token(9), payload))
		expectClosedWith(conn, response(wire.StatusProcessingError, 4))
		Expect(srv.Faults()[1000].Fired).To(Equal(1))
	})

	It("counts each fault's nth on its own, and stalls before an outcome on the same notification", func() {
		addFault(srv, mockapns.Delay{Duration: 10 * time.Millisecond, When: mockapns.Trigger{Nth: 1}})
		addFault(srv, mockapns.Delay{Duration: 10 * time.Millisecond, When: mockapns.Trigger{Nth: 3}})
		addFault(srv, mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Nth: 3}})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(framed(1, token(1), payload), framed(2, token(1), payload), framed(3, token(1), payload), framed(4, token(1), payload)))
		expectClosedWith(conn, response(wire.StatusInvalidToken, 3))
		Expect(ids(srv.Notifications(mockapns.Filter{Status: mockapns.Accepted}))).To(Equal([]uint32{1, 2}))
		for _, info := range srv.Faults() {
			Expect(info.Fired).To(Equal(1))
		}
	})

	It("fires on every nth matching notification", func() {
		addFault(srv, mockapns.Disconnect{When: mockapns.Trigger{Nth: 2, Token: tokenOf(token(3)), Times: mockapns.Always}})
		conn := dial(srv, srv.GatewayAddr())
		// Matching: ids 2 (1st), 4 (2nd: fires).
		send(conn, concat(framed(1, token(1), payload), framed(2, token(3), payload), framed(3, token(1), payload), framed(4, token(3), payload)))
		expectClosedWith(conn, nil)
		conn = dial(srv, srv.GatewayAddr())
		// Matching: 6 (3rd), 7 (4th: fires).
		send(conn, concat(framed(5, token(1), payload), framed(6, token(3), payload), framed(7, token(3), payload)))
		expectClosedWith(conn, nil)
		Expect(ids(srv.Notifications(mockapns.Filter{}))).To(Equal([]uint32{1, 2, 3, 5, 6}))
	})

	It("repeats probability faults with the same seed", func() {
		pattern := func(seed int64) []bool {
			s := startServer(mockapns.Config{Seed: seed, Faults: []mockapns.Fault{
				mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Probability: 0.5, Times: mockapns.Always}},
			}})
			Expect(s.Seed()).To(Equal(seed))
			var out []bool
			for i := range 24 {
				conn := dial(s, s.GatewayAddr())
				send(conn, framed(uint32(i), token(1), payload))
				Expect(conn.CloseWrite()).To(Succeed())
				got, _ := readToEnd(conn)
				out = append(out, len(got) > 0)
			}
			return out
		}
		first := pattern(42)
		Expect(first).To(ContainElement(true))
		Expect(first).To(ContainElement(false))
		Expect(pattern(42)).To(Equal(first))
	})

	It("chooses and reports a seed when none is given", func() {
		Expect(srv.Seed()).NotTo(BeZero())
	})

	It("lists, removes and clears faults", func() {
		a := addFault(srv, mockapns.Reject{Status: wire.StatusInvalidToken})
		b := addFault(srv, mockapns.Delay{Duration: time.Second})
		Expect(srv.Faults()).To(Equal([]mockapns.FaultInfo{
			{ID: a, Fault: mockapns.Reject{Status: wire.StatusInvalidToken}},
			{ID: b, Fault: mockapns.Delay{Duration: time.Second}},
		}))
		Expect(srv.RemoveFault(a)).To(BeTrue())
		Expect(srv.RemoveFault(a)).To(BeFalse())
		Expect(srv.Faults()).To(HaveLen(1))
		srv.ClearFaults()
		Expect(srv.Faults()).To(BeEmpty())
		// With no fault installed, notifications go through.
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(1, token(1), payload))
		Expect(conn.CloseWrite()).To(Succeed())
		expectClosedWith(conn, nil)
		Expect(srv.Stats().Accepted).To(BeEquivalentTo(1))
	})

	It("fires token faults among many on their tokens only, as they are added and removed", func() {
		// Many token faults (as a soak installs) and the other
		// notifications pass them by without the lock: the filter match
		// uses must follow every change of the set.
		var ids []int
		for i := range 300 {
			tok := token(0xfe)
			tok[0], tok[1] = byte(i>>8), byte(i)
			ids = append(ids, addFault(srv, mockapns.Reject{Status: wire.StatusInvalidToken,
				When: mockapns.Trigger{Token: tokenOf(tok), Times: mockapns.Always}}))
		}
		hit := token(0xfe)
		hit[0], hit[1] = 0, 7
		refused := func(tok []byte) bool {
			GinkgoHelper()
			conn := dial(srv, srv.GatewayAddr())
			send(conn, concat(framed(1, token(1), payload), framed(2, tok, payload)))
			Expect(conn.CloseWrite()).To(Succeed())
			got, _ := readToEnd(conn)
			return len(got) > 0
		}
		Expect(refused(token(2))).To(BeFalse())
		Expect(refused(hit)).To(BeTrue())
		Expect(srv.RemoveFault(ids[0])).To(BeTrue()) // rebuilds the index
		Expect(refused(hit)).To(BeTrue())
		Expect(srv.RemoveFault(ids[7])).To(BeTrue())
		Expect(refused(hit)).To(BeFalse())
		addFault(srv, mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: tokenOf(token(2))}})
		Expect(refused(token(2))).To(BeTrue())
		Expect(srv.Stats().Rejected).To(BeEquivalentTo(3))
	})

	DescribeTable("AddFault refuses invalid faults",
		func(f mockapns.Fault) {
			_, err := srv.AddFault(f)
			Expect(errors.Is(err, mockapns.ErrBadFault)).To(BeTrue(), "err = %v", err)
			Expect(srv.Faults()).To(BeEmpty())
		},
		Entry("reject with status 0", mockapns.Reject{}),
		Entry("negative nth", mockapns.Shutdown{When: mockapns.Trigger{Nth: -1}}),
		Entry("probability above 1", mockapns.Disconnect{When: mockapns.Trigger{Probability: 1.5}}),
		Entry("times below Always", mockapns.Reject{Status: 8, When: mockapns.Trigger{Times: mockapns.Times(-2)}}),
		Entry("negative after_bytes", mockapns.Disconnect{AfterBytes: -1}),
		Entry("zero delay", mockapns.Delay{}),
		Entry("a pointer", &mockapns.Reject{Status: 8}),
		Entry("nil", nil),
		Entry("negative feedback cut", mockapns.FeedbackCut{AfterBytes: -1}),
		Entry("feedback times below Always", mockapns.FeedbackSplit{Times: mockapns.Times(-5)}),
	)

	It("refuses to start with an invalid configured fault", func() {
		_, err := mockapns.Start(mockapns.Config{Faults: []mockapns.Fault{mockapns.Reject{}}})
		Expect(errors.Is(err, mockapns.ErrBadFault)).To(BeTrue())
	})

	It("copies the trigger token", func() {
		tok := token(4)
		addFault(srv, mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: tokenOf(tok)}})
		tok[0] = 99
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(1, token(4), payload))
		expectClosedWith(conn, response(wire.StatusInvalidToken, 1))
	})

	It("stops waiting at the context's end", func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := srv.WaitNotifications(ctx, mockapns.Filter{}, 1)
		Expect(errors.Is(err, context.Canceled)).To(BeTrue())
	})
})
