package client_test

import (
	"context"

	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("TLS session resumption", func() {
	// sendOne sends one notification with cert on a new connection
	// (ConfirmByClose: a connection per Send) and checks it was delivered.
	sendOne := func(ctx context.Context, e *env, cert *client.Certificate, tok string) {
		r, err := e.sess.Send(ctx, e.addr, cert, &client.Message{Tokens: []string{tok}, Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.NeedsRetry()).To(BeFalse())
		Expect(r.Failed).To(BeEmpty())
	}

	It("resumes the pool's session on its next connections", func(ctx SpecContext) {
		e := newEnv(client.Config{ConfirmByClose: true, PoolSize: 1}, mockapns.Config{})
		toks := tokens(1, 100)
		i := 0
		// The first connection is a full handshake; the gateway's ticket
		// reaches the client after it.
		Eventually(func() uint64 {
			sendOne(ctx, e, e.cert, toks[i])
			i++
			return e.sess.Stats().Resumed
		}).WithContext(ctx).Should(BeNumerically(">=", 1))
		before := e.sess.Stats()
		for range 3 {
			sendOne(ctx, e, e.cert, toks[i])
			i++
		}
		after := e.sess.Stats()
		Expect(after.Dials - before.Dials).To(Equal(uint64(3)))
		Expect(after.Resumed-before.Resumed).To(Equal(uint64(3)), "every connection after the first resumed")
		e.waitAccepted(ctx, i)
	})

	It("never offers one certificate's session on a connection of another", func(ctx SpecContext) {
		e := newEnv(client.Config{ConfirmByClose: true}, mockapns.Config{StrictCerts: true})
		Eventually(func() uint64 {
			sendOne(ctx, e, e.cert, tokens(1, 1)[0])
			return e.sess.Stats().Resumed
		}).WithContext(ctx).Should(BeNumerically(">=", 1))
		// A certificate of the other environment, which the mock refuses:
		// had the client resumed the first certificate's session, the
		// gateway would have taken the connection for the first
		// certificate's.
		pair, err := e.srv.PKI().IssueClient(certs.ClientOptions{Environment: certs.Production})
		Expect(err).NotTo(HaveOccurred())
		other, err := client.NewCertificate(pair.TLS)
		Expect(err).NotTo(HaveOccurred())
		resumed := e.sess.Stats().Resumed
		_, err = e.sess.Send(ctx, e.addr, other, &client.Message{Tokens: tokens(2, 1), Alert: "x"})
		Expect(err).To(MatchError(client.ErrCertificateRefused))
		Expect(e.sess.Stats().Resumed).To(Equal(resumed))
	})

	It("makes every handshake a full one with DisableTLSResumption", func(ctx SpecContext) {
		e := newEnv(client.Config{ConfirmByClose: true, DisableTLSResumption: true}, mockapns.Config{})
		for i, tok := range tokens(1, 5) {
			sendOne(ctx, e, e.cert, tok)
			Expect(e.sess.Stats().Dials).To(Equal(uint64(i + 1)))
		}
		Expect(e.sess.Stats().Resumed).To(BeZero())
	})
})
