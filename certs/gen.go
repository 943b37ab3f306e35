//go:build ignore

// Command gen writes a test PKI for apnskit as PEM files:
//
//	go run ./certs/gen.go -out DIR [-bundle-id ID] [-env sandbox|production|universal] [-hosts a,b] [-rsa BITS] [-key-id ID] [-team-id ID]
//
// The folder gets ca.pem, ca-key.pem, server.pem, server-key.pem,
// client.pem, client-key.pem, and the provider-token key authkey.p8 with
// its IDs in authkey.json (keys mode 0600).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/apnskit/apnskit/certs"
)

func main() {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	out := fs.String("out", "", "folder to write the PEM files into (required)")
	bundle := fs.String("bundle-id", certs.DefaultBundleID, "bundle ID of the client certificate")
	env := fs.String("env", "sandbox", "client certificate environment: sandbox, production or universal")
	hosts := fs.String("hosts", "localhost,127.0.0.1,::1", "comma-separated names and IPs of the server certificate")
	rsaBits := fs.Int("rsa", 0, "RSA key size; 0 means ECDSA P-256")
	keyID := fs.String("key-id", "", "10-character key ID of the provider-token key; empty means random")
	teamID := fs.String("team-id", "", "10-character team ID of the provider-token key; empty means random")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	envs := map[string]certs.Environment{"sandbox": certs.Sandbox, "production": certs.Production, "universal": certs.Universal}
	e, ok := envs[*env]
	if *out == "" || !ok || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "gen: usage: go run ./certs/gen.go -out DIR [-env sandbox|production|universal]")
		os.Exit(2)
	}
	p, err := certs.New(certs.Options{BundleID: *bundle, Environment: e, Hosts: strings.Split(*hosts, ","), RSABits: *rsaBits,
		KeyID: *keyID, TeamID: *teamID})
	if err == nil {
		err = p.WriteDir(*out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote test PKI to %s (auth key %s of team %s)\n", *out, p.AuthKey.KeyID, p.AuthKey.TeamID)
}
