package main_test

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/mockapns"
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
