package mockapns_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/http2"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("HTTP/2 faults on the wire", func() {
	var srv *mockapns.Server
	BeforeEach(func() { srv = startServer(mockapns.Config{}) })

	add := func(f mockapns.Fault) {
		GinkgoHelper()
		_, err := srv.AddFault(f)
		Expect(err).NotTo(HaveOccurred())
	}
	journalled := func(n int) []mockapns.Entry {
		GinkgoHelper()
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		es, err := srv.WaitNotifications(ctx, mockapns.Filter{}, n)
		Expect(err).NotTo(HaveOccurred())
		return es
	}

	It("rejects with any reason, its status from Apple's table, the connection open", func() {
		add(mockapns.Reject{Reason: apns.ReasonTooManyRequests, When: mockapns.Trigger{Nth: 2}})
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		for id := uint32(1); id <= 5; id += 2 {
			r.push(id, payload, request(h2Token)...)
		}
		rs := r.wait(1, 3, 5)
		Expect(rs[0].status).To(Equal("200"))
		Expect(rs[1].status).To(Equal("429"))
		Expect(rs[1].body).To(Equal(`{"reason":"TooManyRequests"}`))
		Expect(rs[2].status).To(Equal("200"))
		es := journalled(3)
		Expect(es[1].Reason).To(Equal(apns.ReasonTooManyRequests))
		Expect(es[1].HTTPStatus).To(Equal(429))
	})

	It("rejects with the status given, by token", func() {
		add(mockapns.Reject{Reason: apns.ReasonShutdown, HTTPStatus: 500, When: mockapns.Trigger{Token: apns.MustParseToken(h2Token)}})
		c := srv.HTTP2CertClient()
		DeferCleanup(closeClient, c)
		status, _, body := h2Post(c, srv, h2Token, payload, "apns-topic", h2Topic)
		Expect(status).To(Equal(500))
		Expect(body).To(MatchJSON(`{"reason":"Shutdown"}`))
	})

	It("sends GOAWAY at the nth request: last stream processed, reason in the debug data, streams below answered", func() {
		add(mockapns.GoAway{Reason: apns.ReasonShutdown, When: mockapns.Trigger{Nth: 2}})
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.push(1, payload, request(h2Token)...)
		Expect(r.wait(1)[0].status).To(Equal("200"))
		r.headers(3, false, request(h2Token)...) // open, below the trigger
		r.push(5, payload, request(h2Token)...)  // the 2nd request: the trigger
		r.headers(7, false, request(h2Token)...) // above
		Expect(r.readUntil(func() bool { return len(r.goaways) == 1 })).To(Succeed())
		Expect(r.goaways[0]).To(Equal(goAway{last: 1, code: http2.ErrCodeNo, debug: `{"reason":"Shutdown"}`}))
		r.readToClose()
		Expect(r.resps).NotTo(HaveKey(uint32(5)))
		Expect(r.resps).NotTo(HaveKey(uint32(7)))
		Expect(srv.Notifications(mockapns.Filter{})).To(HaveLen(1))
		Expect(srv.Stats().HTTP2.GoAways).To(Equal(uint64(1)))
	})

	It("sends GOAWAY with the last stream given and answers the streams up to it", func() {
		add(mockapns.GoAway{Reason: apns.ReasonShutdown, LastStreamID: 3, HasLastStreamID: true, When: mockapns.Trigger{Nth: 2}})
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.headers(1, false, request(h2Token)...)
		r.headers(3, false, request(h2Token)...)
		r.data(3, true, payload) // the 1st request
		r.data(1, true, payload) // the 2nd: the trigger, below the last stream
		r.headers(5, true, request(h2Token)...)
		rs := r.wait(1, 3)
		Expect(rs[1].status).To(Equal("200"))
		Expect(rs[0].status).To(Equal("503"))
		Expect(rs[0].body).To(Equal(`{"reason":"Shutdown"}`))
		Expect(r.readUntil(func() bool { return len(r.goaways) == 1 })).To(Succeed())
		Expect(r.goaways[0].last).To(Equal(uint32(3)))
		r.readToClose()
		Expect(r.resps).NotTo(HaveKey(uint32(5)))
	})

	It("drops MAX_CONCURRENT_STREAMS by SETTINGS and restores it after M successes", func() {
		add(mockapns.MaxStreams{Streams: 1, RestoreAfter: 2, When: mockapns.Trigger{Nth: 1}})
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		Expect(r.settings).To(Equal([]uint32{mockapns.DefaultHTTP2MaxStreams}))
		r.push(1, payload, request(h2Token)...)
		Expect(r.wait(1)[0].status).To(Equal("200")) // processed normally; SETTINGS came before the answer
		Expect(r.settings).To(Equal([]uint32{mockapns.DefaultHTTP2MaxStreams, 1}))
		// Our ACK went out with the read of the SETTINGS; a PING round trip
		// makes sure the server has read it.
		Expect(r.fr.WritePing(false, [8]byte{1})).To(Succeed())
		Expect(r.readUntil(func() bool { return len(r.pings) == 1 })).To(Succeed())
		r.headers(3, false, request(h2Token)...)
		r.headers(5, false, request(h2Token)...)
		Expect(r.wait(5)[0].rst).To(Equal(http2.ErrCodeRefusedStream))
		r.data(3, true, payload)
		Expect(r.wait(3)[0].status).To(Equal("200")) // the 1st success after the trigger
		Expect(r.settings).To(HaveLen(2))
		r.push(7, payload, request(h2Token)...)
		Expect(r.wait(7)[0].status).To(Equal("200")) // the 2nd: the limit comes back
		Expect(r.readUntil(func() bool { return len(r.settings) == 3 })).To(Succeed())
		Expect(r.settings[2]).To(Equal(uint32(mockapns.DefaultHTTP2MaxStreams)))
	})

	It("resets the nth stream with RST_STREAM, the connection open, nothing journalled", func() {
		add(mockapns.RstStream{When: mockapns.Trigger{Nth: 2}})
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		for id := uint32(1); id <= 5; id += 2 {
			r.push(id, payload, request(h2Token)...)
		}
		rs := r.wait(1, 3, 5)
		Expect(rs[0].status).To(Equal("200"))
		Expect(rs[1]).To(Equal(&h2Resp{header: map[string]string{}, reset: true, rst: http2.ErrCodeRefusedStream}))
		Expect(rs[2].status).To(Equal("200"))
		Expect(journalled(2)).To(HaveLen(2))
	})

	It("delays the answer to one request without holding up the others", func() {
		add(mockapns.Delay{Duration: time.Hour, When: mockapns.Trigger{Nth: 1}})
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.push(1, payload, request(h2Token)...)
		r.push(3, payload, request(h2Token)...)
		Expect(r.wait(3)[0].status).To(Equal("200"))
		Expect(r.done).NotTo(HaveKey(uint32(1)))
	})

	It("answers a delayed request once the delay is over", func() {
		add(mockapns.Delay{Duration: 10 * time.Millisecond, When: mockapns.Trigger{Nth: 1}})
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.push(1, payload, request(h2Token)...)
		Expect(r.wait(1)[0].status).To(Equal("200"))
	})

	It("cuts the connection at the nth request without a word", func() {
		add(mockapns.Disconnect{When: mockapns.Trigger{Nth: 2, Protocol: apns.HTTP2}})
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.push(1, payload, request(h2Token)...)
		r.headers(3, false, request(h2Token)...)
		r.push(5, payload, request(h2Token)...)
		r.readToClose()
		Expect(r.goaways).To(BeEmpty())
		Expect(r.resps[1].status).To(Equal("200"))
		Expect(r.resps).NotTo(HaveKey(uint32(3)))
		Expect(r.resps).NotTo(HaveKey(uint32(5)))
		Expect(srv.Notifications(mockapns.Filter{})).To(HaveLen(1))
	})

	Describe("idle_timeout", func() {
		idleGoAway := func(last uint32) goAway {
			return goAway{last: last, code: http2.ErrCodeNo, debug: `{"reason":"IdleTimeout"}`}
		}
		fired := func() []int {
			var n []int
			for _, f := range srv.Faults() {
				n = append(n, f.Fired)
			}
			return n
		}

		It("ends an idle connection with GOAWAY NO_ERROR and {\"reason\":\"IdleTimeout\"}, then closes it", func() {
			add(mockapns.IdleTimeout{After: 50 * time.Millisecond})
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			r.push(1, payload, request(h2Token)...)
			Expect(r.wait(1)[0].status).To(Equal("200"))
			Expect(r.readUntil(func() bool { return len(r.goaways) == 1 })).To(Succeed())
			Expect(r.goaways[0]).To(Equal(idleGoAway(1)))
			r.readToClose()
			Expect(fired()).To(Equal([]int{1}))
			Expect(srv.Stats().HTTP2.GoAways).To(Equal(uint64(1)))
		})

		It("ends a connection that never opened a stream, naming stream 0", func() {
			add(mockapns.IdleTimeout{After: 20 * time.Millisecond})
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			Expect(r.readUntil(func() bool { return len(r.goaways) == 1 })).To(Succeed())
			Expect(r.goaways[0]).To(Equal(idleGoAway(0)))
			r.readToClose()
		})

		It("does not count a connection with a stream open as idle", func() {
			add(mockapns.IdleTimeout{After: 20 * time.Millisecond})
			add(mockapns.Delay{Duration: 300 * time.Millisecond, When: mockapns.Trigger{Nth: 1}})
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			r.push(1, payload, request(h2Token)...)
			Expect(r.wait(1)[0].status).To(Equal("200"))
			Expect(r.goaways).To(BeEmpty(), "GOAWAY while the delayed stream was open")
			Expect(r.readUntil(func() bool { return len(r.goaways) == 1 })).To(Succeed())
			Expect(r.goaways[0]).To(Equal(idleGoAway(1)))
			r.readToClose()
		})

		It("counts each connection closed as one firing and stops once exhausted", func() {
			add(mockapns.IdleTimeout{After: 20 * time.Millisecond, Times: mockapns.Times(2)})
			for range 2 {
				r := dialH2(srv, srv.HTTP2CertTLSConfig())
				Expect(r.readUntil(func() bool { return len(r.goaways) == 1 })).To(Succeed())
				Expect(r.goaways[0]).To(Equal(idleGoAway(0)))
				r.readToClose()
			}
			Expect(fired()).To(Equal([]int{2}))
			// A third connection is closed by a second fault only: the
			// first, exhausted, does not fire on it.
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			r.push(1, payload, request(h2Token)...)
			Expect(r.wait(1)[0].status).To(Equal("200"))
			add(mockapns.IdleTimeout{After: 40 * time.Millisecond})
			r.push(3, payload, request(h2Token)...) // a frame read: the new fault is watched
			Expect(r.wait(3)[0].status).To(Equal("200"))
			Expect(r.readUntil(func() bool { return len(r.goaways) == 1 })).To(Succeed())
			Expect(r.goaways[0]).To(Equal(idleGoAway(3)))
			r.readToClose()
			Expect(fired()).To(Equal([]int{2, 1}))
		})
	})
})
