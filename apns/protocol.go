package apns

import "fmt"

// Protocol names the API that carried a notification.
type Protocol uint8

// The protocols. The zero Protocol is unknown, so that a missing value is
// never mistaken for one of them.
const (
	Binary Protocol = 1 + iota // the legacy binary provider API (gateway and feedback)
	HTTP2                      // the HTTP/2 provider API
)

// String is "binary", "http2" or "protocol(N)".
func (p Protocol) String() string {
	switch p {
	case Binary:
		return "binary"
	case HTTP2:
		return "http2"
	}
	return fmt.Sprintf("protocol(%d)", uint8(p))
}

// MarshalText encodes the protocol by name; an unknown one is an error.
func (p Protocol) MarshalText() ([]byte, error) {
	switch p {
	case Binary, HTTP2:
		return []byte(p.String()), nil
	}
	return nil, fmt.Errorf("apns: unknown protocol %d", uint8(p))
}

// UnmarshalText reads "binary" or "http2"; on error p is unchanged.
func (p *Protocol) UnmarshalText(b []byte) error {
	switch string(b) {
	case "binary":
		*p = Binary
	case "http2":
		*p = HTTP2
	default:
		return fmt.Errorf("apns: unknown protocol %q (want binary or http2)", b)
	}
	return nil
}
