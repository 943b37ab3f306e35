package client

import (
	"context"
	"crypto/tls"
	"sync"
	"sync/atomic"
	"time"
)

// Session sends notifications over pooled, persistent TLS connections and
// reads the feedback service. Connections are cached per (address,
// certificate identity), opened lazily on first use and reused across
// Sends; at most Config.PoolSize are open per key. A Session is safe for
// concurrent use by many goroutines; each Send has a connection to itself
// for the duration of the call.
type Session struct {
	cfg     Config
	nextID  atomic.Uint32 // last identifier reserved
	connNo  atomic.Uint64
	resumed atomic.Uint64 // gateway connections whose TLS session was resumed

	// stop ends when a Shutdown's ctx ends: retirements still waiting for
	// the gateway close their connections hard.
	stop    context.Context
	stopNow context.CancelFunc

	// mu guards closed, pools and every pool's fields (the idle
	// connections with their histories, the unclaimed results kept for
	// the next Send), the counters open, dials and retiring, and the channels
	// drained and retired. It is never held during I/O: a connection is
	// used by whoever took it out of its pool (a Send, or a retirement
	// goroutine), with its history handed along as a value.
	mu       sync.Mutex
	closed   bool
	pools    map[poolKey]*pool
	h2       map[h2Key]*HTTP2Client // HTTP/2 addresses' clients
	open     int                    // connections open, being dialled or retiring, all pools
	drained  chan struct{}          // closed when closed && open == 0
	dials    uint64
	retiring int           // retirement goroutines running
	retired  chan struct{} // closed and replaced when one ends

	// testHookBeforeCheckin, if set (tests only), runs in Send after the
	// batch is settled and before its connection is checked in.
	testHookBeforeCheckin func(c *conn)
}

type poolKey struct {
	addr string
	id   Identity
}

// pool holds the connections of one key. Its fields are guarded by the
// session's mutex.
type pool struct {
	key       poolKey
	idle      []idleConn // most recently used last
	open      int        // idle + checked out + being dialled
	unclaimed []*Result  // results of earlier batches that no Send has reported yet
	wake      chan struct{}
	// sessions keeps the TLS session tickets of this key's connections for
	// the next ones to resume; nil when Config.DisableTLSResumption. One
	// per key: a ticket proves the certificate it was issued to.
	sessions tls.ClientSessionCache
}

// idleConn is a connection in its pool with the history of its batches,
// which goes to the Send that checks it out, or to its retirement.
type idleConn struct {
	c     *conn
	hist  history
	since time.Time // when it went back to the pool
}

// NewSession returns a session with cfg (defaults filled in). It fails with
// ErrBadConfig for out-of-range fields.
func NewSession(cfg Config) (*Session, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	stop, stopNow := context.WithCancel(context.Background())
	return &Session{
		cfg: cfg, pools: map[poolKey]*pool{}, drained: make(chan struct{}),
		retired: make(chan struct{}), stop: stop, stopNow: stopNow,
	}, nil
}

// checkout returns an exclusive live connection for key with its history,
// dialling one if the pool has room, waiting otherwise. unclaimed holds
// results of earlier batches whose error responses arrived after their
// Sends returned, which this Send reports.
func (s *Session) checkout(ctx context.Context, key poolKey, cert *Certificate) (*pool, idleConn, []*Result, error) {
	s.mu.Lock()
	for {
		if s.closed {
			s.mu.Unlock()
			return nil, idleConn{}, nil, ErrClosed
		}
		pl := s.pools[key]
		if pl == nil {
			pl = &pool{key: key, wake: make(chan struct{})}
			if !s.cfg.DisableTLSResumption {
				pl.sessions = tls.NewLRUClientSessionCache(2) // one server name per key
			}
			s.pools[key] = pl
		}
		for len(pl.idle) > 0 {
			ic := pl.idle[len(pl.idle)-1]
			pl.idle[len(pl.idle)-1] = idleConn{}
			pl.idle = pl.idle[:len(pl.idle)-1]
			if dead, _, _ := ic.c.state(); dead {
				s.keepUnclaimedLocked(pl, ic.c, ic.hist)
				s.dropLocked(pl, ic.c)
				continue
			}
			unclaimed := pl.unclaimed
			pl.unclaimed = nil
			s.mu.Unlock()
			return pl, ic, unclaimed, nil
		}
		if pl.open < s.cfg.PoolSize {
			pl.open++
			s.open++
			s.dials++
			s.mu.Unlock()
			c, err := s.dialConn(ctx, key.addr, cert, pl.sessions)
			s.mu.Lock()
			if err != nil {
				s.releaseLocked(pl, nil)
				s.mu.Unlock()
				return nil, idleConn{}, nil, err
			}
			if s.closed {
				s.mu.Unlock()
				c.close()
				s.mu.Lock()
				s.releaseLocked(pl, nil)
				s.mu.Unlock()
				return nil, idleConn{}, nil, ErrClosed
			}
			unclaimed := pl.unclaimed
			pl.unclaimed = nil
			s.mu.Unlock()
			return pl, idleConn{c: c, hist: history{limit: s.cfg.History}}, unclaimed, nil
		}
		wake := pl.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, idleConn{}, nil, ctx.Err()
		}
		s.mu.Lock()
	}
}

// checkin returns c with its history hist to its pool, or closes it if it
// cannot be reused. A connection that ended since its Send looked (an
// error response arrived just after the error window) leaves the result
// of its history to the pool; a healthy one checked in after Shutdown is retired
// gracefully.
func (s *Session) checkin(pl *pool, c *conn, hist history) {
	dead, _, _ := c.state()
	s.mu.Lock()
	defer s.mu.Unlock()
	if dead || c.broken || c.detached || s.closed {
		s.endLocked(pl, c, hist)
		return
	}
	pl.idle = append(pl.idle, idleConn{c: c, hist: hist, since: time.Now()})
	s.wakeLocked(pl)
}

// keepUnclaimedLocked keeps the result of the batches in hist, c's
// history, if an error response settled them, in the pool's unclaimed
// results: the next Send on the key or Late reports it.
func (s *Session) keepUnclaimedLocked(pl *pool, c *conn, hist history) {
	if u := c.settleHistory(hist); u != nil {
		pl.unclaimed = append(pl.unclaimed, u)
	}
}

// endLocked takes c (out of the idle list) with its history out of
// service: a connection that ended or is broken is closed at once, its
// result of its history kept; a healthy one is retired gracefully.
func (s *Session) endLocked(pl *pool, c *conn, hist history) {
	if dead, _, _ := c.state(); dead || c.broken {
		s.keepUnclaimedLocked(pl, c, hist)
		s.dropLocked(pl, c)
		return
	}
	s.retireLocked(pl, c, hist)
}

// dropLocked closes c, which has ended or is broken (already out of the
// idle list), and frees its slot. It is closed under TLS: close_notify
// could block on a full socket buffer for nothing.
func (s *Session) dropLocked(pl *pool, c *conn) {
	c.abort()
	s.releaseLocked(pl, c) // the reader ends and closes c.dead on its own
}

// retireLocked starts the graceful retirement of c, a healthy connection
// out of the idle list: a goroutine sends close_notify and waits, at most
// ReadTimeout and no longer than a Shutdown's ctx, for the gateway to
// close; it keeps the result of the history, if any, in the pool's
// unclaimed results and then
// frees the slot (which counts against PoolSize until then).
func (s *Session) retireLocked(pl *pool, c *conn, hist history) {
	s.retiring++
	go func() {
		ctx, cancel := context.WithTimeout(s.stop, s.cfg.ReadTimeout)
		u := c.retire(ctx, hist)
		cancel()
		s.mu.Lock()
		defer s.mu.Unlock()
		if u != nil {
			pl.unclaimed = append(pl.unclaimed, u)
		}
		s.retiring--
		close(s.retired)
		s.retired = make(chan struct{})
		s.releaseLocked(pl, c)
	}()
}

// detach takes c, checked out of pl, out of pl's count against PoolSize
// (it still counts in Stats().Open until it ends): a Stream's connection
// that has written its sentinel takes nothing more, and waiting for the
// gateway's answer must not hold back the connection that writes next.
func (s *Session) detach(pl *pool, c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.detached = true
	pl.open--
	s.wakeLocked(pl)
}

// releaseLocked frees the slot of c (nil: a dial that failed) in pl and
// in the session's count.
func (s *Session) releaseLocked(pl *pool, c *conn) {
	if c == nil || !c.detached {
		pl.open--
	}
	s.open--
	s.wakeLocked(pl)
	if s.closed && s.open == 0 {
		select {
		case <-s.drained:
		default:
			close(s.drained)
		}
	}
}

func (s *Session) wakeLocked(pl *pool) {
	close(pl.wake)
	pl.wake = make(chan struct{})
}

// CloseIdle retires the connections idle longer than d, and those the
// gateway has already closed, and returns how many it retired. It does not
// block: a connection the gateway closed is closed at once; every other
// one gets a TLS close_notify at once, from a goroutine of its own that
// then waits, at most Config.ReadTimeout (as ConfirmByClose does), for the
// gateway to judge what it received and close in turn. An error response
// that arrives meanwhile, late for the connection's last batch, is kept:
// the next Send on the same key reports it, or Late does. An orderly close
// (close_notify from the gateway) confirms the last batch; any other end
// leaves it presumed accepted, as its Send reported. Until its retirement
// ends a connection counts in Stats().Open and against PoolSize. Shutdown
// waits for these retirements.
func (s *Session) CloseIdle(d time.Duration) int {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	retired := 0
	for _, pl := range s.pools {
		keep := pl.idle[:0]
		for _, ic := range pl.idle {
			dead, _, _ := ic.c.state()
			if !dead && now.Sub(ic.since) <= d {
				keep = append(keep, ic)
				continue
			}
			s.endLocked(pl, ic.c, ic.hist)
			retired++
		}
		clear(pl.idle[len(keep):])
		pl.idle = keep
	}
	return retired
}

// Outdate is CloseIdle.
//
// Deprecated: use CloseIdle, which does the same.
func (s *Session) Outdate(d time.Duration) int { return s.CloseIdle(d) }

// Shutdown refuses new work (ErrClosed) and retires every connection
// gracefully, so that no late error response is lost: on each idle
// connection it sends a TLS close_notify and waits for the gateway to judge
// every notification it received and close in turn. If the gateway answers
// an error response instead (late for the connection's last batch), the
// result is kept for Late; an orderly close (close_notify from the gateway)
// confirms the last batch; any other close leaves it presumed accepted, as
// its Send reported. A connection the gateway has already closed, or whose
// write failed, is closed at once.
//
// Connections in use by running Sends are retired the same way when their
// Send ends; Shutdown waits for those Sends (it does not interrupt them),
// and for the retirements CloseIdle started. Each wait for a gateway's close
// is bounded by Config.ReadTimeout and by ctx. When ctx ends first,
// Shutdown closes the connections still retiring hard (their last batches
// stay presumed accepted), waits for that, and returns ctx's error;
// connections of Sends still running are then closed hard when those Sends
// end. Shutdown is safe to call more than once; call Late after it.
func (s *Session) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if err := s.closeHTTP2(ctx); err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	s.mu.Lock()
	for _, pl := range s.pools {
		for _, ic := range pl.idle {
			s.endLocked(pl, ic.c, ic.hist)
		}
		clear(pl.idle)
		pl.idle = nil
		s.wakeLocked(pl)
	}
	if s.open == 0 {
		select {
		case <-s.drained:
		default:
			close(s.drained)
		}
	}
	s.mu.Unlock()
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
	}
	s.stopNow()
	s.mu.Lock()
	for s.retiring > 0 { // each ends promptly now
		retired := s.retired
		s.mu.Unlock()
		<-retired
		s.mu.Lock()
	}
	s.mu.Unlock()
	return ctx.Err()
}

// Late returns, and forgets, results of earlier Sends whose error responses
// arrived late, on connections that no later Send could use: connections
// retired by CloseIdle or Shutdown (the gateway answered their close_notify
// with an error response) or found dead in the pool, and connections that
// ended at the end of their own Send (the response came just after its
// error wait). Each Result has the refused tokens in Failed (Late set) and
// what to send again in Retries. Results found by CloseIdle's retirements go
// to the next Send on the same key when there is one. Call Late after
// Shutdown has returned so that nothing is dropped.
func (s *Session) Late() []*Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Result
	for _, pl := range s.pools {
		out = append(out, pl.unclaimed...)
		pl.unclaimed = nil
	}
	if mt := s.cfg.Metrics; mt != nil {
		for _, r := range out { // handed out once: counted once
			reportResult(mt, metricsBinary, r)
		}
	}
	return out
}

// PoolStats is a snapshot of a session's connections.
type PoolStats struct {
	Open  int    // connections open (idle, in use, being dialled or retiring)
	Idle  int    // connections idle in the pools
	Dials uint64 // connections dialled since the session started
	// Resumed counts the dialled connections whose TLS handshake resumed
	// an earlier connection's session (see Config.DisableTLSResumption).
	Resumed uint64
	Keys    int // (address, certificate) pairs seen
}

// Stats returns a snapshot of the pools.
func (s *Session) Stats() PoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := PoolStats{Open: s.open, Dials: s.dials, Resumed: s.resumed.Load(), Keys: len(s.pools)}
	for _, pl := range s.pools {
		st.Idle += len(pl.idle)
	}
	return st
}
