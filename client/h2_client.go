package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"golang.org/x/net/http2"
)

// HTTP2Config configures an [HTTP2Client]. Exactly one of Signer and
// Certificate is set; the other fields have usable zero values.
type HTTP2Config struct {
	// Signer authenticates with provider tokens: every request carries
	// the signer's current token, shared by all connections.
	Signer *TokenSigner
	// Certificate authenticates the TLS connection with a client
	// certificate; requests carry no authorization header.
	Certificate *Certificate

	// RootCAs verifies the server's certificate; nil means the system
	// roots. Verification is never skipped.
	RootCAs *x509.CertPool
	// ServerName is checked against the server's certificate and sent as
	// SNI; "" means the host of the address.
	ServerName string
	// DialContext opens the TCP connection; nil means a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// ConnectTimeout bounds the TCP connection and TLS handshake; 0 means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// MaxInFlight bounds the requests in flight at once across every Send
	// of the client; 0 means DefaultMaxInFlight. Below it, the server's
	// MAX_CONCURRENT_STREAMS holds requests back: they wait for a free
	// stream instead of opening more connections.
	MaxInFlight int
	// RequestTimeout bounds each request, from its start to the end of
	// the response; 0 means DefaultRequestTimeout. A request that runs
	// out of time wraps ErrRequestTimeout.
	RequestTimeout time.Duration
	// IdleTimeout is how long a connection may receive nothing before the
	// client sends a PING to check it; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration

	// Retry says which refusals are sent again, how often and after which
	// pause.
	Retry HTTP2Retry

	// Clock gives the time from which a relative Message.Expiry counts;
	// nil means time.Now.
	Clock func() time.Time
	// Logger receives debug events; nil means discard.
	Logger *slog.Logger
}

// HTTP2Retry is the retry policy of an [HTTP2Client], after Apple's
// guidance: refusals whose reason has the disposition apns.Retry (429
// TooManyRequests, 500, 503, ...) are sent again after a pause that doubles
// from BaseDelay up to MaxDelay, each pause drawn at random between half
// and all of its value (jitter); every other reason (BadDeviceToken,
// Unregistered, DeviceTokenNotForTopic, ExpiredToken, PayloadTooLarge,
// Forbidden, unknown reasons, ...) is final at once. After
// ExpiredProviderToken the signer mints a fresh token for the retry, if
// the expired one is at least MinTokenRefresh old.
type HTTP2Retry struct {
	// MaxAttempts is how many requests a token gets at most, the first
	// included; 0 means DefaultHTTP2Attempts, 1 never retries.
	MaxAttempts int
	// BaseDelay is the first pause; 0 means DefaultRetryBaseDelay.
	BaseDelay time.Duration
	// MaxDelay caps the pause; 0 means DefaultRetryMaxDelay.
	MaxDelay time.Duration
}

// Defaults of HTTP2Config.
const (
	DefaultMaxInFlight     = 1000
	DefaultRequestTimeout  = 30 * time.Second
	DefaultIdleTimeout     = 60 * time.Second
	DefaultHTTP2Attempts   = 3
	DefaultRetryBaseDelay  = time.Second
	DefaultRetryMaxDelay   = time.Minute
	defaultPingTimeout     = 15 * time.Second
	maxResponseBody        = 4096
	maxDrainedSuccessBytes = 1024
)

// withDefaults validates cfg and fills in the defaults.
func (cfg HTTP2Config) withDefaults() (HTTP2Config, error) {
	switch {
	case cfg.Signer == nil && cfg.Certificate == nil:
		return cfg, fmt.Errorf("%w: HTTP2Config needs Signer or Certificate", ErrBadConfig)
	case cfg.Signer != nil && cfg.Certificate != nil:
		return cfg, fmt.Errorf("%w: HTTP2Config takes Signer or Certificate, not both", ErrBadConfig)
	case cfg.MaxInFlight < 0:
		return cfg, fmt.Errorf("%w: MaxInFlight is negative (%d)", ErrBadConfig, cfg.MaxInFlight)
	case cfg.Retry.MaxAttempts < 0:
		return cfg, fmt.Errorf("%w: Retry.MaxAttempts is negative (%d)", ErrBadConfig, cfg.Retry.MaxAttempts)
	}
	for name, d := range map[string]time.Duration{
		"ConnectTimeout": cfg.ConnectTimeout, "RequestTimeout": cfg.RequestTimeout, "IdleTimeout": cfg.IdleTimeout,
		"Retry.BaseDelay": cfg.Retry.BaseDelay, "Retry.MaxDelay": cfg.Retry.MaxDelay,
	} {
		if d < 0 {
			return cfg, fmt.Errorf("%w: %s is negative (%v)", ErrBadConfig, name, d)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.ConnectTimeout, DefaultConnectTimeout)
	def(&cfg.RequestTimeout, DefaultRequestTimeout)
	def(&cfg.IdleTimeout, DefaultIdleTimeout)
	def(&cfg.Retry.BaseDelay, DefaultRetryBaseDelay)
	def(&cfg.Retry.MaxDelay, DefaultRetryMaxDelay)
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.Retry.MaxAttempts == 0 {
		cfg.Retry.MaxAttempts = DefaultHTTP2Attempts
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DialContext == nil {
		var d net.Dialer
		cfg.DialContext = d.DialContext
	}
	return cfg, nil
}

// HTTP2Client sends notifications over Apple's HTTP/2 provider API to one
// address with one set of credentials. It takes the same [Message] as the
// binary [Session] and answers the same [Result]: one request per token
// (POST /3/device/<hex token>), each refusal a [Failure] whose Outcome is
// the [apns.Reason] (unknown reasons kept as they came) or a
// [*ResponseError] for an answer that cannot be read.
//
// The connection machinery is golang.org/x/net/http2's Transport, kept to
// one connection whose stream limit it honours strictly
// (StrictMaxConcurrentStreams), with PING health checks after IdleTimeout
// of silence. It re-sends on a new connection, by itself, the requests a
// GOAWAY refused (streams above the GOAWAY's last stream ID), so those
// are never lost and never reach the server twice.
//
// An HTTP2Client is safe for concurrent use; Close it when done.
type HTTP2Client struct {
	addr  string
	base  string // "https://host:port/3/device/"
	cfg   HTTP2Config
	tr    *http2.Transport
	pool  *h2Pool
	sem   chan struct{}
	jrand func(n int64) int64
}

// NewHTTP2Client returns a client for addr: host:port (the mock's
// HTTP2Addr), or APISandbox and APIProduction for Apple's
// api.sandbox.push.apple.com:443 and api.push.apple.com:443.
// Errors wrap ErrBadAddress or ErrBadConfig.
func NewHTTP2Client(addr string, cfg HTTP2Config) (*HTTP2Client, error) {
	a, err := ResolveAddress(addr)
	if err != nil {
		return nil, err
	}
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{RootCAs: cfg.RootCAs, ServerName: cfg.ServerName, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}}
	if tc.ServerName == "" {
		tc.ServerName, _, _ = net.SplitHostPort(a)
	}
	if cfg.Certificate != nil {
		tc.Certificates = []tls.Certificate{cfg.Certificate.TLSCertificate()}
	}
	c := &HTTP2Client{addr: a, base: "https://" + a + "/3/device/", cfg: cfg, sem: make(chan struct{}, cfg.MaxInFlight), jrand: rand.Int64N}
	c.tr = &http2.Transport{
		TLSClientConfig:            tc,
		StrictMaxConcurrentStreams: true,
		ReadIdleTimeout:            cfg.IdleTimeout,
		PingTimeout:                defaultPingTimeout,
	}
	c.pool = &h2Pool{c: c}
	c.tr.ConnPool = c.pool
	return c, nil
}

// dialTLS opens one TLS connection offering h2, within ConnectTimeout.
func (c *HTTP2Client) dialTLS(ctx context.Context, network, addr string, tc *tls.Config) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	raw, err := c.cfg.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConnect, addr, err)
	}
	conn := tls.Client(raw, tc)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("%w: %s: TLS: %w", ErrConnect, addr, err)
	}
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		conn.Close()
		return nil, fmt.Errorf("%w: %s: server did not negotiate h2 (got %q)", ErrConnect, addr, p)
	}
	c.cfg.Logger.Debug("apns: http2 connection opened", "addr", addr)
	return conn, nil
}

// Addr is the address the client sends to.
func (c *HTTP2Client) Addr() string { return c.addr }

// Close closes the connection; requests in flight fail.
func (c *HTTP2Client) Close() error { return c.pool.close() }

// backoff is the pause before attempt n+1 (n ≥ 1): BaseDelay·2^(n-1),
// capped at MaxDelay, drawn between half and all of it.
func (c *HTTP2Client) backoff(n int) time.Duration {
	d := c.cfg.Retry.BaseDelay
	for i := 1; i < n && d < c.cfg.Retry.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, c.cfg.Retry.MaxDelay)
	half := int64(d / 2)
	return time.Duration(half + c.jrand(half+1))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrRequestTimeout is wrapped by the error of a request that got no
// complete response within HTTP2Config.RequestTimeout.
var ErrRequestTimeout = errors.New("apns: request timed out")

// ErrMalformedResponse is wrapped by a [*ResponseError]: a response whose
// body is not the JSON APNs answers, is truncated, or is too long.
var ErrMalformedResponse = errors.New("apns: malformed response")
