package client

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"time"

	"github.com/apnskit/apnskit/wire"
)

// ErrFeedbackSilent: the server at a feedback address sent nothing and did
// not close the connection within Config.ReadTimeout. A feedback service
// sends its tuples at once and closes; this is rather a push gateway (the
// wrong port) or a server that is stuck.
var ErrFeedbackSilent = errors.New("apns: the server did not answer like a feedback service (it sent nothing and did not close)")

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

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
// TCP or TLS failure) is yielded once as (FeedbackTuple{}, err); so is, as
// long as no byte has arrived, a TLS alert refusing the client certificate
// ([ErrCertificateRefused]) and a read that times out
// ([ErrFeedbackSilent]: the server neither sent anything nor closed, as a
// push gateway does). Once data has arrived, an I/O failure (including a
// stream cut inside a tuple, or a timeout) ends the iteration quietly
// after the last whole tuple: the service gives no way to tell a cut from
// the end. If ctx ends, its error is yielded once. Each read waits at most
// Config.ReadTimeout. Breaking out of the loop closes the connection.
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
		nc, _, err := s.dialTLS(ctx, a, cert, nil)
		if err != nil {
			yield(FeedbackTuple{}, err)
			return
		}
		defer nc.Close()
		log := s.cfg.Logger.With("feedback", a)
		stop := context.AfterFunc(ctx, func() { _ = nc.SetReadDeadline(aLongTimeAgo) })
		defer stop()
		got := &countingReader{r: nc}
		fr := wire.NewFeedbackReader(got)
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
				if got.n == 0 {
					if r := certificateRefusal(a, err); r != nil {
						yield(FeedbackTuple{}, r)
						return
					}
					if errors.Is(err, os.ErrDeadlineExceeded) {
						yield(FeedbackTuple{}, fmt.Errorf("%w: %s: nothing within %v", ErrFeedbackSilent, a, s.cfg.ReadTimeout))
						return
					}
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
