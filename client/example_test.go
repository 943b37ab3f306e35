package client_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// exampleToken returns a 64-digit hex token ending in n.
func exampleToken(n int) string { return fmt.Sprintf("%064x", n) }

// must stops an example on an error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Send one message to three devices through the mock gateway.
func ExampleSession_Send() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()
	cert := must(client.NewCertificate(srv.PKI().Client.TLS)) // or ParsePEM / LoadPEMFiles / ParsePKCS12
	sess := must(client.NewSession(client.Config{RootCAs: srv.RootCAs(), ErrorWait: 100 * time.Millisecond}))
	defer sess.Shutdown(context.Background())

	ctx := context.Background()
	res := must(sess.Send(ctx, srv.GatewayAddr(), cert, &client.Message{
		Tokens: []string{exampleToken(1), exampleToken(2), exampleToken(3)},
		Alert:  "Hello",
		Badge:  1,
		Expiry: client.ExpireAfter(time.Hour),
	}))
	fmt.Println("sent", res.Sent, "accepted", res.Accepted, "retry", res.NeedsRetry())
	// Output: sent 3 accepted 3 retry false
}

// A bad token makes the gateway answer an error and drop everything after
// it. The Result names the bad token and holds exactly the tokens to send
// again; follow Retries until nothing is left.
func ExampleResult_Retries() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()
	bad := must(apns.ParseToken(exampleToken(2)))
	must(srv.AddFault(mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: bad}}))
	cert := must(client.NewCertificate(srv.PKI().Client.TLS))
	sess := must(client.NewSession(client.Config{RootCAs: srv.RootCAs(), ErrorWait: time.Second}))
	defer sess.Shutdown(context.Background())

	ctx := context.Background()
	queue := []*client.Message{{Tokens: []string{exampleToken(1), exampleToken(2), exampleToken(3), exampleToken(4)}, Alert: "Hi"}}
	for round := 1; len(queue) > 0; round++ {
		m := queue[0]
		queue = queue[1:]
		res := must(sess.Send(ctx, srv.GatewayAddr(), cert, m))
		for _, f := range res.Failed {
			fmt.Printf("round %d: token …%s failed: %v\n", round, f.Token[60:], f.Status().String())
		}
		for _, r := range res.Retries() {
			fmt.Printf("round %d: %d to send again\n", round, len(r.Tokens))
		}
		queue = append(queue, res.Retries()...)
	}
	accepted := must(srv.WaitNotifications(ctx, mockapns.Filter{Status: mockapns.Accepted}, 3))
	fmt.Println("accepted by the gateway:", len(accepted))
	// Output:
	// round 1: token …0002 failed: invalid token
	// round 1: 2 to send again
	// accepted by the gateway: 3
}

// Rounds is that loop, with one rule for giving up (RetryPolicy): here the
// gateway refuses a token, and the second round resends what it dropped.
func ExampleRounds() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()
	bad := must(apns.ParseToken(exampleToken(2)))
	must(srv.AddFault(mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: bad}}))
	cert := must(client.NewCertificate(srv.PKI().Client.TLS))
	sess := must(client.NewSession(client.Config{RootCAs: srv.RootCAs(), ErrorWait: time.Second}))
	defer sess.Shutdown(context.Background())

	ctx := context.Background()
	m := &client.Message{Tokens: []string{exampleToken(1), exampleToken(2), exampleToken(3), exampleToken(4)}, Alert: "Hi"}
	for rd, err := range client.Rounds(ctx, sess, srv.GatewayAddr(), cert, m, client.RetryPolicy{MaxAttempts: 3}) {
		if err != nil {
			fmt.Println("stopped:", err)
			break
		}
		fmt.Printf("round %d: %d sent, %d failed, %d given up\n", rd.N, rd.Result.Sent, len(rd.Result.Failed), len(rd.GaveUp))
	}
	// Output:
	// round 1: 4 sent, 1 failed, 0 given up
	// round 2: 2 sent, 0 failed, 0 given up
}

// Feedback yields the tokens whose app is gone, with the time APNs noticed.
func ExampleSession_Feedback() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()
	srv.QueueFeedback(
		wire.FeedbackTuple{Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Token: must(wireToken(exampleToken(7)))},
		wire.FeedbackTuple{Time: time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC), Token: must(wireToken(exampleToken(8)))},
	)
	cert := must(client.NewCertificate(srv.PKI().Client.TLS))
	sess := must(client.NewSession(client.Config{RootCAs: srv.RootCAs()}))
	defer sess.Shutdown(context.Background())

	for t, err := range sess.Feedback(context.Background(), srv.FeedbackAddr(), cert) {
		if err != nil {
			fmt.Println("feedback:", err)
			break
		}
		fmt.Println("…"+t.Token[60:], t.Time.Format(time.RFC3339))
	}
	// Output:
	// …0007 2024-01-02T03:04:05Z
	// …0008 2024-01-03T00:00:00Z
}

// Sends reuse the pooled connection; CloseIdle retires connections that have
// been idle longer than the given duration (call it from a ticker): it
// sends close_notify and, in the background, waits for the gateway to
// close, keeping any late error response for the next Send or Late.
// Shutdown waits for those retirements.
func ExampleSession_CloseIdle() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()
	cert := must(client.NewCertificate(srv.PKI().Client.TLS))
	sess := must(client.NewSession(client.Config{RootCAs: srv.RootCAs(), ErrorWait: 50 * time.Millisecond}))

	ctx := context.Background()
	for i := range 3 {
		must(sess.Send(ctx, srv.GatewayAddr(), cert, &client.Message{Tokens: []string{exampleToken(i)}, Alert: "x"}))
	}
	must(srv.WaitNotifications(ctx, mockapns.Filter{}, 3)) // the mock has read them all
	fmt.Println("handshakes:", srv.Stats().ConnectionsTotal)
	fmt.Println("retired (idle > 1h):", sess.CloseIdle(time.Hour))
	fmt.Println("retired (idle > 0):", sess.CloseIdle(0))
	if err := sess.Shutdown(ctx); err != nil {
		fmt.Println("shutdown:", err)
	}
	fmt.Printf("%+v\n", sess.Stats())
	fmt.Println("late error responses:", len(sess.Late()))
	// Output:
	// handshakes: 1
	// retired (idle > 1h): 0
	// retired (idle > 0): 1
	// {Open:0 Idle:0 Dials:1 Resumed:0 Keys:1}
	// late error responses: 0
}

// wireToken decodes a hex token for the mock's API.
func wireToken(s string) ([]byte, error) { return hex.DecodeString(s) }

// Stream a list of tokens to the binary gateway: PushMany queues them with
// backpressure, the stream resends what the gateway discarded after a bad
// token, and each token's final outcome arrives once, with its tag. Close
// confirms the tail with a sentinel: no fixed wait.
func ExampleStream_PushMany() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()
	// The gateway refuses token 5 with status 8 (invalid token).
	must(srv.AddFault(mockapns.Reject{Status: 8, When: mockapns.Trigger{Token: must(apns.ParseToken(exampleToken(5)))}}))
	cert := must(client.NewCertificate(srv.PKI().Client.TLS))
	sess := must(client.NewSession(client.Config{RootCAs: srv.RootCAs()}))
	defer sess.Shutdown(context.Background())

	counts := map[client.DeliveryKind]int{}
	st := must(sess.Stream(srv.GatewayAddr(), cert, &client.Message{Alert: "Hello", Expiry: client.ExpireAfter(time.Hour)},
		client.StreamOptions{OnOutcome: func(d client.Delivery) { // called from one goroutine at a time
			counts[d.Kind]++
			if d.Kind == client.Refused {
				fmt.Println("refused: tag", d.Tag, d.Outcome)
			}
		}}))
	ctx := context.Background()
	tokens, tags := make([]string, 1000), make([]any, 1000)
	for i := range tokens {
		tokens[i], tags[i] = exampleToken(i+1), i+1
	}
	must(st.PushMany(ctx, tokens, tags))
	must(0, st.Close(ctx))
	fmt.Println("delivered", counts[client.Delivered], "refused", counts[client.Refused], "accepted by the gateway", srv.Stats().Accepted)
	// Output:
	// refused: tag 5 apns: invalid token (8)
	// delivered 999 refused 1 accepted by the gateway 999
}
