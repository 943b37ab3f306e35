package client_test

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// sessionSigner returns a provider-token signer of srv's trusted key.
func sessionSigner(srv *mockapns.Server) *client.TokenSigner {
	GinkgoHelper()
	k := srv.PKI().AuthKey
	p8, err := k.PrivatePEM()
	Expect(err).NotTo(HaveOccurred())
	s, err := client.NewTokenSigner(p8, k.KeyID, k.TeamID, client.TokenOptions{})
	Expect(err).NotTo(HaveOccurred())
	return s
}

var _ = Describe("A Session sending to an HTTP/2 address", func() {
	var e *env

	BeforeEach(func() {
		e = newEnv(client.Config{}, mockapns.Config{})
	})

	withSigner := func() *client.Session {
		sess, err := client.NewSession(client.Config{RootCAs: e.srv.RootCAs(),
			HTTP2: client.HTTP2Config{Signer: sessionSigner(e.srv), Retry: fastRetry}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { Expect(sess.Shutdown(ctx)).To(Succeed()) })
		return sess
	}

	It("sends an https:// address over HTTP/2 with the provider tokens of Config.HTTP2.Signer", func(ctx SpecContext) {
		sess := withSigner()
		toks := tokens(1, 3)
		r, err := sess.Send(ctx, "https://"+e.srv.HTTP2Addr(), nil, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(3))
		Expect(r.Responses).To(HaveLen(3))
		en := e.srv.Notifications(mockapns.Filter{})
		Expect(en).To(HaveLen(3))
		for _, n := range en {
			Expect(n.Protocol).To(Equal(apns.HTTP2))
			Expect(n.Auth).To(Equal(mockapns.AuthProviderToken))
		}
	})

	It("authenticates with the certificate given, and SendAll follows HTTP/2 retries to the end", func(ctx SpecContext) {
		sess, err := client.NewSession(client.Config{RootCAs: e.srv.RootCAs(), Protocol: apns.HTTP2,
			HTTP2: client.HTTP2Config{Retry: fastRetry, RequestTimeout: 2 * time.Second}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { Expect(sess.Shutdown(ctx)).To(Succeed()) })
		_, err = e.srv.AddFault(mockapns.Disconnect{When: mockapns.Trigger{Protocol: apns.HTTP2, Nth: 10}})
		Expect(err).NotTo(HaveOccurred())
		toks := tokens(1, 50)
		sum, err := sess.SendAll(ctx, e.srv.HTTP2Addr(), e.cert, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic}, 5)
		Expect(err).NotTo(HaveOccurred())
		Expect(sum.Unsent).To(BeEmpty())
		Expect(sum.Failed).To(BeEmpty())
		Expect(sum.Accepted).To(Equal(50))
		Expect(sum.Rounds).To(BeNumerically(">=", 2), "the dropped requests were sent again in a later round")
		got := map[string]int{}
		for _, n := range e.srv.Notifications(mockapns.Filter{Status: mockapns.Accepted}) {
			Expect(n.Auth).To(Equal(mockapns.AuthCertificate))
			got[hex.EncodeToString(n.Token)]++
		}
		for _, t := range toks {
			Expect(got[t]).To(BeNumerically(">=", 1), "token %s lost", t)
			if got[t] > 1 {
				Expect(sum.Uncertain).To(ContainElement(t))
			}
		}
	})

	It("streams to api-style addresses through the same Stream", func(ctx SpecContext) {
		sess := withSigner()
		var o h2Outcomes
		st, err := sess.Stream("https://"+e.srv.HTTP2Addr()+"/", nil, &client.Message{Alert: "x", Topic: h2Topic},
			client.StreamOptions{OnOutcome: o.add})
		Expect(err).NotTo(HaveOccurred())
		toks := tokens(1, 20)
		pushAll(ctx, st, toks)
		Expect(st.Close(ctx)).To(Succeed())
		for _, t := range toks {
			Expect(o.one(t).Kind).To(Equal(client.Delivered))
		}
		Expect(e.srv.Stats().HTTP2.Accepted).To(Equal(uint64(20)))
	})

	It("keeps binary addresses binary", func(ctx SpecContext) {
		r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens(1, 2), Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(2))
		e.waitAccepted(ctx, 2)
		Expect(e.srv.Notifications(mockapns.Filter{Protocol: apns.Binary})).To(HaveLen(2))
	})

	It("refuses what it cannot send: no credentials, bad https addresses, a closed session", func(ctx SpecContext) {
		m := &client.Message{Tokens: tokens(1, 1), Alert: "x", Topic: h2Topic}
		_, err := e.sess.Send(ctx, "https://"+e.srv.HTTP2Addr(), nil, m)
		Expect(err).To(MatchError(client.ErrNoCertificate))
		for _, bad := range []string{"https://", "https://h:1/3/device", "https://u@h:1", "https://h:1?x=1", "https://h:0"} {
			_, err := e.sess.Send(ctx, bad, e.cert, m)
			Expect(err).To(MatchError(client.ErrBadAddress), bad)
		}
		binary, err := client.NewSession(client.Config{Protocol: apns.Binary})
		Expect(err).NotTo(HaveOccurred())
		_, err = binary.Send(ctx, "https://"+e.srv.HTTP2Addr(), e.cert, m)
		Expect(err).To(MatchError(client.ErrBadAddress))
		_, err = client.NewSession(client.Config{Protocol: 9})
		Expect(err).To(MatchError(client.ErrBadConfig))

		sess := withSigner()
		shut, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		Expect(sess.Shutdown(shut)).To(Succeed())
		_, err = sess.Send(ctx, client.APISandbox, nil, m)
		Expect(err).To(MatchError(client.ErrClosed))
		Expect(e.srv.Stats().HTTP2.Requests).To(BeZero())
	})
})
