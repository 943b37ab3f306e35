package client

import (
	"context"
	"net/http"
	"sync"

	"golang.org/x/net/http2"
)

// h2Pool is the Transport's connection pool: one connection at a time,
// replaced when it can take no more requests (GOAWAY, closed).
//
// It exists because the Transport's own pool reserves a stream slot for
// each request before the request waits for the server's stream limit;
// with StrictMaxConcurrentStreams, when the limit falls below the number
// of reservations (APNs's single stream before the first valid provider
// token, or any drop of MAX_CONCURRENT_STREAMS), the reservations alone
// fill the limit and every request waits forever. Requests from this pool
// hold no reservation: they wait on the connection itself for a free
// stream. The Transport still retries, on the next connection this pool
// gives it, the requests a GOAWAY refused.
type h2Pool struct {
	c  *HTTP2Client
	mu sync.Mutex
	cc *http2.ClientConn
}

// GetClientConn returns the current connection, dialing one when there is
// none or it can take no new request.
func (p *h2Pool) GetClientConn(req *http.Request, addr string) (*http2.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cc != nil && p.cc.CanTakeNewRequest() {
		return p.cc, nil
	}
	conn, err := p.c.dialTLS(req.Context(), "tcp", addr, p.c.tr.TLSClientConfig.Clone())
	if err != nil {
		return nil, err
	}
	cc, err := p.c.tr.NewClientConn(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if old := p.cc; old != nil {
		go func() { // let its streams finish, at most RequestTimeout, then close it
			ctx, cancel := context.WithTimeout(context.Background(), p.c.cfg.RequestTimeout)
			defer cancel()
			if old.Shutdown(ctx) != nil {
				old.Close()
			}
		}()
	}
	p.cc = cc
	return cc, nil
}

// MarkDead forgets a connection that failed.
func (p *h2Pool) MarkDead(cc *http2.ClientConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cc == cc {
		p.cc = nil
	}
}

// close closes the current connection.
func (p *h2Pool) close() error {
	p.mu.Lock()
	cc := p.cc
	p.cc = nil
	p.mu.Unlock()
	if cc == nil {
		return nil
	}
	return cc.Close()
}

var _ http2.ClientConnPool = (*h2Pool)(nil)
