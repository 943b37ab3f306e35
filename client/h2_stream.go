package client

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/apnskit/apnskit/apns"
)

// h2Stream is the HTTP/2 side of a Stream: each pushed notification is
// one request, submitted at once while the client's MaxInFlight allows,
// and answered by the pool on done. One goroutine (loop) reads the
// answers and decides, one at a time, what comes next: the outcome, a
// retry after a back-off (a refusal to retry), or a resend (no response).
type h2Stream struct {
	st    *Stream
	c     *HTTP2Client
	p     *h2Prepared
	done  chan *h2Request // answers from the pool
	again chan *h2Request // back-offs that ended
	abort chan error      // Close's ctx ended: withdraw what is left
	stop  chan struct{}   // closed by Close once nothing is live
	ended chan struct{}   // closed when loop returns

	mu      sync.Mutex
	live    map[*h2Request]struct{} // pushed, not yet reported
	idle    chan struct{}           // closed when live is empty
	closing bool
	err     error // the stream failed: Push refuses

	timers map[*h2Request]*time.Timer // back-offs; loop only
}

// Stream opens a stream of content (its Tokens are ignored; a relative
// expiry counts from now) over the client's connections: the same
// [Stream] as [Session.Stream] on the binary protocol, with the same
// Push, Flush, Close and [Delivery] outcomes. Every notification is one
// request; the requests in flight are bounded by HTTP2Config.MaxInFlight,
// shared with Send (Push blocks when it is reached), so the options that
// shape binary connections (Connections, Window, WindowBytes, Confirm,
// SentinelWait, CheckpointEvery, CheckpointInterval) have no effect.
//
// The stream retries by the client's policy: a refusal whose
// disposition is Retry (429, 5xx, ...) is sent again after a back-off
// until HTTP2Retry.MaxAttempts requests were answered, and then reported
// Refused (the attempts that got no response do not count); a request
// that got no response (a connection lost, ErrRequestTimeout) is sent
// again at once, Uncertain if it had been written, until
// StreamOptions.MaxAttempts such attempts in a row, and then reported
// Unsent. A connection that cannot be opened (ErrConnect) or a GOAWAY
// that refuses the credentials ([*GoAwayError]) stops the stream: what
// is left is reported Unsent with that error, which Push, Flush and Close
// return. Close the stream before the client.
func (c *HTTP2Client) Stream(content *Message, opt StreamOptions) (*Stream, error) {
	if content == nil {
		return nil, ErrBadPayload
	}
	m := *content
	m.Tokens = []string{strings.Repeat("00", 32)}
	p, base, err := c.prepare(&m)
	if err != nil {
		return nil, err
	}
	p.tokens = nil
	if opt, err = opt.withDefaults(c.cfg.Connections); err != nil {
		return nil, err
	}
	st := &Stream{opt: opt, base: base}
	n := cap(c.sem)
	h := &h2Stream{st: st, c: c, p: p,
		done: make(chan *h2Request, n), again: make(chan *h2Request, n), abort: make(chan error, 1),
		stop: make(chan struct{}), ended: make(chan struct{}),
		live: map[*h2Request]struct{}{}, idle: make(chan struct{}), timers: map[*h2Request]*time.Timer{}}
	close(h.idle)
	st.h2 = h
	go h.loop()
	return st, nil
}

func (h *h2Stream) refuseLocked() error {
	switch {
	case h.err != nil:
		return h.err
	case h.closing:
		return ErrStreamClosed
	}
	return nil
}

func (h *h2Stream) push(ctx context.Context, token string, tag any) error {
	t, err := apns.ParseToken(token)
	if err != nil {
		return &TokenError{Token: token, Err: err}
	}
	h.mu.Lock()
	err = h.refuseLocked()
	h.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case h.c.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	r := &h2Request{path: "/3/device/" + t.String(), header: h.p.header, body: h.p.payload, done: h.done, token: token, tag: tag}
	h.mu.Lock()
	if err := h.refuseLocked(); err != nil {
		h.mu.Unlock()
		<-h.c.sem
		return err
	}
	if len(h.live) == 0 {
		h.idle = make(chan struct{})
	}
	h.live[r] = struct{}{}
	h.mu.Unlock()
	h.st.stats.pushed.Add(1)
	if mt := h.c.cfg.Metrics; mt != nil {
		mt.InFlight(metricsHTTP2, 1)
	}
	h.submit(r)
	return nil
}

// submit sends r's next attempt.
func (h *h2Stream) submit(r *h2Request) {
	r.attempts++
	if err := h.c.authorize(r); err != nil { // nothing sent: not counted as written
		h.final(r, Delivery{Kind: Unsent, Err: err, Uncertain: r.uncertain})
		return
	}
	h.st.stats.written.Add(1)
	if mt := h.c.cfg.Metrics; mt != nil {
		mt.Sent(metricsHTTP2, 1)
		r.start = time.Now()
	}
	h.c.pool.start(r)
}

// final reports r's outcome (once: a request no longer live is ignored)
// and frees its slot.
func (h *h2Stream) final(r *h2Request, d Delivery) {
	h.mu.Lock()
	if _, ok := h.live[r]; !ok {
		h.mu.Unlock()
		return
	}
	delete(h.live, r)
	h.mu.Unlock()
	d.Token, d.Tag, d.Attempts = r.token, r.tag, r.attempts
	s := &h.st.stats
	del, uns := 0, 0
	switch d.Kind {
	case Delivered:
		s.delivered.Add(1)
		del = 1
	case Refused:
		s.refused.Add(1)
	default:
		s.unsent.Add(1)
		uns = 1
	}
	if mt := h.c.cfg.Metrics; mt != nil {
		reportDeliveries(mt, metricsHTTP2, []Delivery{d}, del, uns)
	}
	if f := h.st.opt.OnOutcome; f != nil {
		h.st.outMu.Lock()
		f(d)
		h.st.outMu.Unlock()
	}
	<-h.c.sem
	h.mu.Lock()
	if len(h.live) == 0 {
		select {
		case <-h.idle:
		default:
			close(h.idle)
		}
	}
	h.mu.Unlock()
}

// loop handles answers and back-offs until Close stops it.
func (h *h2Stream) loop() {
	defer close(h.ended)
	var aborted error
	for {
		select {
		case r := <-h.done:
			h.answer(r, aborted)
		case r := <-h.again:
			if _, ok := h.timers[r]; ok {
				delete(h.timers, r)
				h.submit(r)
			}
		case aborted = <-h.abort:
			h.withdraw(aborted)
		case <-h.stop:
			return
		}
	}
}

// answer handles the end of one attempt.
func (h *h2Stream) answer(r *h2Request, aborted error) {
	mt := h.c.cfg.Metrics
	if mt != nil && r.wrote.Load() {
		mt.Latency(metricsHTTP2, time.Since(r.start))
	}
	if r.err != nil {
		r.uncertain = r.uncertain || r.wrote.Load()
		var ga *GoAwayError
		switch {
		case aborted != nil:
			h.final(r, Delivery{Kind: Unsent, Err: aborted, Uncertain: r.uncertain})
		case errors.Is(r.err, ErrConnect) || errors.As(r.err, &ga) || errors.Is(r.err, ErrClosed):
			h.fail(r.err)
			h.final(r, Delivery{Kind: Unsent, Err: r.err, Uncertain: r.uncertain})
		default:
			r.lost++
			r.unheard++
			if r.lost >= h.st.opt.MaxAttempts {
				h.final(r, Delivery{Kind: Unsent, Err: r.err, Uncertain: r.uncertain})
				return
			}
			u := 0
			if r.uncertain {
				u = 1
				h.st.stats.uncertain.Add(1)
			}
			h.st.stats.resent.Add(1)
			if mt != nil {
				mt.Retried(metricsHTTP2, 1)
				if u == 1 {
					mt.Uncertain(metricsHTTP2, 1)
				}
			}
			h.report(r.err)
			if f := h.st.opt.OnResend; f != nil {
				h.st.outMu.Lock()
				f(1, u)
				h.st.outMu.Unlock()
			}
			h.submit(r)
		}
		return
	}
	r.lost = 0
	resp, f, again := h.c.judge(r, r.token)
	switch {
	case f == nil:
		h.final(r, Delivery{Kind: Delivered, Response: resp, Uncertain: r.uncertain})
	case again && aborted == nil:
		h.st.stats.resent.Add(1)
		if mt != nil {
			mt.Retried(metricsHTTP2, 1)
		}
		h.timers[r] = time.AfterFunc(h.c.backoff(r.attempts), func() { h.again <- r })
	default:
		h.final(r, Delivery{Kind: Refused, Outcome: f.Outcome, Response: resp, Timestamp: f.Timestamp, Uncertain: r.uncertain})
	}
}

// withdraw ends what is live when Close's ctx ended: back-offs are
// stopped, requests in flight reset; each is reported Unsent with err.
func (h *h2Stream) withdraw(err error) {
	h.mu.Lock()
	live := make([]*h2Request, 0, len(h.live))
	for r := range h.live {
		live = append(live, r)
	}
	h.mu.Unlock()
	for _, r := range live {
		if t, ok := h.timers[r]; ok {
			t.Stop()
			delete(h.timers, r)
		} else {
			r.cancel()
		}
		h.final(r, Delivery{Kind: Unsent, Err: err, Uncertain: r.uncertain || r.wrote.Load()})
	}
}

// fail stops the stream with err; the first error wins.
func (h *h2Stream) fail(err error) {
	h.mu.Lock()
	first := h.err == nil
	if first {
		h.err = err
	}
	h.mu.Unlock()
	if first {
		h.report(err)
	}
}

func (h *h2Stream) report(err error) {
	if f := h.st.opt.OnError; f != nil {
		h.st.outMu.Lock()
		f(err)
		h.st.outMu.Unlock()
	}
}

func (h *h2Stream) flush(ctx context.Context) error {
	h.mu.Lock()
	idle := h.idle
	h.mu.Unlock()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = ctx.Err()
	}
	h.mu.Lock()
	if err == nil {
		err = h.err
	}
	h.mu.Unlock()
	return err
}

func (h *h2Stream) close(ctx context.Context) error {
	h.mu.Lock()
	already := h.closing
	h.closing = true
	h.mu.Unlock()
	if already {
		<-h.ended
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.err
	}
	err := h.flush(ctx)
	if ctx.Err() != nil {
		h.abort <- ctx.Err()
		h.mu.Lock()
		idle := h.idle
		h.mu.Unlock()
		<-idle
	}
	close(h.stop)
	<-h.ended
	return err
}
