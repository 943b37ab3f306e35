package wire

// Limits are the checks Apple's gateway applied to a notification that
// parsed. The zero value means Apple's documented defaults.
type Limits struct {
	// TokenLength is the only token length accepted; 0 means 32, the length
	// every binary-era device token had. Negative accepts any non-empty
	// token up to 100 bytes (the 2018 item table).
	TokenLength int
	// MaxPayload is the largest payload accepted; 0 means 2048 (iOS 8 and
	// later). Apple's legacy figure was 256.
	MaxPayload int
	// AnyPriority accepts priorities other than 10 and 5.
	AnyPriority bool
}

// Defaults of [Limits].
const (
	DefaultTokenLength = 32
	MaxTokenLength     = 100
	DefaultMaxPayload  = 2048
)

// Validate applies Apple's checks to a parsed notification and returns nil or
// a [*FrameError] with the status the gateway answers: 2 for a missing or
// empty token, 5 for a token of the wrong size, 4 for a missing or empty
// payload, 7 for a payload over the limit, 255 for a priority other than 10
// or 5. Checks run in that order, so the first failing one decides.
func Validate(n *Notification, l Limits) error {
	fail := func(err error, s Status) error {
		return &FrameError{Command: n.Command, Status: s, ID: n.ID, HasID: n.HasID(), Err: err}
	}
	if len(n.Token) == 0 {
		return fail(ErrMissingToken, StatusMissingToken)
	}
	switch want := l.TokenLength; {
	case want == 0 && len(n.Token) != DefaultTokenLength,
		want > 0 && len(n.Token) != want,
		want < 0 && len(n.Token) > MaxTokenLength:
		return fail(ErrInvalidTokenSize, StatusInvalidTokenSize)
	}
	if len(n.Payload) == 0 {
		return fail(ErrMissingPayload, StatusMissingPayload)
	}
	maxPayload := l.MaxPayload
	if maxPayload <= 0 {
		maxPayload = DefaultMaxPayload
	}
	if len(n.Payload) > maxPayload {
		return fail(ErrInvalidPayloadSize, StatusInvalidPayloadSize)
	}
	if n.Command == CommandFramed && n.Present&HasPriority != 0 && !l.AnyPriority &&
		n.Priority != PriorityImmediate && n.Priority != PriorityPowerConserve {
		return fail(ErrInvalidPriority, StatusUnknown)
	}
	return nil
}
