package mockapns_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// must stops an example on an error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// notification encodes a command-2 notification with an identifier.
func notification(id uint32, token []byte) []byte {
	n := wire.Notification{Command: wire.CommandFramed, ID: id, Present: wire.HasIdentifier,
		Token: token, Payload: []byte(`{"aps":{"alert":"Hello"}}`)}
	return must(n.MarshalBinary())
}

// A test starts the mock, connects with the mock's TLS configuration, and
// reads back what arrived. The client half-closes its side: the gateway
// judges everything it received and closes, which confirms the batch.
func ExampleNewServer() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()

	conn := must(tls.Dial("tcp", srv.GatewayAddr(), srv.ClientTLSConfig()))
	defer conn.Close()
	must(conn.Write(notification(1, bytes.Repeat([]byte{0xaa}, 32))))
	must(conn.Write(notification(2, bytes.Repeat([]byte{0xbb}, 32))))
	_ = conn.CloseWrite()
	answer := must(io.ReadAll(conn)) // nothing is answered on success

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	entries := must(srv.WaitNotifications(ctx, mockapns.Filter{Status: mockapns.Accepted}, 2))
	fmt.Printf("answer: %d bytes\n", len(answer))
	for _, e := range entries {
		fmt.Printf("#%d id=%d token=%x… payload=%s\n", e.Seq, e.ID, e.Token[:2], e.Payload)
	}
	// Output:
	// answer: 0 bytes
	// #1 id=1 token=aaaa… payload={"aps":{"alert":"Hello"}}
	// #2 id=2 token=bbbb… payload={"aps":{"alert":"Hello"}}
}

// Faults make the gateway misbehave on demand: here it refuses every
// notification to one token with status 8 (invalid token), as Apple did for
// a sandbox token sent to production, and closes the connection.
func ExampleServer_AddFault() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()
	bad := bytes.Repeat([]byte{0x0b}, 32)
	must(srv.AddFault(mockapns.Reject{Status: wire.StatusInvalidToken,
		When: mockapns.Trigger{Token: must(apns.TokenFromBytes(bad)), Times: mockapns.Always}}))

	conn := must(tls.Dial("tcp", srv.GatewayAddr(), srv.ClientTLSConfig()))
	defer conn.Close()
	must(conn.Write(notification(1, bytes.Repeat([]byte{0x01}, 32))))
	must(conn.Write(notification(2, bad)))
	must(conn.Write(notification(3, bytes.Repeat([]byte{0x03}, 32)))) // discarded

	var r wire.ErrorResponse
	if err := r.UnmarshalBinary(must(io.ReadAll(conn))); err != nil {
		panic(err)
	}
	fmt.Printf("status %d (%s) id %d\n", uint8(r.Status), r.Status.String(), r.ID)
	st := srv.Stats()
	fmt.Println("accepted:", st.Accepted, "rejected:", st.Rejected)
	// Output:
	// status 8 (invalid token) id 2
	// accepted: 1 rejected: 1
}

// The feedback service writes every queued tuple when a client connects,
// then closes; the read empties the queue.
func ExampleServer_QueueFeedback() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()
	srv.QueueFeedback(
		wire.FeedbackTuple{Time: time.Date(2020, 9, 13, 12, 26, 40, 0, time.UTC), Token: bytes.Repeat([]byte{0xcd}, 32)},
	)

	conn := must(tls.Dial("tcp", srv.FeedbackAddr(), srv.ClientTLSConfig()))
	defer conn.Close()
	r := wire.NewFeedbackReader(conn)
	for {
		t, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Printf("%x… gone since %s\n", t.Token[:4], t.Time.Format(time.RFC3339))
	}
	fmt.Println("still queued:", len(srv.PendingFeedback()))
	// Output:
	// cdcdcdcd… gone since 2020-09-13T12:26:40Z
	// still queued: 0
}
