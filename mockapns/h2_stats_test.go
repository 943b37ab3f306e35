package mockapns_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/http2"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("HTTP/2 stream and PING counters", func() {
	var srv *mockapns.Server
	BeforeEach(func() { srv = startServer(mockapns.Config{}) })

	It("counts the streams refused beyond the single stream of a token connection, not rst_stream faults", func() {
		_, err := srv.AddFault(mockapns.RstStream{When: mockapns.Trigger{Nth: 1, Protocol: apns.HTTP2}})
		Expect(err).NotTo(HaveOccurred())
		r := dialH2(srv, srv.HTTP2TLSConfig())
		Expect(r.settings).To(Equal([]uint32{1}))
		r.push(1, payload, request(h2Token, "authorization", bearer(srv))...)
		Expect(r.wait(1)[0].rst).To(Equal(http2.ErrCodeRefusedStream)) // the fault: not counted
		Expect(srv.Stats().HTTP2.StreamsRefused).To(BeZero())
		r.headers(3, false, request(h2Token, "authorization", bearer(srv))...)
		r.headers(5, false, request(h2Token, "authorization", bearer(srv))...)
		r.headers(7, false, request(h2Token, "authorization", bearer(srv))...)
		Expect(r.wait(5, 7)[0].rst).To(Equal(http2.ErrCodeRefusedStream))
		r.data(3, true, payload)
		Expect(r.wait(3)[0].status).To(Equal("200"))
		st := srv.Stats().HTTP2
		Expect(st.StreamsRefused).To(Equal(uint64(2)))
		Expect(st.StreamsPeak).To(Equal(uint64(1)))
	})

	It("records the most streams open at once on one connection, held answers included", func() {
		held, err := apns.TokenFromBytes(token(0xcd))
		Expect(err).NotTo(HaveOccurred())
		_, err = srv.AddFault(mockapns.Delay{Duration: time.Hour, When: mockapns.Trigger{Token: held, Protocol: apns.HTTP2}})
		Expect(err).NotTo(HaveOccurred())
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.push(1, payload, request(h2Hex(0xcd))...) // held an hour: open until the connection ends
		r.headers(3, false, request(h2Token)...)
		r.headers(5, false, request(h2Token)...)
		r.data(3, true, payload)
		r.data(5, true, payload)
		r.wait(3, 5)
		r.push(7, payload, request(h2Token)...)
		r.wait(7)
		Expect(srv.Stats().HTTP2.StreamsPeak).To(Equal(uint64(3)))
		Expect(srv.Stats().HTTP2.StreamsRefused).To(BeZero())

		other := dialH2(srv, srv.HTTP2CertTLSConfig())
		other.push(1, payload, request(h2Token)...)
		other.wait(1)
		Expect(srv.Stats().HTTP2.StreamsPeak).To(Equal(uint64(3)), "a peak, not a sum over connections")
		srv.Reset()
		Expect(srv.Stats().HTTP2.StreamsPeak).To(BeZero())
	})

	It("counts PINGs, which keep a connection from the idle timeout until they stop", func() {
		const idle = 300 * time.Millisecond
		_, err := srv.AddFault(mockapns.IdleTimeout{After: idle, Times: mockapns.Always})
		Expect(err).NotTo(HaveOccurred())
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.push(1, payload, request(h2Token)...)
		Expect(r.wait(1)[0].status).To(Equal("200"))
		// A PING every third of the idle timeout, for three idle timeouts.
		tick := time.NewTicker(idle / 3)
		defer tick.Stop()
		end := time.After(3 * idle)
		sent := 0
	pinging:
		for {
			select {
			case <-end:
				break pinging
			case <-tick.C:
				Expect(r.fr.WritePing(false, [8]byte{byte(sent)})).To(Succeed())
				sent++
				Expect(r.readUntil(func() bool { return len(r.pings) == sent })).To(Succeed())
			}
		}
		Expect(r.goaways).To(BeEmpty(), "the connection was kept")
		st := srv.Stats().HTTP2
		Expect(st.Pings).To(Equal(uint64(sent)))
		Expect(st.ConnectionsTotal).To(Equal(uint64(1)))
		// Without them, the idle timeout ends it.
		r.readToClose()
		Expect(r.goaways).To(HaveLen(1))
		Expect(r.goaways[0].debug).To(Equal(`{"reason":"IdleTimeout"}`))
	})
})
