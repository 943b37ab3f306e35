package client

import (
	"bytes"
	"fmt"
	"math"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// batch is one Send's notifications on one connection, kept until settled,
// and then in the connection's history (presumed accepted) until an error
// response or the connection's end settles it.
type batch struct {
	retryBase Message   // the message without tokens, expiry made absolute
	tokens    []string  // Message.Tokens
	prep      *prepared // binary form
	ids       []uint32  // ids[i] is the identifier of tokens[i], for every notification attempted
	chunk     *chunk    // the stream chunk this batch carries; nil for a Send's batch
}

func newBatch(m *Message, p *prepared) *batch {
	b := &batch{retryBase: *m, tokens: m.Tokens, prep: p}
	b.retryBase.Tokens = nil
	if p.hasExpiry && m.Expiry.At.IsZero() {
		b.retryBase.Expiry = ExpireAt(time.Unix(int64(p.expiry), 0).UTC())
	}
	return b
}

// sameContent reports whether two batches send the same frame content apart
// from token and identifier.
func (b *batch) sameContent(o *batch) bool {
	return b != nil && o != nil && bytes.Equal(b.prep.payload, o.prep.payload) &&
		b.prep.hasExpiry == o.prep.hasExpiry && b.prep.expiry == o.prep.expiry &&
		b.prep.priority == o.prep.priority
}

// index returns the position of the notification with identifier id.
// Identifiers of a batch are consecutive, skipping 0 at the wrap.
func (b *batch) index(id uint32) (int, bool) {
	if len(b.ids) == 0 || id == 0 {
		return 0, false
	}
	guess := int(id - b.ids[0])
	for _, g := range [2]int{guess, guess - 1} {
		if g >= 0 && g < len(b.ids) && b.ids[g] == id {
			return g, true
		}
	}
	return 0, false
}

// prepared is a message checked and encoded once for a send: binary tokens
// (all in one buffer), the payload, and the resolved optional items.
type prepared struct {
	tokens    [][]byte
	payload   []byte
	expiry    uint32
	hasExpiry bool
	priority  apns.Priority
	frame     *wire.FramedTemplate // the content's frames, made by prepare
}

// withoutTokens returns a copy of p without the binary tokens, for a batch
// kept only to be settled.
func (p *prepared) withoutTokens() *prepared {
	q := *p
	q.tokens = nil
	return &q
}

// prepare validates m and decodes its tokens. tokBuf is reused when large
// enough.
func (m *Message) prepare(now time.Time, tokBuf []byte) (*prepared, error) {
	if len(m.Tokens) == 0 {
		return nil, ErrNoTokens
	}
	if err := m.checkPayloadFields(); err != nil {
		return nil, err
	}
	p := &prepared{}
	if m.Priority < 0 || m.Priority > math.MaxUint8 {
		return nil, fmt.Errorf("%w: priority %d", ErrBadField, m.Priority)
	}
	p.priority = m.priorityItem()
	if !m.Expiry.IsZero() {
		e, err := m.Expiry.resolve(now)
		if err != nil {
			return nil, err
		}
		p.expiry, p.hasExpiry = e, true
	}
	payload, err := m.payloadJSON()
	if err != nil {
		return nil, err
	}
	if len(payload) > math.MaxUint16 {
		return nil, fmt.Errorf("%w: payload of %d bytes exceeds 65535", ErrBadField, len(payload))
	}
	p.payload = payload
	p.tokens, err = parseTokens(m.Tokens, tokBuf)
	if err != nil {
		return nil, err
	}
	if p.frame, err = wire.NewFramedTemplate(frameTemplate(p)); err != nil { // cannot fail: sizes checked above
		return nil, fmt.Errorf("%w: %w", ErrBadField, err)
	}
	return p, nil
}

// priorityItem is the priority item of m: absent for 0.
func (m *Message) priorityItem() apns.Priority {
	if m.Priority == 0 {
		return apns.Priority{}
	}
	return apns.NewPriority(uint8(m.Priority))
}

// parseTokens decodes hex tokens with [apns.AppendParsedToken] into one
// buffer (tokBuf, reused when large enough) and returns a slice per token.
func parseTokens(tokens []string, tokBuf []byte) ([][]byte, error) {
	total := 0
	for _, t := range tokens {
		total += min(len(t)/2, apns.MaxTokenLength)
	}
	if cap(tokBuf) < total {
		tokBuf = make([]byte, 0, total)
	}
	tokBuf = tokBuf[:0]
	out := make([][]byte, len(tokens))
	for i, t := range tokens {
		off := len(tokBuf)
		var err error
		if tokBuf, err = apns.AppendParsedToken(tokBuf, t); err != nil {
			return nil, &TokenError{Index: i, Token: t, Err: err}
		}
		out[i] = tokBuf[off:len(tokBuf):len(tokBuf)]
	}
	return out, nil
}

// frameTemplate returns the command-2 notification shared by every token of
// a prepared message; the caller sets Token and ID per notification.
func frameTemplate(p *prepared) wire.Notification {
	n := wire.Notification{
		Command: wire.CommandFramed,
		Present: wire.HasIdentifier,
		Payload: p.payload,
		Expiry:  p.expiry,
	}
	if p.hasExpiry {
		n.Present |= wire.HasExpiry
	}
	if v, ok := p.priority.Value(); ok {
		n.Priority = v
		n.Present |= wire.HasPriority
	}
	return n
}
