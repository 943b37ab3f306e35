package client

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/apnskit/apnskit/apns"
)

// Config configures a Session. The zero value is usable: every field states
// its default. Durations must not be negative.
type Config struct {
	// RootCAs verifies the gateway's certificate; nil means the system
	// roots. Verification is never skipped.
	RootCAs *x509.CertPool
	// ServerName is the name checked against the gateway's certificate and
	// sent as SNI; "" means the host of the address.
	ServerName string
	// DialContext opens the TCP connection (TLS is layered on top by the
	// session); nil means a net.Dialer. Use it for proxies, or net.Pipe in
	// tests.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// ConnectTimeout bounds the TCP connection and TLS handshake together;
	// 0 means 10s.
	ConnectTimeout time.Duration
	// WriteTimeout bounds each write to the gateway; 0 means 10s. A write
	// that times out ends the connection (its notifications become
	// uncertain, see Result.Uncertain).
	WriteTimeout time.Duration
	// ReadTimeout bounds each read from the feedback service, the wait for
	// the gateway's close after a ConfirmByClose batch, and the wait for
	// the gateway's close when a connection is retired (CloseIdle, Shutdown);
	// 0 means 30s.
	ReadTimeout time.Duration

	// ErrorWait is how long Send waits after its last write for an error
	// response before it presumes the batch accepted; 0 means 500ms.
	//
	// APNs never acknowledges success, and an error response arrives
	// asynchronously. The trade-off: a longer wait adds that much latency
	// to every Send (not per notification); a shorter one makes it likelier
	// that an error arrives after Send returned. Nothing is lost then: the connection keeps the
	// records of its recent batches (History), and the next Send on it (or
	// the pool when it checks the connection out, or Late) reports the late
	// error in its Result, with the discarded notifications in Retries().
	// Only the latency of learning about it changes.
	//
	// The one thing a short wait does risk: a gateway that drops the
	// connection without a word. The client then resends the batch in
	// progress (as Uncertain) but keeps presuming that the earlier batches,
	// whose windows passed, were read; if the gateway was lagging further
	// behind than that, they are lost. Choose a window longer than the
	// gateway's lag, or use ConfirmByClose.
	ErrorWait time.Duration

	// ConfirmByClose ends every batch by closing the sending side of the
	// connection (TLS close_notify) and waiting, at most ReadTimeout, for
	// the gateway to judge everything it received and close in turn. An
	// orderly close then proves every notification processed: no ErrorWait
	// guess, nothing presumed. The price: one connection (and handshake)
	// per Send, which Apple discouraged. Apple never documented this
	// behaviour; the mock implements it. A close without close_notify counts
	// as a silent disconnect. Default false: persistent connections and
	// the ErrorWait window.
	ConfirmByClose bool

	// History is how many notifications, at least, a connection remembers
	// after their Sends returned, to settle an error response that arrives
	// late; 0 means DefaultHistory (131,072). The gateway may read a batch
	// long after Send wrote it (socket buffers hold megabytes, a busy
	// gateway lags), so a late response can name a notification several
	// batches back, and everything written after it on that connection
	// must be resent. The default covers about 12 MB of frames in flight,
	// more than the socket buffers of both ends hold. Memory: 4 bytes per
	// notification for its identifier, and the messages' token strings
	// stay referenced, until the connection ends or an error response
	// settles them. A response older than the history is reported with
	// ErrHistoryExceeded.
	History int

	// PoolSize is the most connections kept open per (address,
	// certificate); 0 means 4. Sends beyond it wait for a free connection.
	PoolSize int

	// DisableTLSResumption makes every gateway connection a full TLS
	// handshake. By default each pool (address, certificate) keeps the
	// session tickets the gateway issues and resumes one on its next
	// connection: a shorter handshake, in which no certificate is sent or
	// verified, for a Stream, which opens a connection per confirmed
	// window and after every refusal. Tickets are kept per certificate,
	// never offered on a connection of another identity; a gateway that
	// issues none gets full handshakes. Session.Stats().Resumed counts the
	// resumed connections.
	DisableTLSResumption bool

	// Logger receives debug and warning events (connections opened and
	// closed, error responses); nil means discard.
	Logger *slog.Logger

	// Protocol, when set, is the protocol of every address given to Send
	// and Stream. Zero chooses by the address: APISandbox, APIProduction
	// and https://HOST[:PORT] addresses are HTTP/2, the others binary.
	Protocol apns.Protocol
	// HTTP2 configures the HTTP/2 client the session opens for each HTTP/2
	// address and credentials (see [HTTP2Client]): a certificate given to
	// Send or Stream authenticates its connections, and without one
	// HTTP2.Signer's provider tokens do. Its RootCAs, ServerName,
	// DialContext, ConnectTimeout and Logger default to the fields above;
	// its Certificate is ignored.
	HTTP2 HTTP2Config

	// Metrics, when set, receives the counts of every Send, Rounds,
	// SendAll and Stream of the session, both protocols (HTTP2.Metrics
	// defaults to it); nil means none. See [Metrics].
	Metrics Metrics
}

// Defaults of Config.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultReadTimeout    = 30 * time.Second
	DefaultErrorWait      = 500 * time.Millisecond
	DefaultPoolSize       = 4
)

// Validate checks the ranges of cfg's fields (durations, History and
// PoolSize must not be negative); errors wrap ErrBadConfig and name the
// field. NewSession runs it.
func (cfg Config) Validate() error {
	_, err := cfg.withDefaults()
	return err
}

// withDefaults validates cfg and fills in the defaults.
func (cfg Config) withDefaults() (Config, error) {
	for name, d := range map[string]time.Duration{
		"ConnectTimeout": cfg.ConnectTimeout, "WriteTimeout": cfg.WriteTimeout,
		"ReadTimeout": cfg.ReadTimeout, "ErrorWait": cfg.ErrorWait,
	} {
		if d < 0 {
			return cfg, fmt.Errorf("%w: %s is negative (%v)", ErrBadConfig, name, d)
		}
	}
	if cfg.History < 0 {
		return cfg, fmt.Errorf("%w: History is negative (%d)", ErrBadConfig, cfg.History)
	}
	if cfg.History == 0 {
		cfg.History = DefaultHistory
	}
	if cfg.Protocol != 0 && cfg.Protocol != apns.Binary && cfg.Protocol != apns.HTTP2 {
		return cfg, fmt.Errorf("%w: Protocol %v", ErrBadConfig, cfg.Protocol)
	}
	if cfg.PoolSize < 0 {
		return cfg, fmt.Errorf("%w: PoolSize is negative (%d)", ErrBadConfig, cfg.PoolSize)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.ConnectTimeout, DefaultConnectTimeout)
	def(&cfg.WriteTimeout, DefaultWriteTimeout)
	def(&cfg.ReadTimeout, DefaultReadTimeout)
	def(&cfg.ErrorWait, DefaultErrorWait)
	if cfg.PoolSize == 0 {
		cfg.PoolSize = DefaultPoolSize
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
