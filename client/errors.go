package client

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// Sentinel errors. Every error the package returns wraps one of these (or a
// [wire.Status]), so callers match with errors.Is and never compare strings.
var (
	// ErrClosed: the session was shut down and takes no new work.
	ErrClosed = errors.New("apns: session closed")

	// ErrMalformedPEM: PEM data that does not decode, or a block whose
	// contents do not parse.
	ErrMalformedPEM = errors.New("apns: malformed PEM")
	// ErrNoCertificate: no CERTIFICATE block where one was expected.
	ErrNoCertificate = errors.New("apns: no certificate")
	// ErrNoKey: no private key block where one was expected.
	ErrNoKey = errors.New("apns: no private key")
	// ErrKeyMismatch: the private key does not belong to the certificate.
	ErrKeyMismatch = errors.New("apns: private key does not match certificate")
	// ErrBadPassphrase: an encrypted key or PKCS#12 file with a missing or
	// wrong passphrase.
	ErrBadPassphrase = errors.New("apns: wrong or missing passphrase")
	// ErrUnsupportedKey: a key format this package cannot read (for example
	// an scrypt- or PBES1-encrypted PKCS#8 key; re-encrypt it with
	// `openssl pkcs8 -topk8 -v2 aes256` or decrypt it first).
	ErrUnsupportedKey = errors.New("apns: unsupported private key")
	// ErrHistoryExceeded: a late error response named a notification older
	// than the connection remembers (Config.History); what was sent between
	// it and the oldest remembered one may have been discarded and cannot
	// be resent. Raise Config.History or ErrorWait.
	ErrHistoryExceeded = errors.New("apns: error response older than the connection's history")
	// ErrMalformedPKCS12: data that is not a PKCS#12 file.
	ErrMalformedPKCS12 = errors.New("apns: malformed PKCS#12 data")

	// ErrBadAddress: neither a known name (push_sandbox, ...) nor host:port.
	ErrBadAddress = errors.New("apns: bad address")
	// ErrBadConfig: a Config field out of range.
	ErrBadConfig = errors.New("apns: bad config")
	// ErrConnect: the TCP connection or the TLS handshake failed.
	ErrConnect = errors.New("apns: connect failed")

	// ErrNoTokens: a message without device tokens.
	ErrNoTokens = errors.New("apns: message has no device tokens")
	// ErrBadToken: a device token that [apns.ParseToken] refuses (empty,
	// not an even-length hex string, or longer than [apns.MaxTokenLength]
	// bytes). It is [apns.ErrBadToken]; the error is a [*TokenError].
	ErrBadToken = apns.ErrBadToken
	// ErrBadPayload: a raw payload that is not a JSON object, or fields that
	// cannot be turned into one.
	ErrBadPayload = errors.New("apns: bad payload")
	// ErrConflictingFields: a raw Payload combined with fields that would
	// build a payload (Alert, Badge, Sound, ...), or Extra holding "aps".
	ErrConflictingFields = errors.New("apns: raw payload combined with payload fields")
	// ErrBadField: a field value the wire format cannot carry (priority
	// above 255, expiry outside 1970–2106, badge of a type that is neither
	// number nor string, a payload over 65535 bytes).
	ErrBadField = errors.New("apns: field cannot be encoded")

	// ErrConnectionLost: the connection ended (or a write failed) without
	// an error response; what was written may or may not have been
	// delivered (see [Result.Uncertain]).
	ErrConnectionLost = errors.New("apns: connection lost without error response")
)

// TokenError names the device token that failed validation.
type TokenError struct {
	Index int    // position in Message.Tokens
	Token string // the token as given
	Err   error  // the cause, from [apns.ParseToken]
}

// Error describes the token and the cause.
func (e *TokenError) Error() string {
	t := e.Token
	if len(t) > 16 {
		t = t[:16] + "..."
	}
	return fmt.Sprintf("apns: bad device token %d (%q): %v", e.Index, t, e.Err)
}

// Unwrap returns ErrBadToken and the cause.
func (e *TokenError) Unwrap() []error { return []error{ErrBadToken, e.Err} }

// StatusError is an error response from the gateway that is not reported as
// a per-token [Failure]: processing error (1), shutdown (10), unknown (255),
// message-level statuses (3, 4, 6, 7), or any status naming an identifier the
// client cannot place. errors.Is(err, wire.StatusShutdown) matches it.
type StatusError struct {
	Outcome apns.Outcome // what the gateway answered: a [wire.Status] on the binary protocol
	ID      uint32       // identifier named by the response
	Token   string       // token of the named notification, "" when unknown
	// Late: the response arrived after the Send that wrote the notification
	// had returned; it is reported by the next use of the connection.
	Late bool
}

// Error describes the response.
func (e *StatusError) Error() string {
	late := ""
	if e.Late {
		late = " (late)"
	}
	return fmt.Sprintf("apns: error response %s for id %d%s", outcomeText(e.Outcome), e.ID, late)
}

// outcomeText is the outcome's message without the package prefix, which
// the enclosing message already carries: "processing error (1)".
func outcomeText(o apns.Outcome) string {
	if o == nil {
		return "(none)"
	}
	return strings.TrimPrefix(o.Error(), "apns: ")
}

// Unwrap returns the outcome, so errors.Is matches wire statuses.
func (e *StatusError) Unwrap() error { return e.Outcome }

// Status is the binary status of the response, or 0 when the outcome is
// not a [wire.Status].
func (e *StatusError) Status() wire.Status { return binaryStatus(e.Outcome) }

// binaryStatus returns o as a wire.Status, or 0 when it is none.
func binaryStatus(o apns.Outcome) wire.Status {
	st, _ := o.(wire.Status)
	return st
}
