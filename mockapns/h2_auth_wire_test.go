package mockapns_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/http2"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("HTTP/2 authentication on the wire", func() {
	var (
		srv   *mockapns.Server
		clock *fakeClock
	)
	BeforeEach(func() {
		clock = newFakeClock()
		srv = startServer(mockapns.Config{Clock: clock.Now})
	})
	jwt := func(iat time.Time) string {
		GinkgoHelper()
		t, err := srv.PKI().AuthKey.Token(iat)
		Expect(err).NotTo(HaveOccurred())
		return "bearer " + t
	}

	It("allows one stream until the first valid JWT, then the limit, announced by SETTINGS", func() {
		r := dialH2(srv, srv.HTTP2TLSConfig())
		Expect(r.settings).To(Equal([]uint32{1}))
		r.push(1, payload, request(h2Token, "authorization", "bearer not.a.jwt")...)
		resp := r.wait(1)[0]
		Expect(resp.status).To(Equal("403"))
		Expect(resp.body).To(Equal(`{"reason":"InvalidProviderToken"}`))
		r.headers(3, false, request(h2Token, "authorization", jwt(clock.Now()))...)
		r.headers(5, false, request(h2Token, "authorization", jwt(clock.Now()))...)
		Expect(r.wait(5)[0].rst).To(Equal(http2.ErrCodeRefusedStream))
		Expect(r.settings).To(Equal([]uint32{1}))
		r.data(3, true, payload)
		Expect(r.wait(3)[0].status).To(Equal("200"))
		Expect(r.settings).To(Equal([]uint32{1, mockapns.DefaultHTTP2MaxStreams}))
		es := srv.Notifications(mockapns.Filter{Status: mockapns.Accepted})
		Expect(es).To(HaveLen(1))
		Expect(es[0].Auth).To(Equal(mockapns.AuthProviderToken))
	})

	It("holds to the single stream until the client acknowledged the raise", func() {
		_, err := srv.AddFault(mockapns.Delay{Duration: time.Hour, When: mockapns.Trigger{Nth: 1, Protocol: apns.HTTP2}})
		Expect(err).NotTo(HaveOccurred())
		r := dialH2(srv, srv.HTTP2TLSConfig())
		Expect(r.settings).To(Equal([]uint32{1}))
		auth := jwt(clock.Now())
		// Stream 1 is judged (its token valid: the limit is raised) and
		// held; stream 3 was written before the raise could be read.
		r.push(1, payload, request(h2Token, "authorization", auth)...)
		r.push(3, payload, request(h2Token, "authorization", auth)...)
		Expect(r.wait(3)[0].rst).To(Equal(http2.ErrCodeRefusedStream))
		Expect(r.readUntil(func() bool { return len(r.settings) == 2 })).To(Succeed()) // and acknowledged
		Expect(r.settings[1]).To(Equal(uint32(mockapns.DefaultHTTP2MaxStreams)))
		Expect(r.fr.WritePing(false, [8]byte{1})).To(Succeed())
		Expect(r.readUntil(func() bool { return len(r.pings) == 1 })).To(Succeed())
		r.push(5, payload, request(h2Token, "authorization", auth)...)
		Expect(r.wait(5)[0].status).To(Equal("200")) // stream 1 still open: the raised limit is in force
		Expect(srv.Stats().HTTP2.StreamsRefused).To(Equal(uint64(1)))
	})

	It("refuses an expired JWT with ExpiredProviderToken", func() {
		r := dialH2(srv, srv.HTTP2TLSConfig())
		r.push(1, payload, request(h2Token, "authorization", jwt(clock.Now().Add(-2*time.Hour)))...)
		resp := r.wait(1)[0]
		Expect(resp.status).To(Equal("403"))
		Expect(resp.body).To(Equal(`{"reason":"ExpiredProviderToken"}`))
	})

	It("refuses a token changed within 20 minutes with TooManyProviderTokenUpdates (fake clock)", func() {
		r := dialH2(srv, srv.HTTP2TLSConfig())
		r.push(1, payload, request(h2Token, "authorization", jwt(clock.Now()))...)
		Expect(r.wait(1)[0].status).To(Equal("200"))
		clock.Advance(10 * time.Minute)
		r.push(3, payload, request(h2Token, "authorization", jwt(clock.Now()))...)
		resp := r.wait(3)[0]
		Expect(resp.status).To(Equal("429"))
		Expect(resp.body).To(Equal(`{"reason":"TooManyProviderTokenUpdates"}`))
		clock.Advance(11 * time.Minute)
		r.push(5, payload, request(h2Token, "authorization", jwt(clock.Now()))...)
		Expect(r.wait(5)[0].status).To(Equal("200"))
	})

	It("refuses a certificate of the other environment with GOAWAY BadCertificateEnvironment", func() {
		prod, err := srv.PKI().IssueClient(certs.ClientOptions{Environment: certs.Production})
		Expect(err).NotTo(HaveOccurred())
		cfg := srv.HTTP2TLSConfig()
		cfg.Certificates = append(cfg.Certificates, prod.TLS)
		r := dialH2(srv, cfg)
		r.readToClose()
		Expect(r.goaways).To(Equal([]goAway{{last: 0, code: http2.ErrCodeNo, debug: `{"reason":"BadCertificateEnvironment"}`}}))
	})

	It("takes a certificate's topics: a foreign topic is TopicDisallowed, none with one topic is that topic", func() {
		one, err := srv.PKI().IssueClient(certs.ClientOptions{BundleID: "com.example.one", Topics: []string{}})
		Expect(err).NotTo(HaveOccurred())
		cfg := srv.HTTP2TLSConfig()
		cfg.Certificates = append(cfg.Certificates, one.TLS)
		r := dialH2(srv, cfg)
		r.push(1, payload, request(h2Token)...) // apns-topic com.example.apnskit
		resp := r.wait(1)[0]
		Expect(resp.status).To(Equal("400"))
		Expect(resp.body).To(Equal(`{"reason":"TopicDisallowed"}`))
		r.push(3, payload, ":method", "POST", ":scheme", "https", ":path", "/3/device/"+h2Token)
		Expect(r.wait(3)[0].status).To(Equal("200"))
		es := srv.Notifications(mockapns.Filter{Status: mockapns.Accepted})
		Expect(es).To(HaveLen(1))
		Expect(es[0].Topic).To(Equal("com.example.one"))
		Expect(es[0].Auth).To(Equal(mockapns.AuthCertificate))
	})

	It("answers device state: 410 Unregistered with the timestamp, 400 DeviceTokenNotForTopic", func() {
		at := time.UnixMilli(1700000000123)
		Expect(srv.SetDevices(
			mockapns.Device{Token: apns.MustParseToken(h2Token), UnregisteredAt: at},
			mockapns.Device{Token: apns.MustParseToken(h2Hex(0xcd)), Topic: "com.example.other"},
		)).To(Succeed())
		c := srv.HTTP2CertClient()
		DeferCleanup(closeClient, c)
		status, _, body := h2Post(c, srv, h2Token, payload, "apns-topic", h2Topic)
		Expect(status).To(Equal(410))
		Expect(body).To(MatchJSON(`{"reason":"Unregistered","timestamp":1700000000123}`))
		status, _, body = h2Post(c, srv, h2Hex(0xcd), payload, "apns-topic", h2Topic)
		Expect(status).To(Equal(400))
		Expect(body).To(MatchJSON(`{"reason":"DeviceTokenNotForTopic"}`))
		es := srv.Notifications(mockapns.Filter{Status: mockapns.Rejected})
		Expect(es).To(HaveLen(2))
		Expect(es[0].Reason).To(Equal(apns.ReasonUnregistered))
	})
})
