package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/apnskit/apnskit/apns"
)

// The HTTP/2 sender is built on x/net/http2's Framer and hpack rather than
// its Transport: one writer goroutine per connection encodes every request
// that is ready into one buffer and flushes once, one reader goroutine
// matches answers to streams, and the bookkeeping an APNs client needs
// (the stream limit as it changes, GOAWAY's last stream ID, refused
// streams, PING health checks) is explicit state of the connection.

// Settings and windows the client announces.
const (
	h2RecvWindow      = 1 << 20 // per stream and for the connection
	h2MaxHeaderList   = 16 << 10
	h2MaxStreamID     = 1<<31 - 1
	h2DefaultStreams  = 100 // until the server's SETTINGS says otherwise
	h2DefaultWindow   = 65535
	h2DefaultMaxFrame = 16384
)

// h2Request is one request on its way through the pool: what to send,
// and the answer, set before the request is sent on done.
type h2Request struct {
	path   string
	header []hpack.HeaderField // apns-* and content-type, shared by a message
	auth   string              // "bearer <jwt>" or ""
	body   []byte
	born   uint32 // the pool's tick when it was submitted
	done   chan<- *h2Request

	idx, attempts int       // Send's bookkeeping
	jwt           string    // the provider token it carried
	start         time.Time // when the attempt was submitted, with Metrics set (metrics.go)

	// A Stream's bookkeeping.
	token     string
	tag       any
	lost      int  // attempts in a row that got no response
	unheard   int  // attempts that got no response, in all: not counted against HTTP2Retry.MaxAttempts
	uncertain bool // an attempt without response had been written

	status   int
	apnsID   string
	uniqueID string
	respBody []byte
	bodyCut  bool // the stream ended, reset, before the body did
	err      error

	wrote    atomic.Bool // HEADERS handed to the connection
	canceled atomic.Bool
	cc       atomic.Pointer[h2Conn] // the connection holding it, nil in transit
	id       uint32                 // its stream, guarded by cc.mu
}

// finish ends r with its answer (err nil) or err; the caller has taken it
// out of every queue and stream table.
func (r *h2Request) finish(err error) {
	r.err = err
	r.done <- r
}

// cancel withdraws a request whose caller gave up: a queued one is
// dropped, a started one reset with CANCEL.
func (r *h2Request) cancel() {
	r.canceled.Store(true)
	for {
		cc := r.cc.Load()
		if cc == nil {
			return // in transit: the next connection sees canceled
		}
		cc.mu.Lock()
		if r.cc.Load() != cc {
			cc.mu.Unlock()
			continue
		}
		if r.id != 0 && cc.streams[r.id] == r {
			delete(cc.streams, r.id)
			cc.resets = append(cc.resets, r.id)
			cc.kickLocked()
		}
		cc.mu.Unlock()
		return
	}
}

// errStreamRefused marks a request the server did not process (above a
// GOAWAY's last stream ID, or reset with REFUSED_STREAM): it goes to
// another connection.
var errStreamRefused = errors.New("apns: stream refused by the server")

// GoAwayError is the error of a request a connection-level refusal
// turned away: a GOAWAY whose reason is not one to retry (for example
// BadCertificateEnvironment, for a certificate of the other environment).
// It matches ErrConnect, and ErrCertificateRefused when the reason is
// about the certificate; Reason matches with errors.Is.
type GoAwayError struct {
	Code   http2.ErrCode
	Reason apns.Reason // from the debug data; "" when it held none
}

// Error reads "apns: GOAWAY NO_ERROR: BadCertificateEnvironment".
func (e *GoAwayError) Error() string {
	s := "apns: GOAWAY " + e.Code.String()
	if e.Reason != "" {
		s += ": " + string(e.Reason)
	}
	return s
}

// Unwrap returns ErrConnect (and ErrCertificateRefused for a certificate
// reason) and the reason.
func (e *GoAwayError) Unwrap() []error {
	errs := []error{ErrConnect}
	if e.Reason == apns.ReasonBadCertificate || e.Reason == apns.ReasonBadCertificateEnvironment {
		errs = append(errs, ErrCertificateRefused)
	}
	if e.Reason != "" {
		errs = append(errs, e.Reason)
	}
	return errs
}

// h2Conn is one HTTP/2 connection of the pool.
type h2Conn struct {
	pool *h2Pool
	nc   net.Conn
	bw   *bufio.Writer
	wfr  *http2.Framer // writes into bw; only the writer goroutine
	rfr  *http2.Framer
	enc  *hpack.Encoder
	ebuf bytes.Buffer

	kick    chan struct{} // cap 1: the writer has work
	pingAck chan struct{} // cap 1
	quit    chan struct{} // closed by close
	gone    chan struct{} // closed when the goroutines ended
	wg      sync.WaitGroup

	mu          sync.Mutex
	queue       []*h2Request // accepted, not started
	streams     map[uint32]*h2Request
	nextID      uint32
	maxStreams  int
	sendWindow  int64
	initWindow  int64
	maxFrame    uint32
	settingsOK  bool // the server's first SETTINGS arrived
	ackSettings int
	pings       [][8]byte // PING ACKs to write
	ping        bool      // a health PING to write
	resets      []uint32
	recvUnacked uint32
	draining    bool // GOAWAY received or IDs used up: no new streams
	closed      bool
	unusable    bool          // closed by a read failure before the server's first SETTINGS
	err         error         // why it closed
	reads       atomic.Uint64 // frames read, for the health check
}

// newH2Conn starts the connection's goroutines on nc, a TLS connection
// that negotiated h2.
func newH2Conn(p *h2Pool, nc net.Conn) (*h2Conn, error) {
	cc := &h2Conn{
		pool: p, nc: nc, bw: bufio.NewWriterSize(nc, 32<<10),
		kick: make(chan struct{}, 1), pingAck: make(chan struct{}, 1), quit: make(chan struct{}), gone: make(chan struct{}),
		streams: map[uint32]*h2Request{}, nextID: 1, maxStreams: h2DefaultStreams,
		sendWindow: h2DefaultWindow, initWindow: h2DefaultWindow, maxFrame: h2DefaultMaxFrame,
	}
	cc.wfr = http2.NewFramer(cc.bw, nil)
	cc.rfr = http2.NewFramer(nil, bufio.NewReaderSize(nc, 32<<10))
	cc.rfr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	cc.rfr.MaxHeaderListSize = h2MaxHeaderList
	cc.enc = hpack.NewEncoder(&cc.ebuf)

	if _, err := io.WriteString(cc.bw, http2.ClientPreface); err != nil {
		return nil, err
	}
	err := cc.wfr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2RecvWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: h2MaxHeaderList},
	)
	if err == nil {
		err = cc.wfr.WriteWindowUpdate(0, h2RecvWindow-h2DefaultWindow)
	}
	if err == nil {
		err = cc.bw.Flush()
	}
	if err != nil {
		return nil, err
	}
	cc.wg.Add(3)
	go cc.readLoop()
	go cc.writeLoop()
	go cc.healthLoop()
	go func() {
		cc.wg.Wait()
		close(cc.gone)
	}()
	return cc, nil
}

func (cc *h2Conn) kickLocked() {
	select {
	case cc.kick <- struct{}{}:
	default:
	}
}

// acceptingLocked reports whether new requests may go to the
// connection; mu held.
func (cc *h2Conn) acceptingLocked() bool { return !cc.closed && !cc.draining }

// load returns how many more requests the connection can start at once
// (the server's stream limit less the requests it holds; 0 or less when
// it is full or takes no new requests) and how many it holds.
func (cc *h2Conn) load() (free, held int) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	held = len(cc.queue) + len(cc.streams)
	if !cc.acceptingLocked() {
		return -1 << 30, held
	}
	return cc.maxStreams - held, held
}

func (cc *h2Conn) isClosed() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.closed
}

// enqueue adds r to the connection, or reports false when it takes no new
// requests.
func (cc *h2Conn) enqueue(r *h2Request) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.acceptingLocked() {
		return false
	}
	r.cc.Store(cc)
	cc.queue = append(cc.queue, r)
	cc.kickLocked()
	return true
}

// h2Started is a request the writer is about to write, with its stream ID.
type h2Started struct {
	r  *h2Request
	id uint32
}

// writeLoop writes what the connection has to say: control frames first,
// then as many queued requests as the stream limit and the flow-control
// windows allow, flushing once per round.
func (cc *h2Conn) writeLoop() {
	defer cc.wg.Done()
	var batch []h2Started
	var pings [][8]byte
	var resets []uint32
	for {
		select {
		case <-cc.kick:
		case <-cc.quit:
			return
		}
		cc.mu.Lock()
		if cc.closed {
			cc.mu.Unlock()
			return
		}
		acks := cc.ackSettings
		cc.ackSettings = 0
		pings, cc.pings = append(pings[:0], cc.pings...), cc.pings[:0]
		resets, cc.resets = append(resets[:0], cc.resets...), cc.resets[:0]
		ping := cc.ping
		cc.ping = false
		var winUpdate uint32
		if cc.recvUnacked >= h2RecvWindow/4 {
			winUpdate, cc.recvUnacked = cc.recvUnacked, 0
		}
		batch = cc.startLocked(batch[:0])
		cc.mu.Unlock()

		err := cc.writeRound(acks, pings, ping, resets, winUpdate, batch)
		if err != nil {
			cc.fail(fmt.Errorf("%w: write: %w", ErrConnectionLost, err))
			return
		}
	}
}

// startLocked moves queued requests into streams while the server's limit
// and the windows allow; mu held.
func (cc *h2Conn) startLocked(batch []h2Started) []h2Started {
	if !cc.settingsOK {
		return batch // the stream limit is not known yet
	}
	n := 0
	for _, r := range cc.queue {
		if r.canceled.Load() {
			r.cc.Store(nil)
			n++
			continue
		}
		need := int64(len(r.body))
		if len(cc.streams) >= cc.maxStreams || need > cc.sendWindow || cc.draining {
			break
		}
		if need > cc.initWindow {
			r.cc.Store(nil)
			r.finish(fmt.Errorf("%w: the server's stream window (%d bytes) is smaller than the payload (%d bytes)",
				ErrConnectionLost, cc.initWindow, need))
			n++
			continue
		}
		id := cc.nextID
		cc.nextID += 2
		if cc.nextID > h2MaxStreamID {
			cc.draining = true // the next request goes to a new connection
			go cc.pool.forget(cc)
		}
		r.id = id
		r.wrote.Store(true)
		cc.streams[id] = r
		cc.sendWindow -= need
		batch = append(batch, h2Started{r: r, id: id})
		n++
	}
	rest := copy(cc.queue, cc.queue[n:])
	clear(cc.queue[rest:])
	cc.queue = cc.queue[:rest]
	if cc.draining && len(cc.queue) > 0 {
		moved := cc.queue
		cc.queue = nil
		go cc.pool.resubmit(moved)
	}
	return batch
}

// writeRound writes one round of frames and flushes them; only writeLoop.
func (cc *h2Conn) writeRound(acks int, pings [][8]byte, ping bool, resets []uint32, winUpdate uint32, batch []h2Started) error {
	fr := cc.wfr
	for range acks {
		if err := fr.WriteSettingsAck(); err != nil {
			return err
		}
	}
	for _, p := range pings {
		if err := fr.WritePing(true, p); err != nil {
			return err
		}
	}
	if ping {
		if err := fr.WritePing(false, [8]byte{'a', 'p', 'n', 's', 'k', 'i', 't', 0}); err != nil {
			return err
		}
	}
	for _, id := range resets {
		if err := fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			return err
		}
	}
	if winUpdate > 0 {
		if err := fr.WriteWindowUpdate(0, winUpdate); err != nil {
			return err
		}
	}
	for _, s := range batch {
		if err := cc.writeRequest(s.r, s.id); err != nil {
			return err
		}
	}
	return cc.bw.Flush()
}

// writeRequest writes the HEADERS and DATA of one request.
func (cc *h2Conn) writeRequest(r *h2Request, id uint32) error {
	cc.ebuf.Reset()
	enc := cc.enc
	_ = enc.WriteField(hpack.HeaderField{Name: ":method", Value: "POST"})
	_ = enc.WriteField(hpack.HeaderField{Name: ":scheme", Value: "https"})
	_ = enc.WriteField(hpack.HeaderField{Name: ":authority", Value: cc.pool.authority})
	_ = enc.WriteField(hpack.HeaderField{Name: ":path", Value: r.path, Sensitive: true})
	if r.auth != "" {
		_ = enc.WriteField(hpack.HeaderField{Name: "authorization", Value: r.auth})
	}
	for _, f := range r.header {
		_ = enc.WriteField(f)
	}
	_ = enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(r.body))})
	block := cc.ebuf.Bytes()
	max := int(cc.maxFrameSize())
	first := true
	for first || len(block) > 0 {
		chunk := block[:min(len(block), max)]
		block = block[len(chunk):]
		var err error
		if first {
			err = cc.wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: chunk,
				EndHeaders: len(block) == 0, EndStream: len(r.body) == 0})
			first = false
		} else {
			err = cc.wfr.WriteContinuation(id, len(block) == 0, chunk)
		}
		if err != nil {
			return err
		}
	}
	body := r.body
	for len(body) > 0 {
		chunk := body[:min(len(body), max)]
		body = body[len(chunk):]
		if err := cc.wfr.WriteData(id, len(body) == 0, chunk); err != nil {
			return err
		}
	}
	return nil
}

func (cc *h2Conn) maxFrameSize() uint32 {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.maxFrame
}

// readLoop reads the server's frames until the connection ends.
func (cc *h2Conn) readLoop() {
	defer cc.wg.Done()
	for {
		f, err := cc.rfr.ReadFrame()
		if err != nil {
			cc.readFailed(err)
			return
		}
		cc.reads.Add(1)
		if err := cc.handle(f); err != nil {
			cc.fail(err)
			return
		}
	}
}

// handle applies one frame from the server.
func (cc *h2Conn) handle(f http2.Frame) error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		err := f.ForeachSetting(func(s http2.Setting) error {
			switch s.ID {
			case http2.SettingMaxConcurrentStreams:
				cc.maxStreams = int(min(s.Val, 1<<20))
			case http2.SettingInitialWindowSize:
				cc.initWindow = int64(s.Val)
			case http2.SettingMaxFrameSize:
				cc.maxFrame = s.Val
			}
			return nil
		})
		if err != nil {
			return err
		}
		cc.settingsOK = true
		cc.ackSettings++
		cc.kickLocked()
	case *http2.MetaHeadersFrame:
		r := cc.streams[f.StreamID]
		if r == nil {
			return nil // canceled, or not ours
		}
		if st := f.PseudoValue("status"); st != "" && r.status == 0 {
			r.status, _ = strconv.Atoi(st)
			r.apnsID = headerValue(f, "apns-id")
			r.uniqueID = headerValue(f, "apns-unique-id")
		}
		if f.StreamEnded() {
			cc.endLocked(f.StreamID, r, nil)
		}
	case *http2.DataFrame:
		cc.recvUnacked += f.Header().Length
		if cc.recvUnacked >= h2RecvWindow/4 {
			cc.kickLocked()
		}
		r := cc.streams[f.StreamID]
		if r == nil {
			return nil
		}
		if room := maxResponseBody + 1 - len(r.respBody); room > 0 {
			d := f.Data()
			r.respBody = append(r.respBody, d[:min(len(d), room)]...)
		}
		if f.StreamEnded() {
			cc.endLocked(f.StreamID, r, nil)
		}
	case *http2.RSTStreamFrame:
		r := cc.streams[f.StreamID]
		if r == nil {
			return nil
		}
		switch {
		case f.ErrCode == http2.ErrCodeRefusedStream:
			cc.endLocked(f.StreamID, r, errStreamRefused)
		case r.status != 0:
			r.bodyCut = true
			cc.endLocked(f.StreamID, r, nil)
		default:
			cc.endLocked(f.StreamID, r, fmt.Errorf("%w: stream reset by the server (%v)", ErrConnectionLost, f.ErrCode))
		}
	case *http2.GoAwayFrame:
		cc.goAwayLocked(f)
	case *http2.PingFrame:
		if f.IsAck() {
			select {
			case cc.pingAck <- struct{}{}:
			default:
			}
			return nil
		}
		cc.pings = append(cc.pings, f.Data)
		cc.kickLocked()
	case *http2.WindowUpdateFrame:
		if f.StreamID == 0 {
			cc.sendWindow += int64(f.Increment)
			cc.kickLocked()
		}
	}
	return nil
}

func headerValue(f *http2.MetaHeadersFrame, name string) string {
	for _, hf := range f.RegularFields() {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}

// endLocked ends stream id of r: with its answer (err nil) or an error;
// a refused stream goes to another connection. mu held.
func (cc *h2Conn) endLocked(id uint32, r *h2Request, err error) {
	delete(cc.streams, id)
	r.cc.Store(nil)
	if errors.Is(err, errStreamRefused) {
		r.id = 0
		go cc.pool.resubmit([]*h2Request{r})
	} else {
		if err == nil && cc.pool.refused.Load() != 0 {
			cc.pool.refused.Store(0)
		}
		r.finish(err)
	}
	if len(cc.queue) > 0 {
		cc.kickLocked()
	}
	if cc.draining && len(cc.streams) == 0 {
		go cc.close(nil)
	}
}

// goAwayLocked applies a GOAWAY: streams above its last stream ID were
// not processed and go to another connection (or fail, when the reason
// is not one to retry); those below keep waiting for their answers.
func (cc *h2Conn) goAwayLocked(f *http2.GoAwayFrame) {
	cc.draining = true
	go cc.pool.forget(cc)
	reason := goAwayReason(f.DebugData())
	var refusal error
	if f.ErrCode != http2.ErrCodeNo && reason == "" || reason != "" && reason.Disposition() != apns.Retry {
		ge := &GoAwayError{Code: f.ErrCode, Reason: reason}
		if errors.Is(ge, ErrCertificateRefused) {
			cc.pool.certRefused.Store(ge) // no other connection can do better
		}
		refusal = ge
	}
	if f.LastStreamID == 0 {
		cc.pool.refused.Add(1)
	}
	var moved []*h2Request
	for id, r := range cc.streams {
		if id > f.LastStreamID {
			delete(cc.streams, id)
			r.cc.Store(nil)
			r.id = 0
			if refusal != nil {
				r.wrote.Store(false) // the server says it did not process it
				r.finish(refusal)
			} else {
				moved = append(moved, r)
			}
		}
	}
	for _, r := range cc.queue {
		r.cc.Store(nil)
		if refusal != nil {
			r.wrote.Store(false)
			r.finish(refusal)
		} else {
			moved = append(moved, r)
		}
	}
	cc.queue = nil
	if len(moved) > 0 {
		go cc.pool.resubmit(moved)
	}
	if len(cc.streams) == 0 {
		go cc.close(nil)
	}
}

// goAwayReason reads {"reason": "..."} from GOAWAY debug data.
func goAwayReason(debug []byte) apns.Reason {
	if len(debug) == 0 || len(debug) > maxResponseBody {
		return ""
	}
	if o, ok := parseResponse(0, debug).(apns.Reason); ok {
		return o
	}
	return ""
}

// healthLoop sends a PING when no frame came from the server for an
// IdleTimeout (checked every IdleTimeout, so after one to two of them),
// and closes the connection when no answer comes in time.
func (cc *h2Conn) healthLoop() {
	defer cc.wg.Done()
	idle := cc.pool.c.cfg.IdleTimeout
	t := time.NewTimer(idle)
	defer t.Stop()
	seen := cc.reads.Load()
	for {
		select {
		case <-cc.quit:
			return
		case <-t.C:
		}
		if n := cc.reads.Load(); n != seen {
			seen = n
			t.Reset(idle)
			continue
		}
		cc.mu.Lock()
		if cc.closed {
			cc.mu.Unlock()
			return
		}
		cc.ping = true
		cc.kickLocked()
		cc.mu.Unlock()
		select {
		case <-cc.pingAck:
			seen = cc.reads.Load()
			t.Reset(idle)
		case <-time.After(cc.pool.c.cfg.PingTimeout):
			cc.fail(fmt.Errorf("%w: no PING answer within %v", ErrConnectionLost, cc.pool.c.cfg.PingTimeout))
			return
		case <-cc.quit:
			return
		}
	}
}

// fail closes the connection after an error: started requests end with
// err (they may have been delivered), queued ones go to another
// connection.
func (cc *h2Conn) fail(err error) {
	cc.close(err)
}

// readFailed ends the connection after a failed read. Before the server's
// first SETTINGS the connection never was one (a server that refused the
// client certificate with a TLS alert, which TLS 1.3 delivers on the first
// read, or that closed at once): that is a failed connect, as a failed
// dial is, wrapping ErrConnect (a *CertificateRefusedError for the
// alert); its queued requests, none of them written, fail with it unless
// other connections can take them.
func (cc *h2Conn) readFailed(err error) {
	cc.mu.Lock()
	early := !cc.settingsOK
	if early {
		cc.unusable = true
	}
	cc.mu.Unlock()
	if !early {
		cc.fail(fmt.Errorf("%w: %w", ErrConnectionLost, err))
		return
	}
	addr := cc.pool.c.addr
	if r := certificateRefusal(addr, err); r != nil {
		cc.fail(r)
		return
	}
	cc.fail(fmt.Errorf("%w: %s: closed before its SETTINGS: %w", ErrConnect, addr, err))
}

// close ends the connection. Requests still on it fail with err (or
// ErrConnectionLost when err is nil); queued ones are re-submitted.
func (cc *h2Conn) close(err error) {
	cc.mu.Lock()
	if cc.closed {
		cc.mu.Unlock()
		return
	}
	cc.closed = true
	if err == nil {
		err = fmt.Errorf("%w: connection closed", ErrConnectionLost)
	}
	cc.err = err
	streams, queue, unusable := cc.streams, cc.queue, cc.unusable
	cc.streams, cc.queue = map[uint32]*h2Request{}, nil
	cc.mu.Unlock()

	cc.pool.forget(cc)
	for _, r := range streams {
		r.cc.Store(nil)
		r.finish(err)
	}
	for _, r := range queue {
		r.cc.Store(nil)
	}
	switch {
	case len(queue) > 0 && unusable:
		go cc.pool.connectFailed(queue, err)
	case len(queue) > 0:
		go cc.pool.resubmit(queue)
	}
	close(cc.quit)
	_ = cc.nc.Close()
	cc.pool.c.cfg.Logger.Debug("apns: http2 connection closed", "addr", cc.pool.c.addr, "err", err)
}

// expire ends with err the requests on the connection submitted at tick
// cutoff or before; started ones are reset with CANCEL.
func (cc *h2Conn) expire(cutoff uint32, err error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for id, r := range cc.streams {
		if int32(cutoff-r.born) >= 0 {
			delete(cc.streams, id)
			cc.resets = append(cc.resets, id)
			r.cc.Store(nil)
			r.finish(err)
		}
	}
	n := 0
	for _, r := range cc.queue {
		if int32(cutoff-r.born) >= 0 {
			r.cc.Store(nil)
			r.finish(err)
			continue
		}
		cc.queue[n] = r
		n++
	}
	clear(cc.queue[n:])
	cc.queue = cc.queue[:n]
	if len(cc.resets) > 0 {
		cc.kickLocked()
	}
}

// waitGone waits until the goroutines ended or ctx does.
func (cc *h2Conn) waitGone(ctx context.Context) error {
	select {
	case <-cc.gone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
