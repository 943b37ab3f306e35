package mockapns

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// readBufSize is the gateway's initial read buffer. A TLS record carries at
// most 16 KiB, so one read usually holds a couple of hundred notifications.
const readBufSize = 64 << 10

// stream is what the gateway needs from a connection: a *tls.Conn, or a
// plain connection with a half-close in tests.
type stream interface {
	net.Conn
	CloseWrite() error
}

// gwConn is the state of one gateway connection, owned by its goroutine.
type gwConn struct {
	s     *Server
	t     *tracked
	c     stream
	num   uint64
	log   *slog.Logger
	buf   []byte
	start int // first unparsed byte in buf
	end   int // end of data in buf
	read  int64
	last  uint32 // identifier of the last accepted notification
	batch []wire.Notification
	now   time.Time
	note  wire.Notification
	// lostSync is set once a frame could not be delimited (unknown command,
	// oversized length): later bytes cannot be split into frames.
	lostSync bool
	// The frame begun and not yet whole, at stream offset partialAt,
	// arrived first at partialSince (zero when the buffer holds no part
	// of a frame); deadline is the read deadline in force.
	partialAt    int64
	partialSince time.Time
	deadline     time.Time
}

// verdict is how processing the buffered frames ended.
type verdict uint8

const (
	readMore     verdict = iota // all complete frames accepted; read more
	clientClosed                // the client closed its side, or its connection failed
	answered                    // error response written: linger, then close
	closeQuiet                  // close without a word (command 0 error, disconnect, cut)
	stopped                     // the server or the connection was closed meanwhile
	idleClosed                  // nothing read for Config.IdleTimeout
	frameClosed                 // a frame begun did not arrive whole within Config.FrameTimeout
)

func (s *Server) serveGateway(t *tracked) {
	log := s.log.With("service", "gateway", "remote", t.raw.RemoteAddr().String())
	tc, ok := s.handshake(t, s.tlsConf, "gateway", log)
	if !ok {
		return
	}
	num := s.gwSeq.Add(1)
	log = log.With("conn", num)
	s.stats.connectionsTotal.Add(1)
	s.stats.connectionsOpen.Add(1) // runGateway takes it back
	log.Debug("mockapns gateway connection open")
	s.event(ConnEvent{Kind: ConnOpened, Service: "gateway", Conn: num, Remote: t.raw.RemoteAddr().String()})
	s.runGateway(t, tc, num, log)
}

// reasons says why a gateway connection closed, by verdict.
var reasons = [...]string{
	readMore:     "client closed",
	clientClosed: "client closed",
	answered:     "error response",
	closeQuiet:   "closed without a response",
	stopped:      "server closed",
	idleClosed:   "idle timeout",
	frameClosed:  "frame timeout",
}

// runGateway serves one gateway connection until it ends, then closes it.
func (s *Server) runGateway(t *tracked, c stream, num uint64, log *slog.Logger) {
	g := &gwConn{s: s, t: t, c: c, num: num, log: log, buf: make([]byte, readBufSize)}
	s.gwAdd(t)
	v := g.run()
	s.gwDel(t)
	if v == answered {
		g.linger()
	}
	// Counted as closed before the close, so that a client that sees the
	// close also sees the gauge drop.
	s.stats.connectionsOpen.Add(-1)
	switch v {
	case closeQuiet:
		// No close_notify: the client sees the connection drop.
		_ = t.raw.Close()
	default:
		_ = c.Close()
	}
	log.Debug("mockapns gateway connection closed", "bytes", g.read, "reason", reasons[v])
	s.event(ConnEvent{Kind: ConnClosed, Service: "gateway", Conn: num, Remote: t.raw.RemoteAddr().String(), Reason: reasons[v]})
}

// fill makes room and reads once into the buffer. It returns the number of
// bytes read and the read error.
func (g *gwConn) fill() (int, error) {
	if g.start > 0 {
		g.end = copy(g.buf, g.buf[g.start:g.end])
		g.start = 0
	}
	if g.end == len(g.buf) {
		// Only a frame larger than the buffer gets here; its size is
		// bounded by the parser's frame limit and its bytes have arrived.
		// A command-2 frame's length is known: grow to it, not twice over.
		grow := len(g.buf)
		if b := g.buf; b[0] == byte(wire.CommandFramed) && len(b) >= 5 {
			if need := 5 + int(binary.BigEndian.Uint32(b[1:5])); need > len(b) && need-len(b) < grow {
				grow = need - len(b)
			}
		}
		g.buf = append(g.buf, make([]byte, grow)...)
	}
	return g.c.Read(g.buf[g.end:])
}

// run reads and judges until the connection ends, and says how.
func (g *gwConn) run() verdict {
	for {
		// Arm the deadline first: a Shutdown after the check below sets
		// its own deadline in the past after ours, so the read wakes.
		g.armDeadline()
		if g.s.draining.Load() {
			return g.drained()
		}
		n, err := g.fill()
		if n > 0 {
			before := g.read
			g.read += int64(n)
			g.end += n
			g.now = time.Now()
			if g.s.faults.activeFor(apns.Binary) {
				if at, ok := g.s.faults.cutAt(apns.Binary, before, g.read); ok {
					return g.processCut(g.end - int(g.read-at)) // keep the bytes before the cut
				}
			}
			if v := g.process(); v != readMore {
				return v
			}
			g.notePartial()
		}
		if err != nil {
			if g.s.draining.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
				return g.drained()
			}
			return g.readEnded(err)
		}
	}
}

// drained answers the server's shutdown: every complete frame read so far
// has been judged, so status 10 names the last accepted notification and
// the client knows to resend everything after it. What arrives afterwards
// is counted as discarded while lingering.
func (g *gwConn) drained() verdict {
	g.flush()
	g.log.Info("mockapns server shutting down; answering status 10", "last_accepted", g.last)
	return g.answer(wire.ErrorResponse{Status: wire.StatusShutdown, ID: g.last})
}

// processCut judges the frames before buffer offset cut, then cuts the
// connection.
func (g *gwConn) processCut(cut int) verdict {
	tail := g.end
	g.end = cut
	if v := g.process(); v != readMore {
		// A frame before the cut ended the connection (error response,
		// command-0 error, disconnect fault): the bytes past the cut were
		// read too, and the whole frames among them are discarded like
		// any others after the bad one. Leaving them out of the buffer
		// lost their count and the framing of what follows.
		if v == answered || v == closeQuiet {
			g.end = tail
			g.countDiscarded()
		}
		return v
	}
	g.log.Info("mockapns cut connection (disconnect after_bytes fault)", "at", g.read-int64(tail-cut))
	// The frames from the one the cut falls in onwards are never
	// processed: count those that arrived whole.
	g.end = tail
	g.countDiscarded()
	return closeQuiet
}

// readEnded says how the connection ends on a read error.
func (g *gwConn) readEnded(err error) verdict {
	switch {
	case errors.Is(err, io.EOF):
		if g.end > g.start {
			g.log.Info("mockapns client closed inside a frame", "bytes", g.end-g.start)
		} else {
			g.log.Debug("mockapns client closed")
		}
	case errors.Is(err, net.ErrClosed), g.cut():
		return stopped
	case errors.Is(err, os.ErrDeadlineExceeded) && g.end > g.start:
		g.log.Info("mockapns frame timeout; closing", "bytes", g.end-g.start, "since", g.partialSince, "frame_timeout", g.s.lim.frame)
		return frameClosed
	case errors.Is(err, os.ErrDeadlineExceeded):
		g.log.Info("mockapns idle timeout; closing", "idle_timeout", g.s.lim.idle)
		return idleClosed
	default:
		g.log.Info("mockapns gateway read failed", "err", err)
	}
	return clientClosed
}

// armDeadline sets the read deadline of the next read: Config.IdleTimeout
// from now, or Config.FrameTimeout from the arrival of the frame begun if
// that comes first.
func (g *gwConn) armDeadline() {
	lim := &g.s.lim
	if lim.idle <= 0 && (lim.frame <= 0 || g.partialSince.IsZero()) {
		if !g.deadline.IsZero() {
			g.deadline = time.Time{}
			_ = g.c.SetReadDeadline(g.deadline)
		}
		return
	}
	var d time.Time
	if lim.idle > 0 {
		d = time.Now().Add(lim.idle)
	}
	if lim.frame > 0 && !g.partialSince.IsZero() {
		if f := g.partialSince.Add(lim.frame); d.IsZero() || f.Before(d) {
			d = f
		}
	}
	if !d.Equal(g.deadline) {
		g.deadline = d
		_ = g.c.SetReadDeadline(d)
	}
}

// notePartial notes when the frame left incomplete in the buffer began
// to arrive.
func (g *gwConn) notePartial() {
	if g.end == g.start {
		g.partialSince = time.Time{}
		return
	}
	at := g.read - int64(g.end-g.start)
	if g.partialSince.IsZero() || at != g.partialAt {
		g.partialAt, g.partialSince = at, g.now
	}
}

// cut reports whether the connection was cut by the server.
func (g *gwConn) cut() bool {
	select {
	case <-g.t.cut:
		return true
	default:
		return false
	}
}

// process judges every complete frame in the buffer, in order.
//
// Each frame is parsed in place into the slot past the end of the batch,
// where an accepted notification stays; those on which a fault fires, and
// those refused, are moved to g.note first, out of the batch that flush
// journals.
func (g *gwConn) process() verdict {
	s := g.s
	for g.start < g.end {
		if len(g.batch) == cap(g.batch) {
			g.batch = slices.Grow(g.batch, 1)
		}
		n := &g.batch[:len(g.batch)+1][len(g.batch)]
		used, err := wire.ParseNotification(g.buf[g.start:g.end], n, s.cfg.Parse)
		if err != nil {
			if errors.Is(err, wire.ErrIncomplete) {
				break
			}
			g.note = *n
			return g.refuseFrame(used, err)
		}
		g.start += used
		if s.faults.activeFor(apns.Binary) {
			if a := s.faults.firedOn(n); a != nil {
				// What fired may journal the batch (flush) before n
				// is judged: n moves out of the slot past its end.
				g.note = *n
				n = &g.note
				if v, done := g.applyFaults(n, a); done {
					return v
				}
			}
		}
		if !s.cfg.NoValidation {
			if err := wire.Validate(n, s.cfg.Limits); err != nil {
				g.note = *n
				return g.refuse(&g.note, gatewayStatusOf(err), err)
			}
		}
		g.last = n.ID
		if n == &g.note {
			g.batch = append(g.batch, *n)
		} else {
			g.batch = g.batch[:len(g.batch)+1]
		}
	}
	g.flush()
	return readMore
}

// gatewayStatusOf is the status a validation or parse error is answered with.
func gatewayStatusOf(err error) wire.Status {
	var fe *wire.FrameError
	if errors.As(err, &fe) {
		return fe.Status
	}
	return wire.StatusProtocolError
}

// refuseFrame refuses the frame at g.start that did not parse; used is
// what the parser consumed (0 when the frame cannot be delimited).
func (g *gwConn) refuseFrame(used int, err error) verdict {
	n := &g.note
	var fe *wire.FrameError
	if !errors.As(err, &fe) { // not produced by the parser; be safe
		fe = &wire.FrameError{Command: wire.Command(g.buf[g.start]), Status: wire.StatusProtocolError, Err: err}
	}
	bad := wire.Notification{Command: fe.Command, ID: fe.ID}
	if used > 0 {
		bad.Token, bad.Payload, bad.Expiry = n.Token, n.Payload, n.Expiry
		bad.Priority, bad.Present = n.Priority, n.Present
	}
	g.start += used
	if used == 0 {
		// The frame cannot be delimited: nothing after it can be.
		g.start = g.end
		g.lostSync = true
	}
	return g.refuse(&bad, fe.Status, fe.Err)
}

// applyFaults carries out a, what the faults that fired on n ask; done
// says that the connection ends with v.
func (g *gwConn) applyFaults(n *wire.Notification, a *faultAction) (v verdict, done bool) {
	if a.delay > 0 {
		g.flush()
		g.log.Info("mockapns delay fault", "delay", a.delay, "id", n.ID)
		if !g.stall(a.delay) {
			return stopped, true
		}
		// The buffer is untouched: n still aliases it.
	}
	switch a.kind {
	case actReject:
		if a.status == wire.StatusShutdown {
			// Status 10's identifier names the last notification
			// accepted, never the one refused: answering it with n's
			// would tell the client n went through.
			return g.shutdown(n), true
		}
		return g.refuse(n, a.status, nil), true
	case actShutdown:
		return g.shutdown(n), true
	case actDisconnect:
		g.flush()
		g.log.Info("mockapns disconnect fault", "id", n.ID)
		g.s.stats.discarded.Add(1)
		g.countDiscarded()
		return closeQuiet, true
	}
	return readMore, false
}

// flush journals and counts the accepted notifications of this read.
func (g *gwConn) flush() {
	if len(g.batch) == 0 {
		return
	}
	g.s.journal.addBinary(g.num, g.now, wire.StatusNoError, g.batch)
	clear(g.batch) // drop the aliases of the read buffer
	g.batch = g.batch[:0]
}

// refuse journals n with status, answers it (except command 0) and counts
// the frames already read after it as discarded.
func (g *gwConn) refuse(n *wire.Notification, status wire.Status, why error) verdict {
	g.flush()
	g.s.journal.addBinary(g.num, g.now, status, []wire.Notification{*n})
	g.countDiscarded()
	if n.Command == wire.CommandSimple {
		g.log.Info("mockapns refused command-0 notification; closing without a response", "status", uint8(status), "reason", errText(why))
		return closeQuiet
	}
	g.log.Info("mockapns refused notification", "status", uint8(status), "id", n.ID, "reason", errText(why))
	return g.answer(wire.ErrorResponse{Status: status, ID: n.ID})
}

// shutdown answers status 10 naming the last accepted notification.
func (g *gwConn) shutdown(n *wire.Notification) verdict {
	g.flush()
	g.s.journal.addBinary(g.num, g.now, wire.StatusShutdown, []wire.Notification{*n})
	g.countDiscarded()
	if n.Command == wire.CommandSimple {
		g.log.Info("mockapns shutdown fault on command 0; closing without a response")
		return closeQuiet
	}
	g.log.Info("mockapns shutdown fault", "last_accepted", g.last)
	return g.answer(wire.ErrorResponse{Status: wire.StatusShutdown, ID: g.last})
}

func errText(err error) string {
	if err == nil {
		return "fault"
	}
	return err.Error()
}

// answer writes the error response and half-closes the connection.
func (g *gwConn) answer(r wire.ErrorResponse) verdict {
	var b [wire.ErrorResponseSize]byte
	out, _ := r.AppendBinary(b[:0])
	_ = g.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := g.c.Write(out); err != nil {
		g.log.Info("mockapns writing the error response failed", "err", err)
		return stopped
	}
	if err := g.c.CloseWrite(); err != nil {
		g.log.Debug("mockapns half-close failed", "err", err)
	}
	return answered
}

// linger reads and discards (counting whole frames) until the client closes
// or the linger time is over, so that closing does not reset a connection
// with unread data and destroy the error response in flight.
func (g *gwConn) linger() {
	_ = g.c.SetReadDeadline(time.Now().Add(g.s.linger))
	for {
		n, err := g.fill()
		g.end += n
		g.countDiscarded()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				g.log.Debug("mockapns linger over; closing")
			}
			return
		}
	}
}

// countDiscarded counts the complete frames in the buffer as discarded and
// consumes them; bytes that cannot be delimited into frames are dropped.
func (g *gwConn) countDiscarded() {
	var n wire.Notification
	var count uint64
	for g.start < g.end && !g.lostSync {
		used, err := wire.ParseNotification(g.buf[g.start:g.end], &n, g.s.cfg.Parse)
		if errors.Is(err, wire.ErrIncomplete) {
			break
		}
		if used == 0 { // unknown command or oversized frame: lost sync
			g.lostSync = true
			break
		}
		g.start += used
		count++
	}
	if count > 0 {
		g.s.stats.discarded.Add(count)
	}
	if g.lostSync {
		g.start = g.end
	}
	// g.start and g.end stay where they are (fill compacts the buffer):
	// the cut path goes on counting past the cut from g.start.
}

// stall waits d, or until the server or the connection closes.
func (g *gwConn) stall(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		g.now = time.Now()
		return true
	case <-g.t.cut:
		return false
	case <-g.s.ctx.Done():
		return false
	}
}
