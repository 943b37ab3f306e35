package client_test

import (
	"context"
	"fmt"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
)

// Push over HTTP/2 with a provider token (JWT) to the in-process mock,
// which trusts the PKI's auth key; one device is unregistered.
func ExampleHTTP2Client_Send() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()
	gone := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	must(0, srv.SetDevice(mockapns.Device{Token: apns.MustParseToken(exampleToken(2)), UnregisteredAt: gone}))

	key := srv.PKI().AuthKey // in production: the .p8 file from Apple, with its key ID and team ID
	p8 := must(key.PrivatePEM())
	signer := must(client.NewTokenSigner(p8, key.KeyID, key.TeamID, client.TokenOptions{}))
	c := must(client.NewHTTP2Client(srv.HTTP2Addr(), client.HTTP2Config{Signer: signer, RootCAs: srv.RootCAs()}))
	defer c.Close()

	res := must(c.Send(context.Background(), &client.Message{
		Tokens:   []string{exampleToken(1), exampleToken(2)},
		Alert:    "Hello",
		Topic:    "com.example.apnskit",
		PushType: "alert",
		Priority: 10,
	}))
	fmt.Println("accepted", res.Accepted, "jwts minted", signer.Minted())
	for _, f := range res.Failed {
		fmt.Println("failed", f.Token[60:], f.HTTPStatus, f.Outcome, f.Timestamp.Format(time.RFC3339))
	}
	// Output:
	// accepted 1 jwts minted 1
	// failed 0002 410 apns: Unregistered (410) 2026-11-30T08:00:00Z
}
