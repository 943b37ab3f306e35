package mockapns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
)

// ErrBadAuthKey is wrapped by the errors about a trusted key that cannot
// be used (a *FieldError naming the member).
var ErrBadAuthKey = errors.New("mockapns: bad auth key")

// ErrBadDevice is wrapped by the errors about a device state that cannot
// be used (a *FieldError naming the member).
var ErrBadDevice = errors.New("mockapns: bad device")

// FieldError says which member of an AuthKey or a Device is wrong, and
// why. It wraps ErrBadAuthKey or ErrBadDevice.
type FieldError struct {
	// Field is the JSON member name ("key_id", "token", ...), or empty
	// when the value as a whole is wrong.
	Field  string
	Reason string
	kind   error
	cause  error // the underlying error, if any (such as certs.ErrBadAuthKey)
}

// Error reads, for example, `mockapns: bad device: field "token": required`.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.kind.Error() + ": " + e.Reason
	}
	return e.kind.Error() + ": field " + strconv.Quote(e.Field) + ": " + e.Reason
}

// Unwrap returns ErrBadAuthKey or ErrBadDevice, and the underlying error
// when there is one.
func (e *FieldError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

func fieldErr(kind error, field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), kind: kind}
}

// initH2Auth sets up the HTTP/2 authentication state from the
// configuration: the environment, the clock, and the trusted keys (the
// PKI's auth key, then Config.AuthKeys).
func (s *Server) initH2Auth() error {
	h := &s.h2auth
	switch s.cfg.Environment {
	case 0, certs.Sandbox:
		h.env = certs.Sandbox
	case certs.Production:
		h.env = certs.Production
	default:
		return fmt.Errorf("mockapns: Config.Environment %d: want certs.Sandbox or certs.Production", s.cfg.Environment)
	}
	h.clock = s.cfg.Clock
	if h.clock == nil {
		h.clock = time.Now
	}
	h.initial = nil
	if s.pki.AuthKey != nil {
		h.initial = append(h.initial, TrustedKey(s.pki.AuthKey))
	}
	for i, k := range s.cfg.AuthKeys {
		if err := k.validate(); err != nil {
			return fmt.Errorf("mockapns: Config.AuthKeys[%d]: %w", i, err)
		}
		h.initial = append(h.initial, k)
	}
	h.keys.replace(h.initial)
	h.verifier = jwtVerifier{keys: &h.keys, noVerify: s.cfg.NoJWTVerify, lifetime: jwtLifetime, skewAhead: jwtFutureSkew}
	return nil
}

// resetH2Auth is Reset's part for HTTP/2 authentication: the devices are
// forgotten and the trusted keys are those of the start again.
func (s *Server) resetH2Auth() {
	s.h2auth.devices.clear()
	s.h2auth.keys.replace(s.h2auth.initial)
}

// Environment is the APNs environment the HTTP/2 API plays, certs.Sandbox
// or certs.Production: client certificates of the other one are refused.
func (s *Server) Environment() certs.Environment { return s.h2auth.env }

// AddAuthKey trusts k for provider tokens, replacing a trusted key of the
// same key ID. A key of the wrong shape is refused with a *FieldError
// wrapping ErrBadAuthKey. Connections verify their tokens again after any
// change of the trusted keys.
func (s *Server) AddAuthKey(k AuthKey) error { return s.h2auth.keys.add(k) }

// AuthKeys lists the trusted keys, ordered by key ID.
func (s *Server) AuthKeys() []AuthKey { return s.h2auth.keys.list() }

// RemoveAuthKey stops trusting the key keyID and reports whether it was
// trusted; tokens it signed are InvalidProviderToken from then on.
func (s *Server) RemoveAuthKey(keyID string) bool { return s.h2auth.keys.remove(keyID) }

// ClearAuthKeys stops trusting every key, the PKI's included.
func (s *Server) ClearAuthKeys() { s.h2auth.keys.replace(nil) }

// SetDevice records the state of one device token, replacing what was
// known about it. A device without a token is refused with a *FieldError
// wrapping ErrBadDevice.
func (s *Server) SetDevice(d Device) error { return s.SetDevices(d) }

// SetDevices records several devices at once: all of them, or none when
// one is refused (the error names its index).
func (s *Server) SetDevices(devs ...Device) error {
	for i, d := range devs {
		if err := d.validate(); err != nil {
			return fmt.Errorf("device %d: %w", i, err)
		}
	}
	s.h2auth.devices.set(devs)
	return nil
}

// Devices lists the device state, ordered by token.
func (s *Server) Devices() []Device { return s.h2auth.devices.list() }

// RemoveDevice forgets a device and reports whether it was known.
func (s *Server) RemoveDevice(tok apns.Token) bool { return s.h2auth.devices.remove(tok) }

// ClearDevices forgets every device.
func (s *Server) ClearDevices() { s.h2auth.devices.clear() }

// AddAuthKeys trusts several keys at once: all of them, or none when one
// is refused (the error names its index).
func (s *Server) AddAuthKeys(keys ...AuthKey) error {
	for i, k := range keys {
		if err := k.validate(); err != nil {
			return fmt.Errorf("key %d: %w", i, err)
		}
	}
	for _, k := range keys {
		if err := s.h2auth.keys.add(k); err != nil {
			return err // cannot happen: validated above
		}
	}
	return nil
}

// parseOneOrMany reads a body holding one JSON object or an array of them,
// each decoded as a T (whose UnmarshalJSON checks it). An element's error
// is prefixed with its index, "[2]: ...".
func parseOneOrMany[T any](body []byte, want string) ([]T, error) {
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("empty body, want %s or an array of them", want)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var out []T
	if b[0] == '[' {
		var raws []json.RawMessage
		if err := dec.Decode(&raws); err != nil {
			return nil, fmt.Errorf("bad JSON: %w", err)
		}
		out = make([]T, len(raws))
		for i, raw := range raws {
			if err := json.Unmarshal(raw, &out[i]); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
		}
	} else {
		var v T
		if err := dec.Decode(&v); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return nil, err
			}
			return nil, fmt.Errorf("bad JSON: %w", err)
		}
		out = []T{v}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("bad JSON: more than one value in the body")
	}
	return out, nil
}

// parseDevices reads the body of POST /api/v1/devices.
func parseDevices(body []byte) ([]Device, error) {
	return parseOneOrMany[Device](body, `{"token": "HEX", "topic": "...", "unregistered_at": "RFC3339"}`)
}

// parseAuthKeys reads the body of POST /api/v1/keys.
func parseAuthKeys(body []byte) ([]AuthKey, error) {
	return parseOneOrMany[AuthKey](body, `{"key_id": "...", "team_id": "...", "public_key": "PEM"}`)
}
