package mockapns_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/http2"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("HTTP/2 connection events", func() {
	var (
		srv    *mockapns.Server
		events chan mockapns.ConnEvent
	)
	BeforeEach(func() {
		events = make(chan mockapns.ConnEvent, 16)
		srv = startServer(mockapns.Config{OnConn: func(e mockapns.ConnEvent) { events <- e }})
	})

	// next returns the next event of the kind given.
	next := func(kind mockapns.ConnEventKind) mockapns.ConnEvent {
		GinkgoHelper()
		var e mockapns.ConnEvent
		Eventually(events, ioTimeout).Should(Receive(&e, HaveField("Kind", kind)))
		return e
	}
	// closedWith waits for the close of connection num and checks its
	// reason.
	closedWith := func(num uint64, reason string) {
		GinkgoHelper()
		e := next(mockapns.ConnClosed)
		Expect(e).To(And(HaveField("Service", "http2"), HaveField("Conn", num), HaveField("Reason", reason)))
	}

	It("reports an opened connection of the service http2, then the client closing it", func() {
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		e := next(mockapns.ConnOpened)
		Expect(e).To(And(HaveField("Service", "http2"), HaveField("Conn", BeEquivalentTo(1)),
			HaveField("Remote", r.conn.LocalAddr().String())))
		Expect(r.conn.Close()).To(Succeed())
		closedWith(1, "client closed")
	})

	It("says a goaway fault closed it", func() {
		_, err := srv.AddFault(mockapns.GoAway{Reason: apns.ReasonShutdown})
		Expect(err).NotTo(HaveOccurred())
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.push(1, payload, request(h2Token)...)
		r.readToClose()
		_ = r.conn.Close() // the server lingers until the client closes
		closedWith(1, "goaway fault")
	})

	It("says a disconnect fault closed it", func() {
		_, err := srv.AddFault(mockapns.Disconnect{When: mockapns.Trigger{Protocol: apns.HTTP2}})
		Expect(err).NotTo(HaveOccurred())
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.push(1, payload, request(h2Token)...)
		r.readToClose()
		_ = r.conn.Close() // the server lingers until the client closes
		closedWith(1, "disconnect fault")
	})

	It("says an idle timeout closed it", func() {
		_, err := srv.AddFault(mockapns.IdleTimeout{After: 20 * time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.readToClose()
		_ = r.conn.Close() // the server lingers until the client closes
		Expect(r.goaways).To(HaveLen(1))
		closedWith(1, "idle timeout")
	})

	It("says a protocol error closed it", func() {
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.headers(2, true, request(h2Token)...) // an even stream: a connection error
		r.readToClose()
		_ = r.conn.Close() // the server lingers until the client closes
		Expect(r.goaways).To(HaveLen(1))
		Expect(r.goaways[0].code).To(Equal(http2.ErrCodeProtocol))
		closedWith(1, "protocol error")
	})

	It("says a connection with a certificate of the other environment was refused", func() {
		prod, err := srv.PKI().IssueClient(certs.ClientOptions{Environment: certs.Production})
		Expect(err).NotTo(HaveOccurred())
		cfg := srv.HTTP2TLSConfig()
		cfg.Certificates = append(cfg.Certificates, prod.TLS)
		r := dialH2(srv, cfg)
		r.readToClose()
		_ = r.conn.Close() // the server lingers until the client closes
		closedWith(1, "refused")
	})

	It("says the server closed it on CloseClientConnections and Shutdown", func() {
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		next(mockapns.ConnOpened)
		srv.CloseClientConnections()
		closedWith(1, "server closed")
		_ = r.conn.Close() // already cut: the close_notify may fail

		r = dialH2(srv, srv.HTTP2CertTLSConfig())
		r.push(1, payload, request(h2Token)...)
		Expect(r.wait(1)[0].status).To(Equal("200"))
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- srv.Shutdown(ctx) }()
		Expect(r.readUntil(func() bool { return len(r.goaways) == 1 })).To(Succeed())
		r.readToClose() // drained: the server ends the connection
		_ = r.conn.Close()
		closedWith(2, "server closed")
		Eventually(done, ioTimeout).Should(Receive(Not(HaveOccurred())))
	})

	It("says the server closed it on Close", func() {
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		next(mockapns.ConnOpened)
		srv.Close()
		r.readToClose()
		_ = r.conn.Close() // the server lingers until the client closes
		closedWith(1, "server closed")
	})
})
