package mockapns_test

import (
	"encoding/base64"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
)

// fakeClock is a settable clock for Config.Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// mustToken mints k's token with the given iat.
func mustToken(k *certs.AuthKey, iat time.Time) string {
	GinkgoHelper()
	t, err := k.Token(iat)
	Expect(err).NotTo(HaveOccurred())
	return t
}

// mustSign signs arbitrary header and claims with k.
func mustSign(k *certs.AuthKey, header, claims any) string {
	GinkgoHelper()
	t, err := k.SignJWT(header, claims)
	Expect(err).NotTo(HaveOccurred())
	return t
}

func mustAuthKey(keyID, teamID string) *certs.AuthKey {
	GinkgoHelper()
	k, err := certs.NewAuthKey(keyID, teamID)
	Expect(err).NotTo(HaveOccurred())
	return k
}

// tokenConn opens the auth state of a connection without a certificate.
func tokenConn(srv *mockapns.Server) *mockapns.ConnAuth {
	GinkgoHelper()
	a, r := srv.NewConnAuthForTest(nil)
	Expect(r).To(BeEmpty())
	Expect(a.Method()).To(Equal(mockapns.AuthMethodToken))
	return a
}

const topic = "com.example.apnskit"

var _ = Describe("HTTP/2 provider tokens", func() {
	var (
		clock *fakeClock
		key   *certs.AuthKey
		srv   *mockapns.Server
	)
	BeforeEach(func() {
		clock = newFakeClock()
		key = mustAuthKey("KEY0000001", "TEAM000001")
		pki, err := certs.New(certs.Options{})
		Expect(err).NotTo(HaveOccurred())
		srv = startServer(mockapns.Config{PKI: pki, Clock: clock.Now, AuthKeys: []mockapns.AuthKey{mockapns.TrustedKey(key)}})
	})

	It("accepts a valid token with a topic and remembers that one was seen", func() {
		a := tokenConn(srv)
		Expect(a.TokenValidated()).To(BeFalse())
		got, r := a.Authorize("bearer "+mustToken(key, clock.Now()), topic)
		Expect(r).To(BeEmpty())
		Expect(got).To(Equal(topic))
		Expect(a.TokenValidated()).To(BeTrue())
	})

	It("trusts the PKI's own auth key", func() {
		got, r := tokenConn(srv).Authorize("bearer "+mustToken(srv.PKI().AuthKey, clock.Now()), topic)
		Expect(r).To(BeEmpty())
		Expect(got).To(Equal(topic))
	})

	It("reads the scheme without regard to case and allows spaces around the token", func() {
		_, r := tokenConn(srv).Authorize("  Bearer   "+mustToken(key, clock.Now())+" ", topic)
		Expect(r).To(BeEmpty())
	})

	It("wants a topic on token connections", func() {
		a := tokenConn(srv)
		_, r := a.Authorize("bearer "+mustToken(key, clock.Now()), "")
		Expect(r).To(Equal(apns.ReasonMissingTopic))
	})

	DescribeTable("answers MissingProviderToken when no token is presented",
		func(authorization string) {
			a := tokenConn(srv)
			_, r := a.Authorize(authorization, topic)
			Expect(r).To(Equal(apns.ReasonMissingProviderToken))
			Expect(a.TokenValidated()).To(BeFalse())
		},
		Entry("absent", ""),
		Entry("blank", "  \t"),
		Entry("the scheme alone", "bearer"),
		Entry("the scheme and spaces", "bearer   "),
		Entry("another scheme", "Basic dXNlcjpwYXNz"),
		Entry("a bare JWT without scheme", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"),
	)

	Describe("InvalidProviderToken", func() {
		valid := func() string { return mustToken(key, clock.Now()) }
		hdr := func(kid string) map[string]any { return map[string]any{"alg": "ES256", "kid": kid} }
		claims := func() map[string]any { return map[string]any{"iss": "TEAM000001", "iat": clock.Now().Unix()} }
		b64 := base64.RawURLEncoding.EncodeToString

		DescribeTable("for a malformed or untrusted token",
			func(mk func() string) {
				a := tokenConn(srv)
				_, r := a.Authorize("bearer "+mk(), topic)
				Expect(r).To(Equal(apns.ReasonInvalidProviderToken))
				Expect(a.TokenValidated()).To(BeFalse())
			},
			Entry("two parts", func() string { return b64([]byte(`{"alg":"ES256"}`)) + ".e30" }),
			Entry("four parts", func() string { return valid() + ".x" }),
			Entry("an empty part", func() string { p := strings.Split(valid(), "."); return p[0] + ".." + p[2] }),
			Entry("padding", func() string { return valid() + "==" }),
			Entry("not base64url", func() string { return strings.Replace(valid(), "e", "+", 1) }),
			Entry("a line break inside", func() string { v := valid(); return v[:5] + "\n" + v[5:] }),
			Entry("a header that is not JSON", func() string {
				p := strings.Split(valid(), ".")
				return b64([]byte("{alg")) + "." + p[1] + "." + p[2]
			}),
			Entry("a header that is an array", func() string { return mustSign(key, []string{"ES256"}, claims()) }),
			Entry("alg HS256", func() string {
				return mustSign(key, map[string]any{"alg": "HS256", "kid": "KEY0000001"}, claims())
			}),
			Entry("alg none", func() string { return mustSign(key, map[string]any{"alg": "none", "kid": "KEY0000001"}, claims()) }),
			Entry("alg missing", func() string { return mustSign(key, map[string]any{"kid": "KEY0000001"}, claims()) }),
			Entry("alg not a string", func() string { return mustSign(key, map[string]any{"alg": 256, "kid": "KEY0000001"}, claims()) }),
			Entry("member names in another case", func() string {
				return mustSign(key, map[string]any{"ALG": "ES256", "KID": "KEY0000001"}, claims())
			}),
			Entry("kid a number", func() string { return mustSign(key, map[string]any{"alg": "ES256", "kid": 1234567890}, claims()) }),
			Entry("kid missing", func() string { return mustSign(key, map[string]any{"alg": "ES256"}, claims()) }),
			Entry("kid of 9 characters", func() string { return mustSign(key, hdr("KEY000001"), claims()) }),
			Entry("kid of 11 characters", func() string { return mustSign(key, hdr("KEY00000011"), claims()) }),
			Entry("kid of no trusted key", func() string { return mustSign(key, hdr("KEY0000009"), claims()) }),
			Entry("iss missing", func() string {
				return mustSign(key, hdr("KEY0000001"), map[string]any{"iat": clock.Now().Unix()})
			}),
			Entry("iss of 11 characters", func() string {
				return mustSign(key, hdr("KEY0000001"), map[string]any{"iss": "TEAM0000011", "iat": clock.Now().Unix()})
			}),
			Entry("iss of another team than the key's", func() string {
				return mustSign(key, hdr("KEY0000001"), map[string]any{"iss": "TEAM000002", "iat": clock.Now().Unix()})
			}),
			Entry("iat missing", func() string { return mustSign(key, hdr("KEY0000001"), map[string]any{"iss": "TEAM000001"}) }),
			Entry("iat a string", func() string {
				return mustSign(key, hdr("KEY0000001"), map[string]any{"iss": "TEAM000001", "iat": "1800000000"})
			}),
			Entry("iat null", func() string {
				return mustSign(key, hdr("KEY0000001"), map[string]any{"iss": "TEAM000001", "iat": nil})
			}),
			Entry("claims that are null", func() string { return mustSign(key, hdr("KEY0000001"), nil) }),
			Entry("a signature of 63 bytes", func() string {
				v := valid()
				return v[:strings.LastIndex(v, ".")+1] + b64(make([]byte, 63))
			}),
			Entry("a signature in DER", func() string {
				v := valid()
				return v[:strings.LastIndex(v, ".")+1] + b64(append([]byte{0x30, 0x44, 0x02, 0x20}, make([]byte, 66)...))
			}),
			Entry("a signature of another key under the trusted key's kid", func() string {
				return mustToken(mustAuthKey("KEY0000001", "TEAM000001"), clock.Now())
			}),
			Entry("a signature over other claims", func() string {
				p := strings.Split(valid(), ".")
				other := strings.Split(mustToken(key, clock.Now().Add(-time.Second)), ".")
				return p[0] + "." + other[1] + "." + p[2]
			}),
			Entry("a token over the length bound", func() string {
				return mustSign(key, hdr("KEY0000001"), map[string]any{
					"iss": "TEAM000001", "iat": clock.Now().Unix(), "pad": strings.Repeat("x", mockapns.MaxJWTLength)})
			}),
		)

		It("accepts extra header fields and claims under a valid signature, within the bound", func() {
			tok := mustSign(key, map[string]any{"alg": "ES256", "kid": "KEY0000001", "typ": "JWT"},
				map[string]any{"iss": "TEAM000001", "iat": clock.Now().Unix(), "pad": strings.Repeat("x", 1000)})
			Expect(len(tok)).To(BeNumerically("<=", mockapns.MaxJWTLength))
			_, r := tokenConn(srv).Authorize("bearer "+tok, topic)
			Expect(r).To(BeEmpty())
		})
	})

	Describe("ExpiredProviderToken", func() {
		DescribeTable("judges iat against the clock",
			func(offset time.Duration, want apns.Reason) {
				_, r := tokenConn(srv).Authorize("bearer "+mustToken(key, clock.Now().Add(offset)), topic)
				Expect(r).To(Equal(want))
			},
			Entry("59 minutes old", -59*time.Minute, apns.Reason("")),
			Entry("exactly an hour old", -mockapns.JWTLifetime, apns.Reason("")),
			Entry("an hour and a second old", -mockapns.JWTLifetime-time.Second, apns.ReasonExpiredProviderToken),
			Entry("a day old", -24*time.Hour, apns.ReasonExpiredProviderToken),
			Entry("30 seconds ahead", 30*time.Second, apns.Reason("")),
			Entry("just beyond the skew ahead", mockapns.JWTFutureSkew+time.Second, apns.ReasonExpiredProviderToken),
		)

		It("takes fractional and out-of-range iat values", func() {
			for iat, want := range map[any]apns.Reason{
				float64(clock.Now().Unix()) + 0.5: "",
				1e300:                             apns.ReasonExpiredProviderToken,
				-1e300:                            apns.ReasonExpiredProviderToken,
			} {
				tok := mustSign(key, map[string]any{"alg": "ES256", "kid": "KEY0000001"}, map[string]any{"iss": "TEAM000001", "iat": iat})
				_, r := tokenConn(srv).Authorize("bearer "+tok, topic)
				Expect(r).To(Equal(want), "iat %v", iat)
			}
		})

		It("expires a token in use on a long connection, though it was verified before", func() {
			a := tokenConn(srv)
			tok := "bearer " + mustToken(key, clock.Now())
			_, r := a.Authorize(tok, topic)
			Expect(r).To(BeEmpty())
			clock.Advance(mockapns.JWTLifetime + time.Second)
			_, r = a.Authorize(tok, topic)
			Expect(r).To(Equal(apns.ReasonExpiredProviderToken))
			Expect(a.Verifications()).To(Equal(uint64(1)))
		})
	})

	Describe("verification once per connection and token", func() {
		It("verifies a token on its first request only", func() {
			a := tokenConn(srv)
			tok := "bearer " + mustToken(key, clock.Now())
			for range 5 {
				_, r := a.Authorize(tok, topic)
				Expect(r).To(BeEmpty())
			}
			Expect(a.Verifications()).To(Equal(uint64(1)))
			b := tokenConn(srv)
			_, r := b.Authorize(tok, topic)
			Expect(r).To(BeEmpty())
			Expect(b.Verifications()).To(Equal(uint64(1)))
		})

		It("keeps the verdict on a refused or expired token too", func() {
			a := tokenConn(srv)
			bad := "bearer " + mustToken(mustAuthKey("KEY0000009", "TEAM000001"), clock.Now())
			old := "bearer " + mustToken(key, clock.Now().Add(-2*time.Hour))
			for range 3 {
				_, r := a.Authorize(bad, topic)
				Expect(r).To(Equal(apns.ReasonInvalidProviderToken))
			}
			Expect(a.Verifications()).To(Equal(uint64(1)))
			for range 3 {
				_, r := a.Authorize(old, topic)
				Expect(r).To(Equal(apns.ReasonExpiredProviderToken))
			}
			Expect(a.Verifications()).To(Equal(uint64(2)))
		})

		It("verifies again when the trusted keys change", func() {
			other := mustAuthKey("KEY0000009", "TEAM000001")
			a := tokenConn(srv)
			tok := "bearer " + mustToken(key, clock.Now())
			late := "bearer " + mustToken(other, clock.Now())
			_, r := a.Authorize(tok, topic)
			Expect(r).To(BeEmpty())
			_, r = a.Authorize(late, topic)
			Expect(r).To(Equal(apns.ReasonInvalidProviderToken))

			Expect(srv.AddAuthKey(mockapns.TrustedKey(other))).To(Succeed())
			_, r = a.Authorize(tok, topic)
			Expect(r).To(BeEmpty())
			Expect(a.Verifications()).To(Equal(uint64(3)))

			Expect(srv.RemoveAuthKey("KEY0000001")).To(BeTrue())
			_, r = a.Authorize(tok, topic)
			Expect(r).To(Equal(apns.ReasonInvalidProviderToken))
		})
	})

	Describe("one connection", func() {
		It("is bound to the team of its first valid token", func() {
			other := mustAuthKey("KEY0000002", "TEAM000002")
			Expect(srv.AddAuthKey(mockapns.TrustedKey(other))).To(Succeed())
			a := tokenConn(srv)
			first := "bearer " + mustToken(key, clock.Now())
			_, r := a.Authorize(first, topic)
			Expect(r).To(BeEmpty())
			clock.Advance(mockapns.TokenUpdateInterval + time.Minute)
			_, r = a.Authorize("bearer "+mustToken(other, clock.Now()), topic)
			Expect(r).To(Equal(apns.ReasonInvalidProviderToken))
			_, r = a.Authorize(first, topic)
			Expect(r).To(BeEmpty())

			// The other team is fine on a connection of its own.
			_, r = tokenConn(srv).Authorize("bearer "+mustToken(other, clock.Now()), topic)
			Expect(r).To(BeEmpty())
		})

		It("may change its token once every 20 minutes, no more often (TooManyProviderTokenUpdates)", func() {
			key2 := mustAuthKey("KEY0000002", "TEAM000001")
			Expect(srv.AddAuthKey(mockapns.TrustedKey(key2))).To(Succeed())
			a := tokenConn(srv)
			t1 := "bearer " + mustToken(key, clock.Now())
			_, r := a.Authorize(t1, topic)
			Expect(r).To(BeEmpty())

			clock.Advance(10 * time.Minute)
			t2 := "bearer " + mustToken(key, clock.Now())
			_, r = a.Authorize(t2, topic)
			Expect(r).To(Equal(apns.ReasonTooManyProviderTokenUpdates))
			Expect(apns.ReasonTooManyProviderTokenUpdates.Status()).To(Equal(429))
			_, r = a.Authorize(t1, topic)
			Expect(r).To(BeEmpty(), "the token in use stays valid after a refused change")

			clock.Advance(10*time.Minute - time.Second)
			_, r = a.Authorize(t2, topic)
			Expect(r).To(Equal(apns.ReasonTooManyProviderTokenUpdates))
			clock.Advance(time.Second)
			_, r = a.Authorize(t2, topic)
			Expect(r).To(BeEmpty(), "20 minutes after the first token")
			Expect(a.Verifications()).To(Equal(uint64(2)), "a change refused as too early is not verified again")

			clock.Advance(5 * time.Minute)
			t3 := "bearer " + mustToken(key2, clock.Now()) // another key of the same team counts too
			_, r = a.Authorize(t3, topic)
			Expect(r).To(Equal(apns.ReasonTooManyProviderTokenUpdates))
			_, r = a.Authorize(t1, topic)
			Expect(r).To(Equal(apns.ReasonTooManyProviderTokenUpdates), "going back is a change as well")
			clock.Advance(15 * time.Minute)
			_, r = a.Authorize(t3, topic)
			Expect(r).To(BeEmpty())
		})

		It("does not count refused tokens as changes", func() {
			a := tokenConn(srv)
			_, r := a.Authorize("bearer "+mustToken(key, clock.Now().Add(-2*time.Hour)), topic)
			Expect(r).To(Equal(apns.ReasonExpiredProviderToken))
			_, r = a.Authorize("bearer junk", topic)
			Expect(r).To(Equal(apns.ReasonInvalidProviderToken))
			Expect(a.TokenValidated()).To(BeFalse())
			_, r = a.Authorize("bearer "+mustToken(key, clock.Now()), topic)
			Expect(r).To(BeEmpty())
		})

		It("replaces an expired token at once", func() {
			a := tokenConn(srv)
			_, r := a.Authorize("bearer "+mustToken(key, clock.Now().Add(-55*time.Minute)), topic)
			Expect(r).To(BeEmpty())
			clock.Advance(6 * time.Minute)
			_, r = a.Authorize("bearer "+mustToken(key, clock.Now()), topic)
			Expect(r).To(BeEmpty())
		})
	})

	Describe("with signature checks off", func() {
		BeforeEach(func() {
			srv = startServer(mockapns.Config{Clock: clock.Now, NoJWTVerify: true, AuthKeys: []mockapns.AuthKey{mockapns.TrustedKey(key)}})
		})

		It("accepts a token of an unknown key or with a wrong signature", func() {
			_, r := tokenConn(srv).Authorize("bearer "+mustToken(mustAuthKey("UNKNOWN001", "TEAM000009"), clock.Now()), topic)
			Expect(r).To(BeEmpty())
			_, r = tokenConn(srv).Authorize("bearer "+mustToken(mustAuthKey("KEY0000001", "TEAM000001"), clock.Now()), topic)
			Expect(r).To(BeEmpty())
		})

		It("still checks form, claims, a known key's team and age", func() {
			for tok, want := range map[string]apns.Reason{
				mustSign(key, map[string]any{"alg": "HS256", "kid": "KEY0000001"}, map[string]any{"iss": "TEAM000001", "iat": clock.Now().Unix()}): apns.ReasonInvalidProviderToken,
				mustSign(key, map[string]any{"alg": "ES256", "kid": "KEY0000001"}, map[string]any{"iss": "TEAM000002", "iat": clock.Now().Unix()}): apns.ReasonInvalidProviderToken,
				mustSign(key, map[string]any{"alg": "ES256", "kid": "KEY0000001"}, map[string]any{"iss": "TEAM000001"}):                            apns.ReasonInvalidProviderToken,
				mustToken(key, clock.Now().Add(-2*time.Hour)): apns.ReasonExpiredProviderToken,
				"a.b.c": apns.ReasonInvalidProviderToken,
			} {
				_, r := tokenConn(srv).Authorize("bearer "+tok, topic)
				Expect(r).To(Equal(want), tok)
			}
		})
	})
})
