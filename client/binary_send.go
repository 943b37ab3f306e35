package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/apnskit/apnskit/apns"
)

// Send writes one notification per token of m to the gateway at addr (a
// name such as PushSandbox or host:port), authenticated with cert, on a
// pooled connection, then waits up to Config.ErrorWait for an error
// response and returns what it knows (see Result for the rules).
//
// An HTTP/2 address (APISandbox, APIProduction, https://HOST[:PORT], or
// any address with Config.Protocol apns.HTTP2) is sent to with the
// session's [HTTP2Client] for that address and credentials, opened on
// first use: cert authenticates it, or, when cert is nil,
// Config.HTTP2.Signer's provider tokens. The Result has the same shape
// (see [HTTP2Client.Send]), so Rounds and SendAll follow its retries as
// they do the binary protocol's.
//
// The error is non-nil only when nothing was sent: invalid message
// (ErrNoTokens, ErrBadToken, ErrBadPayload, ErrConflictingFields,
// ErrBadField), bad address, closed session (ErrClosed), connection failure
// (ErrConnect), a server that refuses the client certificate
// (ErrCertificateRefused, which matches ErrConnect too: with TLS 1.3 its
// alert can arrive after the first writes, of which the server processed
// none) or ctx ending while waiting for a free connection. Problems after
// the first write are in the Result.
//
// Cancelling ctx during the writes stops them: the Result holds the unsent
// tokens in Retry and ctx's error in Errors. If a write was interrupted half
// way, the connection is closed and the tokens it wrote in this call are in
// Retry and Uncertain. Cancelling during the error wait only shortens the
// wait (a late response is still reported by the connection's next use).
//
// A pooled connection that the server closed while idle is replaced before
// writing. If the server closes it just as the batch starts, the batch is
// not lost: its tokens come back in Retry (written ones also in Uncertain).
func (s *Session) Send(ctx context.Context, addr string, cert *Certificate, m *Message) (*Result, error) {
	a, proto, err := s.endpoint(addr)
	if err != nil {
		return nil, err
	}
	if proto == apns.HTTP2 {
		if m == nil {
			return nil, ErrNoTokens
		}
		c, err := s.http2Client(a, cert)
		if err != nil {
			return nil, err
		}
		return c.Send(ctx, m)
	}
	if cert == nil {
		return nil, ErrNoCertificate
	}
	if m == nil {
		return nil, ErrNoTokens
	}
	p, err := m.prepare(time.Now(), nil)
	if err != nil {
		return nil, err
	}
	b := newBatch(m, p)
	pl, ic, unclaimed, err := s.checkout(ctx, poolKey{addr: a, id: cert.Identity()}, cert)
	if err != nil {
		return nil, err
	}
	mt := s.cfg.Metrics
	var t0 time.Time
	if mt != nil {
		mt.InFlight(metricsBinary, len(p.tokens))
		t0 = time.Now()
	}
	r, hist := ic.c.run(ctx, b, s.reserveIDs(len(p.tokens)), &s.cfg, ic.hist)
	if err := r.refusal(); err != nil { // nothing was processed: a connection error
		if mt != nil {
			mt.InFlight(metricsBinary, -len(p.tokens))
		}
		s.checkin(pl, ic.c, hist)
		s.keepUnclaimed(pl, unclaimed)
		return nil, err
	}
	for _, u := range unclaimed {
		r.absorb(u)
	}
	if mt != nil {
		mt.Latency(metricsBinary, time.Since(t0))
		reportResult(mt, metricsBinary, r)
		mt.InFlight(metricsBinary, -len(p.tokens))
	}
	if h := s.testHookBeforeCheckin; h != nil {
		h(ic.c)
	}
	s.checkin(pl, ic.c, hist)
	return r, nil
}

// keepUnclaimed gives results a Send could not report back to the pool.
func (s *Session) keepUnclaimed(pl *pool, rs []*Result) {
	if len(rs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pl.unclaimed = append(rs, pl.unclaimed...)
}

// reserveIDs reserves identifiers for n notifications and returns the first;
// the caller uses consecutive ones, skipping 0 (one spare is reserved for
// that).
func (s *Session) reserveIDs(n int) uint32 {
	end := s.nextID.Add(uint32(n) + 1)
	return end - uint32(n)
}

// dialConn opens a TLS connection to addr, resuming a session of
// sessions when it can (nil: never), and starts its reader.
func (s *Session) dialConn(ctx context.Context, addr string, cert *Certificate, sessions tls.ClientSessionCache) (*conn, error) {
	nc, raw, err := s.dialTLS(ctx, addr, cert, sessions)
	if err != nil {
		return nil, err
	}
	no := s.connNo.Add(1)
	log := s.cfg.Logger.With("conn", no, "addr", addr)
	resumed := nc.ConnectionState().DidResume
	if resumed {
		s.resumed.Add(1)
	}
	log.Debug("connection opened", "resumed", resumed)
	return newConn(nc, raw, log), nil
}

// dialTLS connects and completes the TLS handshake within ConnectTimeout,
// offering a ticket of sessions (nil: none) and keeping the ones the
// server issues there.
func (s *Session) dialTLS(ctx context.Context, addr string, cert *Certificate, sessions tls.ClientSessionCache) (*tls.Conn, *eofConn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	tcp, err := s.cfg.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrConnect, addr, err)
	}
	raw := &eofConn{Conn: tcp}
	name := s.cfg.ServerName
	if name == "" {
		if name, _, err = net.SplitHostPort(addr); err != nil {
			_ = raw.Close()
			return nil, nil, fmt.Errorf("%w: %w", ErrBadAddress, err)
		}
	}
	tc := tls.Client(raw, &tls.Config{
		Certificates: []tls.Certificate{cert.TLSCertificate()},
		RootCAs:      s.cfg.RootCAs,
		ServerName:   name,
		MinVersion:   tls.VersionTLS12,

		ClientSessionCache: sessions,
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		if r := certificateRefusal(addr, err); r != nil {
			return nil, nil, r
		}
		return nil, nil, fmt.Errorf("%w: %s: TLS handshake: %w", ErrConnect, addr, err)
	}
	return tc, raw, nil
}
