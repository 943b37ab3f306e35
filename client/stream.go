package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// ErrStreamClosed: Push or Flush on a Stream after Close.
var ErrStreamClosed = errors.New("apns: stream closed")

// Defaults of StreamOptions.
const (
	DefaultStreamWindow      = 65536
	DefaultStreamWindowBytes = 8 << 20
	DefaultSentinelWait      = 2 * time.Second
)

// Confirmation is how a Stream learns that the notifications written on a
// connection were processed.
type Confirmation uint8

const (
	// ConfirmSentinel ends each stretch of a connection (the window full,
	// a Flush, Close) with a known-bad notification: one with an empty
	// device token, which the binary API refuses with status 2 (missing
	// device token) in an error response naming its identifier, whatever
	// token length the gateway expects. That response proves every
	// notification before it processed and nothing after it written: one
	// round trip instead of a fixed wait. The gateway closes the
	// connection after it, so each stretch costs a new connection; the
	// stream does not wait for the answer before it writes on the next
	// one (see StreamOptions.Window). If no
	// response arrives within StreamOptions.SentinelWait (a gateway whose
	// validation is relaxed accepts the sentinel), the stretch is presumed
	// accepted as with ConfirmErrorWait, and later stretches wait only
	// Config.ErrorWait.
	ConfirmSentinel Confirmation = iota
	// ConfirmErrorWait presumes a notification accepted once Config.ErrorWait
	// has passed after it was written without an error response, as Send
	// does; connections are kept. Outcomes are Presumed.
	ConfirmErrorWait
	// ConfirmByClose ends each stretch with a TLS close_notify and waits, at
	// most Config.ReadTimeout, for the gateway to close in turn; an orderly
	// close confirms everything written (see Config.ConfirmByClose; not an
	// Apple behaviour).
	ConfirmByClose
)

// String names the confirmation: "sentinel", "error-wait" or "close".
func (c Confirmation) String() string {
	switch c {
	case ConfirmSentinel:
		return "sentinel"
	case ConfirmErrorWait:
		return "error-wait"
	case ConfirmByClose:
		return "close"
	}
	return fmt.Sprintf("confirmation(%d)", uint8(c))
}

// StreamOptions configures a Stream. The zero value is usable.
type StreamOptions struct {
	// Connections is how many connections the stream writes on in
	// parallel; 0 means Config.PoolSize. They come from the session's pool
	// for the address and certificate and count against PoolSize (but see Window).
	Connections int
	// Window bounds the notifications written on one connection and not
	// yet confirmed; when it is full the connection confirms them (see
	// Confirm) before taking more. 0 means DefaultStreamWindow. Refusals
	// make the connection confirm sooner: everything written after a
	// refused notification is discarded by the gateway and written again
	// (half a window, on average), while each confirmation costs a new
	// connection, so with refusals at an estimated rate p per
	// notification (from the connection's recent stretches) the window
	// is √(2·4096/p), between 1,024 notifications (or Window, if less)
	// and Window; without refusals, Window.
	//
	// With ConfirmSentinel a connection whose window is full writes its
	// sentinel and waits for the answer on its own while the stream
	// opens the next connection and writes on it; that connection no
	// longer counts against Config.PoolSize (it takes nothing more and
	// the gateway closes it), only in Session.Stats().Open until it
	// ends. Each of the Connections has at most one such connection
	// waiting, so the stream holds up to 2 × Window notifications per
	// connection (one window confirmed, one written) and one chunk
	// queued (at most 1,024 notifications or 64 KiB); with the other
	// confirmations, Window and a chunk.
	Window int
	// WindowBytes bounds the same by encoded bytes (twice that per
	// connection with ConfirmSentinel, as for Window); 0 means
	// DefaultStreamWindowBytes.
	WindowBytes int
	// Confirm is how written notifications are confirmed.
	Confirm Confirmation
	// SentinelWait bounds the wait for the answer to a sentinel
	// (ConfirmSentinel); 0 means DefaultSentinelWait.
	SentinelWait time.Duration
	// CheckpointEvery, when positive, confirms a connection's window once
	// it holds that many notifications (a smaller Window for confirming,
	// the memory bound staying Window): after a silent disconnect only the
	// notifications written since the last confirmation are uncertain.
	CheckpointEvery int
	// CheckpointInterval, when positive, confirms a connection's window
	// once its oldest notification was written that long ago, and bounds
	// how long an outcome waits when pushes pause.
	CheckpointInterval time.Duration
	// MaxAttempts gives up on a notification (Unsent) once it was written
	// in that many connection stretches in a row that settled nothing
	// (none accepted, none refused); 0 means DefaultMaxAttempts.
	MaxAttempts int
	// OnOutcome receives each pushed notification's final outcome, once.
	// It is called from the stream's goroutines, never concurrently, and
	// must not call the stream's methods. nil discards outcomes.
	OnOutcome func(Delivery)
	// OnResend is told, each time a connection ended with notifications
	// to write again, how many and how many of them may have been
	// delivered already. Called like OnOutcome; nil: not told.
	OnResend func(n, uncertain int)
	// OnError receives errors not tied to one notification: error
	// responses it cannot place, lost connections, statuses that made the
	// stream resend. Called like OnOutcome; nil discards them.
	OnError func(error)
}

// DeliveryKind is the final outcome of a pushed notification.
type DeliveryKind uint8

const (
	// Delivered: the gateway accepted the notification (confirmed, or
	// presumed: see Delivery.Presumed).
	Delivered DeliveryKind = iota + 1
	// Refused: the gateway refused it for good; Delivery.Outcome says why.
	Refused
	// Unsent: the stream gave up on it (MaxAttempts), or stopped before
	// it was settled (Close's ctx ended, a connection could not be
	// opened); Delivery.Err says why. Delivery.Uncertain tells whether a
	// copy may have been delivered.
	Unsent
)

// String names the kind: "delivered", "refused" or "unsent".
func (k DeliveryKind) String() string {
	switch k {
	case Delivered:
		return "delivered"
	case Refused:
		return "refused"
	case Unsent:
		return "unsent"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Delivery is the final outcome of one pushed notification.
type Delivery struct {
	Token string // as pushed
	Tag   any    // as pushed
	Kind  DeliveryKind
	// Outcome is the gateway's answer for a Refused notification (a
	// wire.Status on the binary protocol).
	Outcome apns.Outcome
	// Err is why an Unsent notification was not settled.
	Err error
	// Attempts counts the times the notification was written.
	Attempts int
	// Uncertain: an earlier copy was written on a connection that ended
	// without saying what it processed, so it may have been delivered too
	// (a duplicate is possible), or, for Unsent, it may have been
	// delivered.
	Uncertain bool
	// Presumed: Delivered without confirmation, because no error response
	// came within the error window.
	Presumed bool
	// Response is the last HTTP/2 response (nil on the binary protocol
	// and for an Unsent notification without one).
	Response *Response
	// Timestamp is, for a notification refused with 410 Unregistered,
	// the time APNs gave: when the token was last known valid.
	Timestamp time.Time
}

// StreamStats are a stream's running totals.
type StreamStats struct {
	Pushed      int64 // notifications pushed
	Written     int64 // notifications written, resends included
	Resent      int64 // notifications written again
	Uncertain   int64 // resends of notifications whose earlier copy may have been delivered
	Delivered   int64
	Refused     int64
	Unsent      int64
	Checkpoints int64 // confirmations of a window (sentinels, close_notify, error waits)
	Connections int64 // connections taken (dialled or from the pool)
}

// Stream pushes notifications of one content to one gateway as fast as
// its connections take them, each to one device token, and reports every
// notification's final outcome asynchronously (StreamOptions.OnOutcome).
// It keeps, per connection, a bounded window of written notifications not
// yet confirmed; Push and PushMany block when every window and the small
// queue before them are full. Everything the gateway discarded is resent by the stream
// itself, by the rules documented on Result (token errors, status 10,
// processing errors, connections lost without a word), so that each
// notification's outcome is reported once. Methods are safe for
// concurrent use.
type Stream struct {
	h2      *h2Stream // the HTTP/2 side; nil on the binary protocol
	sess    *Session
	key     poolKey
	cert    *Certificate
	content prepared // the content; no tokens
	base    Message  // the content as a Message, expiry made absolute
	opt     StreamOptions
	frame   int // encoded size of a notification with an empty token
	sentOK  atomic.Bool

	ctx    context.Context // ends when the stream aborts
	cancel context.CancelCauseFunc

	mu        sync.Mutex
	cur       *chunk   // being filled by Push
	queue     []*chunk // to write, resends first
	inflight  int      // pushed and not yet reported
	inBytes   int
	maxItems  int
	maxBytes  int
	room      chan struct{} // closed when inflight drops below the bounds
	kick      chan struct{} // closed when the queue grows or a confirmation is wanted
	idle      chan struct{} // closed when inflight is 0
	flushing  int           // Flush calls waiting
	starved   int           // Push calls waiting for room
	closing   bool
	err       error        // the stream failed: Push refuses
	refusedBy apns.Outcome // a message-level refusal: every notification fails with it

	outMu sync.Mutex
	wg    sync.WaitGroup
	stats struct {
		pushed, written, resent, uncertain, delivered, refused, unsent, checkpoints, conns atomic.Int64
	}
}

// chunkItems and chunkBytes bound a chunk: the notifications a connection
// takes from the queue at once.
const (
	chunkItems = 1024
	chunkBytes = chunkSize
)

// chunk is notifications queued or written together, with what the
// stream knows of each. A chunk is written once; once every notification
// of it is reported or copied into a resend's chunk, it is recycled
// (Stream.free), its storage kept for the next one.
type chunk struct {
	tokens   []string
	ends     []int32 // ends[i] is where token i's bytes end in bin
	bin      []byte
	meta     []itemMeta
	bytes    int       // encoded size
	written  time.Time // when its write ended
	first    time.Time // when its first notification was pushed
	sentinel bool

	// b is the batch that writes the chunk (worker.batchOf), with prep
	// its binary form and toks the slices of bin prep.tokens holds: kept
	// with the chunk so that writing one allocates nothing.
	b    batch
	prep prepared
	toks [][]byte
	// marks holds what a settlement decided for each notification
	// (worker.apply); empty when it decided nothing but deliveries.
	marks []mark
}

// mark is a settlement's verdict on one notification: refused with failed,
// or to resend (uncertain: a copy may have been delivered); the zero mark
// is delivered.
type mark struct {
	failed    apns.Outcome
	retry     bool
	uncertain bool
}

// deliveries recycles the buffers outcomes are reported from (at most
// chunkItems each; report does not keep them).
var deliveries = sync.Pool{New: func() any { ds := make([]Delivery, 0, chunkItems); return &ds }}

// getDeliveries returns an empty buffer of deliveries; putDeliveries
// recycles it.
func getDeliveries() *[]Delivery { return deliveries.Get().(*[]Delivery) }

func putDeliveries(ds *[]Delivery) {
	*ds = (*ds)[:0]
	clear((*ds)[:cap(*ds)]) // let go of tokens, tags and errors
	deliveries.Put(ds)
}

// chunks recycles chunks between streams.
var chunks = sync.Pool{New: func() any { return new(chunk) }}

// newChunk returns an empty chunk, recycled when one is free.
func newChunk() *chunk { return chunks.Get().(*chunk) }

// free recycles ch, whose notifications have all been reported or copied
// into other chunks: nothing may use it afterwards. The caller's tokens and
// tags are let go at once.
func (ch *chunk) free() {
	if ch.sentinel {
		return
	}
	clear(ch.tokens)
	clear(ch.meta)
	clear(ch.marks)
	*ch = chunk{tokens: ch.tokens[:0], ends: ch.ends[:0], bin: ch.bin[:0], meta: ch.meta[:0],
		b: batch{ids: ch.b.ids[:0]}, toks: ch.toks[:0], marks: ch.marks[:0]}
	chunks.Put(ch)
}

type itemMeta struct {
	tag       any
	attempts  uint16
	fruitless uint16
	uncertain bool
}

func (ch *chunk) token(i int) []byte {
	from := int32(0)
	if i > 0 {
		from = ch.ends[i-1]
	}
	return ch.bin[from:ch.ends[i]:ch.ends[i]]
}

func (ch *chunk) add(tok string, bin []byte, m itemMeta, frame int) {
	if ch.tokens == nil {
		ch.tokens = make([]string, 0, chunkItems)
		ch.ends = make([]int32, 0, chunkItems)
		ch.meta = make([]itemMeta, 0, chunkItems)
		ch.bin = make([]byte, 0, chunkItems*32)
	}
	ch.tokens = append(ch.tokens, tok)
	ch.bin = append(ch.bin, bin...)
	ch.ends = append(ch.ends, int32(len(ch.bin)))
	ch.meta = append(ch.meta, m)
	ch.bytes += frame + len(bin)
}

func (ch *chunk) full() bool { return len(ch.tokens) >= chunkItems || ch.bytes >= chunkBytes }

// Stream opens a stream of content (its Tokens are ignored; a relative
// expiry counts from now) to the gateway at addr, authenticated with cert.
// It fails like Send for a bad address, certificate, content or options
// (ErrBadConfig); connections are opened when the first notifications
// are pushed. Close it before Shutdown.
func (s *Session) Stream(addr string, cert *Certificate, content *Message, opt StreamOptions) (*Stream, error) {
	a, proto, err := s.endpoint(addr)
	if err != nil {
		return nil, err
	}
	if proto == apns.HTTP2 {
		c, err := s.http2Client(a, cert)
		if err != nil {
			return nil, err
		}
		return c.Stream(content, opt)
	}
	if cert == nil {
		return nil, ErrNoCertificate
	}
	if content == nil {
		return nil, ErrBadPayload
	}
	m := *content
	m.Tokens = []string{"00"}
	p, err := m.prepare(time.Now(), nil)
	if err != nil {
		return nil, err
	}
	p.tokens = nil
	if opt, err = opt.withDefaults(s.cfg.PoolSize); err != nil {
		return nil, err
	}
	st := &Stream{sess: s, key: poolKey{addr: a, id: cert.Identity()}, cert: cert, content: *p, opt: opt}
	st.base = newBatch(&m, p).retryBase
	enc, _ := p.frame.Append(nil, nil, 0)
	st.frame = len(enc)
	windows := 1
	if opt.Confirm == ConfirmSentinel { // one window written, one confirmed
		windows = 2
	}
	st.maxItems = opt.Connections * (windows*opt.Window + chunkItems)
	st.maxBytes = opt.Connections * (windows*opt.WindowBytes + chunkBytes)
	st.ctx, st.cancel = context.WithCancelCause(context.Background())
	st.room, st.kick, st.idle = make(chan struct{}), make(chan struct{}), make(chan struct{})
	close(st.idle)
	for range opt.Connections {
		w := &worker{st: st}
		st.wg.Go(w.run)
	}
	return st, nil
}

func (o StreamOptions) withDefaults(poolSize int) (StreamOptions, error) {
	for name, v := range map[string]int{"Connections": o.Connections, "Window": o.Window, "WindowBytes": o.WindowBytes,
		"CheckpointEvery": o.CheckpointEvery, "MaxAttempts": o.MaxAttempts} {
		if v < 0 {
			return o, fmt.Errorf("%w: StreamOptions.%s is negative (%d)", ErrBadConfig, name, v)
		}
	}
	if o.SentinelWait < 0 || o.CheckpointInterval < 0 {
		return o, fmt.Errorf("%w: StreamOptions durations must not be negative", ErrBadConfig)
	}
	if o.Confirm > ConfirmByClose {
		return o, fmt.Errorf("%w: StreamOptions.Confirm %d", ErrBadConfig, o.Confirm)
	}
	if o.Connections == 0 {
		o.Connections = poolSize
	}
	if o.Connections > poolSize {
		return o, fmt.Errorf("%w: StreamOptions.Connections %d exceeds PoolSize %d", ErrBadConfig, o.Connections, poolSize)
	}
	if o.Window == 0 {
		o.Window = DefaultStreamWindow
	}
	if o.WindowBytes == 0 {
		o.WindowBytes = DefaultStreamWindowBytes
	}
	if o.SentinelWait == 0 {
		o.SentinelWait = DefaultSentinelWait
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	return o, nil
}

// Push queues one notification to token (hex, as in Message.Tokens) with
// tag, the caller's mark returned in its Delivery. It blocks while the
// stream is full, until ctx ends. It fails with a *TokenError (ErrBadToken)
// for a token that does not parse, ErrStreamClosed after Close, the error
// that stopped the stream (such as ErrConnect), or ctx's error; nothing
// was queued then.
func (st *Stream) Push(ctx context.Context, token string, tag any) error {
	if st.h2 != nil {
		return st.h2.push(ctx, token, tag)
	}
	var buf [apns.MaxTokenLength]byte
	bin, err := apns.AppendParsedToken(buf[:0], token)
	if err != nil {
		return &TokenError{Token: token, Err: err}
	}
	st.mu.Lock()
	if err := st.waitRoomLocked(ctx); err != nil {
		st.mu.Unlock()
		return err
	}
	st.addLocked(token, bin, tag)
	st.mu.Unlock()
	st.pushed(1)
	return nil
}

// ErrTagCount: PushMany was given tags, but not one per token.
var ErrTagCount = errors.New("apns: not one tag per token")

// pushGroup is how many notifications PushMany parses before it takes the
// stream's lock to queue them.
const pushGroup = 64

// PushMany queues one notification to each of tokens, in order, as Push
// does, with tags[i] the tag of tokens[i] (tags nil: every tag nil;
// otherwise one per token, or ErrTagCount and nothing queued). It returns
// how many it queued: all of them, or those before the token it failed on,
// with Push's errors (a *TokenError names that token). It costs less per
// notification than Push: the stream's lock is taken once for a group of
// them.
func (st *Stream) PushMany(ctx context.Context, tokens []string, tags []any) (int, error) {
	if tags != nil && len(tags) != len(tokens) {
		return 0, fmt.Errorf("%w: %d tags for %d tokens", ErrTagCount, len(tags), len(tokens))
	}
	tagOf := func(i int) any {
		if tags == nil {
			return nil
		}
		return tags[i]
	}
	if st.h2 != nil {
		for i, t := range tokens {
			if err := st.h2.push(ctx, t, tagOf(i)); err != nil {
				return i, err
			}
		}
		return len(tokens), nil
	}
	var buf [pushGroup * apns.MaxTokenLength]byte
	var ends [pushGroup]int
	done := 0
	for done < len(tokens) {
		// Parse a group outside the lock, up to the first bad token.
		group := tokens[done:min(done+pushGroup, len(tokens))]
		bin := buf[:0]
		var bad error
		for j, t := range group {
			var err error
			if bin, err = apns.AppendParsedToken(bin, t); err != nil {
				group, bad = group[:j], &TokenError{Token: t, Err: err}
				break
			}
			ends[j] = len(bin)
		}
		st.mu.Lock()
		queued := 0
		for j, t := range group {
			if err := st.waitRoomLocked(ctx); err != nil {
				st.mu.Unlock()
				st.pushed(queued)
				return done + queued, err
			}
			from := 0
			if j > 0 {
				from = ends[j-1]
			}
			st.addLocked(t, bin[from:ends[j]], tagOf(done+j))
			queued++
		}
		st.mu.Unlock()
		st.pushed(queued)
		done += queued
		if bad != nil {
			return done, bad
		}
	}
	return done, nil
}

// waitRoomLocked waits, with st.mu held (released while it blocks), until
// the stream has room for one more notification; it fails with the
// stream's refusal or ctx's error.
func (st *Stream) waitRoomLocked(ctx context.Context) error {
	for {
		if err := st.refuseLocked(); err != nil {
			return err
		}
		if st.inflight < st.maxItems && st.inBytes < st.maxBytes {
			return nil
		}
		room := st.room
		st.starved++
		st.kickLocked()
		st.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			st.mu.Lock()
			st.starved--
			return ctx.Err()
		}
		st.mu.Lock()
		st.starved--
	}
}

// addLocked queues the notification to token, bin its bytes, with tag;
// st.mu is held and there is room.
func (st *Stream) addLocked(token string, bin []byte, tag any) {
	if st.inflight == 0 {
		st.idle = make(chan struct{})
	}
	st.inflight++
	st.inBytes += st.frame + len(bin)
	if st.cur == nil {
		st.cur = newChunk()
		st.cur.first = time.Now()
		if st.opt.CheckpointInterval > 0 {
			// A worker waiting with nothing to time wakes to start
			// this chunk's CheckpointInterval timer.
			st.kickLocked()
		}
	}
	st.cur.add(token, bin, itemMeta{tag: tag}, st.frame)
	if st.cur.full() {
		st.queue = append(st.queue, st.cur)
		st.cur = nil
		st.kickLocked()
	}
}

// pushed counts n notifications queued.
func (st *Stream) pushed(n int) {
	if n == 0 {
		return
	}
	st.stats.pushed.Add(int64(n))
	if mt := st.sess.cfg.Metrics; mt != nil {
		mt.InFlight(metricsBinary, n)
	}
}

func (st *Stream) refuseLocked() error {
	switch {
	case st.err != nil:
		return st.err
	case st.closing:
		return ErrStreamClosed
	}
	return nil
}

func (st *Stream) kickLocked() {
	close(st.kick)
	st.kick = make(chan struct{})
}

// Flush waits until every notification pushed so far has its outcome
// reported: each connection confirms what it wrote (see Confirm). It
// returns ctx's error if ctx ends first (the stream goes on), or the error
// that stopped the stream.
func (st *Stream) Flush(ctx context.Context) error {
	if st.h2 != nil {
		return st.h2.flush(ctx)
	}
	st.mu.Lock()
	if st.cur != nil {
		st.queue = append(st.queue, st.cur)
		st.cur = nil
	}
	st.flushing++
	st.kickLocked()
	idle := st.idle
	st.mu.Unlock()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = ctx.Err()
	}
	st.mu.Lock()
	st.flushing--
	if err == nil {
		err = st.err
	}
	st.mu.Unlock()
	return err
}

// Close flushes the stream, then stops it and returns its connections to
// the pool (those the gateway closed after a sentinel are gone). If ctx
// ends first, the connections are closed hard and every notification not
// yet settled is reported Unsent (Uncertain when it was written) with ctx's
// error, which Close returns. Close returns the error that stopped the
// stream, if any; calling it again returns at once.
func (st *Stream) Close(ctx context.Context) error {
	if st.h2 != nil {
		return st.h2.close(ctx)
	}
	err := st.Flush(ctx)
	st.mu.Lock()
	st.closing = true
	st.kickLocked()
	st.mu.Unlock()
	if err != nil {
		st.cancel(err)
	}
	st.wg.Wait()
	cause := st.stopped()
	if cause == nil {
		cause = ErrStreamClosed
	}
	st.drain(cause)
	st.cancel(ErrStreamClosed)
	return err
}

// drain reports everything still queued Unsent with err.
func (st *Stream) drain(err error) {
	st.mu.Lock()
	rest := st.queue
	st.queue = nil
	if st.cur != nil {
		rest = append(rest, st.cur)
		st.cur = nil
	}
	st.mu.Unlock()
	for _, ch := range rest {
		st.giveUp(ch, err)
	}
}

// Stats returns the running totals.
func (st *Stream) Stats() StreamStats {
	s := &st.stats
	return StreamStats{Pushed: s.pushed.Load(), Written: s.written.Load(), Resent: s.resent.Load(),
		Uncertain: s.uncertain.Load(), Delivered: s.delivered.Load(), Refused: s.refused.Load(),
		Unsent: s.unsent.Load(), Checkpoints: s.checkpoints.Load(), Connections: s.conns.Load()}
}

// fail stops the stream with err (the first error wins): pushes are
// refused and nothing more is written, but each worker still settles the
// window it wrote, so that what the gateway processed is reported by what
// it answered; what is left is reported Unsent with err. Unlike an abort
// (Close's ctx ended), other connections are not closed hard: one
// connection's failure must not turn another's accepted notifications
// into unsent ones.
func (st *Stream) fail(err error) {
	st.mu.Lock()
	if st.err == nil {
		st.err = err
	}
	st.kickLocked()
	st.mu.Unlock()
}

// stopped is why the stream stopped (it failed, or was aborted), nil
// while it runs.
func (st *Stream) stopped() error {
	st.mu.Lock()
	err := st.err
	st.mu.Unlock()
	if err != nil {
		return err
	}
	return context.Cause(st.ctx)
}

// next is a worker's next task: a chunk to write, or (nil, true) to
// confirm its window, or (nil, false) to stop. hasWindow says whether the
// worker has notifications to confirm; oldest is when the oldest was
// written.
func (st *Stream) next(hasWindow bool, oldest time.Time) (*chunk, bool) {
	st.mu.Lock()
	for {
		if st.ctx.Err() != nil {
			st.mu.Unlock()
			return nil, false
		}
		if st.err != nil { // failed: settle the window, write nothing more
			st.mu.Unlock()
			return nil, hasWindow
		}
		if len(st.queue) > 0 {
			ch := st.queue[0]
			st.queue[0] = nil
			st.queue = st.queue[1:]
			st.mu.Unlock()
			return ch, false
		}
		iv := st.opt.CheckpointInterval
		now := time.Now()
		due := func(t time.Time) bool { return iv > 0 && !now.Before(t.Add(iv)) }
		want := st.flushing > 0 || st.closing || st.starved > 0
		if st.cur != nil && (want || due(st.cur.first)) {
			st.queue = append(st.queue, st.cur)
			st.cur = nil
			continue
		}
		if hasWindow && (want || due(oldest)) {
			st.mu.Unlock()
			return nil, true
		}
		if st.closing {
			st.mu.Unlock()
			return nil, false
		}
		kick := st.kick
		var tick <-chan time.Time
		var t *time.Timer
		if iv > 0 && (hasWindow || st.cur != nil) {
			next := oldest
			if st.cur != nil && (!hasWindow || st.cur.first.Before(oldest)) {
				next = st.cur.first
			}
			t = time.NewTimer(time.Until(next.Add(iv)))
			tick = t.C
		}
		st.mu.Unlock()
		select {
		case <-kick:
		case <-tick:
		case <-st.ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		st.mu.Lock()
	}
}

// requeue queues resends at the front; once the stream has stopped, they
// are reported Unsent.
func (st *Stream) requeue(chs []*chunk) {
	if len(chs) == 0 {
		return
	}
	st.mu.Lock()
	if st.err != nil || st.ctx.Err() != nil {
		err := st.err
		if err == nil {
			err = context.Cause(st.ctx)
		}
		st.mu.Unlock()
		for _, ch := range chs {
			st.giveUp(ch, err)
		}
		return
	}
	st.queue = append(chs, st.queue...)
	st.kickLocked()
	st.mu.Unlock()
}

// report delivers outcomes and frees their room: n notifications, bytes
// encoded bytes.
func (st *Stream) report(ds []Delivery, bytes int) {
	if len(ds) == 0 {
		return
	}
	var del, ref, uns int64
	for i := range ds {
		switch ds[i].Kind {
		case Delivered:
			del++
		case Refused:
			ref++
		default:
			uns++
		}
	}
	st.stats.delivered.Add(del)
	st.stats.refused.Add(ref)
	st.stats.unsent.Add(uns)
	if mt := st.sess.cfg.Metrics; mt != nil {
		reportDeliveries(mt, metricsBinary, ds, int(del), int(uns))
	}
	if f := st.opt.OnOutcome; f != nil {
		st.outMu.Lock()
		for i := range ds {
			f(ds[i])
		}
		st.outMu.Unlock()
	}
	st.settled(len(ds), bytes)
}

// reportChunk reports every notification of ch with d's outcome (its
// Kind, Outcome, Err and Presumed; token, tag, attempts and uncertainty
// from ch) and frees their room, as report does, without gathering the
// deliveries first when no Metrics needs them. ch is left as it was.
func (st *Stream) reportChunk(ch *chunk, d Delivery) {
	n := len(ch.tokens)
	if n == 0 {
		return
	}
	of := func(i int) Delivery {
		m := &ch.meta[i]
		d.Token, d.Tag, d.Attempts, d.Uncertain = ch.tokens[i], m.tag, int(m.attempts), m.uncertain
		return d
	}
	if st.sess.cfg.Metrics != nil {
		buf := getDeliveries()
		ds := *buf
		for i := range n {
			ds = append(ds, of(i))
		}
		st.report(ds, ch.bytes)
		*buf = ds
		putDeliveries(buf)
		return
	}
	switch d.Kind {
	case Delivered:
		st.stats.delivered.Add(int64(n))
	case Refused:
		st.stats.refused.Add(int64(n))
	default:
		st.stats.unsent.Add(int64(n))
	}
	if f := st.opt.OnOutcome; f != nil {
		st.outMu.Lock()
		for i := range n {
			f(of(i))
		}
		st.outMu.Unlock()
	}
	st.settled(n, ch.bytes)
}

// settled frees the room of n reported notifications of bytes encoded
// bytes, waking Push and Flush as needed.
func (st *Stream) settled(n, bytes int) {
	st.mu.Lock()
	wasFull := st.inflight >= st.maxItems || st.inBytes >= st.maxBytes
	st.inflight -= n
	st.inBytes -= bytes
	if wasFull && st.inflight < st.maxItems && st.inBytes < st.maxBytes {
		close(st.room)
		st.room = make(chan struct{})
	}
	if st.inflight == 0 {
		close(st.idle)
	}
	st.mu.Unlock()
}

// reportErr hands an error not tied to a notification to OnError.
func (st *Stream) reportErr(err error) {
	st.sess.cfg.Logger.Debug("stream", "err", err)
	if f := st.opt.OnError; f != nil {
		st.outMu.Lock()
		f(err)
		st.outMu.Unlock()
	}
}

// giveUp reports every notification of ch Unsent with err and recycles
// ch.
func (st *Stream) giveUp(ch *chunk, err error) {
	if ch.sentinel {
		return
	}
	st.reportChunk(ch, Delivery{Kind: Unsent, Err: err})
	ch.free()
}

// refuseAll reports every notification of ch Refused with o and recycles
// ch.
func (st *Stream) refuseAll(ch *chunk, o apns.Outcome) {
	st.reportChunk(ch, Delivery{Kind: Refused, Outcome: o})
	ch.free()
}

// messageRefusal returns the message-level refusal that fails every
// notification of the stream, if one came.
func (st *Stream) messageRefusal() apns.Outcome {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.refusedBy
}

func (st *Stream) setMessageRefusal(o apns.Outcome) {
	st.mu.Lock()
	if st.refusedBy == nil {
		st.refusedBy = o
	}
	st.mu.Unlock()
}

// isMessageLevel reports whether o refuses the content rather than a token.
func isMessageLevel(o apns.Outcome) bool {
	st, ok := o.(wire.Status)
	return ok && st.Disposition() == wire.DropMessage
}
