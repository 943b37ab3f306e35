package mockapns

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/apnskit/apnskit/apns"
)

// h2Idle is a connection's idle timer, armed while Config.IdleTimeout is
// in force or an idle_timeout fault can fire: it runs once the connection
// has gone that long without reading a frame or answering its last open
// stream.
type h2Idle struct {
	on      atomic.Bool // armed: the writer re-arms it when the last stream is answered
	mu      sync.Mutex
	t       *time.Timer
	d       time.Duration // the idle time that closes the connection; 0: disarmed
	since   time.Time     // the connection is idle since
	stopped bool          // the connection ended or the timeout fired
	pending bool          // the timer is set to run
}

// arm times the connection afresh for d (0 disarms); fire runs once it
// has been idle that long.
func (i *h2Idle) arm(d time.Duration, fire func()) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped {
		return
	}
	prev := i.d
	i.d, i.since = d, time.Now()
	switch {
	case d <= 0:
		if i.t != nil {
			i.t.Stop()
		}
		i.pending = false
		i.on.Store(false)
		return
	case i.t == nil:
		i.t = time.AfterFunc(d, fire)
	case d == prev && i.pending:
		// Set for as long: it finds it ran early and waits the rest,
		// which spares a Reset on every frame.
	default:
		i.t.Reset(d)
	}
	i.pending = true
	i.on.Store(true)
}

// rearm restarts the armed timer from now.
func (i *h2Idle) rearm() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped || i.t == nil || i.d <= 0 {
		return
	}
	i.since = time.Now()
	i.t.Reset(i.d)
	i.pending = true
}

// stop disarms the timer for good.
func (i *h2Idle) stop() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.stopped = true
	i.on.Store(false)
	if i.t != nil {
		i.t.Stop()
	}
}

// watchIdle arms or disarms the idle timer after a frame is read, when
// Config.IdleTimeout is in force, an HTTP/2 fault is installed or the
// timer was armed.
func (c *h2Conn) watchIdle() {
	if c.s.lim.idle > 0 || c.s.faults.activeFor(apns.HTTP2) || c.idler.on.Load() {
		c.idler.arm(c.idleAfter(), c.idleFired)
	}
}

// idleAfter is the idle time that closes the connection: the shortest of
// Config.IdleTimeout and the idle_timeout faults that can fire; 0: none.
func (c *h2Conn) idleAfter() time.Duration {
	d, cfg := c.s.faults.idleAfter(), c.s.lim.idle
	if d == 0 || cfg > 0 && cfg < d {
		d = cfg
	}
	return d
}

// streamDone counts a stream answered or reset by the writer; the last
// one makes the connection idle from now.
func (c *h2Conn) streamDone() {
	if c.active.Add(-1) == 0 && c.idler.on.Load() {
		c.idler.rearm()
	}
}

// idleDebug is the debug data of an idle timeout's GOAWAY.
var idleDebug = string(appendReasonBody(nil, apns.ReasonIdleTimeout, 0))

// idleFired runs on the idle timer: a connection idle long enough is
// sent GOAWAY NO_ERROR with {"reason":"IdleTimeout"} and closed, if an
// idle_timeout fault can still fire or Config.IdleTimeout is over.
func (c *h2Conn) idleFired() {
	i := &c.idler
	i.mu.Lock()
	if i.stopped || i.d <= 0 || c.active.Load() > 0 {
		// Busy: answering the last stream, or the next frame, re-arms
		// the timer.
		i.pending = false
		i.mu.Unlock()
		return
	}
	idle := time.Since(i.since)
	if idle < i.d {
		i.t.Reset(i.d - idle)
		i.mu.Unlock()
		return
	}
	fault := c.s.faults.idleFire(idle)
	if !fault && (c.s.lim.idle <= 0 || idle < c.s.lim.idle) {
		// The fault fired on other connections meanwhile, or was removed.
		if d := c.idleAfter(); d > 0 {
			i.d = d
			i.t.Reset(max(d-idle, time.Millisecond))
		} else {
			i.d = 0
			i.pending = false
			i.on.Store(false)
		}
		i.mu.Unlock()
		return
	}
	i.stopped = true
	i.on.Store(false)
	i.mu.Unlock()
	last := c.lastID.Load()
	if fault {
		c.log.Info("mockapns idle_timeout fault", "idle", idle, "last_stream_id", last)
	} else {
		c.log.Info("mockapns idle timeout; GOAWAY", "idle", idle, "last_stream_id", last)
	}
	c.setWhy(whyIdle)
	c.goAwayID.Store(last)
	c.draining.Store(true)
	c.send(h2Out{kind: outGoAway, val: last, code: http2.ErrCodeNo, debug: idleDebug, closeAfter: true})
}

// h2Why says why a connection closed; the first cause set wins.
type h2Why uint32

const (
	whyClient     h2Why = iota // the client closed it (or the read failed)
	whyServer                  // the server shut down or closed
	whyGoAway                  // a goaway fault
	whyDisconnect              // a disconnect fault
	whyIdle                    // an idle_timeout fault
	whyProtocol                // the client broke the protocol: GOAWAY with an error code
	whyRefused                 // refused after its preface (certificate of the other environment)
	whyWrite                   // a write failed or timed out
	whyFrame                   // a frame begun did not arrive whole in time
)

func (w h2Why) String() string {
	switch w {
	case whyServer:
		return "server closed"
	case whyGoAway:
		return "goaway fault"
	case whyDisconnect:
		return "disconnect fault"
	case whyIdle:
		return "idle timeout"
	case whyProtocol:
		return "protocol error"
	case whyRefused:
		return "refused"
	case whyWrite:
		return "write failed"
	case whyFrame:
		return "frame timeout"
	}
	return "client closed"
}

// setWhy records why the connection closes, unless a cause is recorded.
func (c *h2Conn) setWhy(w h2Why) { c.why.CompareAndSwap(uint32(whyClient), uint32(w)) }
