package client

import (
	"context"
	"time"

	"github.com/apnskit/apnskit/wire"
)

// Test seams, compiled only into this package's tests.

// testBatch builds a batch of tokens whose first n notifications were
// written with identifiers from first (consecutive, skipping 0).
func testBatch(toks []string, first uint32, n int) *batch {
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

// SettleForTest runs the retry rules on a batch of tokens whose identifiers
// start at firstID: written were written completely, attempted were handed
// to the connection. last (may be nil) is the previous batch on the
// connection, all of it written, identifiers from lastFirstID.
func SettleForTest(tokens []string, firstID uint32, written, attempted int, resp *wire.ErrorResponse, lost error, last []string, lastFirstID uint32) *Result {
	var lb *batch
	if last != nil {
		lb = testBatch(last, lastFirstID, len(last))
	}
	return settle(testBatch(tokens, firstID, attempted), written, attempted, outcome{resp: resp, lost: lost}, lb)
}

// SettleLateForTest settles, as a late error response does, a previous
// batch of tokens, all written, with identifiers from firstID.
func SettleLateForTest(tokens []string, firstID uint32, resp wire.ErrorResponse) *Result {
	return settleLate(testBatch(tokens, firstID, len(tokens)), resp)
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
