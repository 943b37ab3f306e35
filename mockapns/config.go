package mockapns

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"time"

	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/wire"
)

// ErrBadConfig is wrapped by the errors of [Config.Validate] (and so of
// [Start]) for a Config that is out of range.
var ErrBadConfig = errors.New("mockapns: bad config")

// Config configures a Server. The zero value is usable: both services on
// loopback with free ports, a fresh PKI, Apple's validation, a journal of
// DefaultJournalSize entries, no faults, no logs. Every zero value is a
// documented default; [Config.Validate] checks the rest.
type Config struct {
	// GatewayAddr is the binary gateway's listen address; "" means
	// "127.0.0.1:0" (a free port).
	GatewayAddr string
	// FeedbackAddr is the feedback service's listen address; "" means
	// "127.0.0.1:0".
	FeedbackAddr string
	// PKI holds the CA and the certificates both services present and
	// trust; nil means a fresh certs.New(certs.Options{}).
	PKI *certs.PKI
	// JournalSize is how many journal entries are kept (oldest dropped
	// first; the counters of Stats stay exact); 0 means DefaultJournalSize.
	JournalSize int
	// Seed seeds the random source of probability faults; 0 means a
	// time-based seed. Server.Seed reports the one in use.
	Seed int64
	// Limits are Apple's validation rules; the zero value is Apple's
	// defaults (32-byte tokens, payloads up to 2048 bytes).
	Limits wire.Limits
	// Parse relaxes the structural checks of frames (unknown and repeated
	// items, frame length limit); the zero value is strict.
	Parse wire.ParseOptions
	// NoValidation accepts any notification that parses, skipping
	// wire.Validate.
	NoValidation bool
	// ErrorLinger bounds how long the gateway keeps reading and discarding
	// after an error response (so that the client receives it rather than
	// a TCP reset) before it closes; 0 means one second.
	ErrorLinger time.Duration
	// Faults are installed at start, in order, as by Server.AddFault.
	Faults []Fault
	// Logger receives the server's logs; nil means none.
	Logger *slog.Logger
	// OnConn, if set, is called from the connection's goroutine when a
	// gateway or feedback connection opens, closes or fails its handshake
	// (ConnClosed comes after the close). It must return quickly and must
	// not call Close or Shutdown.
	OnConn func(ConnEvent)
}

// maxPayloadLimit is the largest Limits.MaxPayload: a frame's payload
// length is 16 bits.
const maxPayloadLimit = math.MaxUint16

// Validate checks the Config's ranges: addresses (when given) of the form
// HOST:PORT; JournalSize and ErrorLinger not negative; Limits.TokenLength
// 0 (Apple's 32), -1 (any up to wire.MaxTokenLength) or 1 to
// wire.MaxTokenLength; Limits.MaxPayload 0 (Apple's 2048) to 65535; every
// fault valid. The error names the field and wraps [ErrBadConfig] (and,
// for a fault, [ErrBadFault] too).
func (c Config) Validate() error {
	for _, a := range []struct{ field, addr string }{{"GatewayAddr", c.GatewayAddr}, {"FeedbackAddr", c.FeedbackAddr}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("%w: %s %q: want HOST:PORT", ErrBadConfig, a.field, a.addr)
		}
	}
	switch tl := c.Limits.TokenLength; {
	case c.JournalSize < 0:
		return fmt.Errorf("%w: JournalSize %d is negative (0 means %d)", ErrBadConfig, c.JournalSize, DefaultJournalSize)
	case c.ErrorLinger < 0:
		return fmt.Errorf("%w: ErrorLinger %v is negative (0 means %v)", ErrBadConfig, c.ErrorLinger, defaultErrorLinger)
	case tl < -1 || tl > wire.MaxTokenLength:
		return fmt.Errorf("%w: Limits.TokenLength %d: want 1 to %d, 0 for %d or -1 for any", ErrBadConfig, tl, wire.MaxTokenLength, wire.DefaultTokenLength)
	case c.Limits.MaxPayload < 0 || c.Limits.MaxPayload > maxPayloadLimit:
		return fmt.Errorf("%w: Limits.MaxPayload %d: want 1 to %d, or 0 for %d", ErrBadConfig, c.Limits.MaxPayload, maxPayloadLimit, wire.DefaultMaxPayload)
	}
	for i, f := range c.Faults {
		if _, err := ruleOf(f); err != nil {
			return fmt.Errorf("%w: Faults[%d]: %w", ErrBadConfig, i, err)
		}
	}
	return nil
}
