package client

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"iter"
	"time"

	"github.com/apnskit/apnskit/wire"
)

// FeedbackTuple is one record of the feedback service: a device token
// whose app is gone, and when APNs determined that. Stop sending to the
// token unless the device registered it again after Time.
type FeedbackTuple struct {
	Token string    // lower-case hex
	Time  time.Time // UTC, whole seconds
}

// Feedback connects to the feedback service at addr (FeedbackSandbox,
// FeedbackProduction or host:port) on a new, uncached connection and yields
// the tuples the service sends until it closes the connection. The service
// forgets what it sent, so consume every tuple.
//
// A failure before any tuple can be read (bad address, closed session,
// TCP or TLS failure) is yielded once as (FeedbackTuple{}, err). Once
// connected, an I/O failure (including a stream cut inside a tuple) ends
// the iteration quietly after the last whole tuple: the service gives no
// way to tell a cut from the end. If ctx ends, its error is yielded once.
// Each read waits at most Config.ReadTimeout. Breaking out of the loop
// closes the connection.
func (s *Session) Feedback(ctx context.Context, addr string, cert *Certificate) iter.Seq2[FeedbackTuple, error] {
	return func(yield func(FeedbackTuple, error) bool) {
		a, err := ResolveAddress(addr)
		if err == nil && cert == nil {
			err = ErrNoCertificate
		}
		if err == nil {
			s.mu.Lock()
			if s.closed {
				err = ErrClosed
			}
			s.mu.Unlock()
		}
		if err != nil {
			yield(FeedbackTuple{}, err)
			return
		}
		nc, _, err := s.dialTLS(ctx, a, cert)
		if err != nil {
			yield(FeedbackTuple{}, err)
			return
		}
		defer nc.Close()
		log := s.cfg.Logger.With("feedback", a)
		stop := context.AfterFunc(ctx, func() { _ = nc.SetReadDeadline(aLongTimeAgo) })
		defer stop()
		fr := wire.NewFeedbackReader(nc)
		for n := 0; ; n++ {
			_ = nc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
			if err := ctx.Err(); err != nil {
				yield(FeedbackTuple{}, err)
				return
			}
			t, err := fr.Next()
			if err != nil {
				if cerr := ctx.Err(); cerr != nil {
					yield(FeedbackTuple{}, cerr)
					return
				}
				if errors.Is(err, io.EOF) {
					log.Debug("feedback read", "tuples", n)
				} else {
					log.Warn("feedback connection ended early", "tuples", n, "err", err)
				}
				return
			}
			if !yield(FeedbackTuple{Token: hex.EncodeToString(t.Token), Time: t.Time}, nil) {
				return
			}
		}
	}
}
