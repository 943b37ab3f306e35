package mockapns_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
)

// fuzzJWTNow is the fixed clock of the JWT fuzz servers.
var fuzzJWTNow = time.Unix(1_800_000_000, 0)

// acceptableJWT is an oracle written apart from the mock's verifier: it
// reports whether authorization carries a token that a verifying server
// trusting k at fuzzJWTNow must accept.
func acceptableJWT(authorization string, k *certs.AuthKey) bool {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "bearer") || len(tok) > mockapns.MaxJWTLength {
		return false
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || strings.ContainsAny(tok, "\r\n") {
		return false
	}
	dec := base64.RawURLEncoding.Strict()
	h, err1 := dec.DecodeString(parts[0])
	c, err2 := dec.DecodeString(parts[1])
	sig, err3 := dec.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || len(sig) != 64 {
		return false
	}
	var header struct{ Alg, Kid string }
	var claims struct {
		Iss string
		Iat *float64
	}
	if json.Unmarshal(h, &header) != nil || json.Unmarshal(c, &claims) != nil {
		return false
	}
	if header.Alg != "ES256" || header.Kid != k.KeyID || claims.Iss != k.TeamID || claims.Iat == nil {
		return false
	}
	iat := time.Unix(int64(*claims.Iat), 0)
	if fuzzJWTNow.Sub(iat) > mockapns.JWTLifetime+time.Second || iat.Sub(fuzzJWTNow) > mockapns.JWTFutureSkew+time.Second {
		return false
	}
	d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return ecdsa.Verify(&k.Key.PublicKey, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

// FuzzVerifyJWT drives a token connection's authorization with arbitrary
// header values: never a panic, only the provider-token reasons, the same
// verdict from the cache as from a first verification, acceptance only of
// what the oracle accepts, and a server without signature checks never
// stricter than one with them. The seeds run as regular cases under go test.
func FuzzVerifyJWT(f *testing.F) {
	// A fixed key: the fuzzing workers run this setup again, and must trust
	// the key that signed the seeds.
	d := sha256.Sum256([]byte("apnskit FuzzVerifyJWT key"))
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		f.Fatal(err)
	}
	key := &certs.AuthKey{KeyID: "KEY0000001", TeamID: "TEAM000001", Key: priv}
	clock := func() time.Time { return fuzzJWTNow }
	trust := []mockapns.AuthKey{mockapns.TrustedKey(key)}
	srv, err := mockapns.Start(mockapns.Config{Clock: clock, AuthKeys: trust})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Close)
	lax, err := mockapns.Start(mockapns.Config{Clock: clock, AuthKeys: trust, NoJWTVerify: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(lax.Close)

	mint := func(header, claims any) string {
		t, err := key.SignJWT(header, claims)
		if err != nil {
			f.Fatal(err)
		}
		return t
	}
	es := map[string]any{"alg": "ES256", "kid": key.KeyID}
	good := mint(es, map[string]any{"iss": key.TeamID, "iat": fuzzJWTNow.Unix()})
	f.Add("bearer " + good)
	f.Add("Bearer  " + good + " ")
	f.Add("bearer " + good[:len(good)-1])
	f.Add("bearer " + good + "A")
	f.Add("bearer " + strings.Replace(good, ".", "..", 1))
	f.Add("bearer " + mint(es, map[string]any{"iss": key.TeamID, "iat": fuzzJWTNow.Add(-2 * time.Hour).Unix()}))
	f.Add("bearer " + mint(es, map[string]any{"iss": key.TeamID, "iat": fuzzJWTNow.Add(time.Hour).Unix()}))
	f.Add("bearer " + mint(es, map[string]any{"iss": key.TeamID, "iat": 1.8e9 + 0.5}))
	f.Add("bearer " + mint(es, map[string]any{"iss": key.TeamID, "iat": "1800000000"}))
	f.Add("bearer " + mint(es, map[string]any{"iss": "TEAM000002", "iat": fuzzJWTNow.Unix()}))
	f.Add("bearer " + mint(map[string]any{"alg": "none", "kid": key.KeyID}, map[string]any{"iss": key.TeamID, "iat": fuzzJWTNow.Unix()}))
	f.Add("bearer " + mint(map[string]any{"alg": "ES256", "kid": "KEY0000002"}, map[string]any{"iss": key.TeamID, "iat": fuzzJWTNow.Unix()}))
	f.Add("bearer " + mint(es, nil))
	f.Add("bearer e30.e30.")
	f.Add("bearer ...")
	f.Add("bearer")
	f.Add("")
	f.Add("basic " + good)
	f.Add("bearer " + strings.Repeat("A", mockapns.MaxJWTLength+1))

	allowed := map[apns.Reason]bool{"": true, apns.ReasonMissingProviderToken: true,
		apns.ReasonInvalidProviderToken: true, apns.ReasonExpiredProviderToken: true}
	f.Fuzz(func(t *testing.T, authorization string) {
		conn := func(s *mockapns.Server) *mockapns.ConnAuth {
			a, r := s.NewConnAuthForTest(nil)
			if r != "" {
				t.Fatalf("token connection refused: %s", r)
			}
			return a
		}
		a := conn(srv)
		_, first := a.Authorize(authorization, "t")
		if !allowed[first] {
			t.Fatalf("reason %q is not a provider-token reason", first)
		}
		if _, again := a.Authorize(authorization, "t"); again != first {
			t.Fatalf("cached verdict %q, first %q", again, first)
		}
		if a.Verifications() > 1 {
			t.Fatalf("verified %d times on one connection", a.Verifications())
		}
		if first == "" && !acceptableJWT(authorization, key) {
			t.Fatalf("accepted %q, which the oracle refuses", authorization)
		}
		if first == "" != a.TokenValidated() {
			t.Fatalf("verdict %q but TokenValidated %v", first, a.TokenValidated())
		}
		_, loose := conn(lax).Authorize(authorization, "t")
		if first == "" && loose != "" {
			t.Fatalf("without signature checks %q, with them accepted", loose)
		}
		if (first == apns.ReasonMissingProviderToken) != (loose == apns.ReasonMissingProviderToken) {
			t.Fatalf("with signature checks %q, without %q", first, loose)
		}
	})
}
