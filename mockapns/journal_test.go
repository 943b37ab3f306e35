package mockapns_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// push sends frames on a new connection, half-closes and waits for the
// server to close, so that everything is journalled when it returns.
func push(srv *mockapns.Server, frames ...[]byte) {
	GinkgoHelper()
	conn := dial(srv, srv.GatewayAddr())
	send(conn, concat(frames...))
	Expect(conn.CloseWrite()).To(Succeed())
	_, _ = readToEnd(conn)
}

var _ = Describe("Journal", func() {
	It("keeps the newest entries and exact counters", func() {
		srv := startServer(mockapns.Config{JournalSize: 5})
		var frames [][]byte
		for i := 1; i <= 12; i++ {
			frames = append(frames, framed(uint32(i), token(byte(i)), payload))
		}
		push(srv, frames...)
		push(srv, framed(13, nil, payload))
		es := srv.Notifications(mockapns.Filter{})
		Expect(ids(es)).To(Equal([]uint32{9, 10, 11, 12, 13}))
		Expect(es[0].Seq).To(BeEquivalentTo(9))
		Expect(es[4].Seq).To(BeEquivalentTo(13))
		Expect(es[0].Token).To(Equal(token(9)))
		st := srv.Stats()
		Expect(st.Accepted).To(BeEquivalentTo(12))
		Expect(st.Rejected).To(BeEquivalentTo(1))
		Expect(srv.Notifications(mockapns.Filter{Status: mockapns.Accepted})).To(HaveLen(4))
	})

	It("reuses storage of dropped entries without mixing up their bytes", func() {
		srv := startServer(mockapns.Config{JournalSize: 3, NoValidation: true})
		var frames [][]byte
		var want []mockapns.Entry
		for i := range 10 {
			tok := bytes.Repeat([]byte{byte(i)}, 1+(i*7)%40)
			p := `{"n":"` + string(bytes.Repeat([]byte("x"), (i*13)%50)) + `"}`
			frames = append(frames, framed(uint32(i), tok, p))
			want = append(want, mockapns.Entry{Seq: uint64(i + 1), Conn: 1, Protocol: apns.Binary, Command: wire.CommandFramed, ID: uint32(i),
				Token: tok, Payload: []byte(p), Expiry: 1600000000, Priority: apns.NewPriority(10)})
		}
		for _, f := range frames { // one read per frame is likely; both paths are fine
			push(srv, f)
		}
		got := srv.Notifications(mockapns.Filter{})
		for i := range want[7:] {
			want[7+i].Conn = uint64(8 + i)
		}
		Expect(cmp.Diff(want[7:], got, ignoreTime)).To(BeEmpty())
	})

	It("filters by token, status and limit", func() {
		srv := startServer(mockapns.Config{})
		push(srv, framed(1, token(1), payload), framed(2, token(2), payload), framed(3, token(1), payload))
		push(srv, framed(4, token(1), payload), framed(5, token(1)[:5], payload))
		Expect(ids(srv.Notifications(mockapns.Filter{Token: tokenOf(token(1))}))).To(Equal([]uint32{1, 3, 4}))
		Expect(ids(srv.Notifications(mockapns.Filter{Token: tokenOf(token(1)), Limit: 2}))).To(Equal([]uint32{1, 3}))
		Expect(ids(srv.Notifications(mockapns.Filter{Status: mockapns.Rejected}))).To(Equal([]uint32{5}))
		Expect(ids(srv.Notifications(mockapns.Filter{Status: mockapns.Accepted, Limit: 1}))).To(Equal([]uint32{1}))
		Expect(srv.Notifications(mockapns.Filter{Token: tokenOf(token(9))})).To(BeEmpty())
	})

	It("returns copies that later traffic cannot change", func() {
		srv := startServer(mockapns.Config{JournalSize: 1})
		push(srv, framed(1, token(1), payload))
		es := srv.Notifications(mockapns.Filter{})
		push(srv, framed(2, token(2), `{"other":1}`))
		Expect(es[0].Token).To(Equal(token(1)))
		Expect(es[0].Payload).To(Equal([]byte(payload)))
	})

	It("waits for notifications still to come", func() {
		srv := startServer(mockapns.Config{})
		got := make(chan []mockapns.Entry, 1)
		go func() {
			defer GinkgoRecover()
			es, err := srv.WaitNotifications(context.Background(), mockapns.Filter{Token: tokenOf(token(2))}, 2)
			Expect(err).NotTo(HaveOccurred())
			got <- es
		}()
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(1, token(2), payload), framed(2, token(1), payload))
		Consistently(got).ShouldNot(Receive())
		send(conn, framed(3, token(2), payload))
		var es []mockapns.Entry
		Eventually(got).Should(Receive(&es))
		Expect(ids(es)).To(Equal([]uint32{1, 3}))
	})

	It("gives up at the deadline with what matched so far", func() {
		srv := startServer(mockapns.Config{})
		push(srv, framed(1, token(1), payload))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		es, err := srv.WaitNotifications(ctx, mockapns.Filter{}, 2)
		Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue())
		Expect(ids(es)).To(Equal([]uint32{1}))
	})

	It("clears the journal, and resets everything", func() {
		srv := startServer(mockapns.Config{})
		push(srv, framed(1, token(1), payload), framed(2, token(1), payload))
		srv.ClearNotifications()
		Expect(srv.Notifications(mockapns.Filter{})).To(BeEmpty())
		Expect(srv.Stats().Accepted).To(BeEquivalentTo(2))
		push(srv, framed(3, token(1), payload))
		Expect(srv.Notifications(mockapns.Filter{})[0].Seq).To(BeEquivalentTo(3))

		_, err := srv.AddFault(mockapns.Delay{Duration: time.Second})
		Expect(err).NotTo(HaveOccurred())
		srv.QueueFeedback(wire.FeedbackTuple{Time: time.Unix(1, 0), Token: token(1)})
		srv.Reset()
		Expect(srv.Notifications(mockapns.Filter{})).To(BeEmpty())
		Expect(srv.Faults()).To(BeEmpty())
		Expect(srv.PendingFeedback()).To(BeEmpty())
		Expect(srv.Stats()).To(Equal(mockapns.Stats{}))
		push(srv, framed(4, token(1), payload))
		Expect(srv.Notifications(mockapns.Filter{})[0].Seq).To(BeEquivalentTo(1))
		Expect(srv.Stats().Accepted).To(BeEquivalentTo(1))
	})

	Describe("Entry JSON", func() {
		at := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC)
		e := mockapns.Entry{Seq: 3, Conn: 2, Protocol: apns.Binary, Command: wire.CommandFramed, ID: 42, Token: []byte{0xab, 0x01},
			Payload: []byte(`{"aps":{}}`), Expiry: 7, Priority: apns.NewPriority(10), ReceivedAt: at, Status: int(wire.StatusInvalidToken)}

		It("has the admin API's form", func() {
			b, err := json.Marshal(e)
			Expect(err).NotTo(HaveOccurred())
			Expect(b).To(MatchJSON(`{"seq":3,"conn":2,"protocol":"binary","command":2,"id":42,"token":"ab01","payload":{"aps":{}},
				"expiry":7,"priority":10,"received_at":"2026-11-27T10:00:00.123456789Z","status":8}`))
			var back mockapns.Entry
			Expect(json.Unmarshal(b, &back)).To(Succeed())
			Expect(cmp.Diff(e, back, cmpOpts)).To(BeEmpty())
		})

		It("carries a payload that is not JSON as a string", func() {
			odd := e
			odd.Payload = []byte("not json")
			b, err := json.Marshal(odd)
			Expect(err).NotTo(HaveOccurred())
			var m map[string]any
			Expect(json.Unmarshal(b, &m)).To(Succeed())
			Expect(m["payload"]).To(Equal("not json"))
			var back mockapns.Entry
			Expect(json.Unmarshal(b, &back)).To(Succeed())
			Expect(back.Payload).To(Equal([]byte("not json")))
		})

		It("refuses a bad token", func() {
			var back mockapns.Entry
			Expect(json.Unmarshal([]byte(`{"token":"zz"}`), &back)).NotTo(Succeed())
		})
	})
})
