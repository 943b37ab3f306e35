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

// One Session for both protocols: an https:// address (or APISandbox,
// APIProduction) goes over HTTP/2, here with provider tokens, through the
// same Stream as the binary gateway.
func ExampleSession_Stream_http2() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()
	key := srv.PKI().AuthKey
	signer := must(client.NewTokenSigner(must(key.PrivatePEM()), key.KeyID, key.TeamID, client.TokenOptions{}))
	sess := must(client.NewSession(client.Config{RootCAs: srv.RootCAs(), HTTP2: client.HTTP2Config{Signer: signer}}))
	defer sess.Shutdown(context.Background())

	delivered := 0
	st := must(sess.Stream("https://"+srv.HTTP2Addr(), nil, &client.Message{Alert: "Hello", Topic: "com.example.apnskit"},
		client.StreamOptions{OnOutcome: func(d client.Delivery) {
			if d.Kind == client.Delivered {
				delivered++
			}
		}}))
	for i := 1; i <= 100; i++ {
		must(0, st.Push(context.Background(), exampleToken(i), nil))
	}
	must(0, st.Close(context.Background()))
	fmt.Println("delivered", delivered, "over", srv.Notifications(mockapns.Filter{})[0].Protocol)
	// Output:
	// delivered 100 over http2
}
