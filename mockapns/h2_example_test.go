package mockapns_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
)

// A test pushes over the HTTP/2 provider API with a provider token signed
// by the key of the mock's PKI, and reads the answer and the journal.
func ExampleServer_HTTP2Client() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()
	client := srv.HTTP2Client()
	jwt := must(srv.PKI().AuthKey.Token(time.Now()))

	push := func(token, body string) {
		req := must(http.NewRequest(http.MethodPost, "https://"+srv.HTTP2Addr()+"/3/device/"+token, strings.NewReader(body)))
		req.Header.Set("authorization", "bearer "+jwt)
		req.Header.Set("apns-topic", "com.example.apnskit")
		resp := must(client.Do(req))
		defer resp.Body.Close()
		line := fmt.Sprint(resp.StatusCode, " apns-id:", resp.Header.Get("apns-id") != "", " ", string(must(io.ReadAll(resp.Body))))
		fmt.Println(strings.TrimSpace(line))
	}
	push(strings.Repeat("ab", 32), `{"aps":{"alert":"Hello"}}`)
	push("abcd", `{"aps":{"alert":"Hello"}}`)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, e := range must(srv.WaitNotifications(ctx, mockapns.Filter{Protocol: apns.HTTP2}, 2)) {
		fmt.Println(strings.TrimSpace(fmt.Sprint(e.Protocol, " ", e.Auth, " ", e.HTTPStatus, " ", string(e.Reason))))
	}
	// Output:
	// 200 apns-id:true
	// 400 apns-id:true {"reason":"BadDeviceToken"}
	// http2 token 200
	// http2 token 400 BadDeviceToken
}
