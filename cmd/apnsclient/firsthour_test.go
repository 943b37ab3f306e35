package main_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

var _ = Describe("apnsclient errors a new user meets", func() {
	var m *mockFixture
	BeforeEach(func() { m = startMock(mockapns.Config{}) })

	It("names the key file, not the certificate, for an encrypted key without passphrase, and says how to give one", func(ctx SpecContext) {
		block, _ := pem.Decode(m.srv.PKI().Client.KeyPEM)
		Expect(block).NotTo(BeNil())
		enc, err := x509.EncryptPEMBlock(rand.Reader, block.Type, block.Bytes, []byte("s3cret"), x509.PEMCipherAES256) //nolint:staticcheck // the legacy format under test
		Expect(err).NotTo(HaveOccurred())
		keyFile := filepath.Join(m.dir, "secret-key.pem")
		Expect(os.WriteFile(keyFile, pem.EncodeToMemory(enc), 0o600)).To(Succeed())
		certFile := filepath.Join(m.dir, "client.pem")

		code, stdout, stderr := runCmd(ctx, "", "push", "-addr", m.srv.GatewayAddr(), "-ca", filepath.Join(m.dir, "ca.pem"),
			"-cert", certFile, "-key", keyFile, "-token", devToken(1))
		Expect(code).To(Equal(2))
		Expect(stdout).To(BeEmpty())
		Expect(stderr).To(Equal("apnsclient push: -key: " + keyFile +
			": apns: wrong or missing passphrase: key is encrypted (give its passphrase with -passphrase or $APNSCLIENT_PASSPHRASE)\n"))
		Expect(stderr).NotTo(ContainSubstring(certFile))
	})
})

var _ = Describe("apnsclient against a server that refuses its certificate", func() {
	var m *mockFixture
	BeforeEach(func() { m = startMock(mockapns.Config{}) })

	// writePair writes a certificate and its key as PEM files and returns
	// the -cert and -key arguments.
	writePair := func(name string, certDER []byte, key crypto.Signer) []string {
		GinkgoHelper()
		der, err := x509.MarshalPKCS8PrivateKey(key)
		Expect(err).NotTo(HaveOccurred())
		certFile, keyFile := filepath.Join(m.dir, name+".pem"), filepath.Join(m.dir, name+"-key.pem")
		Expect(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), 0o600)).To(Succeed())
		Expect(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)).To(Succeed())
		return []string{"-cert", certFile, "-key", keyFile}
	}
	otherCA := func() []string {
		other, err := certs.New(certs.Options{})
		Expect(err).NotTo(HaveOccurred())
		return writePair("other", other.Client.Cert.Raw, other.Client.TLS.PrivateKey.(crypto.Signer))
	}
	expired := func() []string {
		ca := m.srv.PKI().CA
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
		return writePair("expired", der, key)
	}

	DescribeTable("push exits 2 at once with one line naming the cause, counting nothing sent or uncertain",
		func(pair func() []string) {
			args := append([]string{"push", "-addr", m.srv.GatewayAddr(), "-ca", filepath.Join(m.dir, "ca.pem")}, pair()...)
			code, stdout, stderr := runCmd(context.Background(), "", append(args, "-token", devToken(1), "-alert", "hi")...)
			Expect(code).To(Equal(2))
			Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
			Expect(stderr).To(HavePrefix("apnsclient push: "))
			Expect(stderr).To(ContainSubstring("the server refused the client certificate"))
			s := parseSummary(stdout)
			Expect(s.Sent).To(BeZero())
			Expect(s.Uncertain).To(BeZero())
			Expect(s.Retried).To(BeZero())
			Expect(m.srv.Stats().Accepted).To(BeZero())
		},
		Entry("a certificate from another CA", otherCA),
		Entry("an expired certificate", expired),
	)

	It("push exits 2 with one line naming the cause when the server gets no certificate", func(ctx SpecContext) {
		// The server requires a certificate from a CA whose name the client
		// certificate's issuer does not bear: the client offers none.
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
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
			Certificates: []tls.Certificate{m.srv.PKI().Server.TLS}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
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
		args := append([]string{"push", "-addr", ln.Addr().String()}, m.conn...)
		code, stdout, stderr := runCmd(ctx, "", append(args, "-token", devToken(1), "-alert", "hi")...)
		Expect(code).To(Equal(2))
		Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
		Expect(stderr).To(ContainSubstring("the server refused the client certificate"))
		Expect(stderr).To(ContainSubstring("certificate required"))
		s := parseSummary(stdout)
		Expect(s.Sent).To(BeZero())
		Expect(s.Uncertain).To(BeZero())
	})

	It("feedback exits 2 with one line naming the cause", func(ctx SpecContext) {
		args := append([]string{"feedback", "-addr", m.srv.FeedbackAddr(), "-ca", filepath.Join(m.dir, "ca.pem")}, otherCA()...)
		code, stdout, stderr := runCmd(ctx, "", args...)
		Expect(code).To(Equal(2))
		Expect(stdout).To(BeEmpty())
		Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
		Expect(stderr).To(ContainSubstring("the server refused the client certificate"))
	})
})

var _ = Describe("apnsclient feedback at the gateway's address", func() {
	It("exits 2 after -timeout with one line saying the server did not answer like a feedback service", func(ctx SpecContext) {
		m := startMock(mockapns.Config{})
		args := append([]string{"feedback", "-addr", m.srv.GatewayAddr()}, m.conn...)
		code, stdout, stderr := runCmd(ctx, "", append(args, "-timeout", "300ms")...)
		Expect(code).To(Equal(2))
		Expect(stdout).To(BeEmpty())
		Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
		Expect(stderr).To(HavePrefix("apnsclient feedback: "))
		Expect(stderr).To(ContainSubstring("did not answer like a feedback service"))
		Expect(stderr).To(ContainSubstring("-addr"))
	})
})

var _ = Describe("apnsclient push -v", func() {
	It("logs each error response with its status", func(ctx SpecContext) {
		m := startMock(mockapns.Config{})
		_, err := m.srv.AddFault(mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Nth: 2}})
		Expect(err).NotTo(HaveOccurred())
		code, stdout, stderr := runCmd(ctx, "", m.push("-token", devToken(1), "-token", devToken(2), "-token", devToken(3), "-v", "-progress", "never")...)
		Expect(code).To(Equal(1), stderr)
		Expect(parseSummary(stdout).Failed).To(HaveLen(1))
		Expect(stderr).To(ContainSubstring("apnsclient push: batch 1: error response status 8 (invalid token) for token " + devToken(2) + "\n"))
	})
})
