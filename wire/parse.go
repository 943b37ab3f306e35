package wire

import (
	"encoding/binary"
)

// ParseOptions relaxes the structural checks of [ParseNotification]. The
// zero value is strict, as the mock gateway is by default.
type ParseOptions struct {
	// MaxFrameLength bounds the frame length of command 2; 0 means
	// [MaxFrameLength]. A larger claim is refused as soon as the 5-byte
	// header is read, before any of its bytes arrive.
	MaxFrameLength int
	// AllowUnknownItems skips items with IDs other than 1–5 instead of
	// refusing the frame.
	AllowUnknownItems bool
	// AllowDuplicateItems lets a repeated item replace the earlier one
	// instead of refusing the frame.
	AllowDuplicateItems bool
}

// ParseNotification decodes the notification at the start of b into n and
// returns the number of bytes it used.
//
// When b holds only part of a frame it returns [ErrIncomplete] and leaves n
// in an unspecified state; call again with more bytes. A frame that can
// never be valid is reported as a [*FrameError] whose Status is what the
// gateway answers (128, protocol error, for a frame it cannot parse) and
// whose ID is the frame's identifier when one was read. n.Token and
// n.Payload alias b.
//
// ParseNotification checks structure only; Apple's rules on token and
// payload sizes are applied by [Validate].
func ParseNotification(b []byte, n *Notification, opt ParseOptions) (int, error) {
	if len(b) == 0 {
		return 0, ErrIncomplete
	}
	switch cmd := Command(b[0]); cmd {
	case CommandSimple:
		return parseLegacy(b, n, cmd)
	case CommandEnhanced:
		return parseLegacy(b, n, cmd)
	case CommandFramed:
		return parseFramed(b, n, opt)
	default:
		return 0, &FrameError{Command: cmd, Status: StatusProtocolError, Err: ErrUnknownCommand}
	}
}

// parseLegacy decodes commands 0 and 1, whose only variable parts are the
// token and the payload, each behind a 16-bit length.
func parseLegacy(b []byte, n *Notification, cmd Command) (int, error) {
	off := sizeOfCommand
	*n = Notification{Command: cmd}
	if cmd == CommandEnhanced {
		if len(b) < off+sizeOfID+sizeOfExpiry {
			return 0, ErrIncomplete
		}
		n.ID = binary.BigEndian.Uint32(b[off:])
		n.Expiry = binary.BigEndian.Uint32(b[off+sizeOfID:])
		off += sizeOfID + sizeOfExpiry
	}
	if len(b) < off+sizeOfLen16 {
		return 0, ErrIncomplete
	}
	tokenLen := int(binary.BigEndian.Uint16(b[off:]))
	off += sizeOfLen16
	if len(b) < off+tokenLen+sizeOfLen16 {
		return 0, ErrIncomplete
	}
	n.Token = b[off : off+tokenLen : off+tokenLen]
	off += tokenLen
	payloadLen := int(binary.BigEndian.Uint16(b[off:]))
	off += sizeOfLen16
	if len(b) < off+payloadLen {
		return 0, ErrIncomplete
	}
	n.Payload = b[off : off+payloadLen : off+payloadLen]
	return off + payloadLen, nil
}

// fixedItemSize holds, by item ID, the data length of the items whose size
// is fixed; 0 for the token and payload.
var fixedItemSize = [...]int{ItemIdentifier: sizeOfID, ItemExpiry: sizeOfExpiry, ItemPriority: sizeOfPriority}

func parseFramed(b []byte, n *Notification, opt ParseOptions) (int, error) {
	if len(b) < framedHeaderSize {
		return 0, ErrIncomplete
	}
	limit := opt.MaxFrameLength
	if limit <= 0 {
		limit = MaxFrameLength
	}
	frameLen := binary.BigEndian.Uint32(b[sizeOfCommand:])
	if uint64(frameLen) > uint64(limit) {
		return 0, &FrameError{Command: CommandFramed, Status: StatusProtocolError, Err: ErrFrameTooLarge}
	}
	end := framedHeaderSize + int(frameLen)
	if len(b) < end {
		return 0, ErrIncomplete
	}
	*n = Notification{Command: CommandFramed}
	frame := b[framedHeaderSize:end]
	var seen uint8 // bit i set when item i has been read
	var fail error
	for off := 0; off < len(frame); {
		if len(frame)-off < sizeOfItemHeader {
			fail = ErrMalformedItem
			break
		}
		id := frame[off]
		l := int(binary.BigEndian.Uint16(frame[off+1:]))
		off += sizeOfItemHeader
		if len(frame)-off < l {
			fail = ErrMalformedItem
			break
		}
		data := frame[off : off+l : off+l]
		off += l
		if id < ItemToken || id > ItemPriority {
			if !opt.AllowUnknownItems && fail == nil {
				fail = ErrUnknownItem
			}
			continue
		}
		if seen&(1<<id) != 0 && !opt.AllowDuplicateItems && fail == nil {
			fail = ErrDuplicateItem
		}
		seen |= 1 << id
		if want := fixedItemSize[id]; want != 0 && l != want {
			if fail == nil {
				fail = ErrMalformedItem
			}
			continue
		}
		switch id {
		case ItemToken:
			n.Token = data
		case ItemPayload:
			n.Payload = data
		case ItemIdentifier:
			n.ID = binary.BigEndian.Uint32(data)
			n.Present |= HasIdentifier
		case ItemExpiry:
			n.Expiry = binary.BigEndian.Uint32(data)
			n.Present |= HasExpiry
		case ItemPriority:
			n.Priority = data[0]
			n.Present |= HasPriority
		}
	}
	if fail != nil {
		// The whole frame was read, so the identifier (if any) is known and
		// the error response can name it.
		return end, &FrameError{Command: CommandFramed, Status: StatusProtocolError,
			ID: n.ID, HasID: n.Present&HasIdentifier != 0, Err: fail}
	}
	return end, nil
}
