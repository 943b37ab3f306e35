package wire

import (
	"encoding/binary"
	"fmt"
	"math"
)

// FramedTemplate encodes the command-2 frames of one content, each to its
// own token with its own identifier, as [Notification.AppendBinary] does,
// with everything but the token and the identifier encoded once: for
// senders that write many notifications of one content.
type FramedTemplate struct {
	mid   []byte // the payload item, then the identifier item's header when present
	tail  []byte // the expiry and priority items, when present
	id    bool   // the identifier item is present
	fixed int    // frame length without the token
}

// NewFramedTemplate returns the template of n's content: its Command must
// be CommandFramed; its Token and ID are ignored. It fails with ErrEncode
// as AppendBinary would.
func NewFramedTemplate(n Notification) (*FramedTemplate, error) {
	if n.Command != CommandFramed {
		return nil, fmt.Errorf("%w: a template is for command 2, not %d", ErrEncode, uint8(n.Command))
	}
	if len(n.Payload) > math.MaxUint16 {
		return nil, fmt.Errorf("%w: payload of %d bytes exceeds 65535", ErrEncode, len(n.Payload))
	}
	t := &FramedTemplate{id: n.Present&HasIdentifier != 0}
	t.mid = appendItem(nil, ItemPayload, n.Payload)
	if t.id {
		t.mid = append(t.mid, ItemIdentifier, 0, sizeOfID)
	}
	if n.Present&HasExpiry != 0 {
		t.tail = append(t.tail, ItemExpiry, 0, sizeOfExpiry)
		t.tail = binary.BigEndian.AppendUint32(t.tail, n.Expiry)
	}
	if n.Present&HasPriority != 0 {
		t.tail = append(t.tail, ItemPriority, 0, sizeOfPriority, n.Priority)
	}
	n.Token = nil
	t.fixed = n.frameLength()
	return t, nil
}

// Append appends the frame of the template's content to token with
// identifier id (ignored when the content has no identifier item). A token
// longer than 65535 bytes cannot be encoded: b is returned unchanged with
// ErrEncode.
func (t *FramedTemplate) Append(b, token []byte, id uint32) ([]byte, error) {
	if len(token) > math.MaxUint16 {
		return b, fmt.Errorf("%w: token of %d bytes exceeds 65535", ErrEncode, len(token))
	}
	b = append(b, byte(CommandFramed))
	b = binary.BigEndian.AppendUint32(b, uint32(t.fixed+len(token)))
	b = append(b, ItemToken, byte(len(token)>>8), byte(len(token)))
	b = append(b, token...)
	b = append(b, t.mid...)
	if t.id {
		b = binary.BigEndian.AppendUint32(b, id)
	}
	return append(b, t.tail...), nil
}
