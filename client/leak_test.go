package client_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/internal/leakcheck"
	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("Leaks", func() {
	// start returns a mock and a session that trusts it; the spec ends both.
	start := func() (*mockapns.Server, *client.Session, *client.Certificate) {
		srv, err := mockapns.Start(mockapns.Config{})
		Expect(err).NotTo(HaveOccurred())
		cert, err := client.NewCertificate(srv.PKI().Client.TLS)
		Expect(err).NotTo(HaveOccurred())
		sess, err := client.NewSession(client.Config{RootCAs: srv.RootCAs()})
		Expect(err).NotTo(HaveOccurred())
		return srv, sess, cert
	}
	m := func(n int) *client.Message {
		return &client.Message{Tokens: tokens(1, n), Payload: []byte(`{"aps":{}}`)}
	}

	It("leaves no goroutine and no descriptor after a SendAll, Session.Shutdown and Server.Shutdown", func(ctx SpecContext) {
		leakcheck.ExpectNone(func() {
			srv, sess, cert := start()
			sum, err := sess.SendAll(ctx, srv.GatewayAddr(), cert, m(1000), 3)
			Expect(err).NotTo(HaveOccurred())
			Expect(sum.Accepted).To(Equal(1000))
			Expect(sess.Shutdown(ctx)).To(Succeed())
			Expect(srv.Shutdown(ctx)).To(Succeed())
		})
	})

	It("leaves no goroutine and no descriptor after a SendAll whose context is cancelled mid-push", func(ctx SpecContext) {
		leakcheck.ExpectNone(func() {
			srv, sess, cert := start()
			push, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, _ = sess.SendAll(push, srv.GatewayAddr(), cert, m(200000), 3)
			}()
			Eventually(func() uint64 { return srv.Stats().Accepted }).WithContext(ctx).Should(BeNumerically(">=", 1000))
			cancel()
			Eventually(done).WithContext(ctx).Should(BeClosed())
			Expect(sess.Shutdown(ctx)).To(Succeed())
			srv.Close()
		})
	})
})
