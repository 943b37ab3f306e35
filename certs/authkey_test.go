package certs_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/certs"
)

// jwtParts splits a compact JWS and decodes its parts, failing the spec on
// anything but three unpadded base64url parts.
func jwtParts(tok string) (header, claims map[string]any, signed string, sig []byte) {
	GinkgoHelper()
	parts := strings.Split(tok, ".")
	Expect(parts).To(HaveLen(3))
	dec := base64.RawURLEncoding.Strict()
	h, err := dec.DecodeString(parts[0])
	Expect(err).NotTo(HaveOccurred())
	c, err := dec.DecodeString(parts[1])
	Expect(err).NotTo(HaveOccurred())
	sig, err = dec.DecodeString(parts[2])
	Expect(err).NotTo(HaveOccurred())
	Expect(json.Unmarshal(h, &header)).To(Succeed())
	Expect(json.Unmarshal(c, &claims)).To(Succeed())
	return header, claims, parts[0] + "." + parts[1], sig
}

// verifies reports whether sig (R‖S) is pub's ES256 signature of signed.
func verifies(pub *ecdsa.PublicKey, signed string, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	d := sha256.Sum256([]byte(signed))
	return ecdsa.Verify(pub, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

func mustNewAuthKey(keyID, teamID string) *certs.AuthKey {
	GinkgoHelper()
	k, err := certs.NewAuthKey(keyID, teamID)
	Expect(err).NotTo(HaveOccurred())
	return k
}

func pkcs8PEM(key any) []byte {
	GinkgoHelper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

var _ = Describe("AuthKey", func() {
	var k *certs.AuthKey
	BeforeEach(func() {
		var err error
		k, err = certs.NewAuthKey("KEY0000001", "TEAM000001")
		Expect(err).NotTo(HaveOccurred())
	})

	It("generates 10-character upper-case IDs when none are given", func() {
		r, err := certs.NewAuthKey("", "")
		Expect(err).NotTo(HaveOccurred())
		Expect(r.KeyID).To(MatchRegexp(`^[A-Z0-9]{10}$`))
		Expect(r.TeamID).To(MatchRegexp(`^[A-Z0-9]{10}$`))
		Expect(r.Key.Curve).To(Equal(elliptic.P256()))
		Expect(k.KeyID).To(Equal("KEY0000001"))
		Expect(k.TeamID).To(Equal("TEAM000001"))
	})

	DescribeTable("refuses IDs of the wrong shape",
		func(keyID, teamID string) {
			_, err := certs.NewAuthKey(keyID, teamID)
			Expect(err).To(MatchError(certs.ErrBadAuthKey))
			_, err = certs.ParseAuthKey(pkcs8PEM(k.Key), keyID, teamID)
			Expect(err).To(MatchError(certs.ErrBadAuthKey))
		},
		Entry("key ID too short", "KEY", "TEAM000001"),
		Entry("team ID too long", "KEY0000001", "TEAM0000011"),
		Entry("punctuation", "KEY-000001", "TEAM000001"),
		Entry("non-ASCII", "KEY000000é", "TEAM000001"),
	)

	It("mints an ES256 JWT with kid, iss and the given iat, R‖S signed, base64url without padding", func() {
		iat := time.Unix(1700000000, 0)
		tok, err := k.Token(iat)
		Expect(err).NotTo(HaveOccurred())
		Expect(tok).NotTo(ContainSubstring("="))
		header, claims, signed, sig := jwtParts(tok)
		Expect(header).To(Equal(map[string]any{"alg": "ES256", "kid": "KEY0000001"}))
		Expect(claims).To(Equal(map[string]any{"iss": "TEAM000001", "iat": float64(1700000000)}))
		Expect(sig).To(HaveLen(64))
		Expect(verifies(&k.Key.PublicKey, signed, sig)).To(BeTrue())

		other, err := certs.NewAuthKey("", "")
		Expect(err).NotTo(HaveOccurred())
		Expect(verifies(&other.Key.PublicKey, signed, sig)).To(BeFalse())
	})

	It("signs arbitrary header and claims for tests of bad tokens", func() {
		tok, err := k.SignJWT(map[string]any{"alg": "HS256"}, map[string]any{"iss": "X"})
		Expect(err).NotTo(HaveOccurred())
		header, claims, signed, sig := jwtParts(tok)
		Expect(header).To(Equal(map[string]any{"alg": "HS256"}))
		Expect(claims).To(Equal(map[string]any{"iss": "X"}))
		Expect(verifies(&k.Key.PublicKey, signed, sig)).To(BeTrue())

		_, err = k.SignJWT(func() {}, nil)
		Expect(err).To(HaveOccurred())
	})

	It("round-trips through .p8 PEM and public-key PEM", func() {
		p8, err := k.PrivatePEM()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(p8)).To(HavePrefix("-----BEGIN PRIVATE KEY-----"))
		back, err := certs.ParseAuthKey(p8, k.KeyID, k.TeamID)
		Expect(err).NotTo(HaveOccurred())
		Expect(back.Key.Equal(k.Key)).To(BeTrue())
		Expect(back.KeyID).To(Equal(k.KeyID))

		pubPEM, err := k.PublicPEM()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(pubPEM)).To(HavePrefix("-----BEGIN PUBLIC KEY-----"))
		pub, err := certs.ParseAuthPublicKey(pubPEM)
		Expect(err).NotTo(HaveOccurred())
		Expect(pub.Equal(&k.Key.PublicKey)).To(BeTrue())
		pub, err = certs.ParseAuthPublicKey(p8)
		Expect(err).NotTo(HaveOccurred())
		Expect(pub.Equal(&k.Key.PublicKey)).To(BeTrue())
	})

	It("loads a .p8 file and reports a missing one", func() {
		dir := GinkgoT().TempDir()
		p8, err := k.PrivatePEM()
		Expect(err).NotTo(HaveOccurred())
		file := filepath.Join(dir, "AuthKey_KEY0000001.p8")
		Expect(os.WriteFile(file, p8, 0o600)).To(Succeed())
		back, err := certs.LoadAuthKey(file, k.KeyID, k.TeamID)
		Expect(err).NotTo(HaveOccurred())
		Expect(back.Key.Equal(k.Key)).To(BeTrue())
		_, err = certs.LoadAuthKey(filepath.Join(dir, "none.p8"), k.KeyID, k.TeamID)
		Expect(err).To(MatchError(fs.ErrNotExist))
	})

	Describe("refuses what is not a P-256 key", func() {
		It("without a PEM block, or with one of another type", func() {
			for _, in := range [][]byte{nil, []byte("not pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})} {
				_, err := certs.ParseAuthKey(in, "KEY0000001", "TEAM000001")
				Expect(err).To(MatchError(certs.ErrNoPEM))
				Expect(err).To(MatchError(certs.ErrBadAuthKey))
				_, err = certs.ParseAuthPublicKey(in)
				Expect(err).To(MatchError(certs.ErrNoPEM))
			}
		})

		It("with a corrupt PKCS #8 body", func() {
			bad := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x03, 1, 2, 3}})
			_, err := certs.ParseAuthKey(bad, "KEY0000001", "TEAM000001")
			Expect(err).To(MatchError(certs.ErrBadAuthKey))
			_, err = certs.ParseAuthPublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}))
			Expect(err).To(MatchError(certs.ErrBadAuthKey))
		})

		It("of another curve or algorithm, naming it", func() {
			p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			Expect(err).NotTo(HaveOccurred())
			rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
			Expect(err).NotTo(HaveOccurred())
			pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
			Expect(err).NotTo(HaveOccurred())
			for in, alg := range map[string]string{
				string(pkcs8PEM(p384)):   "ECDSA P-384",
				string(pkcs8PEM(rsaKey)): "RSA",
				string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})): "RSA",
			} {
				var te *certs.AuthKeyTypeError
				_, err := certs.ParseAuthPublicKey([]byte(in))
				Expect(err).To(BeAssignableToTypeOf(te))
				Expect(err).To(MatchError(certs.ErrBadAuthKey))
				Expect(err.(*certs.AuthKeyTypeError).Algorithm).To(Equal(alg))
				if strings.Contains(in, "PRIVATE KEY") {
					_, err = certs.ParseAuthKey([]byte(in), "KEY0000001", "TEAM000001")
					Expect(err).To(Equal(&certs.AuthKeyTypeError{Algorithm: alg}))
				}
			}
		})
	})
})

var _ = Describe("PKI auth key files", func() {
	var p *certs.PKI
	BeforeEach(func() {
		var err error
		p, err = certs.New(certs.Options{KeyID: "KEY0000001", TeamID: "TEAM000001"})
		Expect(err).NotTo(HaveOccurred())
	})

	It("generates an auth key with the PKI", func() {
		Expect(p.AuthKey).NotTo(BeNil())
		Expect(p.AuthKey.KeyID).To(Equal("KEY0000001"))
		Expect(p.AuthKey.TeamID).To(Equal("TEAM000001"))
		_, err := certs.New(certs.Options{KeyID: "short"})
		Expect(err).To(MatchError(certs.ErrBadAuthKey))
	})

	It("writes authkey.p8 (0600) and authkey.json and loads them back", func() {
		dir := GinkgoT().TempDir()
		Expect(p.WriteDir(dir)).To(Succeed())
		st, err := os.Stat(filepath.Join(dir, certs.AuthKeyFile))
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Mode().Perm()).To(Equal(os.FileMode(0o600)))
		info, err := os.ReadFile(filepath.Join(dir, certs.AuthKeyInfoFile))
		Expect(err).NotTo(HaveOccurred())
		Expect(info).To(MatchJSON(`{"key_id": "KEY0000001", "team_id": "TEAM000001"}`))
		p8, err := os.ReadFile(filepath.Join(dir, certs.AuthKeyFile))
		Expect(err).NotTo(HaveOccurred())
		_, err = certs.ParseAuthKey(p8, "KEY0000001", "TEAM000001")
		Expect(err).NotTo(HaveOccurred())

		back, err := certs.LoadDir(dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(back.AuthKey.KeyID).To(Equal("KEY0000001"))
		Expect(back.AuthKey.TeamID).To(Equal("TEAM000001"))
		Expect(back.AuthKey.Key.Equal(p.AuthKey.Key)).To(BeTrue())
	})

	It("adds the auth key to a folder written without one, keeping the rest", func() {
		dir := GinkgoT().TempDir()
		Expect(p.WriteDir(dir)).To(Succeed())
		Expect(os.Remove(filepath.Join(dir, certs.AuthKeyFile))).To(Succeed())
		Expect(os.Remove(filepath.Join(dir, certs.AuthKeyInfoFile))).To(Succeed())

		old, err := certs.LoadDir(dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(old.AuthKey).To(BeNil())

		got, created, err := certs.LoadOrCreate(dir, certs.Options{TeamID: "TEAM000002"})
		Expect(err).NotTo(HaveOccurred())
		Expect(created).To(BeFalse())
		Expect(got.CA.CertPEM).To(Equal(p.CA.CertPEM))
		Expect(got.Client.CertPEM).To(Equal(p.Client.CertPEM))
		Expect(got.AuthKey).NotTo(BeNil())
		Expect(got.AuthKey.TeamID).To(Equal("TEAM000002"))
		Expect(got.AuthKey.Key.Equal(p.AuthKey.Key)).To(BeFalse())
		st, err := os.Stat(filepath.Join(dir, certs.AuthKeyFile))
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Mode().Perm()).To(Equal(os.FileMode(0o600)))

		again, created, err := certs.LoadOrCreate(dir, certs.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(created).To(BeFalse())
		Expect(again.AuthKey.Key.Equal(got.AuthKey.Key)).To(BeTrue())
		Expect(again.AuthKey.KeyID).To(Equal(got.AuthKey.KeyID))
	})

	It("keeps an auth key put alone in a folder when it creates the PKI there", func() {
		dir := GinkgoT().TempDir()
		own := mustNewAuthKey("OWNKEY0001", "OWNTEAM001")
		p8, err := own.PrivatePEM()
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(filepath.Join(dir, certs.AuthKeyFile), p8, 0o600)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, certs.AuthKeyInfoFile), []byte(`{"key_id": "OWNKEY0001", "team_id": "OWNTEAM001"}`), 0o644)).To(Succeed())
		got, created, err := certs.LoadOrCreate(dir, certs.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(created).To(BeTrue())
		Expect(got.AuthKey.KeyID).To(Equal("OWNKEY0001"))
		Expect(got.AuthKey.Key.Equal(own.Key)).To(BeTrue())
		back, err := certs.LoadDir(dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(back.AuthKey.Key.Equal(own.Key)).To(BeTrue())

		half := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(half, certs.AuthKeyFile), p8, 0o600)).To(Succeed())
		_, _, err = certs.LoadOrCreate(half, certs.Options{})
		Expect(err).To(MatchError(certs.ErrIncomplete))
		_, err = os.Stat(filepath.Join(half, certs.CAFile))
		Expect(err).To(MatchError(fs.ErrNotExist), "nothing written into a refused folder")
	})

	It("calls a folder with only one of the two auth key files incomplete", func() {
		for _, gone := range []string{certs.AuthKeyFile, certs.AuthKeyInfoFile} {
			dir := GinkgoT().TempDir()
			Expect(p.WriteDir(dir)).To(Succeed())
			Expect(os.Remove(filepath.Join(dir, gone))).To(Succeed())
			_, err := certs.LoadDir(dir)
			Expect(err).To(MatchError(certs.ErrIncomplete), gone)
			Expect(err.Error()).To(ContainSubstring(gone))
			_, _, err = certs.LoadOrCreate(dir, certs.Options{})
			Expect(err).To(MatchError(certs.ErrIncomplete), gone)
		}
	})

	DescribeTable("refuses corrupt auth key files",
		func(file, content string) {
			dir := GinkgoT().TempDir()
			Expect(p.WriteDir(dir)).To(Succeed())
			Expect(os.WriteFile(filepath.Join(dir, file), []byte(content), 0o600)).To(Succeed())
			_, err := certs.LoadDir(dir)
			Expect(err).To(MatchError(certs.ErrBadAuthKey))
			_, _, err = certs.LoadOrCreate(dir, certs.Options{})
			Expect(err).To(MatchError(certs.ErrBadAuthKey))
		},
		Entry("authkey.json not JSON", certs.AuthKeyInfoFile, "{"),
		Entry("authkey.json with a short key ID", certs.AuthKeyInfoFile, `{"key_id": "K", "team_id": "TEAM000001"}`),
		Entry("authkey.json without a team ID", certs.AuthKeyInfoFile, `{"key_id": "KEY0000001"}`),
		Entry("authkey.p8 not PEM", certs.AuthKeyFile, "not pem"),
	)
})
