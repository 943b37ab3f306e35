package client

import (
	"context"
	"time"
)

// Test seams, compiled only into this package's tests.

// SetLastID makes the session's next identifier id+1.
func SetLastID(s *Session, id uint32) { s.nextID.Store(id) }

// FrameEncoder encodes a message's notifications the way Send does.
type FrameEncoder struct {
	p *prepared
}

// NewFrameEncoder prepares m.
func NewFrameEncoder(m *Message) (*FrameEncoder, error) {
	p, err := m.prepare(time.Now(), nil)
	if err != nil {
		return nil, err
	}
	return &FrameEncoder{p: p}, nil
}

// Append appends the frame of token i with identifier id.
func (e *FrameEncoder) Append(buf []byte, i int, id uint32) []byte {
	buf, _ = e.p.frame.Append(buf, e.p.tokens[i], id)
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
