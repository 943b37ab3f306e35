package main_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	main "github.com/apnskit/apnskit/cmd/apnsclient"
	"github.com/apnskit/apnskit/mockapns"
)

// benchPushTokens is how many tokens each iteration of BenchmarkPush sends.
const benchPushTokens = 200_000

// BenchmarkPush runs `apnsclient push -tokens FILE` of benchPushTokens
// tokens in process into the in-process mock (default flags: one
// connection, sentinel tails), as the command does: the file checked, then
// streamed. Client and mock share the process, so a CPU profile of it
// shows both; compare with the whole-process figure of the built binaries.
func BenchmarkPush(b *testing.B) {
	srv := mockapns.NewServer(mockapns.Config{})
	b.Cleanup(srv.Close)
	dir := b.TempDir()
	pki := srv.PKI()
	files := map[string][]byte{"ca.pem": pki.CA.CertPEM, "client.pem": pki.Client.CertPEM, "client-key.pem": pki.Client.KeyPEM}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	var list bytes.Buffer
	for i := range benchPushTokens {
		list.WriteString(devToken(i))
		list.WriteByte('\n')
	}
	tokFile := filepath.Join(dir, "tokens.txt")
	if err := os.WriteFile(tokFile, list.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	args := []string{"push", "-addr", srv.GatewayAddr(), "-ca", filepath.Join(dir, "ca.pem"),
		"-cert", filepath.Join(dir, "client.pem"), "-key", filepath.Join(dir, "client-key.pem"), "-tokens", tokFile, "-alert", "hi"}
	ctx := context.Background()
	start := time.Now()
	for b.Loop() {
		var out, errb bytes.Buffer
		if code := main.Run(ctx, args, strings.NewReader(""), &out, &errb); code != 0 {
			b.Fatalf("exit %d: %s", code, errb.String())
		}
		if !strings.Contains(out.String(), `"accepted":200000,`) {
			b.Fatalf("summary %s", out.String())
		}
	}
	b.ReportMetric(float64(b.N*benchPushTokens)/time.Since(start).Seconds(), "notif/s")
}
