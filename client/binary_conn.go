package client

import (
	"context"
	"errors"
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
// the connection out; broken and buf belong to whoever holds the connection
// (a Send, or its retirement), one at a time. The history of its batches
// travels beside it as a value (idleConn, Session.checkout and checkin,
// conn.retire), handed from holder to holder.
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

	// held by the connection's holder
	broken bool   // a write failed or was interrupted: never reuse
	buf    []byte // write buffer, reused across batches

	// detached: a Stream wrote its last notification (a sentinel) on the
	// connection and handed it to a goroutine that waits for its end; it
	// no longer counts against PoolSize (Session.detach) and is never
	// reused. Guarded by the session's mutex.
	detached bool
}

func newConn(nc net.Conn, raw *eofConn, log *slog.Logger) *conn {
	c := &conn{nc: nc, raw: raw, log: log, dead: make(chan struct{}), buf: make([]byte, 0, chunkSize+4096)}
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
// the gateway has not closed). It returns the result of the batches in
// hist if the gateway answered an error response, nil otherwise: an
// orderly close (close_notify) confirms them, any other end leaves them
// presumed accepted, as their Sends reported. The caller owns c and hands
// over hist.
func (c *conn) retire(ctx context.Context, hist history) *Result {
	if err := c.halfClose(ctx); err == nil {
		select {
		case <-c.dead:
		case <-ctx.Done():
		}
	}
	c.abort()
	<-c.dead
	r := c.settleHistory(hist)
	switch {
	case r != nil:
		c.log.Debug("connection retired; late error response for the last batch")
	case c.endedOrderly():
		c.log.Debug("connection retired; orderly close confirms the last batch")
	default:
		c.log.Debug("connection retired without an orderly close")
	}
	return r
}

// close closes the connection and waits for the reader.
func (c *conn) close() {
	_ = c.nc.Close()
	<-c.dead
}

// settleHistory settles hist, the connection's history, if the reader got
// an error response after the Sends of its batches returned; nil
// otherwise. The caller hands over hist: it is spent.
func (c *conn) settleHistory(hist history) *Result {
	dead, resp, _ := c.state()
	if !dead || resp == nil {
		return nil
	}
	return hist.settleAll(*resp)
}

// writeStop says why the write loop stopped early.
type writeStop int

const (
	writeDone      writeStop = iota // everything written
	writeCancelled                  // ctx ended between writes; the connection is intact
	writeFailed                     // a write failed or the connection ended
)

// run sends the batch on c with identifiers from firstID (skipping 0),
// waits for the gateway's verdict, and settles the batch against hist, the
// connection's history, which the caller hands over and gets back.
func (c *conn) run(ctx context.Context, b *batch, firstID uint32, cfg *Config, hist history) (*Result, history) {
	return settle(b, c.exchange(ctx, b, firstID, cfg), hist)
}

// errNoCloseAfterNotify: the gateway did not close within ReadTimeout after
// the client's close_notify (ConfirmByClose).
var errNoCloseAfterNotify = errors.New("apns: no close from the gateway after close_notify")

// exchange is the I/O of one batch: it writes b, then waits for the
// verdict (the gateway's close after close_notify with ConfirmByClose, the
// error window otherwise), and returns what it observed.
func (c *conn) exchange(ctx context.Context, b *batch, firstID uint32, cfg *Config) observed {
	written, attempted, stop, werr := c.write(ctx, b, firstID, cfg.WriteTimeout)
	b.ids = b.ids[:attempted]
	obs := observed{written: written, attempted: attempted}
	confirmed := false
	if stop == writeDone && cfg.ConfirmByClose {
		c.broken = true // never reused
		confirmed, obs.ctxErr, werr = c.confirmByClose(ctx, cfg.ReadTimeout)
		if werr != nil {
			stop = writeFailed
		}
	}
	switch {
	case confirmed:
	case stop == writeDone:
		c.waitEnd(cfg.ErrorWait, ctx.Done()) // a shorter wait; a late response is still reported later
	case stop == writeCancelled:
		obs.ctxErr = werr
	case stop == writeFailed:
		c.broken = true
		if err := c.afterFailedWrite(ctx, cfg.ErrorWait); err != nil {
			obs.ctxErr = err
		}
	}
	dead, resp, readErr := c.state()
	switch {
	case resp != nil:
		obs.resp = resp
	case confirmed:
	case dead && certificateRefusal("", readErr) != nil:
		obs.refused = certificateRefusal(c.nc.RemoteAddr().String(), readErr)
	case dead:
		obs.lost = readErr
		if readErr == nil || errors.Is(readErr, io.EOF) {
			obs.lost = io.EOF
		}
	case stop == writeFailed:
		obs.lost = werr
	}
	if dead || c.broken {
		obs.ended, c.broken = true, true
	}
	return obs
}

// confirmByClose sends close_notify and waits, at most wait, for the
// gateway to close in turn. confirmed: it closed in an orderly way without
// an error response. ctxErr: ctx ended the wait. err: the close_notify
// failed, or the gateway did not close.
func (c *conn) confirmByClose(ctx context.Context, wait time.Duration) (confirmed bool, ctxErr, err error) {
	if err := c.halfClose(ctx); err != nil {
		return false, nil, err
	}
	if c.waitEnd(wait, ctx.Done()) {
		ctxErr = ctx.Err()
	}
	dead, resp, _ := c.state()
	switch {
	case dead && resp == nil && c.endedOrderly():
		return true, ctxErr, nil
	case !dead:
		return false, ctxErr, errNoCloseAfterNotify
	}
	return false, ctxErr, nil
}

// afterFailedWrite returns ctx's error when ctx ended the write. Otherwise
// it gives the reader, which usually learns within moments why the
// connection ended (an error response, then the close), the error window.
func (c *conn) afterFailedWrite(ctx context.Context, errorWait time.Duration) error {
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) && ctx.Err() == nil {
		// The write hit the deadline taken from ctx before ctx's own timer
		// fired.
		return context.DeadlineExceeded
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.waitEnd(errorWait, nil)
	return nil
}

// waitEnd waits until the reader has ended, d has passed or stop is
// closed; it reports whether stop ended the wait. A reader that has
// already ended wins over stop: what the gateway answered is known.
func (c *conn) waitEnd(d time.Duration, stop <-chan struct{}) (stopped bool) {
	select {
	case <-c.dead:
		return false
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.dead:
	case <-t.C:
	case <-stop:
		return true
	}
	return false
}

// endedOrderly reports whether the reader saw the gateway's close_notify.
func (c *conn) endedOrderly() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.orderly
}

// write encodes and writes the batch in chunks. written counts the
// notifications whose bytes were all written; attempted (>= written)
// includes those of a write that failed.
func (c *conn) write(ctx context.Context, b *batch, firstID uint32, writeTimeout time.Duration) (written, attempted int, stop writeStop, err error) {
	p := b.prep
	if cap(b.ids) < len(p.tokens) {
		b.ids = make([]uint32, 0, len(p.tokens))
	}
	b.ids = b.ids[:0]
	// Cancelling ctx interrupts a blocked write. The guard keeps a delayed
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
		buf, _ = p.frame.Append(buf, tok, id) // cannot fail: sizes checked by prepare
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
