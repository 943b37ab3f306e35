package mockapns_test

import (
	"context"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/http2"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

var _ = Describe("HTTP/2 journal and stats", func() {
	var srv *mockapns.Server
	BeforeEach(func() { srv = startServer(mockapns.Config{}) })

	wait := func(f mockapns.Filter, n int) []mockapns.Entry {
		GinkgoHelper()
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		es, err := srv.WaitNotifications(ctx, f, n)
		Expect(err).NotTo(HaveOccurred())
		return es
	}
	ignore := cmp.Options{cmpopts.IgnoreFields(mockapns.Entry{}, "Seq", "Conn", "ReceivedAt"), cmpopts.EquateComparable(apns.Priority{})}

	It("journals an accepted push with every HTTP/2 field", func() {
		c := srv.HTTP2CertClient()
		DeferCleanup(closeClient, c)
		status, _, _ := h2Post(c, srv, h2Token, payload, "apns-topic", h2Topic, "apns-id", apnsID,
			"apns-expiration", "1700000000", "apns-priority", "5", "apns-push-type", "alert", "apns-collapse-id", "c1")
		Expect(status).To(Equal(200))
		es := wait(mockapns.Filter{Protocol: apns.HTTP2}, 1)
		exp := int64(1700000000)
		want := mockapns.Entry{Protocol: apns.HTTP2, APNsID: apnsID, Token: token(0xab), Payload: []byte(payload),
			Expiration: &exp, Priority: apns.PriorityConserve, Topic: h2Topic, PushType: "alert", CollapseID: "c1",
			Auth: mockapns.AuthCertificate, HTTPStatus: 200}
		Expect(cmp.Diff(want, es[0], ignore)).To(BeEmpty())
		Expect(es[0].Conn).To(Equal(uint64(1)))
		Expect(es[0].ReceivedAt).NotTo(BeZero())
	})

	It("journals a refusal with its status and reason, and the generated apns-id", func() {
		c := srv.HTTP2Client()
		DeferCleanup(closeClient, c)
		status, hdr, _ := h2Post(c, srv, h2Token, payload, "authorization", bearer(srv), "apns-topic", h2Topic, "apns-priority", "7")
		Expect(status).To(Equal(400))
		es := wait(mockapns.Filter{Status: mockapns.Rejected}, 1)
		want := mockapns.Entry{Protocol: apns.HTTP2, APNsID: hdr.Get("apns-id"), Token: token(0xab), Payload: []byte(payload),
			Topic: h2Topic, Auth: mockapns.AuthProviderToken, Status: 400, HTTPStatus: 400, Reason: apns.ReasonBadPriority}
		Expect(cmp.Diff(want, es[0], ignore)).To(BeEmpty())
		Expect(es[0].Outcome()).To(Equal(apns.ReasonBadPriority))
	})

	It("waits across both protocols and filters by protocol", func() {
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(1, token(1), payload))
		c := srv.HTTP2CertClient()
		DeferCleanup(closeClient, c)
		status, _, _ := h2Post(c, srv, h2Token, payload, "apns-topic", h2Topic)
		Expect(status).To(Equal(200))
		es := wait(mockapns.Filter{}, 2)
		Expect(es).To(HaveLen(2))
		Expect([]apns.Protocol{es[0].Protocol, es[1].Protocol}).To(ConsistOf(apns.Binary, apns.HTTP2))
		Expect(srv.Notifications(mockapns.Filter{Protocol: apns.Binary})).To(HaveLen(1))
		Expect(srv.Notifications(mockapns.Filter{Protocol: apns.HTTP2})).To(HaveLen(1))
		Expect(srv.Notifications(mockapns.Filter{Protocol: apns.Binary})[0].Command).To(Equal(wire.CommandFramed))
	})

	It("journals an oversized body as PayloadTooLarge and never a refused stream", func() {
		r := dialH2(srv, srv.HTTP2TLSConfig())
		auth := bearer(srv)
		r.headers(1, false, request(h2Token, "authorization", auth)...)
		r.headers(3, true, request(h2Token, "authorization", auth)...)
		Expect(r.wait(3)[0].rst).To(Equal(http2.ErrCodeRefusedStream))
		r.data(1, false, `{"aps":{},"x":"`)
		r.data(1, false, string(make([]byte, 5000)))
		Expect(r.wait(1)[0].status).To(Equal("413"))
		es := wait(mockapns.Filter{}, 1)
		Expect(es).To(HaveLen(1))
		Expect(es[0].Reason).To(Equal(apns.ReasonPayloadTooLarge))
		Expect(es[0].HTTPStatus).To(Equal(413))
		Expect(string(es[0].Payload)).To(Equal(`{"aps":{},"x":"`))
	})

	It("counts in the http2 stats object and the totals", func() {
		c := srv.HTTP2CertClient()
		status, _, _ := h2Post(c, srv, h2Token, payload, "apns-topic", h2Topic)
		Expect(status).To(Equal(200))
		status, _, _ = h2Post(c, srv, h2Token, "", "apns-topic", h2Topic)
		Expect(status).To(Equal(400))
		st := srv.Stats()
		Expect(st.HTTP2).To(Equal(mockapns.HTTP2Stats{ConnectionsTotal: 1, ConnectionsOpen: 1, Requests: 2, Accepted: 1, Rejected: 1, StreamsPeak: 1}))
		Expect(st.Accepted).To(Equal(uint64(1)))
		Expect(st.Rejected).To(Equal(uint64(1)))
		Expect(st.ConnectionsTotal).To(BeZero()) // gateway connections only
		Expect(srv.Shutdown(context.Background())).To(Succeed())
		st = srv.Stats()
		Expect(st.HTTP2.GoAways).To(Equal(uint64(1)))
		Expect(st.HTTP2.ConnectionsOpen).To(BeZero())
	})
})
