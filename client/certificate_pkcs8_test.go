package client_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apnskit/apnskit/client"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The encrypted PKCS#8 test keys of package internal/pkcs8 (see its
// testdata/README.md), read here with their certificate.
const (
	pkcs8Dir  = "../internal/pkcs8/testdata"
	pkcs8Pass = "apnskit-test"
)

func pkcs8File(name string) string { return filepath.Join(pkcs8Dir, name) }

func mustRead(name string) []byte {
	data, err := os.ReadFile(pkcs8File(name))
	Expect(err).NotTo(HaveOccurred())
	return data
}

// plainKey parses an unencrypted testdata key.
func plainKey(name string) crypto.Signer {
	b, _ := pem.Decode(mustRead(name))
	Expect(b).NotTo(BeNil())
	Expect(b.Type).To(Equal("PRIVATE KEY"))
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	Expect(err).NotTo(HaveOccurred())
	return k.(crypto.Signer)
}

// expectSameKey checks that got is the private key want.
func expectSameKey(got crypto.PrivateKey, want crypto.Signer) {
	eq, ok := got.(interface{ Equal(crypto.PrivateKey) bool })
	Expect(ok).To(BeTrue(), "%T has no Equal", got)
	Expect(eq.Equal(want)).To(BeTrue(), "decrypted key differs from the unencrypted one")
}

func encryptedPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
}

// isKeySentinel reports whether err wraps a sentinel an encrypted key may
// be refused with.
func isKeySentinel(err error) bool {
	for _, s := range []error{client.ErrMalformedPEM, client.ErrBadPassphrase, client.ErrUnsupportedKey, client.ErrKeyMismatch} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

var _ = Describe("Encrypted PKCS#8 keys", func() {
	pass := []byte(pkcs8Pass)

	Describe("with the certificate, through ParsePEM and LoadPEMFiles", func() {
		cert := pkcs8File("ec-p256.cert.pem")

		It("builds the certificate from the PEM certificate and the encrypted key", func() {
			certPEM := mustRead("ec-p256.cert.pem")
			c, err := client.ParsePEM(certPEM, mustRead("ec-p256.aes256-sha256.pem"), pass)
			Expect(err).NotTo(HaveOccurred())
			Expect(c.Leaf().Subject.CommonName).To(Equal("apnskit-test-pkcs8"))
			b, _ := pem.Decode(certPEM)
			Expect(c.Identity()).To(Equal(client.Identity(sha256.Sum256(b.Bytes))))
			expectSameKey(c.TLSCertificate().PrivateKey, plainKey("ec-p256.pem"))
		})

		It("reports the other test key as not matching the certificate", func() {
			for _, other := range []string{"rsa-2048.aes256-sha256.pem", "genpkey-p256.aes256-sha256.pem"} {
				_, err := client.ParsePEM(mustRead("ec-p256.cert.pem"), mustRead(other), pass)
				Expect(err).To(MatchError(client.ErrKeyMismatch), other)
			}
		})

		It("loads the files apart and together, and reports a bad passphrase with the key file's name", func() {
			a, err := client.LoadPEMFiles(cert, pkcs8File("ec-p256.aes128-sha1.pem"), pass)
			Expect(err).NotTo(HaveOccurred())

			both := filepath.Join(GinkgoT().TempDir(), "both.pem")
			Expect(os.WriteFile(both, append(mustRead("ec-p256.cert.pem"), mustRead("ec-p256.aes256-sha256.pem")...), 0o600)).To(Succeed())
			b, err := client.LoadPEMFiles(both, "", pass)
			Expect(err).NotTo(HaveOccurred())
			Expect(b.Identity()).To(Equal(a.Identity()))

			_, err = client.LoadPEMFiles(cert, pkcs8File("ec-p256.aes256-sha256.pem"), []byte("nope"))
			Expect(err).To(MatchError(client.ErrBadPassphrase))
			Expect(err).To(MatchError(ContainSubstring("ec-p256.aes256-sha256.pem")))
			Expect(err).NotTo(MatchError(ContainSubstring("ec-p256.cert.pem")))
			_, err = client.LoadPEMFiles(cert, pkcs8File("rsa-2048.des3-sha256.pem"), pass)
			Expect(err).To(MatchError(client.ErrKeyMismatch))
		})
	})

	Describe("damaged input", func() {
		var der []byte
		BeforeEach(func() {
			b, _ := pem.Decode(mustRead("ec-p256.aes128-sha1.pem"))
			Expect(b).NotTo(BeNil())
			der = b.Bytes
		})

		It("refuses a corrupted byte with one of the key sentinels, or still yields the right key", func() {
			// Encryption is not authentication: a flipped IV byte flips one
			// plaintext byte, and a flipped ciphertext byte garbles a block,
			// which x509 does not notice where it lands on bytes it ignores
			// (the PKCS#8 version, the copy of the public key in the SEC 1
			// key). Whatever passes must still be exactly the right key.
			cert := mustRead("ec-p256.cert.pem")
			want := plainKey("ec-p256.pem")
			refused := 0
			for i := range der {
				bad := bytes.Clone(der)
				bad[i] ^= 0xa5
				c, err := client.ParsePEM(cert, encryptedPEM(bad), pass)
				if err != nil {
					Expect(isKeySentinel(err)).To(BeTrue(), "byte %d: %v", i, err)
					Expect(c).To(BeNil())
					refused++
					continue
				}
				expectSameKey(c.TLSCertificate().PrivateKey, want)
			}
			Expect(refused).To(BeNumerically(">", len(der)*3/4), "too many corruptions accepted")
		})
	})

	It("maps every kind of error of package pkcs8 to the client's sentinels", func() {
		cert := mustRead("ec-p256.cert.pem")
		_, err := client.ParsePEM(cert, mustRead("ec-p256.aes256-sha256.pem"), []byte("nope"))
		Expect(err).To(MatchError(client.ErrBadPassphrase))
		_, err = client.ParsePEM(cert, mustRead("ec-p256.scrypt.pem"), pass)
		Expect(err).To(MatchError(client.ErrUnsupportedKey))
		_, err = client.ParsePEM(cert, encryptedPEM([]byte{0x30, 0x00}), pass)
		Expect(err).To(MatchError(client.ErrMalformedPEM))
		Expect(err.Error()).To(HavePrefix("apns: malformed PEM: encrypted PKCS#8 key: "))
	})
})

// An encrypted PKCS#8 key, as `openssl pkcs8 -topk8` writes it, is
// decrypted with the passphrase; a wrong one is reported as
// ErrBadPassphrase.
func ExampleLoadPEMFiles_encryptedKey() {
	pass := []byte("apnskit-test")
	cert, err := client.LoadPEMFiles("../internal/pkcs8/testdata/ec-p256.cert.pem", "../internal/pkcs8/testdata/ec-p256.aes256-sha256.pem", pass)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cert.Leaf().Subject.CommonName)

	_, err = client.LoadPEMFiles("../internal/pkcs8/testdata/ec-p256.cert.pem", "../internal/pkcs8/testdata/ec-p256.aes256-sha256.pem", []byte("guess"))
	fmt.Println(errors.Is(err, client.ErrBadPassphrase))
	_, err = client.LoadPEMFiles("../internal/pkcs8/testdata/ec-p256.cert.pem", "../internal/pkcs8/testdata/ec-p256.scrypt.pem", pass)
	fmt.Println(errors.Is(err, client.ErrUnsupportedKey))
	// Output:
	// apnskit-test-pkcs8
	// true
	// true
}
