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
