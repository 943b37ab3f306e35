package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/apnskit/apnskit/client"
)

// errNoCA: a -ca file without a single certificate.
var errNoCA = errors.New("no PEM certificate in it")

// endpoint is what a subcommand needs to talk to APNs: the resolved
// address, the client certificate and the session configuration.
type endpoint struct {
	addr string
	cert *client.Certificate
	cfg  client.Config
}

// endpoint loads the certificate and the CAs the flags name and resolves
// the address. Its errors name the flag concerned.
func (c *connOptions) endpoint(log io.Writer) (*endpoint, error) {
	addr, err := client.ResolveAddress(c.addr)
	if err != nil {
		return nil, fmt.Errorf("-addr: %w", err)
	}
	ep := &endpoint{addr: addr}
	if c.p12File != "" {
		data, err := os.ReadFile(c.p12File)
		if err != nil {
			return nil, fmt.Errorf("-p12: %w", err)
		}
		if ep.cert, err = client.ParsePKCS12(data, c.p12Password); err != nil {
			return nil, fmt.Errorf("-p12 %s: %w", c.p12File, err)
		}
	} else {
		if ep.cert, err = client.LoadPEMFiles(c.certFile, c.keyFile, []byte(c.passphrase)); err != nil {
			return nil, c.keyHint(err)
		}
	}
	if ep.cfg.RootCAs, err = c.rootCAs(); err != nil {
		return nil, err
	}
	ep.cfg.ConnectTimeout = c.timeout
	if c.verbose {
		ep.cfg.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return ep, nil
}

// keyHint names the flags concerned by an error of client.LoadPEMFiles (whose
// text begins with the file at fault) and, for an encrypted key, how to
// give its passphrase.
func (c *connOptions) keyHint(err error) error {
	switch {
	case !errors.Is(err, client.ErrBadPassphrase):
		return fmt.Errorf("-cert/-key: %w", err)
	case c.passphrase == "":
		return fmt.Errorf("-key: %w (give its passphrase with -passphrase or $APNSCLIENT_PASSPHRASE)", err)
	}
	return fmt.Errorf("-key: %w (check -passphrase or $APNSCLIENT_PASSPHRASE)", err)
}

// rootCAs reads the -ca file; nil (the system roots) without one.
func (c *connOptions) rootCAs() (*x509.CertPool, error) {
	if c.caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.caFile)
	if err != nil {
		return nil, fmt.Errorf("-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-ca %s: %w", c.caFile, errNoCA)
	}
	return pool, nil
}
