package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/apns"
)

// errStreamAborted is the cause of notifications left Unsent when the
// stream stops without a cause of its own.
var errStreamAborted = errors.New("apns: stream stopped")

// worker writes a stream's chunks on one connection at a time and settles
// them. Its window is the history of the chunks written on the connection
// and not yet confirmed, oldest first; the settle rules and the history
// are the ones Send uses.
//
// With ConfirmSentinel a worker does not wait for the answer to its
// sentinel: it hands the connection, with its window, to a goroutine of
// its own (a leg: a worker value that only confirms) and goes on writing
// on a new connection while the gateway works through the old one. At most
// one leg per worker waits at a time, so a worker holds at most two
// windows.
type worker struct {
	st    *Stream
	pl    *pool
	c     *conn
	hist  history
	n     int // notifications in the window
	bytes int // their encoded size
	// window is the window this worker confirms at (see windowControl);
	// shared with the worker's legs, which settle stretches too.
	window *windowControl
	// leg is closed when the worker's leg, if any, has settled its window.
	leg chan struct{}
}

func (w *worker) run() {
	defer w.release()
	w.window = newWindowControl(w.st.opt.Window)
	for {
		var oldest time.Time
		if b := w.oldest(); b != nil {
			oldest = b.chunk.written
		}
		ch, confirm := w.st.next(w.n > 0, oldest)
		switch {
		case ch != nil:
			w.send(ch)
		case confirm:
			w.confirm()
		default:
			if w.n > 0 || w.st.ctx.Err() != nil {
				w.abort(w.cause())
			} else {
				w.release()
			}
			w.st.drain(w.cause())
			return
		}
	}
}

func (w *worker) oldest() *batch {
	if len(w.hist.batches) == 0 {
		return nil
	}
	return w.hist.batches[0]
}

// cause is why the stream stopped, for what is left.
func (w *worker) cause() error {
	if err := w.st.stopped(); err != nil {
		return err
	}
	return errStreamAborted
}

// release returns the connection, if any, to the pool.
func (w *worker) release() {
	if w.c == nil {
		return
	}
	w.st.sess.checkin(w.pl, w.c, history{limit: w.st.sess.cfg.History})
	w.c, w.pl = nil, nil
}

// acquire takes a connection from the pool, dialling one if needed. A
// pooled connection whose history holds batches of earlier Sends is
// retired instead (its late results stay with the pool).
func (w *worker) acquire() error {
	s := w.st.sess
	for {
		pl, ic, unclaimed, err := s.checkout(w.st.ctx, w.st.key, w.st.cert)
		if err != nil {
			return err
		}
		s.mu.Lock()
		pl.unclaimed = append(unclaimed, pl.unclaimed...)
		if len(ic.hist.batches) > 0 {
			s.endLocked(pl, ic.c, ic.hist)
			s.mu.Unlock()
			continue
		}
		s.mu.Unlock()
		w.pl, w.c = pl, ic.c
		w.hist = history{limit: int(^uint(0) >> 1)}
		w.n, w.bytes = 0, 0
		w.st.stats.conns.Add(1)
		return nil
	}
}

// batchOf is the batch that writes ch, kept in ch.
func (w *worker) batchOf(ch *chunk) *batch {
	toks := ch.toks[:0]
	for i := range ch.tokens {
		toks = append(toks, ch.token(i))
	}
	ch.toks = toks
	ch.prep = w.st.content
	ch.prep.tokens = toks
	ch.b = batch{retryBase: w.st.base, tokens: ch.tokens, prep: &ch.prep, chunk: ch, ids: ch.b.ids[:0]}
	return &ch.b
}

// send writes ch on the connection and adds it to the window; when the
// window is full, it is confirmed.
func (w *worker) send(ch *chunk) {
	st := w.st
	if o := st.messageRefusal(); o != nil {
		st.refuseAll(ch, o)
		return
	}
	if w.c == nil {
		if err := w.acquire(); err != nil {
			if !errors.Is(err, context.Canceled) {
				st.fail(err)
			}
			st.giveUp(ch, w.causeOr(err))
			return
		}
	}
	b := w.batchOf(ch)
	written, attempted, stop, err := w.c.write(st.ctx, b, st.sess.reserveIDs(len(ch.tokens)), st.sess.cfg.WriteTimeout)
	b.ids = b.ids[:attempted]
	resent := 0
	uncertain := 0
	for i := range attempted {
		m := &ch.meta[i]
		if m.attempts > 0 {
			resent++
			if m.uncertain {
				uncertain++
			}
		}
		m.attempts++
	}
	st.stats.written.Add(int64(attempted))
	st.stats.resent.Add(int64(resent))
	st.stats.uncertain.Add(int64(uncertain))
	if mt := st.sess.cfg.Metrics; mt != nil {
		mt.Sent(metricsBinary, attempted)
		if resent > 0 {
			mt.Retried(metricsBinary, resent)
		}
		if uncertain > 0 {
			mt.Uncertain(metricsBinary, uncertain)
		}
	}
	if stop == writeCancelled || st.ctx.Err() != nil {
		for i := range attempted {
			ch.meta[i].uncertain = true
		}
		w.abort(w.cause())
		st.giveUp(ch, w.cause())
		return
	}
	if stop == writeFailed {
		w.c.broken = true
		w.c.waitEnd(st.sess.cfg.ErrorWait, st.ctx.Done())
		w.end(b, observed{written: written, attempted: attempted}, err)
		return
	}
	ch.written = time.Now()
	w.hist.add(b)
	w.n += len(ch.tokens)
	w.bytes += ch.bytes
	if !w.full() {
		return
	}
	if st.opt.Confirm == ConfirmErrorWait {
		w.age()
		return
	}
	w.confirm()
}

// age presumes accepted, oldest first, the chunks of a full window whose
// error window has passed, waiting for the oldest when none has
// (ConfirmErrorWait).
func (w *worker) age() {
	ew := w.st.sess.cfg.ErrorWait
	for w.full() {
		due := w.oldest().chunk.written.Add(ew)
		if w.c.waitEnd(time.Until(due), w.st.ctx.Done()) {
			w.abort(w.cause())
			return
		}
		if dead, _, _ := w.c.state(); dead {
			w.end(nil, observed{}, nil)
			return
		}
		var old []*batch
		now := time.Now()
		for b := w.oldest(); b != nil && !b.chunk.written.Add(ew).After(now); b = w.oldest() {
			old = append(old, w.hist.popOldest())
		}
		w.deliver(old, true)
	}
}

// full reports whether the window must be confirmed before more is written.
func (w *worker) full() bool {
	o := &w.st.opt
	return w.n >= w.window.size() || w.bytes >= o.WindowBytes || (o.CheckpointEvery > 0 && w.n >= o.CheckpointEvery)
}

// windowControl sets a worker's window from the refusals it sees. Each
// stretch of a connection costs a new connection (its sentinel, or the
// refusal, ends it), and a refusal makes the gateway discard what was
// written after the refused notification, on average half a window, which
// is written again. With refusals at a rate p per notification, the cost
// per notification is reconnectCost/W + p·W/2 notifications written
// again, least at W = √(2·reconnectCost/p): the window used, between one
// chunk and StreamOptions.Window. p is estimated from the recent
// stretches; without refusals the window is StreamOptions.Window.
type windowControl struct {
	max     int // StreamOptions.Window
	mu      sync.Mutex
	events  float64 // stretches that ended with notifications to write again, decayed
	settled float64 // notifications the gateway went through in them, decayed
	limit   atomic.Int64
}

func newWindowControl(window int) *windowControl {
	c := &windowControl{max: window}
	c.limit.Store(int64(window))
	return c
}

// size is the window to confirm at.
func (c *windowControl) size() int { return int(c.limit.Load()) }

const (
	// reconnectCost is about what opening a connection costs, in
	// notifications written: on loopback a resumed TLS handshake and the
	// gateway's side of a connection take about the CPU of 4,096
	// notifications written again.
	reconnectCost = 4096
	// windowMemory is the weight the estimate keeps at each stretch.
	windowMemory = 0.75
)

// adapt sets the window after a stretch ended in which the gateway went
// through processed notifications (delivered or refused), discarded
// telling whether it left some to write again: a refusal ends the stretch
// at the refused notification, so refusals per processed notification
// estimate p.
func (c *windowControl) adapt(discarded bool, processed int) {
	window := c.max
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events *= windowMemory
	c.settled = c.settled*windowMemory + float64(processed)
	if discarded {
		c.events++
	}
	limit := window
	if c.events > 0 && c.settled > 0 {
		best := math.Sqrt(2 * reconnectCost * c.settled / c.events)
		limit = int(min(max(best, float64(min(chunkItems, window))), float64(window)))
	}
	c.limit.Store(int64(limit))
}

func (w *worker) causeOr(err error) error {
	if c := w.st.stopped(); c != nil {
		return c
	}
	return err
}

// confirm confirms the window by the stream's Confirmation.
func (w *worker) confirm() {
	if w.c == nil || w.n == 0 {
		return
	}
	w.st.stats.checkpoints.Add(1)
	switch w.st.opt.Confirm {
	case ConfirmSentinel:
		w.confirmBySentinel()
	case ConfirmByClose:
		w.confirmByClose()
	default:
		newest := w.hist.newest().chunk.written
		w.confirmByWait(time.Until(newest.Add(w.st.sess.cfg.ErrorWait)))
	}
}

// sentinelChunk is the known-bad notification: an empty device token.
func sentinelChunk() *chunk {
	return &chunk{tokens: []string{""}, ends: []int32{0}, meta: []itemMeta{{}}, sentinel: true}
}

func (w *worker) confirmBySentinel() {
	st := w.st
	ch := sentinelChunk()
	b := w.batchOf(ch)
	written, attempted, stop, err := w.c.write(st.ctx, b, st.sess.reserveIDs(1), st.sess.cfg.WriteTimeout)
	b.ids = b.ids[:attempted]
	switch stop {
	case writeCancelled:
		w.abort(w.cause())
		return
	}
	if st.ctx.Err() != nil {
		w.abort(w.cause())
		return
	}
	switch stop {
	case writeFailed:
		w.c.broken = true
		w.c.waitEnd(st.sess.cfg.ErrorWait, st.ctx.Done())
		w.end(b, observed{written: written, attempted: attempted}, err)
		return
	}
	ch.written = time.Now()
	w.hist.add(b)
	wait := st.opt.SentinelWait
	if st.sentOK.Load() {
		wait = st.sess.cfg.ErrorWait
	}
	leg := w.handOff()
	st.wg.Go(func() {
		defer close(leg.leg)
		leg.confirmByWait(wait)
		if leg.c != nil { // no answer: the gateway accepted the sentinel
			st.sentOK.Store(true)
			leg.release() // retired: a detached connection is not reused
		}
	})
}

// handOff waits for the worker's earlier leg, if any, to settle, then moves
// the connection and its window to a new leg, detached from the pool's
// count, and leaves the worker without a connection.
func (w *worker) handOff() *worker {
	if w.leg != nil {
		<-w.leg
	}
	leg := &worker{st: w.st, pl: w.pl, c: w.c, hist: w.hist, n: w.n, bytes: w.bytes, window: w.window, leg: make(chan struct{})}
	w.st.sess.detach(w.pl, w.c)
	w.leg = leg.leg
	w.c, w.pl = nil, nil
	w.hist = history{limit: int(^uint(0) >> 1)}
	w.n, w.bytes = 0, 0
	return leg
}

// confirmByWait waits up to d for the connection to end; then it settles
// the window on what ended it, or presumes it accepted.
func (w *worker) confirmByWait(d time.Duration) {
	if w.c.waitEnd(d, w.st.ctx.Done()) {
		w.abort(w.cause())
		return
	}
	if dead, _, _ := w.c.state(); dead {
		w.end(nil, observed{}, nil)
		return
	}
	w.presume()
}

func (w *worker) confirmByClose() {
	st := w.st
	confirmed, ctxErr, err := w.c.confirmByClose(st.ctx, st.sess.cfg.ReadTimeout)
	w.c.broken = true
	if ctxErr != nil {
		w.abort(w.cause())
		return
	}
	if confirmed {
		w.deliverAll(false)
		w.drop()
		return
	}
	w.end(nil, observed{}, err)
}

// presume reports the whole window accepted without confirmation.
func (w *worker) presume() { w.deliverAll(true) }

// deliverAll reports every notification of the window Delivered and
// empties it.
func (w *worker) deliverAll(presumed bool) {
	w.deliver(w.hist.batches, presumed)
	w.hist.reset()
	w.n, w.bytes = 0, 0
}

// deliver reports every notification of batches Delivered and takes them
// out of the window's counts.
func (w *worker) deliver(batches []*batch, presumed bool) {
	for _, b := range batches {
		ch := b.chunk
		if ch.sentinel {
			continue
		}
		if mt := w.st.sess.cfg.Metrics; mt != nil {
			mt.Latency(metricsBinary, time.Since(ch.written))
		}
		n, bytes := len(ch.tokens), ch.bytes
		w.st.reportChunk(ch, Delivery{Kind: Delivered, Presumed: presumed})
		ch.free()
		w.n -= n
		w.bytes -= bytes
	}
}

// drop gives the connection back (it cannot be reused: the pool closes it).
func (w *worker) drop() {
	if w.c == nil {
		return
	}
	w.c.broken = true
	w.st.sess.checkin(w.pl, w.c, history{})
	w.c, w.pl = nil, nil
}

// abort closes the connection hard and reports the window Unsent.
func (w *worker) abort(err error) {
	if w.c != nil {
		w.c.abort()
		<-w.c.dead
	}
	for _, b := range w.hist.batches {
		ch := b.chunk
		for i := range ch.meta {
			if i < len(b.ids) {
				ch.meta[i].uncertain = true
			}
		}
		w.st.giveUp(ch, err)
	}
	w.hist.reset()
	w.n, w.bytes = 0, 0
	w.drop()
}

// end settles the window after the connection ended (or a write on it
// failed): cur is the chunk whose write failed (nil when none), obs what
// its write did, werr the write's error. The error response, if one came,
// is settled by the rules of Result against the window; a connection that
// ended without one leaves every notification of the window uncertain.
func (w *worker) end(cur *batch, obs observed, werr error) {
	st := w.st
	dead, resp, readErr := w.c.state()
	obs.ended = true
	switch {
	case resp != nil:
		obs.resp = resp
	case dead:
		obs.lost = readErr
		if readErr == nil || errors.Is(readErr, io.EOF) {
			obs.lost = io.EOF
		}
	case werr != nil:
		obs.lost = werr
	default:
		obs.lost = errNoCloseAfterNotify
	}
	batches := append([]*batch(nil), w.hist.batches...)
	if mt := st.sess.cfg.Metrics; mt != nil { // written and now settled
		for _, b := range batches {
			if !b.chunk.sentinel {
				mt.Latency(metricsBinary, time.Since(b.chunk.written))
			}
		}
	}
	if cur != nil {
		batches = append(batches, cur)
	}
	if ref := certificateRefusal(w.c.nc.RemoteAddr().String(), readErr); resp == nil && dead && ref != nil {
		// The gateway refused the certificate: nothing was processed, and
		// no connection will do better.
		for _, b := range batches {
			if !b.chunk.sentinel {
				st.stats.written.Add(-int64(len(b.ids)))
			}
		}
		w.hist.reset()
		w.n, w.bytes = 0, 0
		w.drop()
		st.fail(ref)
		for _, b := range batches {
			st.giveUp(b.chunk, ref)
		}
		return
	}
	if cur == nil {
		cur = &batch{prep: &st.content, chunk: &chunk{sentinel: true}}
	}
	var r *Result
	if obs.resp == nil {
		r = settleAgainst(cur, obs, nil)
		w.hist.discard(r, w.hist.batches, true)
	} else {
		r, _ = settle(cur, obs, w.hist)
	}
	w.hist.reset()
	w.n, w.bytes = 0, 0
	w.drop()
	w.apply(r, batches)
}

// apply reports what r, the settlement of batches, decided for each
// notification and queues the resends.
func (w *worker) apply(r *Result, batches []*batch) {
	st := w.st
	sentinelIDs := map[uint32]bool{}
	for _, b := range batches {
		if b.chunk.sentinel {
			for _, id := range b.ids {
				sentinelIDs[id] = true
			}
		}
	}
	for _, e := range r.Errors {
		var se *StatusError
		if errors.As(e, &se) && sentinelIDs[se.ID] {
			continue
		}
		st.reportErr(e)
	}
	for _, sp := range r.spans {
		ch := sp.b.chunk
		if ch == nil || ch.sentinel {
			continue
		}
		if len(ch.marks) == 0 {
			ch.marks = slices.Grow(ch.marks, len(ch.tokens))[:len(ch.tokens)]
			clear(ch.marks)
		}
		ms := ch.marks
		for i := sp.from; i < sp.to && i < len(ms); i++ {
			if sp.failed != nil {
				ms[i] = mark{failed: sp.failed}
			} else {
				ms[i] = mark{retry: true, uncertain: sp.uncertain || ms[i].uncertain}
			}
		}
	}
	fruitful := false
	for _, b := range batches {
		ms := b.chunk.marks
		if b.chunk.sentinel {
			continue
		}
		for i := range b.chunk.tokens {
			if len(ms) == 0 || !ms[i].retry {
				fruitful = true
				break
			}
		}
	}
	buf := getDeliveries()
	defer putDeliveries(buf)
	ds := *buf
	bytes := 0
	flush := func() {
		st.report(ds, bytes)
		ds, bytes = ds[:0], 0
	}
	var again []*chunk
	var redo *chunk
	processed := 0 // delivered or refused: what the gateway went through
	var message apns.Outcome
	for _, b := range batches {
		ch := b.chunk
		if ch.sentinel {
			continue
		}
		ms := ch.marks
		if len(ms) == 0 { // nothing refused or to resend: the whole chunk delivered
			flush()
			processed += len(ch.tokens)
			st.reportChunk(ch, Delivery{Kind: Delivered})
			continue
		}
		for i := range ch.tokens {
			if len(ds) >= chunkItems {
				flush()
			}
			m := ch.meta[i]
			size := st.frame + len(ch.token(i))
			k := ms[i]
			switch {
			case k.failed != nil:
				if isMessageLevel(k.failed) {
					message = k.failed
				}
				ds = append(ds, Delivery{Token: ch.tokens[i], Tag: m.tag, Kind: Refused, Outcome: k.failed, Attempts: int(m.attempts), Uncertain: m.uncertain})
				bytes += size
				processed++
			case k.retry:
				m.uncertain = m.uncertain || k.uncertain
				if !fruitful {
					m.fruitless++
				}
				if int(m.fruitless) >= st.opt.MaxAttempts {
					ds = append(ds, Delivery{Token: ch.tokens[i], Tag: m.tag, Kind: Unsent, Err: errGaveUp(st.opt.MaxAttempts), Attempts: int(m.attempts), Uncertain: m.uncertain})
					bytes += size
					continue
				}
				if fruitful {
					m.fruitless = 0
				}
				if redo == nil || redo.full() {
					redo = newChunk()
					again = append(again, redo)
				}
				redo.add(ch.tokens[i], ch.token(i), m, st.frame)
			default:
				ds = append(ds, Delivery{Token: ch.tokens[i], Tag: m.tag, Kind: Delivered, Attempts: int(m.attempts), Uncertain: m.uncertain})
				bytes += size
				processed++
			}
		}
	}
	for _, b := range batches {
		b.chunk.free() // reported above or copied into again
	}
	if message != nil {
		st.setMessageRefusal(message)
	}
	w.window.adapt(len(again) > 0, processed)
	flush()
	if f := st.opt.OnResend; f != nil && len(again) > 0 {
		n, u := 0, 0
		for _, ch := range again {
			n += len(ch.meta)
			for _, m := range ch.meta {
				if m.uncertain {
					u++
				}
			}
		}
		st.outMu.Lock()
		f(n, u)
		st.outMu.Unlock()
	}
	st.requeue(again)
}

// ErrGaveUp: a Stream gave up resending a notification after
// StreamOptions.MaxAttempts connection stretches in a row that settled
// nothing.
var ErrGaveUp = errors.New("apns: gave up resending")

func errGaveUp(n int) error {
	return fmt.Errorf("%w after %d attempts that settled nothing", ErrGaveUp, n)
}
