package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/apnskit/apnskit/apns"
)

// h2Key names one HTTP/2 client of a session: an address and the
// certificate's identity (zero for provider-token auth).
type h2Key struct {
	addr string
	id   Identity
}

// endpoint resolves addr and says which protocol it speaks: HTTP/2 for
// APISandbox, APIProduction and https://HOST[:PORT] addresses (port 443 by
// default), or for every address when Config.Protocol is apns.HTTP2;
// binary otherwise.
func (s *Session) endpoint(addr string) (string, apns.Protocol, error) {
	proto := s.cfg.Protocol
	if hostPort, ok, err := httpsAddress(addr); ok {
		if err != nil {
			return "", 0, err
		}
		if proto == apns.Binary {
			return "", 0, fmt.Errorf("%w: %q: an https address with Config.Protocol binary", ErrBadAddress, addr)
		}
		addr, proto = hostPort, apns.HTTP2
	}
	if proto == 0 && (addr == APISandbox || addr == APIProduction) {
		proto = apns.HTTP2
	}
	if proto == 0 {
		proto = apns.Binary
	}
	a, err := ResolveAddress(addr)
	return a, proto, err
}

// httpsAddress reads an https://HOST[:PORT] address (port 443 by
// default) as HOST:PORT; ok is false for an address of another form.
func httpsAddress(addr string) (hostPort string, ok bool, err error) {
	u, perr := url.Parse(addr)
	if perr != nil || u.Scheme != "https" {
		return "", false, nil
	}
	hostPort, err = ParseHTTPSAddress(addr)
	return hostPort, true, err
}

// ParseHTTPSAddress reads an HTTP/2 provider API address of the form
// https://HOST[:PORT] (port 443 by default) as HOST:PORT, the form
// [NewHTTP2Client] and [Session] also take. Anything else (another scheme,
// a path, a query, user information, a port out of range) is an error
// wrapping ErrBadAddress.
func ParseHTTPSAddress(addr string) (string, error) {
	u, err := url.Parse(addr)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: %q: want https://HOST[:PORT]", ErrBadAddress, addr)
	}
	hostPort := u.Host
	if u.Port() == "" {
		hostPort = net.JoinHostPort(u.Hostname(), "443")
	}
	return ResolveAddress(hostPort)
}

// http2Client returns the session's HTTP/2 client for addr (resolved) and
// cert, opening it on first use: certificate auth when cert is given,
// Config.HTTP2.Signer's provider tokens otherwise.
func (s *Session) http2Client(addr string, cert *Certificate) (*HTTP2Client, error) {
	var id Identity
	if cert != nil {
		id = cert.Identity()
	} else if s.cfg.HTTP2.Signer == nil {
		return nil, fmt.Errorf("%w: an HTTP/2 address needs a certificate or Config.HTTP2.Signer", ErrNoCertificate)
	}
	k := h2Key{addr: addr, id: id}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if c := s.h2[k]; c != nil {
		return c, nil
	}
	cfg := s.cfg.HTTP2
	if cert != nil {
		cfg.Certificate, cfg.Signer = cert, nil
	}
	if cfg.RootCAs == nil {
		cfg.RootCAs = s.cfg.RootCAs
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.cfg.ServerName
	}
	if cfg.DialContext == nil {
		cfg.DialContext = s.cfg.DialContext
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = s.cfg.ConnectTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = s.cfg.Logger
	}
	if cfg.Metrics == nil {
		cfg.Metrics = s.cfg.Metrics
	}
	c, err := NewHTTP2Client(addr, cfg)
	if err != nil {
		return nil, err
	}
	if s.h2 == nil {
		s.h2 = map[h2Key]*HTTP2Client{}
	}
	s.h2[k] = c
	return c, nil
}

// closeHTTP2 closes the session's HTTP/2 clients within ctx.
func (s *Session) closeHTTP2(ctx context.Context) error {
	s.mu.Lock()
	cs := make([]*HTTP2Client, 0, len(s.h2))
	for _, c := range s.h2 {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.pool.close(ctx))
	}
	return errors.Join(errs...)
}
