package mockapns_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
)

// A push over the HTTP/2 provider API with a provider token (JWT) minted
// from the PKI's auth key, which the mock trusts; then the journal.
func ExampleServer_HTTP2Client() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()

	jwt := must(srv.PKI().AuthKey.Token(time.Now()))
	token := strings.Repeat("ab", 32)
	req := must(http.NewRequest(http.MethodPost, "https://"+srv.HTTP2Addr()+"/3/device/"+token,
		strings.NewReader(`{"aps":{"alert":"Hello"}}`)))
	req.Header.Set("authorization", "bearer "+jwt)
	req.Header.Set("apns-topic", "com.example.apnskit")
	req.Header.Set("apns-id", "6f2b0c9e-8d1a-4c3b-9e5f-0a1b2c3d4e5f")
	resp := must(srv.HTTP2Client().Do(req))
	resp.Body.Close()
	fmt.Println(resp.Proto, resp.Status, resp.Header.Get("apns-id"))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	entries := must(srv.WaitNotifications(ctx, mockapns.Filter{Protocol: apns.HTTP2}, 1))
	e := entries[0]
	fmt.Printf("#%d %s auth=%s topic=%s token=%x… payload=%s\n", e.Seq, e.Protocol, e.Auth, e.Topic, e.Token[:2], e.Payload)
	fmt.Println("http2 accepted:", srv.Stats().HTTP2.Accepted)
	// Output:
	// HTTP/2.0 200 OK 6f2b0c9e-8d1a-4c3b-9e5f-0a1b2c3d4e5f
	// #1 http2 auth=token topic=com.example.apnskit token=abab… payload={"aps":{"alert":"Hello"}}
	// http2 accepted: 1
}
