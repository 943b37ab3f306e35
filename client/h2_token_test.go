package client_test

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
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/client"
	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// fakeClock is a clock that only moves when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func pkcs8PEM(k any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	Expect(err).NotTo(HaveOccurred())
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// jwtParts decodes a JWT's header and claims and checks its ES256
// signature against pub.
func jwtParts(jwt string, pub *ecdsa.PublicKey) (header, claims map[string]any) {
	GinkgoHelper()
	parts := strings.Split(jwt, ".")
	Expect(parts).To(HaveLen(3))
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		Expect(err).NotTo(HaveOccurred())
		return b
	}
	Expect(json.Unmarshal(dec(parts[0]), &header)).To(Succeed())
	Expect(json.Unmarshal(dec(parts[1]), &claims)).To(Succeed())
	sig := dec(parts[2])
	Expect(sig).To(HaveLen(64))
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	Expect(ecdsa.Verify(pub, sum[:], r, s)).To(BeTrue(), "signature")
	return header, claims
}

var _ = Describe("TokenSigner", func() {
	var key *certs.AuthKey
	var p8 []byte

	BeforeEach(func() {
		var err error
		key, err = certs.NewAuthKey("KEY1234567", "TEAM123456")
		Expect(err).NotTo(HaveOccurred())
		p8, err = key.PrivatePEM()
		Expect(err).NotTo(HaveOccurred())
	})

	It("mints an ES256 JWT with kid, iss and iat from the clock", func() {
		clk := newFakeClock()
		s, err := client.NewTokenSigner(p8, key.KeyID, key.TeamID, client.TokenOptions{Clock: clk.Now})
		Expect(err).NotTo(HaveOccurred())
		jwt, err := s.Token()
		Expect(err).NotTo(HaveOccurred())
		h, c := jwtParts(jwt, &key.Key.PublicKey)
		Expect(cmp.Diff(map[string]any{"alg": "ES256", "kid": "KEY1234567"}, h)).To(BeEmpty())
		Expect(cmp.Diff(map[string]any{"iss": "TEAM123456", "iat": float64(clk.Now().Unix())}, c)).To(BeEmpty())
		Expect(s.KeyID()).To(Equal("KEY1234567"))
		Expect(s.TeamID()).To(Equal("TEAM123456"))
	})

	It("keeps one token until it is Refresh old (50 minutes by default), then mints the next", func() {
		clk := newFakeClock()
		s, err := client.NewTokenSigner(p8, key.KeyID, key.TeamID, client.TokenOptions{Clock: clk.Now})
		Expect(err).NotTo(HaveOccurred())
		first, err := s.Token()
		Expect(err).NotTo(HaveOccurred())
		for range 49 {
			clk.Advance(time.Minute)
			t, err := s.Token()
			Expect(err).NotTo(HaveOccurred())
			Expect(t).To(Equal(first))
		}
		Expect(s.Minted()).To(Equal(1))
		clk.Advance(time.Minute)
		second, err := s.Token()
		Expect(err).NotTo(HaveOccurred())
		Expect(second).NotTo(Equal(first))
		_, c := jwtParts(second, &key.Key.PublicKey)
		Expect(c["iat"]).To(Equal(float64(clk.Now().Unix())))
		Expect(s.Minted()).To(Equal(2))
	})

	It("shares one token among concurrent callers", func() {
		s, err := client.NewTokenSigner(p8, key.KeyID, key.TeamID, client.TokenOptions{})
		Expect(err).NotTo(HaveOccurred())
		var wg sync.WaitGroup
		out := make([]string, 50)
		for i := range out {
			wg.Go(func() { out[i], _ = s.Token() })
		}
		wg.Wait()
		for _, t := range out {
			Expect(t).To(Equal(out[0]))
		}
		Expect(s.Minted()).To(Equal(1))
	})

	It("follows a configured refresh and refuses one outside 20 to 55 minutes", func() {
		clk := newFakeClock()
		s, err := client.NewTokenSigner(p8, key.KeyID, key.TeamID, client.TokenOptions{Clock: clk.Now, Refresh: 20 * time.Minute})
		Expect(err).NotTo(HaveOccurred())
		_, _ = s.Token()
		clk.Advance(20 * time.Minute)
		_, _ = s.Token()
		Expect(s.Minted()).To(Equal(2))
		for _, d := range []time.Duration{time.Minute, 19 * time.Minute, 56 * time.Minute, -time.Minute} {
			_, err := client.NewTokenSigner(p8, key.KeyID, key.TeamID, client.TokenOptions{Refresh: d})
			Expect(err).To(MatchError(client.ErrBadConfig), "%v", d)
		}
	})

	It("loads the key from a file", func() {
		f := filepath.Join(GinkgoT().TempDir(), "AuthKey.p8")
		Expect(os.WriteFile(f, p8, 0o600)).To(Succeed())
		s, err := client.LoadTokenSigner(f, key.KeyID, key.TeamID, client.TokenOptions{})
		Expect(err).NotTo(HaveOccurred())
		jwt, err := s.Token()
		Expect(err).NotTo(HaveOccurred())
		jwtParts(jwt, &key.Key.PublicKey)
		_, err = client.LoadTokenSigner(f+".missing", key.KeyID, key.TeamID, client.TokenOptions{})
		Expect(err).To(MatchError(client.ErrBadAuthKey))
		Expect(errors.Is(err, os.ErrNotExist)).To(BeTrue())
	})

	DescribeTable("refuses key and team IDs of the wrong shape with *AuthIDError",
		func(keyID, teamID, field string) {
			_, err := client.NewTokenSigner(p8, keyID, teamID, client.TokenOptions{})
			Expect(err).To(MatchError(client.ErrBadAuthKey))
			var ie *client.AuthIDError
			Expect(errors.As(err, &ie)).To(BeTrue())
			Expect(ie.Field).To(Equal(field))
		},
		Entry("short key ID", "KEY123456", "TEAM123456", "key ID"),
		Entry("long key ID", "KEY12345678", "TEAM123456", "key ID"),
		Entry("empty team ID", "KEY1234567", "", "team ID"),
		Entry("team ID with a dash", "KEY1234567", "TEAM-23456", "team ID"),
	)

	It("refuses keys that are not ECDSA P-256 with *AuthKeyTypeError", func() {
		rk, err := rsa.GenerateKey(rand.Reader, 1024)
		Expect(err).NotTo(HaveOccurred())
		pk, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		Expect(err).NotTo(HaveOccurred())
		for want, pemBytes := range map[string][]byte{"*rsa.PrivateKey": pkcs8PEM(rk), "ECDSA P-384": pkcs8PEM(pk)} {
			_, err := client.NewTokenSigner(pemBytes, key.KeyID, key.TeamID, client.TokenOptions{})
			Expect(err).To(MatchError(client.ErrBadAuthKey))
			var te *client.AuthKeyTypeError
			Expect(errors.As(err, &te)).To(BeTrue())
			Expect(te.Algorithm).To(Equal(want))
		}
	})

	It("refuses what is not a key", func() {
		_, err := client.NewTokenSigner([]byte("not a pem"), key.KeyID, key.TeamID, client.TokenOptions{})
		Expect(err).To(MatchError(client.ErrBadAuthKey))
		Expect(err).To(MatchError(client.ErrNoKey))
		bad := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("garbage")})
		_, err = client.NewTokenSigner(bad, key.KeyID, key.TeamID, client.TokenOptions{})
		Expect(err).To(MatchError(client.ErrBadAuthKey))
		Expect(err).To(MatchError(client.ErrMalformedPEM))
		pub, err := key.PublicPEM()
		Expect(err).NotTo(HaveOccurred())
		_, err = client.NewTokenSigner(pub, key.KeyID, key.TeamID, client.TokenOptions{})
		Expect(err).To(MatchError(client.ErrNoKey))
	})
})
