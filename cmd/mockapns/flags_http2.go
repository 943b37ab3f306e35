package main

import (
	"errors"
	"flag"
	"net"
	"os"
	"strings"

	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/internal/cli"
	"github.com/apnskit/apnskit/mockapns"
)

// http2Options are the flags of the HTTP/2 provider API.
type http2Options struct {
	addr        string
	environment certs.Environment
	authKeys    []mockapns.AuthKey
	jwtVerify   bool
}

// errAuthKeyForm is the error of an -auth-key value that is not
// KEYID:TEAMID:FILE.
var errAuthKeyForm = errors.New("want KEYID:TEAMID:FILE")

// defineHTTP2Flags defines the HTTP/2 flags (a contract) into o.
func defineHTTP2Flags(fs *flag.FlagSet, o *http2Options) {
	fs.StringVar(&o.addr, "http2", "127.0.0.1:2197", "HTTP/2 provider API `address` (TLS, ALPN h2; :0 picks a free port)")
	o.environment = certs.Sandbox
	fs.Func("environment", "APNs `environment` of the HTTP/2 API: sandbox or production (default sandbox); client certificates of the other one are refused",
		func(s string) error {
			switch s {
			case "sandbox":
				o.environment = certs.Sandbox
			case "production":
				o.environment = certs.Production
			default:
				return errors.New("want sandbox or production")
			}
			return nil
		})
	fs.Func("auth-key", "`KEYID:TEAMID:FILE`, a key trusted for provider tokens (JWT); FILE a .p8 private key or a PEM public key, P-256 (repeatable)",
		func(s string) error {
			k, err := parseAuthKeyFlag(s)
			if err != nil {
				return err
			}
			o.authKeys = append(o.authKeys, k)
			return nil
		})
	fs.BoolVar(&o.jwtVerify, "jwt-verify", true, "verify provider tokens' signatures; -jwt-verify=false checks only their form and claims")
}

// parseAuthKeyFlag reads one -auth-key value. FILE may hold colons: only
// the first two separate the fields.
func parseAuthKeyFlag(s string) (mockapns.AuthKey, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || parts[2] == "" {
		return mockapns.AuthKey{}, errAuthKeyForm
	}
	pemBytes, err := os.ReadFile(parts[2])
	if err != nil {
		return mockapns.AuthKey{}, err
	}
	k, err := mockapns.ParseTrustedKey(parts[0], parts[1], pemBytes)
	var fe *mockapns.FieldError
	if errors.As(err, &fe) {
		return mockapns.AuthKey{}, &authKeyFlagError{part: authKeyParts[fe.Field], reason: fe.Reason, err: err}
	}
	return k, err
}

// authKeyParts name the parts of an -auth-key value by the AuthKey member
// they give.
var authKeyParts = map[string]string{"key_id": "KEYID", "team_id": "TEAMID", "public_key": "FILE"}

// authKeyFlagError is a refused part of an -auth-key value. It wraps the
// *mockapns.FieldError that refused it.
type authKeyFlagError struct {
	part   string // KEYID, TEAMID, FILE or "" for the whole value
	reason string
	err    error
}

func (e *authKeyFlagError) Error() string {
	if e.part == "" {
		return e.reason
	}
	return e.part + ": " + e.reason
}

func (e *authKeyFlagError) Unwrap() error { return e.err }

// check validates what the flag functions could not.
func (o *http2Options) check() error {
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return cli.Usagef("invalid value %q for flag -http2: want HOST:PORT", o.addr)
	}
	return nil
}

// config sets the HTTP/2 fields of cfg.
func (o *http2Options) config(cfg *mockapns.Config) {
	cfg.HTTP2Addr = o.addr
	cfg.Environment = o.environment
	cfg.AuthKeys = o.authKeys
	cfg.NoJWTVerify = !o.jwtVerify
}

// environmentName is the -environment value of e.
func environmentName(e certs.Environment) string {
	if e == certs.Production {
		return "production"
	}
	return "sandbox"
}
