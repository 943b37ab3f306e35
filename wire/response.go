package wire

import (
	"encoding/binary"
	"fmt"
)

// ErrorResponse is the 6-byte packet the gateway writes before it closes a
// connection: command 8, a status byte, and the identifier of the
// notification concerned (for status 10, the last one accepted).
type ErrorResponse struct {
	Status Status
	ID     uint32
}

// AppendBinary appends the 6 bytes of r to b.
func (r ErrorResponse) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, byte(CommandErrorResponse), byte(r.Status))
	return binary.BigEndian.AppendUint32(b, r.ID), nil
}

// MarshalBinary returns the 6 bytes of r.
func (r ErrorResponse) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(make([]byte, 0, ErrorResponseSize))
}

// UnmarshalBinary decodes exactly 6 bytes that start with command 8. The
// status byte is unsigned: 128 and 255 are read as such.
func (r *ErrorResponse) UnmarshalBinary(b []byte) error {
	if len(b) != ErrorResponseSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrMalformedResponse, len(b), ErrorResponseSize)
	}
	if Command(b[0]) != CommandErrorResponse {
		return fmt.Errorf("%w: command %d, want 8", ErrMalformedResponse, b[0])
	}
	r.Status = Status(b[1])
	r.ID = binary.BigEndian.Uint32(b[2:])
	return nil
}

// String renders the response for logs: "status 8 (invalid token) id 42".
func (r ErrorResponse) String() string {
	return fmt.Sprintf("status %d (%s) id %d", uint8(r.Status), r.Status.String(), r.ID)
}
