package apns

import "strconv"

// Outcome is Apple's answer to a notification that was not accepted: a
// binary status byte (wire.Status) or an HTTP/2 reason ([Reason]). It is an
// error, so it can be wrapped and matched with errors.Is, and it says what
// a client must do about it.
type Outcome interface {
	error
	Disposition() Disposition
}

// Disposition says what a client must do with a notification that Apple
// refused, and with the notifications sent after it on the same connection.
type Disposition uint8

const (
	// Retry: the notification was not processed through no fault of its
	// own (processing error, server unavailable, rate limit, unknown
	// codes); send it again, after a pause where the code asks for one.
	Retry Disposition = iota
	// DropToken: the notification's token is at fault (missing, wrong size,
	// invalid, unregistered); do not send to it again. On the binary API
	// the notifications written after it must be resent.
	DropToken
	// DropMessage: the content shared by every notification of a message
	// (payload, topic, headers or credentials) is at fault; every
	// notification carrying the same content fails the same way.
	DropMessage
	// Resume: binary status 10; the named notification was the last one
	// accepted and everything after it must be resent on a new connection.
	Resume
)

// String names the disposition: "retry", "drop token", "drop message" or
// "resume".
func (d Disposition) String() string {
	switch d {
	case Retry:
		return "retry"
	case DropToken:
		return "drop token"
	case DropMessage:
		return "drop message"
	case Resume:
		return "resume"
	}
	return "disposition(" + strconv.Itoa(int(d)) + ")"
}
