package client

import (
	"context"
	"time"

	"github.com/apnskit/apnskit/wire"
)

// Test seams, compiled only into this package's tests.

// SettleForTest runs the retry rules on a batch of tokens whose identifiers
// start at firstID: written were written completely, attempted were handed
// to the connection. last (may be nil) is the previous batch on the
// connection, all of it written, identifiers from lastFirstID.
func SettleForTest(tokens []string, firstID uint32, written, attempted int, resp *wire.ErrorResponse, lost error, last []string, lastFirstID uint32) *Result {
	mk := func(toks []string, first uint32, n int) *batch {
		m := &Message{Tokens: toks, Alert: "x"}
		p, err := m.prepare(time.Now(), nil)
		if err != nil {
			panic(err)
		}
		b := newBatch(m, p)
		id := first
		for range n {
			if id == 0 {
				id = 1
			}
			b.ids = append(b.ids, id)
			id++
		}
		return b
	}
	var lb *batch
	if last != nil {
		lb = mk(last, lastFirstID, len(last))
	}
	return settle(mk(tokens, firstID, attempted), written, attempted, outcome{resp: resp, lost: lost}, lb)
}

// SettleLateForTest settles, as a late error response does, a previous
// batch of tokens, all written, with identifiers from firstID.
func SettleLateForTest(tokens []string, firstID uint32, resp wire.ErrorResponse) *Result {
	m := &Message{Tokens: tokens, Alert: "x"}
	p, err := m.prepare(time.Now(), nil)
	if err != nil {
		panic(err)
	}
	b := newBatch(m, p)
	id := firstID
	for range tokens {
		if id == 0 {
			id = 1
		}
		b.ids = append(b.ids, id)
		id++
	}
	return settleLate(b, resp)
}

// SetLastID makes the session's next identifier id+1.
func SetLastID(s *Session, id uint32) { s.nextID.Store(id) }

// FrameEncoder encodes a message's notifications the way Send does.
type FrameEncoder struct {
	n      wire.Notification
	tokens [][]byte
}

// NewFrameEncoder prepares m.
func NewFrameEncoder(m *Message) (*FrameEncoder, error) {
	p, err := m.prepare(time.Now(), nil)
	if err != nil {
		return nil, err
	}
	return &FrameEncoder{n: frameTemplate(p), tokens: p.tokens}, nil
}

// Append appends the frame of token i with identifier id.
func (e *FrameEncoder) Append(buf []byte, i int, id uint32) []byte {
	e.n.Token, e.n.ID = e.tokens[i], id
	buf, _ = e.n.AppendBinary(buf)
	return buf
}

// HoldCheckinUntilDead makes every Send of s wait, after its batch is
// settled and before its connection goes back to the pool, until the
// connection has ended or ctx ends: it widens the window in which an error
// response arrives after the Send's error wait but before the check-in.
// Call it before the first Send.
func HoldCheckinUntilDead(ctx context.Context, s *Session) {
	s.testHookBeforeCheckin = func(c *conn) {
		select {
		case <-c.dead:
		case <-ctx.Done():
		}
	}
}
