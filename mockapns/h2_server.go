package mockapns

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"golang.org/x/net/http2"
)

// h2State is the HTTP/2 listener's part of a Server.
type h2State struct {
	tlsConf *tls.Config
	mu      sync.Mutex
	conns   map[*h2Conn]struct{}
	seq     uint64
}

// h2TLSConfig is the listener's TLS configuration: TLS 1.2 or later, ALPN
// h2, a client certificate requested and, when given, verified against the
// CA.
func (s *Server) h2TLSConfig() *tls.Config {
	c := s.pki.ServerTLSConfig()
	c.ClientAuth = tls.VerifyClientCertIfGiven
	c.NextProtos = []string{"h2"}
	c.VerifyConnection = verifyClientCert(s.Environment(), false)
	return c
}

// HTTP2TLSConfig returns a client configuration for the HTTP/2 listener of
// a token connection: ALPN h2, the server verified against the CA, no
// client certificate.
func (s *Server) HTTP2TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.pki.CertPool(), NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12}
}

// HTTP2CertTLSConfig is HTTP2TLSConfig presenting the PKI's client
// certificate: a certificate connection.
func (s *Server) HTTP2CertTLSConfig() *tls.Config {
	c := s.HTTP2TLSConfig()
	c.Certificates = []tls.Certificate{s.pki.Client.TLS}
	return c
}

// HTTP2Client returns an HTTP/2 client (golang.org/x/net/http2) for token
// connections to the HTTP/2 listener; requests go to
// "https://"+HTTP2Addr()+"/3/device/…" and carry their own authorization.
func (s *Server) HTTP2Client() *http.Client {
	return &http.Client{Transport: &http2.Transport{TLSClientConfig: s.HTTP2TLSConfig()}}
}

// HTTP2CertClient is HTTP2Client for certificate connections.
func (s *Server) HTTP2CertClient() *http.Client {
	return &http.Client{Transport: &http2.Transport{TLSClientConfig: s.HTTP2CertTLSConfig()}}
}

// serveHTTP2 serves one connection of the HTTP/2 listener.
func (s *Server) serveHTTP2(t *tracked) {
	log := s.log.With("service", "http2", "remote", t.raw.RemoteAddr().String())
	tc, ok := s.handshake(t, s.h2.tlsConf, "http2", log)
	if !ok {
		return
	}
	var peer *x509.Certificate
	if pc := tc.ConnectionState().PeerCertificates; len(pc) > 0 {
		peer = pc[0]
	}
	s.h2Serve(t, tc, peer, log)
}

// h2Serve serves an HTTP/2 connection whose TLS handshake is done; peer is
// the client's certificate, nil for a token connection.
func (s *Server) h2Serve(t *tracked, tc net.Conn, peer *x509.Certificate, log *slog.Logger) {
	cert := peer != nil
	remote := t.raw.RemoteAddr().String()
	s.h2.mu.Lock()
	s.h2.seq++
	num := s.h2.seq
	s.h2.mu.Unlock()
	log = log.With("conn", num)
	c := s.newH2Conn(t, tc, num, peer, log)
	if !s.h2Track(c) {
		_ = tc.Close()
		return
	}
	s.h2ConnOpened()
	log.Debug("mockapns http2 connection open", "certificate", cert)
	s.event(ConnEvent{Kind: ConnOpened, Service: "http2", Conn: num, Remote: remote})
	c.run()
	select {
	case <-t.cut:
		c.setWhy(whyServer) // unless a fault or the client ended it first
	default:
	}
	s.h2Untrack(c)
	s.h2ConnClosed()
	_ = tc.Close()
	s.event(ConnEvent{Kind: ConnClosed, Service: "http2", Conn: num, Remote: remote, Reason: h2Why(c.why.Load()).String()})
}

func (s *Server) h2Track(c *h2Conn) bool {
	s.h2.mu.Lock()
	defer s.h2.mu.Unlock()
	if s.h2.conns == nil {
		s.h2.conns = make(map[*h2Conn]struct{})
	}
	select {
	case <-s.ctx.Done():
		return false
	default:
	}
	s.h2.conns[c] = struct{}{}
	return true
}

func (s *Server) h2Untrack(c *h2Conn) {
	s.h2.mu.Lock()
	delete(s.h2.conns, c)
	s.h2.mu.Unlock()
}

func (s *Server) h2List() []*h2Conn {
	s.h2.mu.Lock()
	defer s.h2.mu.Unlock()
	out := make([]*h2Conn, 0, len(s.h2.conns))
	for c := range s.h2.conns {
		out = append(out, c)
	}
	return out
}

// goAway sends GOAWAY NO_ERROR naming the last stream opened so far and
// lets the connection drain: streams up to it are answered, then it
// closes. With closing, the connection closes right after the GOAWAY.
// The returned channel is closed once the GOAWAY is written (or the
// connection is gone).
func (c *h2Conn) goAway(ctx context.Context, closing bool) <-chan struct{} {
	written := make(chan struct{})
	c.setWhy(whyServer)
	last := c.lastID.Load()
	c.goAwayID.Store(last)
	c.draining.Store(true)
	select {
	case c.out <- h2Out{kind: outGoAway, val: last, code: http2.ErrCodeNo, closeAfter: closing, written: written}:
	case <-c.wdone:
		close(written)
	case <-ctx.Done():
		close(written)
	}
	return written
}

// h2Drain makes every HTTP/2 connection drain (Shutdown).
func (s *Server) h2Drain(ctx context.Context) {
	for _, c := range s.h2List() {
		c.goAway(ctx, false)
	}
}

// h2Close sends every HTTP/2 connection a closing GOAWAY and waits, a
// bounded time, for them to be written (Close).
func (s *Server) h2Close() {
	ctx, cancel := context.WithTimeout(context.Background(), h2CloseGrace)
	defer cancel()
	conns := s.h2List()
	waits := make([]<-chan struct{}, 0, len(conns))
	for _, c := range conns {
		waits = append(waits, c.goAway(ctx, true))
	}
	for i, w := range waits {
		select {
		case <-w:
		case <-conns[i].wdone:
		case <-ctx.Done():
			return
		}
	}
}
