package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/wire"
)

// chunkSize is the amount of encoded frames gathered before one write.
const chunkSize = 64 << 10

// aLongTimeAgo is a deadline in the past, used to abort blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// errConnDead: the reader saw an error response or the end of the stream
// before a write could start.
var errConnDead = errors.New("apns: connection ended")

// eofConn records whether the TCP stream reached its end. TLS stops reading
// at a close_notify alert, so a raw EOF means the peer closed without one.
type eofConn struct {
	net.Conn
	sawEOF atomic.Bool
}

func (e *eofConn) Read(p []byte) (int, error) {
	n, err := e.Conn.Read(p)
	if errors.Is(err, io.EOF) {
		e.sawEOF.Store(true)
	}
	return n, err
}

// conn is one TLS connection to a gateway. Its reader goroutine waits for
// the error response or the end of the stream, records what came first and
// marks the connection dead. Writes come from the one Send that has checked
// the connection out; nobody else touches the owner-only fields.
type conn struct {
	nc   net.Conn
	raw  *eofConn // under nc; nil when not known
	log  *slog.Logger
	dead chan struct{} // closed by the reader when it ends

	mu      sync.Mutex // guards the fields below and write deadlines
	isDead  bool
	resp    *wire.ErrorResponse
	readErr error
	orderly bool // ended by close_notify (not a bare TCP close)

	// owner-only
	hist      history   // earlier batches, presumed accepted, kept for a late response
	idleSince time.Time // when it went back to the pool
	broken    bool      // a write failed or was interrupted: never reuse
	buf       []byte    // write buffer, reused across batches
}

func newConn(nc net.Conn, raw *eofConn, log *slog.Logger, historyLimit int) *conn {
	c := &conn{nc: nc, raw: raw, log: log, dead: make(chan struct{}), buf: make([]byte, 0, chunkSize+4096),
		hist: history{limit: historyLimit}}
	go c.readLoop()
	return c
}

func (c *conn) readLoop() {
	var b [wire.ErrorResponseSize]byte
	_, err := io.ReadFull(c.nc, b[:])
	var resp *wire.ErrorResponse
	if err == nil {
		var r wire.ErrorResponse
		if err = r.UnmarshalBinary(b[:]); err == nil {
			resp = &r
		}
	}
	c.mu.Lock()
	c.isDead, c.resp, c.readErr = true, resp, err
	c.orderly = resp == nil && errors.Is(err, io.EOF) && c.raw != nil && !c.raw.sawEOF.Load()
	_ = c.nc.SetWriteDeadline(aLongTimeAgo) // unblock a writer: nothing more will be processed
	c.mu.Unlock()
	if resp != nil {
		c.log.Debug("error response", "status", uint8(resp.Status), "reason", resp.Status.String(), "id", resp.ID)
	} else {
		c.log.Debug("connection ended by peer", "err", err)
	}
	c.abort() // close_notify would be pointless: the gateway has ended
	close(c.dead)
}

// state returns what the reader recorded, and whether it has ended.
func (c *conn) state() (dead bool, resp *wire.ErrorResponse, readErr error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.isDead, c.resp, c.readErr
}

// abort closes the connection without a TLS close_notify, by closing the
// connection under TLS. Closing the *tls.Conn would first write the
// close_notify, which blocks up to 5s when the socket buffer is full (a
// gateway that stopped reading): use abort whenever the connection is
// broken or has ended.
func (c *conn) abort() {
	if c.raw != nil {
		_ = c.raw.Close()
		return
	}
	_ = c.nc.Close()
}

// halfClose sends TLS close_notify: nothing more will be written. If ctx
// ends while the alert is blocked (a full socket buffer), the connection is
// closed hard.
func (c *conn) halfClose(ctx context.Context) error {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok {
		return errors.New("apns: connection cannot half-close")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, c.abort)
	defer stop()
	return cw.CloseWrite()
}

// retire ends a healthy idle connection gracefully: close_notify, then a
// wait until the gateway closes in turn, having judged every notification
// it received, or until ctx ends; then the connection is closed (hard, if
// the gateway has not closed). It returns the result of the last batch if
// the gateway answered an error response, nil otherwise: an orderly close
// (close_notify) confirms the batch, any other end leaves it presumed
// accepted, as its Send reported. The caller owns c.
func (c *conn) retire(ctx context.Context) *Result {
	if err := c.halfClose(ctx); err == nil {
		select {
		case <-c.dead:
		case <-ctx.Done():
		}
	}
	c.abort()
	<-c.dead
	c.mu.Lock()
	orderly := c.orderly
	c.mu.Unlock()
	late := c.lateResult()
	switch {
	case late != nil:
		c.log.Debug("connection retired; late error response for the last batch")
	case orderly:
		c.log.Debug("connection retired; orderly close confirms the last batch")
	default:
		c.log.Debug("connection retired without an orderly close")
	}
	c.hist.reset()
	return late
}

// close closes the connection and waits for the reader.
func (c *conn) close() {
	_ = c.nc.Close()
	<-c.dead
}

// lateResult settles the connection's last batch if the reader got an
// error response after the batch's Send returned; nil otherwise.
func (c *conn) lateResult() *Result {
	dead, resp, _ := c.state()
	if !dead || resp == nil {
		return nil
	}
	return c.hist.settleLate(*resp)
}

// writeStop says why the write loop stopped early.
type writeStop int

const (
	writeDone      writeStop = iota // everything written
	writeCancelled                  // ctx ended between writes; the connection is intact
	writeFailed                     // a write failed or the connection ended
)

// run sends the batch on c with identifiers from firstID (skipping 0),
// waits up to errorWait for an error response, and settles the batch.
func (c *conn) run(ctx context.Context, b *batch, firstID uint32, cfg *Config) *Result {
	writeTimeout, errorWait := cfg.WriteTimeout, cfg.ErrorWait
	written, attempted, stop, werr := c.write(ctx, b, firstID, writeTimeout)
	b.ids = b.ids[:attempted]
	var ctxErr error
	confirmed := false
	if stop == writeDone && cfg.ConfirmByClose {
		c.broken = true // never reused
		if err := c.halfClose(ctx); err != nil {
			stop, werr = writeFailed, err
		} else {
			t := time.NewTimer(cfg.ReadTimeout)
			select {
			case <-c.dead:
			case <-t.C:
			case <-ctx.Done():
				ctxErr = ctx.Err()
			}
			t.Stop()
			dead, resp, _ := c.state()
			c.mu.Lock()
			orderly := c.orderly
			c.mu.Unlock()
			switch {
			case dead && resp == nil && orderly:
				confirmed = true
			case !dead:
				stop, werr = writeFailed, errors.New("apns: no close from the gateway after close_notify")
			}
		}
	}
	switch {
	case confirmed:
	case stop == writeDone:
		t := time.NewTimer(errorWait)
		select {
		case <-c.dead:
		case <-t.C:
		case <-ctx.Done(): // a shorter wait; a late response is still reported later
		}
		t.Stop()
	case stop == writeCancelled:
		ctxErr = werr
	case stop == writeFailed:
		c.broken = true
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) && ctx.Err() == nil {
			// The write hit the deadline taken from ctx before ctx's own
			// timer fired.
			ctxErr = context.DeadlineExceeded
		} else if ctx.Err() != nil {
			ctxErr = ctx.Err()
		} else {
			// The reader usually learns why within moments (error response
			// then close): give it the error window.
			t := time.NewTimer(errorWait)
			select {
			case <-c.dead:
			case <-t.C:
			}
			t.Stop()
		}
	}
	dead, resp, readErr := c.state()
	var out outcome
	switch {
	case resp != nil:
		out.resp = resp
	case confirmed:
	case dead:
		out.lost = readErr
		if readErr == nil || errors.Is(readErr, io.EOF) {
			out.lost = io.EOF
		}
	case stop == writeFailed:
		out.lost = werr
	}
	var r *Result
	if out.resp != nil && len(c.hist.batches) > 0 {
		if _, mine := b.index(out.resp.ID); !mine {
			// A late response for an earlier batch: settle names it in the
			// batch that holds it, and every batch written after that one
			// was discarded. A response naming none of them (an older
			// notification, or 0) discards them all.
			at, after := c.hist.locate(out.resp.ID)
			last := at
			if at == nil {
				last, after = c.hist.newest(), c.hist.batches[:len(c.hist.batches)-1]
			}
			r = settle(b, written, attempted, out, last)
			c.hist.discard(r, after, at == nil && unplaced(*out.resp))
			if at == nil && c.hist.forgot {
				r.Errors = append(r.Errors, fmt.Errorf("%w (identifier %d)", ErrHistoryExceeded, out.resp.ID))
			}
		}
	}
	if r == nil {
		r = settle(b, written, attempted, out, nil)
	}
	if ctxErr != nil {
		r.Errors = append(r.Errors, ctxErr)
	}
	switch {
	case dead || c.broken:
		c.hist.reset()
		c.broken = true
	case attempted > 0:
		c.hist.add(b)
	default:
		// Nothing written (ctx ended first): the previous batch is still
		// the one a late error response may name.
	}
	return r
}

// write encodes and writes the batch in chunks. written counts the
// notifications whose bytes were all written; attempted (>= written)
// includes those of a write that failed.
func (c *conn) write(ctx context.Context, b *batch, firstID uint32, writeTimeout time.Duration) (written, attempted int, stop writeStop, err error) {
	p := b.prep
	n := frameTemplate(p)
	if cap(b.ids) < len(p.tokens) {
		b.ids = make([]uint32, 0, len(p.tokens))
	}
	b.ids = b.ids[:0]
	// Cancelling ctx interrupts a blocked write. The guard keeps a late
	// run of the callback from touching a later batch's deadline.
	active := true
	stopAbort := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		if active {
			_ = c.nc.SetWriteDeadline(aLongTimeAgo)
		}
		c.mu.Unlock()
	})
	defer func() {
		stopAbort()
		c.mu.Lock()
		active = false
		c.mu.Unlock()
	}()

	buf := c.buf[:0]
	defer func() { c.buf = buf[:0] }()
	id := firstID
	pending := 0
	for i, tok := range p.tokens {
		if id == 0 {
			id = 1
		}
		n.Token, n.ID = tok, id
		buf, _ = n.AppendBinary(buf) // cannot fail: sizes checked by prepare
		b.ids = append(b.ids, id)
		id++
		pending++
		if len(buf) < chunkSize && i < len(p.tokens)-1 {
			continue
		}
		if stop, err := c.flush(ctx, buf, writeTimeout); stop != writeDone {
			if stop == writeCancelled {
				return written, written, stop, err
			}
			if errors.Is(err, errConnDead) {
				return written, written, stop, err
			}
			return written, written + pending, stop, err
		}
		written += pending
		pending = 0
		buf = buf[:0]
	}
	return written, written, writeDone, nil
}

// flush writes buf unless the connection is dead or ctx has ended.
func (c *conn) flush(ctx context.Context, buf []byte, writeTimeout time.Duration) (writeStop, error) {
	c.mu.Lock()
	if c.isDead {
		c.mu.Unlock()
		return writeFailed, errConnDead
	}
	if err := ctx.Err(); err != nil {
		c.mu.Unlock()
		return writeCancelled, err
	}
	dl := time.Now().Add(writeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = c.nc.SetWriteDeadline(dl)
	c.mu.Unlock()
	if _, err := c.nc.Write(buf); err != nil {
		return writeFailed, err
	}
	return writeDone, nil
}

// frameTemplate returns the command-2 notification shared by every token of
// a prepared message; the caller sets Token and ID per notification.
func frameTemplate(p *prepared) wire.Notification {
	n := wire.Notification{
		Command: wire.CommandFramed,
		Present: wire.HasIdentifier,
		Payload: p.payload,
		Expiry:  p.expiry,
	}
	if p.hasExpiry {
		n.Present |= wire.HasExpiry
	}
	if v, ok := p.priority.Value(); ok {
		n.Priority = v
		n.Present |= wire.HasPriority
	}
	return n
}
