package wire

import (
	"strconv"

	"github.com/apnskit/apnskit/apns"
)

// Status is the status byte of an error response (command 8).
//
// The zero Status, [StatusNoError], means "no error": APNs never sends it on
// the wire, and a Status used as an error value should never be zero.
// Status implements error, so a status can be wrapped and matched with
// errors.Is:
//
//	errors.Is(err, wire.StatusInvalidToken)
type Status uint8

// Status codes of the binary provider API, from Apple's table. Code 9 is not
// defined by Apple.
const (
	StatusNoError            Status = 0   // no error; never sent on the wire
	StatusProcessingError    Status = 1   // Apple-side problem; retry the notification
	StatusMissingToken       Status = 2   // token item absent or empty
	StatusMissingTopic       Status = 3   // topic missing (undocumented on the binary API)
	StatusMissingPayload     Status = 4   // payload item absent or empty
	StatusInvalidTokenSize   Status = 5   // token of the wrong length
	StatusInvalidTopicSize   Status = 6   // topic of the wrong size
	StatusInvalidPayloadSize Status = 7   // payload over the limit
	StatusInvalidToken       Status = 8   // token not valid here (e.g. sandbox token on production)
	StatusShutdown           Status = 10  // server closing; the identifier names the last accepted notification
	StatusProtocolError      Status = 128 // the notification could not be parsed
	StatusUnknown            Status = 255 // "none (unknown)"
)

var statusNames = map[Status]string{
	StatusNoError:            "no error",
	StatusProcessingError:    "processing error",
	StatusMissingToken:       "missing device token",
	StatusMissingTopic:       "missing topic",
	StatusMissingPayload:     "missing payload",
	StatusInvalidTokenSize:   "invalid token size",
	StatusInvalidTopicSize:   "invalid topic size",
	StatusInvalidPayloadSize: "invalid payload size",
	StatusInvalidToken:       "invalid token",
	StatusShutdown:           "shutdown",
	StatusProtocolError:      "protocol error",
	StatusUnknown:            "unknown",
}

// String returns Apple's name for the status in lower case, such as
// "invalid token", or "status N" for a code Apple never defined.
func (s Status) String() string {
	if name, ok := statusNames[s]; ok {
		return name
	}
	return "status " + strconv.Itoa(int(s))
}

// Error makes a Status usable as an error: "apns: invalid token (8)".
func (s Status) Error() string {
	return "apns: " + s.String() + " (" + strconv.Itoa(int(s)) + ")"
}

// Known reports whether Apple's table defines the code.
func (s Status) Known() bool {
	_, ok := statusNames[s]
	return ok
}

// MarshalText encodes the status as its decimal code, so that JSON and
// flags carry the number Apple documents.
func (s Status) MarshalText() ([]byte, error) {
	return strconv.AppendUint(nil, uint64(s), 10), nil
}

// Disposition is [apns.Disposition], kept here so that code written
// against this package before the shared vocabulary existed still builds.
type Disposition = apns.Disposition

// The dispositions, as in package apns.
const (
	Retry       = apns.Retry
	DropToken   = apns.DropToken
	DropMessage = apns.DropMessage
	Resume      = apns.Resume
)

// Status is an [apns.Outcome].
var _ apns.Outcome = Status(0)

// Disposition classifies the status for a client's resend logic.
func (s Status) Disposition() Disposition {
	switch s {
	case StatusShutdown:
		return Resume
	case StatusMissingToken, StatusInvalidTokenSize, StatusInvalidToken, StatusProtocolError:
		return DropToken
	case StatusMissingTopic, StatusMissingPayload, StatusInvalidTopicSize, StatusInvalidPayloadSize:
		return DropMessage
	default:
		return Retry
	}
}
