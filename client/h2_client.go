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

	// Connections is how many HTTP/2 connections the client may open to
	// the address; 0 means DefaultConnections. They are dialed as the load
	// needs them: one more whenever a request finds none of them idle.
	Connections int
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
	// PingTimeout is how long that PING may go unanswered before the
	// connection is given up (its requests fail with ErrConnectionLost);
	// 0 means DefaultPingTimeout.
	PingTimeout time.Duration

	// Retry says which refusals are sent again, how often and after which
	// pause.
	Retry HTTP2Retry

	// Clock gives the time from which a relative Message.Expiry counts;
	// nil means time.Now.
	Clock func() time.Time
	// Logger receives debug events; nil means discard.
	Logger *slog.Logger
	// Metrics, when set, receives the counts of the client's Sends and
	// Streams (see [Metrics]); nil means none.
	Metrics Metrics
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
	// included; 0 means DefaultHTTP2Attempts, 1 never retries. A
	// Stream's requests that got no response (resent by the stream,
	// bounded by StreamOptions.MaxAttempts) do not count.
	MaxAttempts int
	// BaseDelay is the first pause; 0 means DefaultRetryBaseDelay.
	BaseDelay time.Duration
	// MaxDelay caps the pause; 0 means DefaultRetryMaxDelay.
	MaxDelay time.Duration
}

// Defaults of HTTP2Config.
const (
	DefaultConnections    = 1
	DefaultMaxInFlight    = 1000
	DefaultRequestTimeout = 30 * time.Second
	DefaultIdleTimeout    = 60 * time.Second
	DefaultHTTP2Attempts  = 3
	DefaultRetryBaseDelay = time.Second
	DefaultRetryMaxDelay  = time.Minute
	DefaultPingTimeout    = 15 * time.Second
	maxResponseBody       = 4096
)

// withDefaults validates cfg and fills in the defaults.
func (cfg HTTP2Config) withDefaults() (HTTP2Config, error) {
	switch {
	case cfg.Signer == nil && cfg.Certificate == nil:
		return cfg, fmt.Errorf("%w: HTTP2Config needs Signer or Certificate", ErrBadConfig)
	case cfg.Signer != nil && cfg.Certificate != nil:
		return cfg, fmt.Errorf("%w: HTTP2Config takes Signer or Certificate, not both", ErrBadConfig)
	case cfg.Connections < 0:
		return cfg, fmt.Errorf("%w: Connections is negative (%d)", ErrBadConfig, cfg.Connections)
	case cfg.MaxInFlight < 0:
		return cfg, fmt.Errorf("%w: MaxInFlight is negative (%d)", ErrBadConfig, cfg.MaxInFlight)
	case cfg.Retry.MaxAttempts < 0:
		return cfg, fmt.Errorf("%w: Retry.MaxAttempts is negative (%d)", ErrBadConfig, cfg.Retry.MaxAttempts)
	}
	for name, d := range map[string]time.Duration{
		"ConnectTimeout": cfg.ConnectTimeout, "RequestTimeout": cfg.RequestTimeout, "IdleTimeout": cfg.IdleTimeout, "PingTimeout": cfg.PingTimeout,
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
	def(&cfg.PingTimeout, DefaultPingTimeout)
	def(&cfg.Retry.BaseDelay, DefaultRetryBaseDelay)
	def(&cfg.Retry.MaxDelay, DefaultRetryMaxDelay)
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.Connections == 0 {
		cfg.Connections = DefaultConnections
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
// Requests go over up to Connections HTTP/2 connections, each honouring
// the server's MAX_CONCURRENT_STREAMS as it changes (a single stream
// before the first valid provider token, a limit that falls and
// recovers), with a PING after IdleTimeout of silence and the connection
// given up when the PING gets no answer. Requests a GOAWAY refused
// (streams above its last stream ID) and streams reset with
// REFUSED_STREAM were not processed: they are re-sent on another
// connection, never lost and never delivered twice. A GOAWAY whose reason
// is not one to retry (BadCertificateEnvironment, ...) ends them with a
// [*GoAwayError] instead. After a GOAWAY that refuses the client
// certificate (BadCertificate, BadCertificateEnvironment: it matches
// ErrCertificateRefused) the client opens no other connection: every
// request, those in transit and those of later Sends, ends at once with
// the same *GoAwayError, since a client keeps its certificate for good
// (make a new client with the right one).
//
// An HTTP2Client is safe for concurrent use; Close it when done.
type HTTP2Client struct {
	addr  string
	cfg   HTTP2Config
	tls   *tls.Config
	pool  *h2Pool
	sem   chan struct{}
	jrand func(n int64) int64
}

// NewHTTP2Client returns a client for addr: host:port (the mock's
// HTTP2Addr), https://HOST[:PORT] (port 443 by default), or APISandbox
// and APIProduction for Apple's api.sandbox.push.apple.com:443 and
// api.push.apple.com:443. Errors wrap ErrBadAddress or ErrBadConfig.
func NewHTTP2Client(addr string, cfg HTTP2Config) (*HTTP2Client, error) {
	if hostPort, ok, err := httpsAddress(addr); ok {
		if err != nil {
			return nil, err
		}
		addr = hostPort
	}
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
	c := &HTTP2Client{addr: a, cfg: cfg, tls: tc, sem: make(chan struct{}, cfg.MaxInFlight), jrand: rand.Int64N}
	c.pool = newH2Pool(c, a, cfg.Connections)
	return c, nil
}

// dialTLS opens one TLS connection offering h2, within ConnectTimeout.
func (c *HTTP2Client) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	raw, err := c.cfg.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConnect, addr, err)
	}
	conn := tls.Client(raw, c.tls.Clone())
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

// Close closes the connections and waits for their goroutines; requests
// in flight fail with ErrClosed.
func (c *HTTP2Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.ConnectTimeout)
	defer cancel()
	return c.pool.close(ctx)
}

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
