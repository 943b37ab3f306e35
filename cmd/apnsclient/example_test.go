package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apnskit/apnskit/apns"
	main "github.com/apnskit/apnskit/cmd/apnsclient"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// exampleMock starts a mock and writes its CA and client certificate for
// -ca, -cert and -key.
func exampleMock() (srv *mockapns.Server, certFlags []string, cleanup func()) {
	srv = mockapns.NewServer(mockapns.Config{})
	dir, err := os.MkdirTemp("", "apnsclient-example")
	if err != nil {
		panic(err)
	}
	pki := srv.PKI()
	for name, data := range map[string][]byte{"ca.pem": pki.CA.CertPEM, "client.pem": pki.Client.CertPEM, "client-key.pem": pki.Client.KeyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			panic(err)
		}
	}
	certFlags = []string{"-ca", filepath.Join(dir, "ca.pem"), "-cert", filepath.Join(dir, "client.pem"), "-key", filepath.Join(dir, "client-key.pem")}
	return srv, certFlags, func() { srv.Close(); os.RemoveAll(dir) }
}

// A push to three devices, one of which the gateway refuses: the command
// resends what the gateway discarded after the refusal and exits 1.
func Example_push() {
	srv, certFlags, cleanup := exampleMock()
	defer cleanup()
	bad := strings.Repeat("0b", 32)
	if _, err := srv.AddFault(mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: apns.MustParseToken(bad)}}); err != nil {
		panic(err)
	}

	args := append([]string{"push", "-addr", srv.GatewayAddr()}, certFlags...)
	args = append(args, "-token", strings.Repeat("0a", 32), "-token", bad, "-token", strings.Repeat("0c", 32), "-alert", "Hello")
	var stdout bytes.Buffer
	code := main.Run(context.Background(), args, strings.NewReader(""), &stdout, os.Stderr)

	var s struct {
		Sent, Accepted, Retried, Uncertain int
		Failed                             []struct {
			Token  string
			Status int
			Reason string
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		panic(err)
	}
	fmt.Println("exit status", code)
	fmt.Printf("sent %d, accepted %d, retried %d, uncertain %d\n", s.Sent, s.Accepted, s.Retried, s.Uncertain)
	for _, f := range s.Failed {
		fmt.Println("failed:", f.Token == bad, f.Status, f.Reason)
	}
	fmt.Println("the gateway accepted", srv.Stats().Accepted)
	// Output:
	// exit status 1
	// sent 4, accepted 2, retried 1, uncertain 0
	// failed: true 8 invalid token
	// the gateway accepted 2
}

// Reading the feedback service prints one line per device token whose app
// is gone, with the time APNs noticed.
func Example_feedback() {
	srv, certFlags, cleanup := exampleMock()
	defer cleanup()
	srv.QueueFeedback(wire.FeedbackTuple{Time: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC), Token: bytes.Repeat([]byte{0xab}, 32)})

	args := append([]string{"feedback", "-addr", srv.FeedbackAddr()}, certFlags...)
	code := main.Run(context.Background(), args, strings.NewReader(""), os.Stdout, os.Stderr)
	fmt.Println("exit status", code)
	// Output:
	// abababababababababababababababababababababababababababababababab 2026-11-27T09:30:00Z
	// exit status 0
}
