package mockapns_test

import (
	"testing"
	"time"

	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
)

// BenchmarkVerifyJWT measures a token request's authorization on a token
// connection: "first" is a connection's first request with a token (ES256
// verification), "cached" a later request with the same token (the age
// check only).
func BenchmarkVerifyJWT(b *testing.B) {
	key, err := certs.NewAuthKey("KEY0000001", "TEAM000001")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := mockapns.Start(mockapns.Config{AuthKeys: []mockapns.AuthKey{mockapns.TrustedKey(key)}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	tok, err := key.Token(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	authorization := "bearer " + tok
	authorize := func(b *testing.B, a *mockapns.ConnAuth) {
		if _, r := a.Authorize(authorization, "com.example.apnskit"); r != "" {
			b.Fatal(r)
		}
	}
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a, _ := srv.NewConnAuthForTest(nil)
			authorize(b, a)
		}
	})
	b.Run("cached", func(b *testing.B) {
		a, _ := srv.NewConnAuthForTest(nil)
		authorize(b, a)
		b.ReportAllocs()
		for b.Loop() {
			authorize(b, a)
		}
		if a.Verifications() != 1 {
			b.Fatalf("verified %d times", a.Verifications())
		}
	})
}
