package conformance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/certs"
)

// HTTP/2 mutants that no option of our client can make: they distort what
// the client hears, with a TLS proxy between it and the mock that edits
// the server's frames, or what time its token signer sees.

// HTTP/2 mutant names.
const (
	// MutantH2TokenPerRequest mints a provider token for every request.
	// Its signer's clock runs back 61 seconds at each token asked for,
	// and our signer, which mints afresh when its clock went back more
	// than a minute, mints each time: every token valid, a new one on
	// every request of the connection.
	MutantH2TokenPerRequest = "mints a provider token per request"
	// MutantH2IgnoresLastStreamID takes every GOAWAY for one that names
	// the last stream it opened (the proxy rewrites its last stream id
	// to 2^31-1): it waits for answers to the streams the server never
	// processed, sends none of them again, and loses them when the
	// connection closes.
	MutantH2IgnoresLastStreamID = "ignores GOAWAY's last stream id"
	// MutantH2IgnoresStreamLimit opens streams as if MAX_CONCURRENT_STREAMS
	// were always 1000 (the proxy rewrites the server's SETTINGS): beyond
	// the real limit its streams are refused (and sent again, so nothing
	// is lost, but the server refused them).
	MutantH2IgnoresStreamLimit = "ignores MAX_CONCURRENT_STREAMS"
	// MutantH2NeverRenewsToken keeps its first provider token for ever:
	// its signer's clock stands still at the first reading, so the token
	// never ages in its eyes, not even after ExpiredProviderToken.
	MutantH2NeverRenewsToken = "never renews its provider token"
	// MutantH2NoKeepAlive ignores Endpoint.KeepAlive: it pings a quiet
	// connection only after the client's default minute.
	MutantH2NoKeepAlive = "does not ping a quiet connection"
	// MutantH2RetriesRefusedConnection sends again, three times, every
	// token a GOAWAY refused for good (BadCertificateEnvironment), each
	// time with a new client, so on a new connection.
	MutantH2RetriesRefusedConnection = "reconnects after a certificate refusal"
)

// newH2Mutant returns the HTTP/2 mutant named name, or nil.
func newH2Mutant(name string) Client {
	l := NewLocal(LocalOptions{})
	switch name {
	case MutantH2TokenPerRequest:
		l.h2Clock = runsBack
	case MutantH2IgnoresLastStreamID:
		l.h2Dial = proxied(func(typ, flags byte, p []byte) {
			if typ == frameGoAway && len(p) >= 4 {
				binary.BigEndian.PutUint32(p, 1<<31-1)
			}
		})
	case MutantH2IgnoresStreamLimit:
		l.h2Dial = proxied(func(typ, flags byte, p []byte) {
			if typ != frameSettings || flags&1 != 0 {
				return
			}
			for i := 0; i+6 <= len(p); i += 6 {
				if binary.BigEndian.Uint16(p[i:]) == settingMaxConcurrentStreams {
					binary.BigEndian.PutUint32(p[i+2:], 1000)
				}
			}
		})
	case MutantH2NeverRenewsToken:
		l.h2Clock = standsStill
	case MutantH2NoKeepAlive:
		return &noKeepAlive{Local: l}
	case MutantH2RetriesRefusedConnection:
		return &reconnects{Local: l}
	default:
		return nil
	}
	return l
}

// standsStill is a clock stopped at its first reading.
func standsStill(clock func() time.Time) func() time.Time {
	first := sync.OnceValue(clock)
	return func() time.Time { return first() }
}

// noKeepAlive configures the client without Endpoint.KeepAlive.
type noKeepAlive struct{ *Local }

func (n *noKeepAlive) Configure(ctx context.Context, ep Endpoint) error {
	ep.KeepAlive = 0
	return n.Local.Configure(ctx, ep)
}

// reconnects sends the tokens a connection refused again, with a new
// client each time.
type reconnects struct {
	*Local
	ep Endpoint
}

func (r *reconnects) Configure(ctx context.Context, ep Endpoint) error {
	r.ep = ep
	return r.Local.Configure(ctx, ep)
}

func (r *reconnects) Send(ctx context.Context, b Batch) (Outcome, error) {
	out, err := r.Local.Send(ctx, b)
	for range 3 {
		var again []string
		for _, rs := range out.Reasons {
			if rs.HTTPStatus == 0 {
				again = append(again, rs.Token)
			}
		}
		if err != nil || len(again) == 0 {
			break
		}
		if err = r.Local.Configure(ctx, r.ep); err != nil {
			break
		}
		b.Tokens = again
		var next Outcome
		if next, err = r.Local.Send(ctx, b); err != nil {
			break
		}
		// The last refusal of each token stands.
		out.Failed = slices.DeleteFunc(out.Failed, func(f TokenStatus) bool { return slices.Contains(again, f.Token) })
		out.Reasons = slices.DeleteFunc(out.Reasons, func(t TokenReason) bool { return slices.Contains(again, t.Token) })
		out.Failed = append(out.Failed, next.Failed...)
		out.Reasons = append(out.Reasons, next.Reasons...)
		out.Errors = append(out.Errors, next.Errors...)
		out.Unsent = append(out.Unsent, next.Unsent...)
		out.Retried = append(out.Retried, again...)
	}
	return out, err
}

// runsBack is a clock 61 seconds earlier at every reading.
func runsBack(clock func() time.Time) func() time.Time {
	var n atomic.Int64
	return func() time.Time { return clock().Add(-time.Duration(n.Add(1)) * 61 * time.Second) }
}

// HTTP/2 frame types and the setting the proxy edits.
const (
	frameSettings               = 0x4
	frameGoAway                 = 0x7
	settingMaxConcurrentStreams = 0x3
	frameHeaderLen              = 9
	maxProxiedFrame             = 1 << 24
)

// proxied makes the h2Dial of a mutant: the client is pointed at a TLS
// proxy (trusted besides the mock's authority) that forwards to the
// endpoint's HTTP/2 address, with the client certificate when the client
// authenticates with one, and passes every server frame through edit
// first.
func proxied(edit func(typ, flags byte, payload []byte)) func(Endpoint) (Endpoint, io.Closer, error) {
	return func(ep Endpoint) (Endpoint, io.Closer, error) {
		pki, err := certs.New(certs.Options{})
		if err != nil {
			return ep, nil, err
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(ep.CAPEM) {
			return ep, nil, errors.New("proxy: no certificate in the CA PEM")
		}
		up := &tls.Config{RootCAs: roots, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12}
		if len(ep.AuthKeyPEM) == 0 && len(ep.CertPEM) > 0 { // as the client: a certificate without a token key
			c, err := tls.X509KeyPair(ep.CertPEM, cmpBytes(ep.KeyPEM, ep.CertPEM))
			if err != nil {
				return ep, nil, fmt.Errorf("proxy: the client certificate: %w", err)
			}
			up.Certificates = []tls.Certificate{c}
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ep, nil, err
		}
		p := &h2Proxy{ln: ln, target: ep.HTTP2, up: up, edit: edit,
			down: &tls.Config{Certificates: []tls.Certificate{pki.Server.TLS}, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12}}
		p.wg.Add(1)
		go p.accept()
		out := ep
		out.HTTP2 = ln.Addr().String()
		out.CAPEM = slices.Concat(ep.CAPEM, pki.CA.CertPEM)
		return out, p, nil
	}
}

func cmpBytes(a, b []byte) []byte {
	if len(a) > 0 {
		return a
	}
	return b
}

// h2Proxy forwards HTTP/2 connections, editing the server's frames.
type h2Proxy struct {
	ln       net.Listener
	target   string
	up, down *tls.Config
	edit     func(typ, flags byte, payload []byte)
	wg       sync.WaitGroup

	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// keep records c for Close, or reports false when closed already.
func (p *h2Proxy) keep(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

func (p *h2Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.keep(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *h2Proxy) serve(raw net.Conn) {
	defer p.wg.Done()
	defer raw.Close()
	down := tls.Server(raw, p.down)
	if err := down.Handshake(); err != nil {
		return
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	up, err := tls.DialWithDialer(&d, "tcp", p.target, p.up)
	if err != nil {
		return
	}
	if !p.keep(up) {
		up.Close()
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(up, down) // the client's bytes, unchanged
		_ = up.CloseWrite()
	}()
	p.frames(down, up)
	_ = down.CloseWrite()
	<-done
}

// frames copies the server's frames to the client, edited.
func (p *h2Proxy) frames(to io.Writer, from io.Reader) {
	var hdr [frameHeaderLen]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(from, hdr[:]); err != nil {
			return
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		if n > maxProxiedFrame {
			return
		}
		if cap(buf) < frameHeaderLen+n {
			buf = make([]byte, frameHeaderLen+n)
		}
		buf = buf[:frameHeaderLen+n]
		copy(buf, hdr[:])
		if _, err := io.ReadFull(from, buf[frameHeaderLen:]); err != nil {
			return
		}
		p.edit(hdr[3], hdr[4], buf[frameHeaderLen:])
		if _, err := to.Write(buf); err != nil {
			return
		}
	}
}

// Close stops the proxy and its connections and waits for them.
func (p *h2Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	err := p.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	p.wg.Wait()
	return err
}
