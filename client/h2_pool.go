package client

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// h2Pool holds the client's HTTP/2 connections, up to Connections of
// them, dialed as the load needs them: one more (in the background) when
// a request finds no idle connection. A request goes to the connection
// with the most free streams; when every connection is at the server's
// stream limit it waits for a connection being dialed, or else on the
// connection with the most free streams.
//
// Lock order: the pool's mu may be held while taking a connection's, never
// the other way round.
type h2Pool struct {
	c         *HTTP2Client
	authority string
	size      int

	mu      sync.Mutex
	conns   []*h2Conn // taking new requests
	all     map[*h2Conn]struct{}
	dialing int
	waiting []*h2Request // for a connection being dialed
	closed  bool
	quit    chan struct{} // closed with the pool

	tick  atomic.Uint32 // advanced every RequestTimeout/h2Ticks
	timer sync.Once     // starts tickLoop

	// refused counts failed dials and GOAWAYs on connections that
	// processed nothing, since the last answer: dials wait more the more
	// there were.
	refused atomic.Int32
	// certRefused is the GOAWAY that refused the client certificate
	// (BadCertificate, BadCertificateEnvironment), once one did: the
	// certificate is the client's for good, so every request ends with it
	// from then on, without a new connection.
	certRefused atomic.Pointer[GoAwayError]
}

func newH2Pool(c *HTTP2Client, authority string, size int) *h2Pool {
	return &h2Pool{c: c, authority: authority, size: size, all: map[*h2Conn]struct{}{}, quit: make(chan struct{})}
}

// h2Ticks is how many ticks make a RequestTimeout: a request times out
// between RequestTimeout and (1+1/h2Ticks)·RequestTimeout after it was
// submitted, without a timer of its own.
const h2Ticks = 8

// start submits a new request (or a new attempt): its RequestTimeout
// counts from now.
func (p *h2Pool) start(r *h2Request) {
	p.timer.Do(func() { go p.tickLoop() })
	r.born = p.tick.Load()
	r.canceled.Store(false)
	r.wrote.Store(false)
	r.cc.Store(nil)
	r.id, r.status, r.apnsID, r.uniqueID, r.respBody, r.bodyCut, r.err = 0, 0, "", "", r.respBody[:0], false, nil
	p.submit(r)
}

// tickLoop advances the tick and ends the requests older than
// RequestTimeout with ErrRequestTimeout.
func (p *h2Pool) tickLoop() {
	rt := p.c.cfg.RequestTimeout
	t := time.NewTicker(max(rt/h2Ticks, time.Millisecond))
	defer t.Stop()
	timeout := fmt.Errorf("%w after %v", ErrRequestTimeout, rt)
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
		}
		now := p.tick.Add(1)
		cutoff := now - h2Ticks - 1
		p.mu.Lock()
		conns := make([]*h2Conn, 0, len(p.all))
		for cc := range p.all {
			conns = append(conns, cc)
		}
		n := 0
		var expired []*h2Request
		for _, r := range p.waiting {
			if int32(cutoff-r.born) >= 0 {
				expired = append(expired, r)
				continue
			}
			p.waiting[n] = r
			n++
		}
		clear(p.waiting[n:])
		p.waiting = p.waiting[:n]
		p.mu.Unlock()
		for _, r := range expired {
			r.finish(timeout)
		}
		for _, cc := range conns {
			cc.expire(cutoff, timeout)
		}
	}
}

// submit hands r to a connection.
func (p *h2Pool) submit(r *h2Request) {
	for !r.canceled.Load() {
		if ge := p.certRefused.Load(); ge != nil {
			r.finish(ge)
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			r.finish(fmt.Errorf("%w: client closed", ErrClosed))
			return
		}
		var best *h2Conn
		bestFree, idle := 0, false
		for _, cc := range p.conns {
			free, held := cc.load()
			idle = idle || held == 0
			if best == nil || free > bestFree {
				best, bestFree = cc, free
			}
		}
		canDial := len(p.conns)+p.dialing < p.size
		switch {
		case best != nil && bestFree > 0:
			if canDial && !idle && p.dialing == 0 { // busy: grow the pool meanwhile
				p.dialing++
				go p.dial()
			}
		case canDial && len(p.waiting) >= p.dialing*h2DefaultStreams:
			p.waiting = append(p.waiting, r)
			p.dialing++
			go p.dial()
			p.mu.Unlock()
			return
		case p.dialing > 0 || best == nil:
			p.waiting = append(p.waiting, r)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		if best.enqueue(r) {
			return
		}
		p.forget(best) // it stopped taking requests meanwhile
	}
}

// resubmit hands requests the server did not process to other
// connections.
func (p *h2Pool) resubmit(rs []*h2Request) {
	for _, r := range rs {
		r.wrote.Store(false)
		p.submit(r)
	}
}

// connectFailed hands on the requests of a connection that failed before
// it could take any (err wraps ErrConnect): to the other connections if
// there are any, else they fail with err, as after a failed dial.
func (p *h2Pool) connectFailed(rs []*h2Request, err error) {
	p.refused.Add(1)
	p.mu.Lock()
	alone := len(p.conns) == 0 && p.dialing == 0
	p.mu.Unlock()
	if !alone {
		p.resubmit(rs)
		return
	}
	for _, r := range rs {
		r.finish(err)
	}
}

// dial opens one connection, after a pause when connections have been
// turned away in a row, and gives it the waiting requests.
func (p *h2Pool) dial() {
	if n := p.refused.Load(); n > 0 {
		t := time.NewTimer(min(10*time.Millisecond<<min(n-1, 7), time.Second))
		select {
		case <-t.C:
		case <-p.quit:
		}
		t.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.c.cfg.ConnectTimeout)
	nc, err := p.c.dialTLS(ctx, "tcp", p.c.addr)
	cancel()
	var cc *h2Conn
	if err == nil {
		cc, err = newH2Conn(p, nc)
		if err != nil {
			nc.Close()
			err = fmt.Errorf("%w: %s: %w", ErrConnect, p.c.addr, err)
		}
	}
	p.mu.Lock()
	p.dialing--
	waiting := p.waiting
	p.waiting = nil
	switch {
	case err != nil && len(p.conns) == 0 && p.dialing == 0:
		p.mu.Unlock()
		for _, r := range waiting {
			r.finish(err)
		}
		return
	case err != nil:
		p.refused.Add(1)
		p.mu.Unlock()
		p.resubmit(waiting) // to the connections there are
		return
	case p.closed:
		p.mu.Unlock()
		cc.close(fmt.Errorf("%w: client closed", ErrClosed))
		for _, r := range waiting {
			r.finish(fmt.Errorf("%w: client closed", ErrClosed))
		}
		return
	}
	p.conns = append(p.conns, cc)
	p.all[cc] = struct{}{}
	p.mu.Unlock()
	for _, r := range waiting {
		p.submit(r) // shared among the connections there are now
	}
}

// forget takes cc out of the connections that take new requests.
func (p *h2Pool) forget(cc *h2Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, c := range p.conns {
		if c == cc {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			break
		}
	}
	if cc.isClosed() {
		delete(p.all, cc)
	}
}

// close closes every connection and waits, at most until ctx ends, for
// their goroutines.
func (p *h2Pool) close(ctx context.Context) error {
	p.mu.Lock()
	if !p.closed {
		close(p.quit)
	}
	p.closed = true
	var all []*h2Conn
	for cc := range p.all {
		all = append(all, cc)
	}
	for _, cc := range p.conns {
		if _, ok := p.all[cc]; !ok {
			all = append(all, cc)
		}
	}
	p.conns, p.all = nil, map[*h2Conn]struct{}{}
	waiting := p.waiting
	p.waiting = nil
	p.mu.Unlock()
	for _, r := range waiting {
		r.finish(fmt.Errorf("%w: client closed", ErrClosed))
	}
	for _, cc := range all {
		cc.close(fmt.Errorf("%w: client closed", ErrClosed))
	}
	for _, cc := range all {
		if err := cc.waitGone(ctx); err != nil {
			return err
		}
	}
	return nil
}
