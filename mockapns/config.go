package mockapns

import (
	"errors"
	"fmt"
	"math"
	"net"

	"github.com/apnskit/apnskit/wire"
)

// ErrBadConfig is wrapped by the errors of [Config.Validate] (and so of
// [Start]) for a Config that is out of range.
var ErrBadConfig = errors.New("mockapns: bad config")

// maxPayloadLimit is the largest Limits.MaxPayload: a frame's payload
// length is 16 bits.
const maxPayloadLimit = math.MaxUint16

// maxHTTP2Streams is the largest Config.HTTP2MaxStreams: no more streams
// can be open than 31-bit client stream identifiers number.
const maxHTTP2Streams = math.MaxInt32

// Validate checks the Config's ranges: addresses (GatewayAddr,
// FeedbackAddr, HTTP2Addr, when given) of the form HOST:PORT; JournalSize
// and ErrorLinger not negative; HTTP2MaxStreams 0 (DefaultHTTP2MaxStreams)
// to 2^31-1, the largest MAX_CONCURRENT_STREAMS a stream identifier
// allows; Limits.TokenLength
// 0 (Apple's 32), -1 (any up to wire.MaxTokenLength) or 1 to
// wire.MaxTokenLength; Limits.MaxPayload 0 (Apple's 2048) to 65535;
// FeedbackMax not negative; Admin.AllowOrigins each a host, HOST:PORT or
// origin URL; every fault valid. The error names the field and wraps [ErrBadConfig] (and,
// for a fault, [ErrBadFault] too).
func (c Config) Validate() error {
	for _, a := range []struct{ field, addr string }{
		{"GatewayAddr", c.GatewayAddr}, {"FeedbackAddr", c.FeedbackAddr}, {"HTTP2Addr", c.HTTP2Addr},
	} {
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
	case c.HTTP2MaxStreams < 0 || int64(c.HTTP2MaxStreams) > maxHTTP2Streams:
		return fmt.Errorf("%w: HTTP2MaxStreams %d: want 1 to %d, or 0 for %d", ErrBadConfig, c.HTTP2MaxStreams, maxHTTP2Streams, DefaultHTTP2MaxStreams)
	case tl < -1 || tl > wire.MaxTokenLength:
		return fmt.Errorf("%w: Limits.TokenLength %d: want 1 to %d, 0 for %d or -1 for any", ErrBadConfig, tl, wire.MaxTokenLength, wire.DefaultTokenLength)
	case c.Limits.MaxPayload < 0 || c.Limits.MaxPayload > maxPayloadLimit:
		return fmt.Errorf("%w: Limits.MaxPayload %d: want 1 to %d, or 0 for %d", ErrBadConfig, c.Limits.MaxPayload, maxPayloadLimit, wire.DefaultMaxPayload)
	case c.FeedbackMax < 0:
		return fmt.Errorf("%w: FeedbackMax %d is negative (0 means %d)", ErrBadConfig, c.FeedbackMax, DefaultFeedbackMax)
	}
	if err := c.Admin.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	for i, f := range c.Faults {
		if _, err := ruleOf(f); err != nil {
			return fmt.Errorf("%w: Faults[%d]: %w", ErrBadConfig, i, err)
		}
	}
	return nil
}
