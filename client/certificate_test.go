package client_test

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/client"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"software.sslmate.com/src/go-pkcs12"
)

var _ = Describe("Certificate", func() {
	var pki *certs.PKI

	BeforeEach(func() {
		var err error
		pki, err = certs.New(certs.Options{})
		Expect(err).NotTo(HaveOccurred())
	})

	encryptKey := func(pass string) []byte {
		block, _ := pem.Decode(pki.Client.KeyPEM)
		enc, err := x509.EncryptPEMBlock(rand.Reader, block.Type, block.Bytes, []byte(pass), x509.PEMCipherAES256) //nolint:staticcheck // legacy format under test
		Expect(err).NotTo(HaveOccurred())
		return pem.EncodeToMemory(enc)
	}

	It("parses certificate and key given apart, with identity = SHA-256 of the leaf", func() {
		c, err := client.ParsePEM(pki.Client.CertPEM, pki.Client.KeyPEM, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Identity()).To(Equal(client.Identity(sha256.Sum256(pki.Client.Cert.Raw))))
		Expect(c.Leaf().Subject.CommonName).To(Equal(pki.Client.Cert.Subject.CommonName))
		Expect(c.TLSCertificate().Certificate).To(HaveLen(1))
		Expect(c.Identity().String()).To(HaveLen(64))
	})

	It("parses certificate and key together in one PEM", func() {
		both := append(append([]byte{}, pki.Client.CertPEM...), pki.Client.KeyPEM...)
		c, err := client.ParsePEM(both, nil, nil)
		Expect(err).NotTo(HaveOccurred())
		other, err := client.ParsePEM(pki.Server.CertPEM, pki.Server.KeyPEM, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Identity()).NotTo(Equal(other.Identity()))
	})

	It("decrypts a legacy encrypted PEM key with the passphrase", func() {
		c, err := client.ParsePEM(pki.Client.CertPEM, encryptKey("s3cret"), []byte("s3cret"))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Identity()).To(Equal(client.Identity(sha256.Sum256(pki.Client.Cert.Raw))))
	})

	DescribeTable("refuses bad input with a matchable error",
		func(certPEM, keyPEM func() []byte, pass string, want error) {
			var pw []byte
			if pass != "" {
				pw = []byte(pass)
			}
			c, err := client.ParsePEM(certPEM(), keyPEM(), pw)
			Expect(err).To(MatchError(want))
			Expect(c).To(BeNil())
		},
		Entry("garbage certificate", func() []byte { return []byte("not pem") }, func() []byte { return pki.Client.KeyPEM }, "", client.ErrMalformedPEM),
		Entry("corrupt certificate block", func() []byte {
			return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}})
		}, func() []byte { return pki.Client.KeyPEM }, "", client.ErrMalformedPEM),
		Entry("no certificate block", func() []byte { return pki.Client.KeyPEM }, func() []byte { return pki.Client.KeyPEM }, "", client.ErrNoCertificate),
		Entry("no key", func() []byte { return pki.Client.CertPEM }, func() []byte { return nil }, "", client.ErrNoKey),
		Entry("garbage key", func() []byte { return pki.Client.CertPEM }, func() []byte { return []byte("xx") }, "", client.ErrMalformedPEM),
		Entry("key of another certificate", func() []byte { return pki.Client.CertPEM }, func() []byte { return pki.Server.KeyPEM }, "", client.ErrKeyMismatch),
		Entry("encrypted key, wrong passphrase", func() []byte { return pki.Client.CertPEM }, func() []byte { return encryptKey("right") }, "wrong", client.ErrBadPassphrase),
		Entry("encrypted key, no passphrase", func() []byte { return pki.Client.CertPEM }, func() []byte { return encryptKey("right") }, "", client.ErrBadPassphrase),
		Entry("malformed encrypted PKCS#8", func() []byte { return pki.Client.CertPEM }, func() []byte {
			return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}})
		}, "pw", client.ErrMalformedPEM),
	)

	It("loads PEM files, together or apart, and names a missing file", func() {
		dir := GinkgoT().TempDir()
		certFile, keyFile, both := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), filepath.Join(dir, "both.pem")
		Expect(os.WriteFile(certFile, pki.Client.CertPEM, 0o600)).To(Succeed())
		Expect(os.WriteFile(keyFile, pki.Client.KeyPEM, 0o600)).To(Succeed())
		Expect(os.WriteFile(both, append(append([]byte{}, pki.Client.CertPEM...), pki.Client.KeyPEM...), 0o600)).To(Succeed())
		a, err := client.LoadPEMFiles(certFile, keyFile, nil)
		Expect(err).NotTo(HaveOccurred())
		b, err := client.LoadPEMFiles(both, "", nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Identity()).To(Equal(b.Identity()))
		_, err = client.LoadPEMFiles(filepath.Join(dir, "missing.pem"), "", nil)
		Expect(err).To(MatchError(fs.ErrNotExist))
		_, err = client.LoadPEMFiles(certFile, "", nil)
		Expect(err).To(MatchError(client.ErrNoKey))
	})

	DescribeTable("names the file at fault when the key is in a file of its own",
		func(certPEM, keyPEM func() []byte, pass string, want error, blame string) {
			dir := GinkgoT().TempDir()
			certFile, keyFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "key.pem")
			Expect(os.WriteFile(certFile, certPEM(), 0o600)).To(Succeed())
			Expect(os.WriteFile(keyFile, keyPEM(), 0o600)).To(Succeed())
			_, err := client.LoadPEMFiles(certFile, keyFile, []byte(pass))
			Expect(err).To(MatchError(want))
			switch blame {
			case "key":
				Expect(err.Error()).To(HavePrefix(keyFile + ": "))
				Expect(err.Error()).NotTo(ContainSubstring(certFile))
			case "cert":
				Expect(err.Error()).To(HavePrefix(certFile + ": "))
				Expect(err.Error()).NotTo(ContainSubstring(keyFile))
			case "both":
				Expect(err.Error()).To(Equal(keyFile + ": apns: private key does not match certificate " + certFile))
			}
		},
		Entry("encrypted key, no passphrase", func() []byte { return pki.Client.CertPEM }, func() []byte { return encryptKey("right") }, "", client.ErrBadPassphrase, "key"),
		Entry("encrypted key, wrong passphrase", func() []byte { return pki.Client.CertPEM }, func() []byte { return encryptKey("right") }, "wrong", client.ErrBadPassphrase, "key"),
		Entry("no PEM block in the key file", func() []byte { return pki.Client.CertPEM }, func() []byte { return []byte("xx") }, "", client.ErrMalformedPEM, "key"),
		Entry("no key in the key file", func() []byte { return pki.Client.CertPEM }, func() []byte { return pki.Client.CertPEM }, "", client.ErrNoKey, "key"),
		Entry("no PEM block in the certificate file", func() []byte { return []byte("xx") }, func() []byte { return pki.Client.KeyPEM }, "", client.ErrMalformedPEM, "cert"),
		Entry("key of another certificate", func() []byte { return pki.Client.CertPEM }, func() []byte { return pki.Server.KeyPEM }, "", client.ErrKeyMismatch, "both"),
	)

	It("reads PKCS#12 and refuses a wrong password or garbage", func() {
		p12, err := pkcs12.Modern.Encode(pki.Client.TLS.PrivateKey, pki.Client.Cert, []*x509.Certificate{pki.CA.Cert}, "pw")
		Expect(err).NotTo(HaveOccurred())
		c, err := client.ParsePKCS12(p12, "pw")
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Identity()).To(Equal(client.Identity(sha256.Sum256(pki.Client.Cert.Raw))))
		Expect(c.TLSCertificate().Certificate).To(HaveLen(2))

		_, err = client.ParsePKCS12(p12, "nope")
		Expect(err).To(MatchError(client.ErrBadPassphrase))
		_, err = client.ParsePKCS12([]byte("garbage"), "pw")
		Expect(err).To(MatchError(client.ErrMalformedPKCS12))
	})

	It("wraps a tls.Certificate and checks its key", func() {
		c, err := client.NewCertificate(pki.Client.TLS)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Leaf().Raw).To(Equal(pki.Client.Cert.Raw))
		bad := pki.Client.TLS
		bad.PrivateKey = pki.Server.TLS.PrivateKey
		_, err = client.NewCertificate(bad)
		Expect(err).To(MatchError(client.ErrKeyMismatch))
	})
})

var _ = Describe("ResolveAddress", func() {
	DescribeTable("names and host:port",
		func(in, want string) {
			Expect(client.ResolveAddress(in)).To(Equal(want))
		},
		Entry("push_sandbox", client.PushSandbox, "gateway.sandbox.push.apple.com:2195"),
		Entry("push_production", client.PushProduction, "gateway.push.apple.com:2195"),
		Entry("feedback_sandbox", client.FeedbackSandbox, "feedback.sandbox.push.apple.com:2196"),
		Entry("feedback_production", client.FeedbackProduction, "feedback.push.apple.com:2196"),
		Entry("api_sandbox", client.APISandbox, "api.sandbox.push.apple.com:443"),
		Entry("api_production", client.APIProduction, "api.push.apple.com:443"),
		Entry("host:port", "127.0.0.1:2195", "127.0.0.1:2195"),
		Entry("IPv6", "[::1]:1", "[::1]:1"),
	)
	DescribeTable("refuses the rest",
		func(in string) {
			_, err := client.ResolveAddress(in)
			Expect(err).To(MatchError(client.ErrBadAddress))
		},
		Entry("no port", "gateway.push.apple.com"),
		Entry("port 0", "host:0"),
		Entry("port text", "host:https"),
		Entry("no host", ":2195"),
		Entry("unknown name", "push_staging"),
	)
})

var _ = Describe("ParseHTTPSAddress", func() {
	DescribeTable("https://HOST[:PORT], port 443 by default",
		func(in, want string) {
			Expect(client.ParseHTTPSAddress(in)).To(Equal(want))
		},
		Entry("a port", "https://127.0.0.1:2197", "127.0.0.1:2197"),
		Entry("no port", "https://api.push.apple.com", "api.push.apple.com:443"),
		Entry("a final slash", "https://api.push.apple.com/", "api.push.apple.com:443"),
		Entry("IPv6", "https://[::1]:2197", "[::1]:2197"),
	)
	DescribeTable("refuses the rest",
		func(in string) {
			_, err := client.ParseHTTPSAddress(in)
			Expect(err).To(MatchError(client.ErrBadAddress))
		},
		Entry("host:port", "127.0.0.1:2197"),
		Entry("http", "http://127.0.0.1:2197"),
		Entry("a path", "https://127.0.0.1:2197/3/device"),
		Entry("a query", "https://127.0.0.1:2197?x=1"),
		Entry("user information", "https://u:p@127.0.0.1:2197"),
		Entry("port 0", "https://127.0.0.1:0"),
		Entry("no host", "https://:2197"),
	)
	It("is what NewHTTP2Client takes too", func() {
		pki, err := certs.New(certs.Options{})
		Expect(err).NotTo(HaveOccurred())
		cert, err := client.NewCertificate(pki.Client.TLS)
		Expect(err).NotTo(HaveOccurred())
		c, err := client.NewHTTP2Client("https://127.0.0.1:2197", client.HTTP2Config{Certificate: cert})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Close()).To(Succeed())
		_, err = client.NewHTTP2Client("https://127.0.0.1:2197/x", client.HTTP2Config{Certificate: cert})
		Expect(err).To(MatchError(client.ErrBadAddress))
	})
})
