package client_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"time"

	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// expiredClient signs a client certificate with ca that expired an hour ago.
func expiredClient(ca certs.Pair) *client.Certificate {
	GinkgoHelper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "Apple Push Services: expired"},
		NotBefore:    time.Now().Add(-48 * time.Hour),
		NotAfter:     time.Now().Add(-time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.TLS.PrivateKey)
	Expect(err).NotTo(HaveOccurred())
	c, err := client.NewCertificate(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// otherCAClient is a client certificate of a PKI the mock does not trust.
func otherCAClient() *client.Certificate {
	GinkgoHelper()
	other, err := certs.New(certs.Options{})
	Expect(err).NotTo(HaveOccurred())
	c, err := client.NewCertificate(other.Client.TLS)
	Expect(err).NotTo(HaveOccurred())
	return c
}

var _ = Describe("A server that refuses the client certificate", func() {
	var e *env
	BeforeEach(func() { e = newEnv(client.Config{ErrorWait: 2 * time.Second}, mockapns.Config{}) })

	expectRefusal := func(err error, alerts ...uint8) {
		GinkgoHelper()
		Expect(err).To(MatchError(client.ErrConnect))
		Expect(err).To(MatchError(client.ErrCertificateRefused))
		Expect(err).NotTo(MatchError(client.ErrConnectionLost))
		var re *client.CertificateRefusedError
		Expect(errors.As(err, &re)).To(BeTrue())
		Expect(re.Alert).To(BeElementOf(alerts))
		Expect(re.Addr).To(Equal(e.addr))
		Expect(err.Error()).To(ContainSubstring("the server refused the client certificate"))
	}

	// A certificate of another CA is refused as unknown (alert 48), or, by
	// a server that names its CAs, never offered and so missing (116); an
	// expired one is refused as expired (45) or bad (42).
	DescribeTable("is a connection error of Send: nothing sent, nothing uncertain",
		func(cert func() *client.Certificate, alerts ...uint8) {
			res, err := e.sess.Send(ctxTimeout(10*time.Second), e.addr, cert(), &client.Message{Tokens: tokens(1, 3), Alert: "hi"})
			Expect(res).To(BeNil())
			expectRefusal(err, alerts...)
			Expect(e.srv.Stats().Accepted).To(BeZero())
		},
		Entry("a certificate from another CA", otherCAClient, uint8(48), uint8(116)),
		Entry("an expired certificate", func() *client.Certificate { return expiredClient(e.srv.PKI().CA) }, uint8(45), uint8(42)),
	)

	It("is not retried by SendAll", func() {
		sum, err := e.sess.SendAll(ctxTimeout(10*time.Second), e.addr, otherCAClient(), &client.Message{Tokens: tokens(1, 3), Alert: "hi"}, 10)
		Expect(sum).To(BeNil())
		expectRefusal(err, 48, 116)
		Expect(e.sess.Stats().Dials).To(Equal(uint64(1)))
	})

	It("is yielded once by Feedback", func() {
		n := 0
		for _, err := range e.sess.Feedback(ctxTimeout(10*time.Second), e.srv.FeedbackAddr(), otherCAClient()) {
			n++
			Expect(err).To(MatchError(client.ErrCertificateRefused))
		}
		Expect(n).To(Equal(1))
	})
})

// noCertServer serves TLS with the mock's server certificate, requiring a
// client certificate from a CA whose name the client's issuer does not
// bear: the client offers none, and the server refuses the handshake (in
// TLS 1.3 after the client's side of it has completed).
func noCertServer(pki *certs.PKI) string {
	GinkgoHelper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "a CA no client certificate names"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	Expect(err).NotTo(HaveOccurred())
	ca, err := x509.ParseCertificate(der)
	Expect(err).NotTo(HaveOccurred())
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cfg := &tls.Config{Certificates: []tls.Certificate{pki.Server.TLS}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(ln.Close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			_ = c.Close()
		}
	}()
	return ln.Addr().String()
}

var _ = Describe("A server that gets no client certificate", func() {
	It("is a connection error of Send and SendAll: certificate required, nothing sent", func() {
		e := newEnv(client.Config{ErrorWait: 2 * time.Second}, mockapns.Config{})
		addr := noCertServer(e.srv.PKI())
		res, err := e.sess.Send(ctxTimeout(10*time.Second), addr, e.cert, &client.Message{Tokens: tokens(1, 3), Alert: "hi"})
		Expect(res).To(BeNil())
		Expect(err).To(MatchError(client.ErrConnect))
		var re *client.CertificateRefusedError
		Expect(errors.As(err, &re)).To(BeTrue(), "%v", err)
		Expect(re.Alert).To(Equal(uint8(116)))
		sum, err := e.sess.SendAll(ctxTimeout(10*time.Second), addr, e.cert, &client.Message{Tokens: tokens(1, 3), Alert: "hi"}, 10)
		Expect(sum).To(BeNil())
		Expect(err).To(MatchError(client.ErrCertificateRefused))
		Expect(e.sess.Stats().Dials).To(Equal(uint64(2)), "one dial per call, no retry")
	})
})

var _ = Describe("Feedback at an address that is not a feedback service", func() {
	It("yields ErrFeedbackSilent once when nothing arrives before ReadTimeout", func() {
		e := newEnv(client.Config{ReadTimeout: 300 * time.Millisecond}, mockapns.Config{})
		var errs []error
		for t, err := range e.sess.Feedback(ctxTimeout(10*time.Second), e.srv.GatewayAddr(), e.cert) {
			Expect(t).To(BeZero())
			errs = append(errs, err)
		}
		Expect(errs).To(HaveLen(1))
		Expect(errs[0]).To(MatchError(client.ErrFeedbackSilent))
		Expect(errs[0].Error()).To(ContainSubstring(e.srv.GatewayAddr()))
	})
})
