package wire

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Command is the first byte of every binary frame.
type Command uint8

// Command bytes of the binary provider API.
const (
	CommandSimple        Command = 0 // legacy "simple" notification: no identifier, no expiry
	CommandEnhanced      Command = 1 // legacy "enhanced" notification: identifier and expiry
	CommandFramed        Command = 2 // framed notification made of items
	CommandErrorResponse Command = 8 // error response, gateway to provider
)

// String returns a short name such as "framed(2)".
func (c Command) String() string {
	switch c {
	case CommandSimple:
		return "simple(0)"
	case CommandEnhanced:
		return "enhanced(1)"
	case CommandFramed:
		return "framed(2)"
	case CommandErrorResponse:
		return "error-response(8)"
	}
	return fmt.Sprintf("command(%d)", uint8(c))
}

// Item identifiers inside a command-2 frame.
const (
	ItemToken      uint8 = 1 // device token, binary
	ItemPayload    uint8 = 2 // JSON payload
	ItemIdentifier uint8 = 3 // 4-byte notification identifier
	ItemExpiry     uint8 = 4 // 4-byte UNIX time, big-endian
	ItemPriority   uint8 = 5 // 1 byte: 10 or 5
)

// Fields records which optional items a command-2 frame carries. Commands 0
// and 1 have fixed layouts and ignore it.
type Fields uint8

// Optional command-2 items.
const (
	HasIdentifier Fields = 1 << iota // item 3 present
	HasExpiry                        // item 4 present
	HasPriority                      // item 5 present
	// AllFields is every optional item, the usual choice for a sender.
	AllFields = HasIdentifier | HasExpiry | HasPriority
)

// Priorities defined for item 5.
const (
	PriorityImmediate     uint8 = 10 // deliver now; must alert, sound or badge
	PriorityPowerConserve uint8 = 5  // deliver at a power-efficient time
)

// Sizes of the fixed parts of the frames, in bytes.
const (
	sizeOfCommand    = 1
	sizeOfFrameLen   = 4
	sizeOfItemHeader = 3 // id (1) + length (2)
	sizeOfID         = 4
	sizeOfExpiry     = 4
	sizeOfPriority   = 1
	sizeOfLen16      = 2

	framedHeaderSize   = sizeOfCommand + sizeOfFrameLen
	simpleHeaderSize   = sizeOfCommand + sizeOfLen16 + sizeOfLen16
	enhancedHeaderSize = sizeOfCommand + sizeOfID + sizeOfExpiry + sizeOfLen16 + sizeOfLen16

	// ErrorResponseSize is the size of an error response.
	ErrorResponseSize = sizeOfCommand + 1 + sizeOfID
)

// MaxFrameLength is the largest command-2 frame length a decoder accepts by
// default: one token and one payload of the largest size a 16-bit length can
// state, plus the three optional items. A frame that claims more is rejected
// before its bytes are read.
const MaxFrameLength = 2*(sizeOfItemHeader+math.MaxUint16) +
	sizeOfItemHeader + sizeOfID + sizeOfItemHeader + sizeOfExpiry + sizeOfItemHeader + sizeOfPriority

// Notification is one push notification as carried by command 0, 1 or 2.
//
// After decoding, Token and Payload alias the decoder's buffer and stay
// valid only until the next call that reads from it; copy them to keep them.
type Notification struct {
	Command  Command // 0, 1 or 2
	ID       uint32  // identifier; opaque to APNs (commands 1 and 2)
	Expiry   uint32  // UNIX seconds; 0 means do not store (commands 1 and 2)
	Priority uint8   // 10 or 5 (command 2 only)
	Present  Fields  // optional items of a command-2 frame
	Token    []byte  // binary device token
	Payload  []byte  // JSON payload, not NUL-terminated
}

// HasID reports whether the notification carries an identifier that an
// error response can name: always for command 1, with item 3 for command 2.
func (n *Notification) HasID() bool {
	return n.Command == CommandEnhanced || (n.Command == CommandFramed && n.Present&HasIdentifier != 0)
}

// EncodedLen returns the number of bytes AppendBinary writes, or -1 for an
// unknown command.
func (n *Notification) EncodedLen() int {
	switch n.Command {
	case CommandSimple:
		return simpleHeaderSize + len(n.Token) + len(n.Payload)
	case CommandEnhanced:
		return enhancedHeaderSize + len(n.Token) + len(n.Payload)
	case CommandFramed:
		return framedHeaderSize + n.frameLength()
	}
	return -1
}

func (n *Notification) frameLength() int {
	l := 2*sizeOfItemHeader + len(n.Token) + len(n.Payload)
	if n.Present&HasIdentifier != 0 {
		l += sizeOfItemHeader + sizeOfID
	}
	if n.Present&HasExpiry != 0 {
		l += sizeOfItemHeader + sizeOfExpiry
	}
	if n.Present&HasPriority != 0 {
		l += sizeOfItemHeader + sizeOfPriority
	}
	return l
}

// AppendBinary appends the wire form of n to b (encoding.BinaryAppender).
// Command 2 items are written in the order 1, 2, 3, 4, 5. It fails with
// [ErrEncode] when a field cannot be represented: a token or payload longer
// than 65535 bytes, or an unknown command. It does not apply Apple's
// validation rules (see [Validate]); an empty token is encoded as given.
func (n *Notification) AppendBinary(b []byte) ([]byte, error) {
	if len(n.Token) > math.MaxUint16 {
		return b, fmt.Errorf("%w: token of %d bytes exceeds 65535", ErrEncode, len(n.Token))
	}
	if len(n.Payload) > math.MaxUint16 {
		return b, fmt.Errorf("%w: payload of %d bytes exceeds 65535", ErrEncode, len(n.Payload))
	}
	switch n.Command {
	case CommandSimple:
		b = append(b, byte(CommandSimple))
		b = binary.BigEndian.AppendUint16(b, uint16(len(n.Token)))
		b = append(b, n.Token...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(n.Payload)))
		return append(b, n.Payload...), nil
	case CommandEnhanced:
		b = append(b, byte(CommandEnhanced))
		b = binary.BigEndian.AppendUint32(b, n.ID)
		b = binary.BigEndian.AppendUint32(b, n.Expiry)
		b = binary.BigEndian.AppendUint16(b, uint16(len(n.Token)))
		b = append(b, n.Token...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(n.Payload)))
		return append(b, n.Payload...), nil
	case CommandFramed:
		b = append(b, byte(CommandFramed))
		b = binary.BigEndian.AppendUint32(b, uint32(n.frameLength()))
		b = appendItem(b, ItemToken, n.Token)
		b = appendItem(b, ItemPayload, n.Payload)
		if n.Present&HasIdentifier != 0 {
			b = append(b, ItemIdentifier, 0, sizeOfID)
			b = binary.BigEndian.AppendUint32(b, n.ID)
		}
		if n.Present&HasExpiry != 0 {
			b = append(b, ItemExpiry, 0, sizeOfExpiry)
			b = binary.BigEndian.AppendUint32(b, n.Expiry)
		}
		if n.Present&HasPriority != 0 {
			b = append(b, ItemPriority, 0, sizeOfPriority, n.Priority)
		}
		return b, nil
	}
	return b, fmt.Errorf("%w: unknown command %d", ErrEncode, uint8(n.Command))
}

// MarshalBinary returns the wire form of n (encoding.BinaryMarshaler).
func (n *Notification) MarshalBinary() ([]byte, error) {
	size := n.EncodedLen()
	if size < 0 {
		size = 0
	}
	return n.AppendBinary(make([]byte, 0, size))
}

// UnmarshalBinary decodes exactly one notification that fills data, with
// the default [ParseOptions]. Token and Payload are copied, so data may be
// reused afterwards.
func (n *Notification) UnmarshalBinary(data []byte) error {
	var tmp Notification
	used, err := ParseNotification(data, &tmp, ParseOptions{})
	if err != nil {
		return err
	}
	if used != len(data) {
		return fmt.Errorf("%w: %d bytes after the frame", ErrTrailingData, len(data)-used)
	}
	tmp.Token = append([]byte(nil), tmp.Token...)
	tmp.Payload = append([]byte(nil), tmp.Payload...)
	*n = tmp
	return nil
}

func appendItem(b []byte, id uint8, data []byte) []byte {
	b = append(b, id)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}
