package mockapns

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/apnskit/apnskit/certs"
)

// fdReserve is how many file descriptors the connection limit leaves to
// the rest of the process (the admin API, the listeners, log files).
const fdReserve = 64

// limits are a Server's connection limits with the defaults applied; a
// zero duration or count means none.
type limits struct {
	idle     time.Duration
	frame    time.Duration
	maxConns int64
}

// limitsOf applies the defaults of cfg and caps the connection limit by
// fdLimit (0: unknown), the process's file descriptor limit.
func limitsOf(cfg Config, fdLimit uint64) limits {
	var l limits
	l.idle = orDefault(cfg.IdleTimeout, DefaultIdleTimeout)
	l.frame = orDefault(cfg.FrameTimeout, DefaultFrameTimeout)
	switch {
	case cfg.MaxConns == 0:
		l.maxConns = DefaultMaxConns
	case cfg.MaxConns > 0:
		l.maxConns = int64(cfg.MaxConns)
	}
	if fdLimit > 2*fdReserve {
		if capped := int64(min(fdLimit-fdReserve, 1<<62)); l.maxConns == 0 || l.maxConns > capped {
			l.maxConns = capped
		}
	}
	return l
}

// orDefault is d, def for 0, and 0 (never) for a negative d.
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// MaxConns returns the limit in force on connections open at once (0: no
// limit): Config.MaxConns, or the process's file descriptor limit less a
// reserve of 64 when that is lower.
func (s *Server) MaxConns() int { return int(s.lim.maxConns) }

// admit counts a connection just accepted against the limit and reports
// whether it may be served; release gives back an admitted one.
func (s *Server) admit() bool {
	n := s.open.Add(1)
	if s.lim.maxConns > 0 && n > s.lim.maxConns {
		s.open.Add(-1)
		return false
	}
	return true
}

func (s *Server) release() { s.open.Add(-1) }

// warnLimiter logs a lasting condition once when it starts, then at most
// once per warnEvery with the number of occurrences since the last line.
type warnLimiter struct {
	mu     sync.Mutex
	last   time.Time
	missed uint64
}

// note records one occurrence and reports whether to log it, with the
// occurrences left unlogged before it.
func (w *warnLimiter) note(now time.Time) (log bool, missed uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.last.IsZero() && now.Sub(w.last) < warnEvery {
		w.missed++
		return false, 0
	}
	missed, w.missed, w.last = w.missed, 0, now
	return true, missed
}

// acceptBackoff is the accept loop's pause after failures in a row.
type acceptBackoff struct{ d time.Duration }

// next returns the pause after one more failure: acceptBackoffMin, then
// doubling up to acceptBackoffMax.
func (b *acceptBackoff) next() time.Duration {
	if b.d == 0 {
		b.d = acceptBackoffMin
	} else {
		b.d = min(2*b.d, acceptBackoffMax)
	}
	return b.d
}

// reset ends a run of failures and says whether there was one.
func (b *acceptBackoff) reset() bool {
	was := b.d != 0
	b.d = 0
	return was
}

// sleep waits d or until ctx ends, and reports whether to go on.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Errors of client certificates refused in the TLS handshake (see
// Config.StrictCerts). A failed handshake's error wraps one of them; it
// reaches Config.OnConn in ConnEvent.Err and the log.
var (
	// ErrClientCertCA refuses a CA certificate used as a client
	// certificate.
	ErrClientCertCA = errors.New("mockapns: client certificate is a CA certificate")
	// ErrClientCertUsage refuses a client certificate whose extended key
	// usages leave out client authentication.
	ErrClientCertUsage = errors.New("mockapns: client certificate not for client authentication")
	// ErrClientCertEnvironment refuses, under Config.StrictCerts, a client
	// certificate without the push extension of the server's environment.
	ErrClientCertEnvironment = errors.New("mockapns: client certificate not for this environment")
)

// verifyClientCert is the tls.Config.VerifyConnection of the listeners:
// it checks the client's certificate, when there is one, beyond its chain.
// strict also requires the push extension of env.
func verifyClientCert(env certs.Environment, strict bool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return nil // a token connection of the HTTP/2 listener
		}
		return checkClientCert(cs.PeerCertificates[0], env, strict)
	}
}

func checkClientCert(c *x509.Certificate, env certs.Environment, strict bool) error {
	if c.IsCA {
		return fmt.Errorf("%w (%q)", ErrClientCertCA, c.Subject.CommonName)
	}
	if len(c.ExtKeyUsage) > 0 || len(c.UnknownExtKeyUsage) > 0 {
		ok := false
		for _, u := range c.ExtKeyUsage {
			ok = ok || u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny
		}
		if !ok {
			return fmt.Errorf("%w (%q)", ErrClientCertUsage, c.Subject.CommonName)
		}
	}
	if strict && certEnvironment(c)&env == 0 {
		want := "sandbox (1.2.840.113635.100.6.3.1)"
		if env == certs.Production {
			want = "production (1.2.840.113635.100.6.3.2)"
		}
		return fmt.Errorf("%w: %q lacks the %s extension", ErrClientCertEnvironment, c.Subject.CommonName, want)
	}
	return nil
}

// logAcceptFailure logs a failed accept, rate-limited, with the pause that
// follows.
func (s *Server) logAcceptFailure(service string, err error, pause time.Duration) {
	if ok, missed := s.acceptWarn.note(time.Now()); ok {
		s.log.Warn("mockapns accept failing; backing off", "service", service, "err", err,
			"pause", pause, "failures_since_last_warning", missed)
	}
}

// refuseConn closes a connection beyond the limit, counts and logs it
// (rate-limited).
func (s *Server) refuseConn(raw net.Conn, service string) {
	_ = raw.Close()
	s.stats.connectionsRefused.Add(1)
	if ok, missed := s.refuseWarn.note(time.Now()); ok {
		s.log.Warn("mockapns connection limit reached; closing new connections", "service", service,
			"max_conns", s.lim.maxConns, "refused_since_last_warning", missed)
	}
}
