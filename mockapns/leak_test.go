package mockapns_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/internal/leakcheck"
	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("Leaks", func() {
	var file lockedBuffer

	It("leaves no goroutine and no descriptor after Shutdown of a server with a connection and a journal file", func() {
		leakcheck.ExpectNone(func() {
			srv, err := mockapns.Start(mockapns.Config{JournalFile: &file})
			Expect(err).NotTo(HaveOccurred())
			conn := dial(srv, srv.GatewayAddr())
			send(conn, framed(1, token(1), payload))
			Eventually(func() uint64 { return srv.Stats().Accepted }).Should(BeEquivalentTo(1))
			Expect(srv.Shutdown(context.Background())).To(Succeed())
			got, _ := readToEnd(conn)
			Expect(got).To(Equal(response(10, 1)))
			Expect(conn.Close()).To(Succeed())
		})
	})

	It("leaves no goroutine and no descriptor after Close with connections open", func() {
		leakcheck.ExpectNone(func() {
			srv, err := mockapns.Start(mockapns.Config{JournalFile: &file})
			Expect(err).NotTo(HaveOccurred())
			conn := dial(srv, srv.GatewayAddr())
			send(conn, concat(framed(1, token(1), payload), framed(2, token(2), payload)))
			Eventually(func() uint64 { return srv.Stats().Accepted }).Should(BeEquivalentTo(2))
			srv.Close()
			Expect(conn.Close()).To(Succeed()) // the spec's own descriptor
		})
	})

	It("leaves no goroutine and no descriptor after a Shutdown whose context ends", func() {
		leakcheck.ExpectNone(func() {
			srv, err := mockapns.Start(mockapns.Config{})
			Expect(err).NotTo(HaveOccurred())
			conn := dial(srv, srv.GatewayAddr())
			send(conn, framed(1, token(1), payload)[:10]) // half a frame, then silence
			Eventually(func() int64 { return srv.Stats().ConnectionsOpen }).Should(BeEquivalentTo(1))
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			Expect(srv.Shutdown(ctx)).To(MatchError(context.Canceled))
			// The server has reset the connection: closing our end may
			// fail to send close_notify; what counts is what is left.
			_ = conn.Close()
		})
	})
})
