package mockapns_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

var _ = Describe("Journal across protocols", func() {
	at := time.Date(2026, 12, 1, 12, 0, 0, 5, time.UTC)
	exp := int64(1800000000)
	accepted := mockapns.H2Request{Conn: 1, At: at, Token: token(7), Payload: []byte(`{"aps":{}}`),
		APNsID: []byte("123e4567-e89b-12d3-a456-426614174000"), Topic: []byte("com.example.app"),
		PushType: []byte("alert"), CollapseID: []byte("c1"), Expiration: exp, HasExpiration: true,
		Priority: apns.PriorityConserve, Auth: mockapns.AuthProviderToken, HTTPStatus: 200}
	refused := mockapns.H2Request{Conn: 2, At: at, Token: token(8), Payload: []byte(`{"aps":{}}`),
		APNsID: []byte("00000000-0000-0000-0000-000000000001"), Topic: []byte("com.example.app"),
		Auth: mockapns.AuthCertificate, HTTPStatus: 410, Reason: apns.ReasonUnregistered}

	It("journals HTTP/2 requests beside binary notifications, with their own counters", func() {
		srv := startServer(mockapns.Config{})
		push(srv, framed(1, token(7), payload), framed(2, nil, payload))
		srv.JournalH2(accepted)
		srv.JournalH2(refused)

		es := srv.Notifications(mockapns.Filter{})
		Expect(es).To(HaveLen(4))
		h2 := es[2]
		want := mockapns.Entry{Seq: 3, Conn: 1, Protocol: apns.HTTP2, APNsID: string(accepted.APNsID), Token: token(7),
			Payload: []byte(`{"aps":{}}`), Expiration: &exp, Priority: apns.PriorityConserve, Topic: "com.example.app",
			PushType: "alert", CollapseID: "c1", Auth: mockapns.AuthProviderToken, ReceivedAt: at, HTTPStatus: 200}
		Expect(cmp.Diff(want, h2, cmpOpts)).To(BeEmpty())
		Expect(h2.Accepted()).To(BeTrue())
		Expect(h2.Outcome()).To(BeNil())
		Expect(h2.Identifier()).To(Equal(string(accepted.APNsID)))

		Expect(es[3].Status).To(Equal(410))
		Expect(es[3].Outcome()).To(Equal(apns.ReasonUnregistered))
		Expect(es[3].Expiration).To(BeNil())
		Expect(es[1].Outcome()).To(Equal(wire.StatusMissingToken))
		Expect(es[0].Identifier()).To(Equal("1"))

		st := srv.Stats()
		Expect(st.Accepted).To(BeEquivalentTo(2))
		Expect(st.Rejected).To(BeEquivalentTo(2))
		Expect(st.Binary).To(Equal(mockapns.BinaryStats{Accepted: 1, Rejected: 1}))
		Expect(st.HTTP2).To(Equal(mockapns.HTTP2Stats{Requests: 2, Accepted: 1, Rejected: 1}))
	})

	It("filters by protocol, alone and with token and status", func() {
		srv := startServer(mockapns.Config{})
		push(srv, framed(1, token(7), payload), framed(2, token(8), payload))
		srv.JournalH2(accepted)
		srv.JournalH2(refused)
		seqs := func(f mockapns.Filter) []uint64 {
			var out []uint64
			for _, e := range srv.Notifications(f) {
				out = append(out, e.Seq)
			}
			return out
		}
		Expect(seqs(mockapns.Filter{Protocol: apns.Binary})).To(Equal([]uint64{1, 2}))
		Expect(seqs(mockapns.Filter{Protocol: apns.HTTP2})).To(Equal([]uint64{3, 4}))
		Expect(seqs(mockapns.Filter{Protocol: apns.HTTP2, Status: mockapns.Rejected})).To(Equal([]uint64{4}))
		Expect(seqs(mockapns.Filter{Protocol: apns.Binary, Status: mockapns.Rejected})).To(BeEmpty())
		Expect(seqs(mockapns.Filter{Token: tokenOf(token(7))})).To(Equal([]uint64{1, 3}))
		Expect(seqs(mockapns.Filter{Token: tokenOf(token(7)), Protocol: apns.HTTP2})).To(Equal([]uint64{3}))

		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		es, err := srv.WaitNotifications(ctx, mockapns.Filter{Protocol: apns.HTTP2, Status: mockapns.Accepted}, 1)
		Expect(err).NotTo(HaveOccurred())
		Expect(es).To(HaveLen(1))
	})

	It("keeps the per-protocol counts right when the ring drops old entries", func() {
		srv := startServer(mockapns.Config{JournalSize: 2})
		srv.JournalH2(refused)
		srv.JournalH2(accepted)
		push(srv, framed(1, token(7), payload))
		Expect(srv.Notifications(mockapns.Filter{Protocol: apns.HTTP2})).To(HaveLen(1))
		Expect(srv.Notifications(mockapns.Filter{Protocol: apns.HTTP2, Status: mockapns.Rejected})).To(BeEmpty())
		Expect(srv.Notifications(mockapns.Filter{Protocol: apns.Binary})).To(HaveLen(1))
		// A binary record in a slot an HTTP/2 one used has none of its members.
		push(srv, framed(2, token(9), payload))
		es := srv.Notifications(mockapns.Filter{})
		Expect(es[1].Protocol).To(Equal(apns.Binary))
		Expect(es[1].APNsID).To(BeEmpty())
		Expect(es[1].Topic).To(BeEmpty())
		Expect(srv.Stats().HTTP2.Requests).To(BeEquivalentTo(2))
	})

	It("writes an HTTP/2 entry with its own members and reads it back", func() {
		srv := startServer(mockapns.Config{})
		srv.JournalH2(refused)
		srv.JournalH2(accepted)
		es := srv.Notifications(mockapns.Filter{})
		b, err := json.Marshal(es[0])
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(MatchJSON(`{"seq":1,"conn":2,"protocol":"http2","apns_id":"00000000-0000-0000-0000-000000000001",
			"token":"` + hex.EncodeToString(token(8)) + `","payload":{"aps":{}},"topic":"com.example.app","push_type":"","collapse_id":"",
			"expiration":null,"priority":0,"auth":"certificate","received_at":"2026-12-01T12:00:00.000000005Z",
			"status":410,"http_status":410,"reason":"Unregistered"}`))
		for _, e := range es {
			b, err := json.Marshal(e)
			Expect(err).NotTo(HaveOccurred())
			var back mockapns.Entry
			Expect(json.Unmarshal(b, &back)).To(Succeed())
			Expect(cmp.Diff(e, back, cmpOpts)).To(BeEmpty())
		}
		var m map[string]any
		b, err = json.Marshal(es[1])
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(b, &m)).To(Succeed())
		Expect(m).To(HaveKeyWithValue("expiration", BeEquivalentTo(exp)))
		Expect(m).To(HaveKeyWithValue("priority", BeEquivalentTo(5)))
		Expect(m).NotTo(HaveKey("command"))
		Expect(m).NotTo(HaveKey("id"))
	})

	It("reads an entry without protocol as a binary one and refuses an unknown protocol or auth", func() {
		var e mockapns.Entry
		Expect(json.Unmarshal([]byte(`{"seq":1,"token":"ab","command":2,"id":3,"priority":0}`), &e)).To(Succeed())
		Expect(e.Protocol).To(Equal(apns.Binary))
		Expect(e.Priority.IsSet()).To(BeFalse())
		Expect(json.Unmarshal([]byte(`{"protocol":"spdy"}`), &e)).NotTo(Succeed())
		Expect(json.Unmarshal([]byte(`{"protocol":"http2","auth":"magic"}`), &e)).NotTo(Succeed())
	})

	It("filters by ?protocol= in the admin API and has the http2 stats object", func() {
		srv := startServer(mockapns.Config{})
		ts := httptest.NewServer(srv.Handler())
		DeferCleanup(ts.Close)
		push(srv, framed(1, token(7), payload))
		srv.JournalH2(accepted)
		var got []mockapns.Entry
		expectJSON(call(ts, "GET", "/api/v1/notifications?protocol=http2", ""), http.StatusOK, &got)
		Expect(got).To(HaveLen(1))
		Expect(got[0].Protocol).To(Equal(apns.HTTP2))
		expectJSON(call(ts, "GET", "/api/v1/notifications?protocol=binary", ""), http.StatusOK, &got)
		Expect(got).To(HaveLen(1))
		Expect(got[0].Protocol).To(Equal(apns.Binary))
		expectAPIError(call(ts, "GET", "/api/v1/notifications?protocol=spdy", ""), http.StatusBadRequest, "protocol")
		expectAPIError(call(ts, "GET", "/api/v1/notifications?token="+strings.Repeat("ab", apns.MaxTokenLength+1), ""),
			http.StatusBadRequest, "token")

		var raw map[string]any
		Expect(json.Unmarshal(call(ts, "GET", "/api/v1/stats", "").body, &raw)).To(Succeed())
		Expect(raw).To(HaveKeyWithValue("accepted", BeEquivalentTo(2)))
		Expect(raw).To(HaveKeyWithValue("binary", HaveKeyWithValue("accepted", BeEquivalentTo(1))))
		h2, ok := raw["http2"].(map[string]any)
		Expect(ok).To(BeTrue())
		Expect(h2).To(HaveLen(9))
		for _, k := range []string{"connections_total", "connections_open", "requests", "accepted", "rejected", "goaways",
			"streams_refused", "streams_peak", "pings"} {
			Expect(h2).To(HaveKey(k))
		}
		Expect(h2).To(HaveKeyWithValue("requests", BeEquivalentTo(1)))
	})

	It("zeroes the HTTP/2 counters on Reset", func() {
		srv := startServer(mockapns.Config{})
		srv.JournalH2(accepted)
		srv.Reset()
		Expect(srv.Stats()).To(Equal(mockapns.Stats{}))
		Expect(srv.Notifications(mockapns.Filter{})).To(BeEmpty())
	})
})
