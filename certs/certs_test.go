package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/certs"
)

func extension(c *x509.Certificate, oid asn1.ObjectIdentifier) ([]byte, bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e.Value, true
		}
	}
	return nil, false
}

var _ = Describe("PKI", func() {
	var p *certs.PKI
	BeforeEach(func() {
		var err error
		p, err = certs.New(certs.Options{})
		Expect(err).NotTo(HaveOccurred())
	})

	It("issues a server certificate for localhost, 127.0.0.1 and ::1 chained to the CA", func() {
		for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
			_, err := p.Server.Cert.Verify(x509.VerifyOptions{DNSName: host, Roots: p.CertPool()})
			Expect(err).NotTo(HaveOccurred(), host)
		}
		_, err := p.Server.Cert.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: p.CertPool()})
		Expect(err).To(HaveOccurred())
	})

	It("shapes the client certificate like an Apple push certificate", func() {
		c := p.Client.Cert
		Expect(c.Subject.CommonName).To(Equal("Apple Push Services: " + certs.DefaultBundleID))
		var uid string
		for _, n := range c.Subject.Names {
			if n.Type.String() == "0.9.2342.19200300.100.1.1" {
				uid, _ = n.Value.(string)
			}
		}
		Expect(uid).To(Equal(certs.DefaultBundleID))
		v, ok := extension(c, certs.OIDSandbox)
		Expect(ok).To(BeTrue())
		Expect(v).To(Equal([]byte{0x05, 0x00}))
		_, ok = extension(c, certs.OIDProduction)
		Expect(ok).To(BeFalse())

		raw, ok := extension(c, certs.OIDTopics)
		Expect(ok).To(BeTrue())
		var seq []asn1.RawValue
		_, err := asn1.Unmarshal(raw, &seq)
		Expect(err).NotTo(HaveOccurred())
		Expect(seq).To(HaveLen(6))
		Expect(string(seq[0].Bytes)).To(Equal(certs.DefaultBundleID))
		Expect(string(seq[2].Bytes)).To(Equal(certs.DefaultBundleID + ".voip"))

		_, err = c.Verify(x509.VerifyOptions{Roots: p.CertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		Expect(err).NotTo(HaveOccurred())
	})

	It("issues further client identities, production or without environment", func() {
		prod, err := p.IssueClient(certs.ClientOptions{BundleID: "com.example.other", Environment: certs.Production})
		Expect(err).NotTo(HaveOccurred())
		_, ok := extension(prod.Cert, certs.OIDProduction)
		Expect(ok).To(BeTrue())
		Expect(prod.Cert.Raw).NotTo(Equal(p.Client.Cert.Raw))

		bare, err := p.IssueClient(certs.ClientOptions{NoEnvironment: true})
		Expect(err).NotTo(HaveOccurred())
		_, ok = extension(bare.Cert, certs.OIDSandbox)
		Expect(ok).To(BeFalse())
	})

	It("completes a mutual TLS handshake in memory", func() {
		srv, cli := tlsPipe(p.ServerTLSConfig(), withServerName(p.ClientTLSConfig(), "localhost"))
		Expect(<-srv).To(Succeed())
		Expect(<-cli).To(Succeed())
	})

	It("writes the six files with private keys 0600 and loads them back", func() {
		dir := filepath.Join(GinkgoT().TempDir(), "pki")
		Expect(p.WriteDir(dir)).To(Succeed())
		for name, mode := range map[string]os.FileMode{
			certs.CAFile: 0o644, certs.CAKeyFile: 0o600, certs.ServerFile: 0o644,
			certs.ServerKeyFile: 0o600, certs.ClientFile: 0o644, certs.ClientKeyFile: 0o600,
		} {
			st, err := os.Stat(filepath.Join(dir, name))
			Expect(err).NotTo(HaveOccurred())
			Expect(st.Mode().Perm()).To(Equal(mode), name)
		}
		back, err := certs.LoadDir(dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(back.Client.CertPEM).To(Equal(p.Client.CertPEM))
		Expect(back.CA.Cert.Equal(p.CA.Cert)).To(BeTrue())

		// A loaded PKI can still sign new identities.
		extra, err := back.IssueClient(certs.ClientOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = extra.Cert.Verify(x509.VerifyOptions{Roots: p.CertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		Expect(err).NotTo(HaveOccurred())
	})

	It("reuses a folder, creates a missing one, and refuses a partial one", func() {
		dir := filepath.Join(GinkgoT().TempDir(), "pki")
		first, created, err := certs.LoadOrCreate(dir, certs.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(created).To(BeTrue())
		again, created, err := certs.LoadOrCreate(dir, certs.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(created).To(BeFalse())
		Expect(again.CA.CertPEM).To(Equal(first.CA.CertPEM))

		Expect(os.Remove(filepath.Join(dir, certs.ClientKeyFile))).To(Succeed())
		_, _, err = certs.LoadOrCreate(dir, certs.Options{})
		Expect(err).To(MatchError(certs.ErrIncomplete))
	})

	It("refuses a folder with a corrupt PEM file", func() {
		dir := GinkgoT().TempDir()
		Expect(p.WriteDir(dir)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, certs.ServerFile), []byte("not pem"), 0o644)).To(Succeed())
		_, err := certs.LoadDir(dir)
		Expect(err).To(HaveOccurred())
	})
})

func withServerName(c *tls.Config, name string) *tls.Config {
	c.ServerName = name
	return c
}
