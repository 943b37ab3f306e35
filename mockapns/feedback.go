package mockapns

import (
	"github.com/apnskit/apnskit/wire"
)

// QueueFeedback queues tuples for the next feedback connection, which
// writes and removes them all.
func (s *Server) QueueFeedback(t ...wire.FeedbackTuple) {
	s.fbMu.Lock()
	defer s.fbMu.Unlock()
	for _, x := range t {
		x.Token = append([]byte(nil), x.Token...)
		s.fbQueue = append(s.fbQueue, x)
	}
}

// PendingFeedback returns a copy of the queued tuples.
func (s *Server) PendingFeedback() []wire.FeedbackTuple {
	s.fbMu.Lock()
	defer s.fbMu.Unlock()
	out := make([]wire.FeedbackTuple, len(s.fbQueue))
	for i, x := range s.fbQueue {
		x.Token = append([]byte(nil), x.Token...)
		out[i] = x
	}
	return out
}

func (s *Server) serveFeedback(t *tracked) {
	_ = t
}
