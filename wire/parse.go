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
	if parseUsualItems(frame, n) {
		return end, nil
	}
	return parseItems(frame, n, opt, end)
}

// usualTailSize is the size of items 3, 4 and 5, each of its size.
const usualTailSize = 3*sizeOfItemHeader + sizeOfID + sizeOfExpiry + sizeOfPriority

// itemHeader is the header of an item of that ID and data length as the
// 24 high bits of a big-endian uint32, as read by headerAt.
func itemHeader(id uint8, l uint16) uint32 { return uint32(id)<<16 | uint32(l) }

// headerAt returns the item header at b[0:3] as itemHeader gives it; b
// holds at least 4 bytes.
func headerAt(b []byte) uint32 { return binary.BigEndian.Uint32(b) >> 8 }

// parseUsualItems decodes frame into n, which holds only its command, when
// its items are exactly 1, 2, 3, 4 and 5 in that order, each once and of its
// size, and reports whether they were; n is untouched otherwise, for
// parseItems. What it decodes is what parseItems decodes from such a frame.
func parseUsualItems(frame []byte, n *Notification) bool {
	if len(frame) < 2*sizeOfItemHeader+usualTailSize || frame[0] != ItemToken {
		return false
	}
	tokenEnd := sizeOfItemHeader + int(binary.BigEndian.Uint16(frame[1:]))
	if len(frame)-tokenEnd < sizeOfItemHeader+usualTailSize || frame[tokenEnd] != ItemPayload {
		return false
	}
	payloadEnd := tokenEnd + sizeOfItemHeader + int(binary.BigEndian.Uint16(frame[tokenEnd+1:]))
	if len(frame)-payloadEnd != usualTailSize {
		return false
	}
	tail := frame[payloadEnd:]
	const idAt, expiryAt, priorityAt = 0, sizeOfItemHeader + sizeOfID, 2*sizeOfItemHeader + sizeOfID + sizeOfExpiry
	if headerAt(tail[idAt:]) != itemHeader(ItemIdentifier, sizeOfID) ||
		headerAt(tail[expiryAt:]) != itemHeader(ItemExpiry, sizeOfExpiry) ||
		headerAt(tail[priorityAt:]) != itemHeader(ItemPriority, sizeOfPriority) {
		return false
	}
	n.Token = frame[sizeOfItemHeader:tokenEnd:tokenEnd]
	n.Payload = frame[tokenEnd+sizeOfItemHeader : payloadEnd : payloadEnd]
	n.ID = binary.BigEndian.Uint32(tail[idAt+sizeOfItemHeader:])
	n.Expiry = binary.BigEndian.Uint32(tail[expiryAt+sizeOfItemHeader:])
	n.Priority = tail[priorityAt+sizeOfItemHeader]
	n.Present = AllFields
	return true
}

// parseItems decodes the items of frame, a command-2 frame's data, into n,
// which holds only its command; end is the frame's size on the wire.
func parseItems(frame []byte, n *Notification, opt ParseOptions, end int) (int, error) {
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
