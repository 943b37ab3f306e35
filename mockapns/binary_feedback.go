package mockapns

import (
	"time"

	"github.com/apnskit/apnskit/wire"
)

// QueueFeedback queues tuples for the next feedback connection, which
// writes them all and removes them from the queue (Apple's destructive
// read). Tokens are copied. A tuple whose time cannot be encoded (before
// 1970 or after 2106) is dropped, with a log line, when served.
func (s *Server) QueueFeedback(t ...wire.FeedbackTuple) {
	s.fbMu.Lock()
	defer s.fbMu.Unlock()
	for _, x := range t {
		x.Token = append([]byte{}, x.Token...)
		s.fbQueue = append(s.fbQueue, x)
	}
}

// PendingFeedback returns a copy of the queued tuples, in queue order.
func (s *Server) PendingFeedback() []wire.FeedbackTuple {
	s.fbMu.Lock()
	defer s.fbMu.Unlock()
	out := make([]wire.FeedbackTuple, len(s.fbQueue))
	for i, x := range s.fbQueue {
		x.Token = append([]byte{}, x.Token...)
		out[i] = x
	}
	return out
}

// takeFeedback empties the queue and returns what it held.
func (s *Server) takeFeedback() []wire.FeedbackTuple {
	s.fbMu.Lock()
	defer s.fbMu.Unlock()
	q := s.fbQueue
	s.fbQueue = nil
	return q
}

// serveFeedback writes every queued tuple and closes: one tuple per write
// by default, or as a feedback fault says.
func (s *Server) serveFeedback(t *tracked) {
	log := s.log.With("service", "feedback", "remote", t.raw.RemoteAddr().String())
	tc, ok := s.handshake(t, "feedback", log)
	if !ok {
		return
	}
	num := s.fbSeq.Add(1)
	remote := t.raw.RemoteAddr().String()
	log = log.With("conn", num)
	s.stats.feedbackConnections.Add(1)
	s.event(ConnEvent{Kind: ConnOpened, Service: "feedback", Conn: num, Remote: remote})
	mode := s.faults.onFeedback()
	queue := s.takeFeedback()

	// Encode every tuple; ends[i] is the offset just past tuple i.
	var out []byte
	ends := make([]int, 0, len(queue))
	for _, tu := range queue {
		b, err := tu.AppendBinary(out)
		if err != nil {
			log.Info("mockapns dropping feedback tuple", "err", err)
			continue
		}
		out = b
		ends = append(ends, len(out))
	}

	// The writes, as offsets into out.
	var writes []int
	switch {
	case mode.coalesce:
		if len(out) > 0 {
			writes = append(writes, len(out))
		}
	case mode.split:
		prev := 0
		for _, e := range ends {
			writes = append(writes, prev+(e-prev)/2, e)
			prev = e
		}
	default:
		writes = ends
	}
	limit := len(out)
	if mode.cut >= 0 && mode.cut < limit {
		limit = mode.cut
	}

	_ = tc.SetWriteDeadline(time.Now().Add(writeTimeout))
	written := 0
	for _, w := range writes {
		if written >= limit {
			break
		}
		w = min(w, limit)
		if w <= written {
			continue
		}
		n, err := tc.Write(out[written:w])
		written += n
		if err != nil {
			log.Info("mockapns feedback write failed", "err", err)
			break
		}
	}
	served := 0
	for _, e := range ends {
		if e <= written {
			served++
		}
	}
	s.stats.feedbackServed.Add(uint64(served))
	if mode.cut >= 0 && mode.cut < len(out) {
		log.Info("mockapns feedback cut (fault)", "after_bytes", written, "tuples_served", served, "tuples_lost", len(ends)-served)
		_ = t.raw.Close() // abrupt: no close_notify
		s.event(ConnEvent{Kind: ConnClosed, Service: "feedback", Conn: num, Remote: remote, Reason: "fault"})
		return
	}
	log.Debug("mockapns feedback served", "tuples", served)
	_ = tc.Close()
	s.event(ConnEvent{Kind: ConnClosed, Service: "feedback", Conn: num, Remote: remote, Reason: "served"})
}
