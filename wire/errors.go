package wire

import (
	"errors"
	"fmt"
)

// Errors of the codec. A malformed frame is reported as a [*FrameError] that
// wraps one of the parse sentinels and carries the status the gateway
// answers; match it with errors.Is on the sentinel or on the [Status].
var (
	// ErrIncomplete means the buffer holds the start of a frame but not all
	// of it; read more bytes and parse again. It is not a malformed frame.
	ErrIncomplete = errors.New("apns: incomplete frame")

	// ErrEncode is wrapped by errors from AppendBinary for values that the
	// wire format cannot represent.
	ErrEncode = errors.New("apns: cannot encode")

	// ErrTrailingData means UnmarshalBinary was given more than one frame.
	ErrTrailingData = errors.New("apns: trailing data")

	// ErrUnknownCommand: the first byte is not 0, 1 or 2.
	ErrUnknownCommand = errors.New("apns: unknown command")
	// ErrFrameTooLarge: a command-2 frame length beyond the decoder's limit.
	ErrFrameTooLarge = errors.New("apns: frame too large")
	// ErrMalformedItem: an item that runs past the end of its frame, or an
	// identifier, expiry or priority item of the wrong length.
	ErrMalformedItem = errors.New("apns: malformed item")
	// ErrUnknownItem: an item ID other than 1 to 5 (strict mode).
	ErrUnknownItem = errors.New("apns: unknown item")
	// ErrDuplicateItem: an item that appears twice in a frame (strict mode).
	ErrDuplicateItem = errors.New("apns: duplicate item")

	// ErrMissingToken: no token item, or an empty token (status 2).
	ErrMissingToken = errors.New("apns: missing device token")
	// ErrInvalidTokenSize: a token of a length the gateway refuses (status 5).
	ErrInvalidTokenSize = errors.New("apns: invalid token size")
	// ErrMissingPayload: no payload item, or an empty payload (status 4).
	ErrMissingPayload = errors.New("apns: missing payload")
	// ErrInvalidPayloadSize: a payload over the limit (status 7).
	ErrInvalidPayloadSize = errors.New("apns: invalid payload size")
	// ErrInvalidPriority: a priority other than 10 or 5 (status 255; Apple
	// never documented the answer).
	ErrInvalidPriority = errors.New("apns: invalid priority")

	// ErrMalformedResponse: bytes that are not an error response.
	ErrMalformedResponse = errors.New("apns: malformed error response")
	// ErrMalformedFeedback: a feedback tuple cut short.
	ErrMalformedFeedback = errors.New("apns: malformed feedback tuple")
)

// FrameError reports a notification the gateway refuses: why, and what it
// answers. Status is the status of the error response; ID is the identifier
// it names (0 when the frame carried none or could not be read that far).
type FrameError struct {
	Command Command
	Status  Status
	ID      uint32
	HasID   bool  // the frame carried an identifier and ID is it
	Err     error // one of the sentinels above
}

// Error describes the problem.
func (e *FrameError) Error() string {
	if e.HasID {
		return fmt.Sprintf("%v (command %d, id %d, status %d)", e.Err, uint8(e.Command), e.ID, uint8(e.Status))
	}
	return fmt.Sprintf("%v (command %d, status %d)", e.Err, uint8(e.Command), uint8(e.Status))
}

// Unwrap returns the sentinel.
func (e *FrameError) Unwrap() error { return e.Err }

// Is matches the error's status, so errors.Is(err, StatusInvalidTokenSize)
// holds for a frame refused with status 5.
func (e *FrameError) Is(target error) bool {
	s, ok := target.(Status)
	return ok && s == e.Status
}

// Response returns the error response the gateway sends for this frame.
// ok is false for command 0, which has no identifier and is answered by
// closing the connection without a word.
func (e *FrameError) Response() (r ErrorResponse, ok bool) {
	if e.Command == CommandSimple {
		return ErrorResponse{}, false
	}
	return ErrorResponse{Status: e.Status, ID: e.ID}, true
}
