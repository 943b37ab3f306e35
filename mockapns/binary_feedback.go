package mockapns

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/apnskit/apnskit/wire"
)

// DefaultFeedbackMax is the feedback queue's bound when
// Config.FeedbackMax is 0.
const DefaultFeedbackMax = 100000

// ErrFeedbackFull is wrapped by the error of QueueFeedback when the tuples
// would take the queue beyond Config.FeedbackMax.
var ErrFeedbackFull = errors.New("mockapns: feedback queue full")

// feedbackMax is the bound of the feedback queue in use.
func (s *Server) feedbackMax() int {
	if s.cfg.FeedbackMax > 0 {
		return s.cfg.FeedbackMax
	}
	return DefaultFeedbackMax
}

// QueueFeedback queues tuples for the next feedback connection, which
// writes them all and removes them from the queue (Apple's destructive
// read). Tokens are copied. A tuple whose time cannot be encoded (before
// 1970 or after 2106) is dropped, with a log line, when served.
//
// It is all or nothing: when the tuples would take the queue beyond
// Config.FeedbackMax (DefaultFeedbackMax), none is queued and the error,
// wrapping [ErrFeedbackFull], names the bound.
func (s *Server) QueueFeedback(t ...wire.FeedbackTuple) error {
	s.fbMu.Lock()
	defer s.fbMu.Unlock()
	if limit := s.feedbackMax(); len(t) > limit-len(s.fbQueue) {
		return fmt.Errorf("%w: %d tuples queued, %d more would exceed the bound of %d (FeedbackMax, -feedback-max)",
			ErrFeedbackFull, len(s.fbQueue), len(t), limit)
	}
	for _, x := range t {
		x.Token = append([]byte{}, x.Token...)
		s.fbQueue = append(s.fbQueue, x)
	}
	return nil
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
	remote := t.raw.RemoteAddr().String()
	log := s.log.With("service", "feedback", "remote", remote)
	tc, ok := s.handshake(t, s.tlsConf, "feedback", log)
	if !ok {
		return
	}
	num := s.fbSeq.Add(1)
	log = log.With("conn", num)
	s.stats.feedbackConnections.Add(1)
	s.stats.feedbackOpen.Add(1)
	defer s.stats.feedbackOpen.Add(-1)
	s.event(ConnEvent{Kind: ConnOpened, Service: "feedback", Conn: num, Remote: remote})
	p := planFeedback(s.takeFeedback(), s.faults.onFeedback(), log)

	_ = tc.SetWriteDeadline(time.Now().Add(writeTimeout))
	written, err := p.write(tc)
	if err != nil {
		log.Info("mockapns feedback write failed", "err", err)
	}
	served := p.served(written)
	s.stats.feedbackServed.Add(uint64(served))
	if p.cut {
		log.Info("mockapns feedback cut (fault)", "after_bytes", written, "tuples_served", served, "tuples_lost", len(p.ends)-served)
		_ = t.raw.Close() // abrupt: no close_notify
		s.event(ConnEvent{Kind: ConnClosed, Service: "feedback", Conn: num, Remote: remote, Reason: "fault"})
		return
	}
	log.Debug("mockapns feedback served", "tuples", served)
	_ = tc.Close()
	s.event(ConnEvent{Kind: ConnClosed, Service: "feedback", Conn: num, Remote: remote, Reason: "served"})
}

// feedbackPlan is what a feedback connection writes, and in which writes.
type feedbackPlan struct {
	out    []byte // every tuple, encoded
	ends   []int  // ends[i] is the offset just past tuple i
	writes []int  // the end offset of each write
	limit  int    // bytes to write at most
	cut    bool   // a feedback_cut fault stops the writes before the end
}

// planFeedback encodes the queue and plans the writes as mode says. A
// tuple that cannot be encoded is dropped, with a log line.
func planFeedback(queue []wire.FeedbackTuple, mode feedbackMode, log *slog.Logger) feedbackPlan {
	var p feedbackPlan
	p.ends = make([]int, 0, len(queue))
	for _, tu := range queue {
		b, err := tu.AppendBinary(p.out)
		if err != nil {
			log.Info("mockapns dropping feedback tuple", "err", err)
			continue
		}
		p.out = b
		p.ends = append(p.ends, len(p.out))
	}
	switch {
	case mode.coalesce:
		if len(p.out) > 0 {
			p.writes = append(p.writes, len(p.out))
		}
	case mode.split:
		prev := 0
		for _, e := range p.ends {
			p.writes = append(p.writes, prev+(e-prev)/2, e)
			prev = e
		}
	default:
		p.writes = p.ends
	}
	p.limit = len(p.out)
	if mode.cut >= 0 && mode.cut < len(p.out) {
		p.limit, p.cut = mode.cut, true
	}
	return p
}

// write makes the planned writes, up to the limit, and returns the bytes
// written.
func (p *feedbackPlan) write(w io.Writer) (int, error) {
	written := 0
	for _, end := range p.writes {
		if written >= p.limit {
			break
		}
		end = min(end, p.limit)
		if end <= written {
			continue
		}
		n, err := w.Write(p.out[written:end])
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// served is the number of tuples written in full.
func (p *feedbackPlan) served(written int) int {
	n := 0
	for _, e := range p.ends {
		if e <= written {
			n++
		}
	}
	return n
}
