package mockapns

import (
	"bufio"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/apnskit/apnskit/apns"
)

// The SETTINGS the listener announces, as observed on Apple's servers.
const (
	h2HeaderTableSize   = 4096
	h2InitialWindow     = 65535
	h2MaxFrameSize      = 16384
	h2MaxHeaderListSize = 8000
	// DefaultHTTP2MaxStreams is MAX_CONCURRENT_STREAMS of a certificate
	// connection, and of a token connection once it posted a valid
	// provider token, when Config.HTTP2MaxStreams is 0.
	DefaultHTTP2MaxStreams = 1000
)

// Bounds on what one connection may make the mock hold or do.
const (
	// h2MaxHeaderBlock bounds the encoded bytes of one header block
	// (HEADERS and its CONTINUATIONs).
	h2MaxHeaderBlock = 64 << 10
	// h2MaxContinuations bounds the CONTINUATION frames of one block.
	h2MaxContinuations = 64
	// h2MaxExtraHeaders is how many distinct unknown header names a
	// request is checked for repeats.
	h2MaxExtraHeaders = 32
	// h2MaxResetsIdle is how many streams the client may reset in a row
	// without a request completing before the connection is refused with
	// ENHANCE_YOUR_CALM.
	h2MaxResetsIdle = 1000
	// h2MaxIdleFrames is how many frames that cost the mock work but carry
	// no request (PING, SETTINGS, PRIORITY, unknown types, empty DATA
	// without END_STREAM) the client may send in a row without a request
	// completing before the connection is refused with ENHANCE_YOUR_CALM.
	h2MaxIdleFrames = 10000
	// h2WindowCredit is the consumed-bytes threshold at which the
	// connection window is given back.
	h2WindowCredit = 16384
	h2OutQueue     = 1024
	h2ReadBuf      = 64 << 10
	h2WriteBuf     = 64 << 10
	// h2CloseGrace bounds the wait for a GOAWAY to be written when the
	// server closes.
	h2CloseGrace = time.Second
)

// h2Stream is a stream whose request is still arriving.
type h2Stream struct {
	id      uint32
	req     h2Incoming
	arena   []byte // the request's header values (see h2Decoder)
	recvWin int32  // what the client may still send on it
	maxBody int
}

// h2Conn is one HTTP/2 connection. Its reader goroutine (the one serving
// the connection) owns every field not marked otherwise; the writer
// goroutine owns the Framer that writes and the send windows.
//
// What a client can make a connection hold is bounded: streams by the
// MAX_CONCURRENT_STREAMS in force (others are refused), each stream's body
// by its payload limit (its receive window, 65535 bytes, without
// validation), a header block by 64 KiB and the values decoded from it by
// what Huffman coding expands that to (an arena grown past twice
// MAX_HEADER_LIST_SIZE is dropped when its stream ends), the messages
// queued for the writer by h2OutQueue (the reader waits beyond), and the
// answers waiting for send window by the streams open. A client that
// stops reading stalls its own connection only.
type h2Conn struct {
	s       *Server
	t       *tracked
	c       net.Conn
	num     uint64
	log     *slog.Logger
	auth    h2Authenticator
	cert    bool        // the client presented a certificate
	refuse  apns.Reason // refuse the connection with this reason, after the preface
	cutting bool        // a disconnect fault fired: read nothing more

	br   *bufio.Reader
	hbuf []byte // payload of the HEADERS frame being read
	fr   *http2.Framer
	dec  *h2Decoder
	rnd  *mrand.ChaCha8

	streams map[uint32]*h2Stream
	free    []*h2Stream
	lastID  atomic.Uint32 // highest stream the client opened (read by Shutdown and Close too)

	// header block being decoded
	hdr          *h2Incoming // where fields go; c.scratch for ignored streams
	scratch      h2Incoming
	arena        *[]byte // where the values of its literals go
	scratchArena []byte
	block        []byte    // the block so far, when it spans frames
	hdrStream    *h2Stream // nil for an ignored or trailer block
	hdrEnd       bool      // END_STREAM on the HEADERS frame
	hdrSize      int
	hdrBytes     int
	hdrFrames    int
	hdrBad       string // why the block is malformed; "" if fine
	trailers     bool   // the block is a stream's trailers
	hdrRegular   bool   // a regular field was seen (pseudo fields must come first)
	extra        []string

	recvWin  int32 // connection receive window left
	unacked  int32 // consumed bytes not yet given back
	resets   int
	idle     int      // frames of h2MaxIdleFrames since the last request completed
	limits   []uint32 // MAX_CONCURRENT_STREAMS values sent, not yet acknowledged
	acked    uint32   // the acknowledged limit
	tokenOK  bool     // a valid provider token was seen
	settings bool     // the client's first SETTINGS arrived
	// timed is set while the read deadline bounds a frame begun at
	// frameSince (Config.FrameTimeout).
	timed      bool
	frameSince time.Time

	push h2Push // the request being judged (here so that it does not escape)
	resp h2Out  // its response

	lastDone     uint32   // highest stream whose request was judged
	restoreAfter int      // successes until a max_streams fault's limit is lifted
	delays       h2Delays // answers held by delay faults

	// Shared with the writer and with Shutdown and Close.
	active   atomic.Int32 // streams open or awaiting their response
	draining atomic.Bool  // GOAWAY sent or received: close once idle
	goAwayID atomic.Uint32
	// lingering is set by the writer before it bounds the reads that
	// remain (h2Writer.finish).
	lingering atomic.Bool

	out   chan h2Out
	quit  chan struct{} // closed when the reader stops
	wdone chan struct{} // closed when the writer returns
	w     h2Writer

	idler h2Idle        // armed while an idle_timeout fault can fire
	why   atomic.Uint32 // an h2Why: why the connection closes
}

// h2Authenticator is the seam to a connection's authentication. authorize
// takes a request's authorization and apns-topic values ("" when absent)
// and returns the topic the notification goes to, or the reason to refuse
// it; TokenValidated reports whether the connection has seen a valid
// provider token, which lifts its single-stream limit.
type h2Authenticator interface {
	authorize(authorization, topic string) (string, apns.Reason)
	TokenValidated() bool
}

// h2Refused is the authentication of a connection refused after its
// preface: it refuses every request (none is read).
type h2Refused struct{ reason apns.Reason }

func (a h2Refused) authorize(string, string) (string, apns.Reason) { return "", a.reason }
func (h2Refused) TokenValidated() bool                             { return false }

// h2ConnError ends a connection with a GOAWAY carrying Code.
type h2ConnError struct {
	Code   http2.ErrCode
	Detail string
}

func (e *h2ConnError) Error() string {
	return "http2 connection error " + e.Code.String() + ": " + e.Detail
}

func connErr(code http2.ErrCode, detail string) error {
	return &h2ConnError{Code: code, Detail: detail}
}

var errH2Preface = errors.New("mockapns: bad HTTP/2 client preface")

// newH2Conn prepares a connection; run serves it.
func (s *Server) newH2Conn(t *tracked, c net.Conn, num uint64, peer *x509.Certificate, log *slog.Logger) *h2Conn {
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	hc := &h2Conn{
		s: s, t: t, c: c, num: num, log: log, cert: peer != nil,
		rnd:     mrand.NewChaCha8(seed),
		streams: make(map[uint32]*h2Stream),
		recvWin: h2InitialWindow,
		out:     make(chan h2Out, h2OutQueue),
		quit:    make(chan struct{}),
		wdone:   make(chan struct{}),
	}
	hc.br = bufio.NewReaderSize(c, h2ReadBuf)
	hc.fr = http2.NewFramer(nil, hc.br)
	hc.fr.SetMaxReadFrameSize(h2MaxFrameSize)
	hc.fr.SetReuseFrames()
	hc.dec = newH2Decoder(h2HeaderTableSize, h2MaxHeaderListSize)
	hc.hdr = &hc.scratch
	hc.w.init(hc)
	if a, why := s.newConnAuth(peer); why != "" {
		hc.auth, hc.refuse = h2Refused{why}, why
	} else {
		hc.auth = a
	}
	return hc
}

// maxStreams is MAX_CONCURRENT_STREAMS for the connection's state.
func (c *h2Conn) maxStreams() uint32 {
	if !c.cert && !c.tokenOK {
		return 1
	}
	if n := c.s.cfg.HTTP2MaxStreams; n > 0 {
		return uint32(n) // Config.Validate bounds it to 2^31-1
	}
	return DefaultHTTP2MaxStreams
}

// limit is the stream limit in force: the last one the client
// acknowledged. A client may go on with the old limit until it has seen a
// new one, lower or higher; and a stream beyond the old limit that
// arrives before the acknowledgement of a raise was opened before the
// client could know of the raise (a client acknowledges a SETTINGS frame
// as soon as it has read it, before it acts on it), so it is refused: a
// client that ignores the single stream of a token connection cannot get
// away with it because its first request happened to be judged first.
func (c *h2Conn) limit() uint32 { return c.acked }

// announce sends a SETTINGS frame with a new MAX_CONCURRENT_STREAMS.
func (c *h2Conn) announce(n uint32) {
	if len(c.limits) > 64 {
		return // the client does not acknowledge; keep the old limits
	}
	c.limits = append(c.limits, n)
	c.send(h2Out{kind: outSettings, val: n})
}

// send queues a frame for the writer; it gives up when the writer is gone.
func (c *h2Conn) send(m h2Out) {
	select {
	case c.out <- m:
	case <-c.wdone:
	}
}

// run serves the connection until it ends and returns with every goroutine
// of the connection done. The connection is left for the caller to close.
func (c *h2Conn) run() {
	first := c.maxStreams()
	// Enforced from the start, as Apple does; the client's first SETTINGS
	// ACK acknowledges it.
	c.acked, c.limits = first, append(c.limits, first)
	go c.w.run(first)
	err := c.serve()
	var ce *h2ConnError
	var refusal *h2Refusal
	switch {
	case errors.As(err, &ce):
		c.log.Info("mockapns http2 connection error", "code", ce.Code.String(), "detail", ce.Detail)
		c.setWhy(whyProtocol)
		c.send(h2Out{kind: outGoAway, val: c.lastID.Load(), code: ce.Code, debug: ce.Detail, closeAfter: true})
		select {
		case <-c.wdone:
			c.linger()
		case <-c.t.cut:
		}
	case errors.As(err, &refusal):
		c.log.Info("mockapns http2 connection refused", "reason", refusal.reason)
		c.setWhy(whyRefused)
		c.send(h2Out{kind: outGoAway, code: http2.ErrCodeNo, debug: string(appendReasonBody(nil, refusal.reason, 0)), closeAfter: true})
		select {
		case <-c.wdone:
			c.linger()
		case <-c.t.cut:
		}
	case errors.Is(err, errWriterDone):
		c.linger()
	case c.timed && errors.Is(err, os.ErrDeadlineExceeded):
		c.log.Info("mockapns http2 frame timeout; closing", "since", c.frameSince, "frame_timeout", c.s.lim.frame)
		c.setWhy(whyFrame)
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
		c.log.Debug("mockapns http2 connection ended", "err", err)
	default:
		c.log.Info("mockapns http2 read failed", "err", err)
	}
	c.delays.stop()
	c.idler.stop()
	close(c.quit)
	<-c.wdone
}

// h2Refusal refuses a connection, once its preface is read, with a
// GOAWAY carrying {"reason": reason}.
type h2Refusal struct{ reason apns.Reason }

func (r *h2Refusal) Error() string { return "http2 connection refused: " + string(r.reason) }

// errWriterDone ends the reader once the writer has closed its side.
var errWriterDone = errors.New("mockapns: http2 connection closed by the server")

// linger reads and discards until the client closes or the read deadline
// the writer set passes.
func (c *h2Conn) linger() {
	_, _ = io.Copy(io.Discard, c.br)
}

// serve reads frames until the connection ends or breaks a rule.
func (c *h2Conn) serve() error {
	var preface [len(http2.ClientPreface)]byte
	_ = c.c.SetReadDeadline(time.Now().Add(handshakeTimeout))
	if _, err := io.ReadFull(c.br, preface[:]); err != nil {
		return err
	}
	if string(preface[:]) != http2.ClientPreface {
		return errH2Preface
	}
	for {
		if err := c.awaitFrame(); err != nil {
			return err
		}
		fh, err := c.fr.ReadFrameHeader()
		if err != nil {
			return c.readError(err)
		}
		select {
		case <-c.wdone:
			return errWriterDone // nothing read now can be answered
		default:
		}
		if !c.settings {
			if fh.Type != http2.FrameSettings || fh.Flags.Has(http2.FlagSettingsAck) {
				return connErr(http2.ErrCodeProtocol, "first frame is not SETTINGS")
			}
			c.settings = true
			_ = c.c.SetReadDeadline(time.Time{})
			if c.refuse != "" {
				return &h2Refusal{c.refuse}
			}
		}
		if fh.Type == http2.FrameHeaders {
			// Parsed here rather than by the Framer, which allocates a
			// frame for each.
			err = c.headersFrame(fh)
		} else {
			var f http2.Frame
			if f, err = c.fr.ReadFrameForHeader(fh); err != nil {
				return c.readError(err)
			}
			err = c.frame(f)
		}
		if err != nil {
			return err
		}
		if c.cutting {
			return errWriterDone
		}
		if c.timed {
			// The frame arrived whole: waiting for the next is the idle
			// timer's business.
			c.timed = false
			_ = c.c.SetReadDeadline(time.Time{})
			if c.lingering.Load() {
				// The writer bounded the reads meanwhile: keep its bound.
				_ = c.c.SetReadDeadline(time.Now().Add(c.s.linger))
			}
		}
		c.watchIdle()
		if c.br.Buffered() == 0 {
			// All that arrived is handled: what it caused goes out now.
			c.send(h2Out{kind: outFlush})
		}
	}
}

// awaitFrame waits, without a deadline, for the first byte of the next
// frame once the client's SETTINGS arrived (before, the preface deadline
// holds), then bounds by Config.FrameTimeout the time the frame may take
// to arrive whole, unless it is buffered whole already.
func (c *h2Conn) awaitFrame() error {
	if !c.settings || c.s.lim.frame <= 0 {
		return nil
	}
	if _, err := c.br.Peek(1); err != nil {
		return err
	}
	if b := c.br.Buffered(); b >= frameHeaderLen {
		h, _ := c.br.Peek(frameHeaderLen)
		if b >= frameHeaderLen+(int(h[0])<<16|int(h[1])<<8|int(h[2])) {
			return nil
		}
	}
	c.timed = true
	c.frameSince = time.Now()
	return c.c.SetReadDeadline(c.frameSince.Add(c.s.lim.frame))
}

// frameHeaderLen is the size of an HTTP/2 frame header.
const frameHeaderLen = 9

// readError turns a Framer error into what to do: a stream error resets
// the stream, everything else ends the connection.
func (c *h2Conn) readError(err error) error {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		c.resetStream(se.StreamID, se.Code)
		return nil
	case errors.As(err, &ce):
		detail := "malformed frame"
		if d := c.fr.ErrorDetail(); d != nil {
			detail = d.Error()
		}
		return connErr(http2.ErrCode(ce), detail)
	case errors.Is(err, http2.ErrFrameTooLarge):
		return connErr(http2.ErrCodeFrameSize, "frame larger than MAX_FRAME_SIZE")
	}
	return err
}

// resetStream answers a stream error.
func (c *h2Conn) resetStream(id uint32, code http2.ErrCode) {
	if st := c.streams[id]; st != nil {
		c.drop(st)
		c.active.Add(-1)
	}
	c.send(h2Out{kind: outRST, stream: id, code: code})
}

// frame handles one frame.
func (c *h2Conn) frame(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.PingFrame, *http2.SettingsFrame, *http2.PriorityFrame, *http2.UnknownFrame:
		c.idle++
	case *http2.DataFrame:
		if len(f.Data()) == 0 && !f.StreamEnded() {
			c.idle++
		}
	}
	if c.idle > h2MaxIdleFrames {
		return connErr(http2.ErrCodeEnhanceYourCalm, "too many frames without a request")
	}
	switch f := f.(type) {
	case *http2.ContinuationFrame:
		c.hdrFrames++
		if c.hdrFrames > h2MaxContinuations {
			return connErr(http2.ErrCodeEnhanceYourCalm, "too many CONTINUATION frames")
		}
		return c.fragment(f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.DataFrame:
		return c.data(f)
	case *http2.SettingsFrame:
		return c.settingsFrame(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			c.s.stats.h2Pings.Add(1)
			c.send(h2Out{kind: outPingAck, ping: f.Data})
		}
	case *http2.WindowUpdateFrame:
		if f.Increment == 0 {
			if f.StreamID == 0 {
				return connErr(http2.ErrCodeProtocol, "WINDOW_UPDATE of 0")
			}
			c.resetStream(f.StreamID, http2.ErrCodeProtocol)
			return nil
		}
		c.send(h2Out{kind: outPeerWindow, stream: f.StreamID, val: f.Increment})
	case *http2.RSTStreamFrame:
		return c.clientReset(f.StreamID)
	case *http2.GoAwayFrame:
		c.log.Debug("mockapns http2 GOAWAY from the client", "code", f.ErrCode.String())
		c.draining.Store(true)
		c.goAwayID.Store(c.lastID.Load())
		c.send(h2Out{kind: outDrain})
	case *http2.PushPromiseFrame:
		return connErr(http2.ErrCodeProtocol, "PUSH_PROMISE from a client")
	}
	// PRIORITY and unknown frames are ignored.
	return nil
}

func (c *h2Conn) settingsFrame(f *http2.SettingsFrame) error {
	if f.IsAck() {
		if len(c.limits) > 0 {
			c.acked = c.limits[0]
			c.limits = c.limits[1:]
		}
		return nil
	}
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			code := http2.ErrCodeProtocol
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				code = http2.ErrCode(ce)
			}
			return connErr(code, "bad setting "+s.String())
		}
		if s.ID == http2.SettingInitialWindowSize {
			c.send(h2Out{kind: outPeerInitialWindow, val: s.Val})
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.send(h2Out{kind: outSettingsAck})
	return nil
}

// headersFrame reads and checks the payload of a HEADERS frame.
func (c *h2Conn) headersFrame(fh http2.FrameHeader) error {
	if cap(c.hbuf) < int(fh.Length) {
		c.hbuf = make([]byte, h2MaxFrameSize) // the longest frame ReadFrameHeader lets through
	}
	p := c.hbuf[:fh.Length]
	if _, err := io.ReadFull(c.br, p); err != nil {
		return err
	}
	if fh.StreamID == 0 {
		return connErr(http2.ErrCodeProtocol, "HEADERS on stream 0")
	}
	pad := 0
	if fh.Flags.Has(http2.FlagHeadersPadded) {
		if len(p) < 1 {
			return connErr(http2.ErrCodeProtocol, "HEADERS too short for its padding")
		}
		pad, p = int(p[0]), p[1:]
	}
	if fh.Flags.Has(http2.FlagHeadersPriority) {
		if len(p) < 5 {
			return connErr(http2.ErrCodeProtocol, "HEADERS too short for its priority")
		}
		if binary.BigEndian.Uint32(p)&0x7fffffff == fh.StreamID {
			return connErr(http2.ErrCodeProtocol, "stream depends on itself")
		}
		p = p[5:]
	}
	if pad > len(p) {
		return connErr(http2.ErrCodeProtocol, "HEADERS padding longer than the frame")
	}
	return c.headers(fh, p[:len(p)-pad])
}

// headers starts a header block: a new stream, or trailers.
func (c *h2Conn) headers(fh http2.FrameHeader, frag []byte) error {
	id := fh.StreamID
	if id%2 == 0 {
		return connErr(http2.ErrCodeProtocol, "HEADERS on an even stream")
	}
	c.hdrSize, c.hdrBytes, c.hdrFrames, c.hdrBad, c.hdrRegular = 0, 0, 0, "", false
	c.extra = c.extra[:0]
	c.hdrEnd = fh.Flags.Has(http2.FlagHeadersEndStream)
	c.hdrStream, c.trailers = nil, false
	c.scratch.reset()
	c.hdr = &c.scratch
	c.scratchArena = c.scratchArena[:0]
	c.arena = &c.scratchArena
	c.block = c.block[:0]
	switch last := c.lastID.Load(); {
	case id <= last:
		st := c.streams[id]
		if st == nil {
			return connErr(http2.ErrCodeStreamClosed, "HEADERS on a closed stream")
		}
		if !c.hdrEnd {
			c.hdrBad = "trailers without END_STREAM"
		}
		c.hdrStream, c.trailers = st, true // decoded into scratch; the request ends
	default:
		c.lastID.Store(id)
		switch {
		case c.draining.Load() && id > c.goAwayID.Load():
			// Above the GOAWAY's last stream: ignored, never processed.
		case uint32(c.active.Load()) >= c.limit():
			c.log.Debug("mockapns http2 stream refused", "stream", id, "limit", c.limit())
			c.s.stats.h2StreamsRefused.Add(1)
			c.send(h2Out{kind: outRST, stream: id, code: http2.ErrCodeRefusedStream})
		default:
			st := c.alloc(id)
			peak(&c.s.stats.h2StreamsPeak, uint64(c.active.Add(1)))
			c.streams[id] = st
			c.hdrStream, c.hdr, c.arena = st, &st.req, &st.arena
		}
	}
	return c.fragment(frag, fh.Flags.Has(http2.FlagHeadersEndHeaders))
}

// fragment decodes one piece of a header block.
func (c *h2Conn) fragment(b []byte, end bool) error {
	c.hdrBytes += len(b)
	if c.hdrBytes > h2MaxHeaderBlock {
		return connErr(http2.ErrCodeEnhanceYourCalm, "header block too large")
	}
	block := b
	if !end || len(c.block) > 0 {
		c.block = append(c.block, b...)
		if !end {
			return nil
		}
		block = c.block
	}
	err := c.dec.decode(block, c.arena, c.onField)
	c.block = c.block[:0]
	if err != nil {
		return connErr(http2.ErrCodeCompression, "header block: "+err.Error())
	}
	return c.endHeaders()
}

// onField receives each decoded header field.
func (c *h2Conn) onField(f hpack.HeaderField) {
	c.hdrSize += int(f.Size())
	if c.hdrSize > h2MaxHeaderListSize || c.hdrBad != "" {
		return
	}
	r := c.hdr
	if strings.HasPrefix(f.Name, ":") {
		var i h2Field
		switch f.Name {
		case ":method":
			i = fMethod
		case ":path":
			i = fPath
		case ":scheme":
			i = fScheme
		case ":authority":
			i = fAuthority
		default:
			c.hdrBad = "unknown pseudo-header " + f.Name
			return
		}
		if c.hdrRegular {
			c.hdrBad = "pseudo-header after a regular one"
		} else if _, dup := r.get(i); dup {
			c.hdrBad = "repeated " + f.Name
		}
		r.set(i, f.Value)
		return
	}
	c.hdrRegular = true
	for i := 0; i < len(f.Name); i++ {
		if b := f.Name[i]; 'A' <= b && b <= 'Z' {
			c.hdrBad = "upper-case header name"
			return
		}
	}
	switch f.Name {
	case "authorization":
		r.set(fAuthorization, f.Value)
	case "apns-id":
		r.set(fAPNsID, f.Value)
	case "apns-expiration":
		r.set(fExpiration, f.Value)
	case "apns-priority":
		r.set(fPriority, f.Value)
	case "apns-push-type":
		r.set(fPushType, f.Value)
	case "apns-topic":
		r.set(fTopic, f.Value)
	case "apns-collapse-id":
		r.set(fCollapseID, f.Value)
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		c.hdrBad = "connection-specific header " + f.Name
	default:
		for _, n := range c.extra {
			if n == f.Name {
				if r.dup == "" {
					r.dup = f.Name
				}
				return
			}
		}
		if len(c.extra) < h2MaxExtraHeaders {
			c.extra = append(c.extra, f.Name)
		}
	}
}

// endHeaders acts on a complete header block.
func (c *h2Conn) endHeaders() error {
	st := c.hdrStream
	c.hdr = &c.scratch
	if st == nil {
		return nil // ignored or refused stream
	}
	switch {
	case c.hdrSize > h2MaxHeaderListSize:
		c.log.Info("mockapns http2 header list too large", "stream", st.id, "size", c.hdrSize)
		c.drop(st)
		c.send(h2Out{kind: outResponse, stream: st.id, status: 431, final: true, rstAfter: !c.hdrEnd})
		return nil
	case c.hdrBad != "":
		c.log.Info("mockapns http2 malformed request", "stream", st.id, "why", c.hdrBad)
		c.resetStream(st.id, http2.ErrCodeProtocol)
		return nil
	}
	if !c.trailers {
		if st.req.has&(1<<fMethod|1<<fPath|1<<fScheme) != 1<<fMethod|1<<fPath|1<<fScheme {
			c.log.Info("mockapns http2 request without :method, :path or :scheme", "stream", st.id)
			c.resetStream(st.id, http2.ErrCodeProtocol)
			return nil
		}
		st.maxBody = h2MaxBody(&st.req, c.s.cfg.NoValidation)
	}
	if c.hdrEnd {
		c.complete(st)
	}
	return nil
}

// data handles a DATA frame: flow control, then the body.
func (c *h2Conn) data(f *http2.DataFrame) error {
	n := int32(f.Length)
	c.recvWin -= n
	if c.recvWin < 0 {
		return connErr(http2.ErrCodeFlowControl, "DATA beyond the connection window")
	}
	c.consumed(n)
	st := c.streams[f.StreamID]
	if st == nil {
		if f.StreamID > c.lastID.Load() {
			return connErr(http2.ErrCodeProtocol, "DATA on an idle stream")
		}
		return nil // a stream already answered, reset or refused
	}
	st.recvWin -= n
	if st.recvWin < 0 {
		c.resetStream(st.id, http2.ErrCodeFlowControl)
		return nil
	}
	body := f.Data()
	if len(st.req.body)+len(body) > st.maxBody {
		c.tooLarge(st)
		if !f.StreamEnded() {
			c.send(h2Out{kind: outRST, stream: st.id, code: http2.ErrCodeNo})
		}
		return nil
	}
	st.req.body = append(st.req.body, body...)
	// A stream's window is never extended: every body the listener takes
	// fits the initial one.
	if f.StreamEnded() {
		c.complete(st)
	}
	return nil
}

// consumed gives n bytes of the connection window back, in batches.
func (c *h2Conn) consumed(n int32) {
	c.unacked += n
	if c.unacked >= h2WindowCredit {
		c.send(h2Out{kind: outWindowUpdate, val: uint32(c.unacked)})
		c.recvWin += c.unacked
		c.unacked = 0
	}
}

// clientReset handles RST_STREAM from the client.
func (c *h2Conn) clientReset(id uint32) error {
	if id > c.lastID.Load() {
		return connErr(http2.ErrCodeProtocol, "RST_STREAM on an idle stream")
	}
	if st := c.streams[id]; st != nil {
		c.drop(st)
		c.active.Add(-1)
	}
	c.resets++
	if c.resets > h2MaxResetsIdle {
		return connErr(http2.ErrCodeEnhanceYourCalm, "too many streams reset")
	}
	c.nudgeIfIdle()
	return nil
}

// nudgeIfIdle wakes the writer when a draining connection may be done.
func (c *h2Conn) nudgeIfIdle() {
	if c.draining.Load() && c.active.Load() == 0 {
		c.send(h2Out{kind: outNudge})
	}
}

func (c *h2Conn) alloc(id uint32) *h2Stream {
	var st *h2Stream
	if n := len(c.free); n > 0 {
		st = c.free[n-1]
		c.free = c.free[:n-1]
		st.req.reset()
		st.arena = st.arena[:0]
	} else {
		st = &h2Stream{}
	}
	st.id, st.recvWin, st.maxBody = id, h2InitialWindow, HTTP2MaxPayload
	return st
}

// drop forgets a stream of the map and recycles it.
func (c *h2Conn) drop(st *h2Stream) {
	delete(c.streams, st.id)
	if cap(st.req.body) > HTTP2MaxVoIPPayload {
		st.req.body = nil // do not keep large bodies around
	}
	if cap(st.arena) > 2*h2MaxHeaderListSize {
		st.arena = nil
	}
	c.free = append(c.free, st)
}

// rules are the validation rules of the connection.
func (c *h2Conn) rules() h2Rules {
	return h2Rules{tokenLength: c.s.cfg.Limits.TokenLength, noValidation: c.s.cfg.NoValidation}
}

// complete judges a request whose last frame arrived and answers it.
func (c *h2Conn) complete(st *h2Stream) {
	c.finish(st, "")
}

// tooLarge answers a request whose body went over its limit, at once.
func (c *h2Conn) tooLarge(st *h2Stream) {
	c.log.Info("mockapns http2 body over the limit", "stream", st.id, "limit", st.maxBody)
	c.finish(st, apns.ReasonPayloadTooLarge)
}

// finish judges a request, answers it, journals it and forgets the stream.
// forced, when set, is the reason for a body that could not be read whole:
// it replaces what validation says of the body.
func (c *h2Conn) finish(st *h2Stream, forced apns.Reason) {
	c.resets, c.idle = 0, 0
	at := time.Now()
	plan := c.plan(st)
	if plan.maxStreams > 0 {
		c.log.Info("mockapns max_streams fault", "streams", plan.maxStreams, "restore_after", plan.restoreAfter)
		c.announce(plan.maxStreams)
		c.restoreAfter = 0 // counted from the next success
	}
	switch plan.act {
	case h2ActReset:
		c.log.Info("mockapns rst_stream fault", "stream", st.id)
		c.drop(st)
		c.send(h2Out{kind: outRST, stream: st.id, code: http2.ErrCodeRefusedStream, final: true, flush: true})
		return
	case h2ActDisconnect:
		c.log.Info("mockapns disconnect fault", "stream", st.id)
		c.drop(st)
		c.active.Add(-1)
		c.setWhy(whyDisconnect)
		c.cutting = true // the reader stops; the writer writes what is decided, then cuts
		c.send(h2Out{kind: outCut})
		return
	case h2ActGoAway:
		c.faultGoAway(st, &plan)
		return
	}
	p := &c.push
	rules := c.rules()
	// The route first, then the credentials, then the rest of the request.
	reason := validateRoute(&st.req, rules, p)
	if reason == "" {
		authz, _ := st.req.get(fAuthorization)
		topic, _ := st.req.get(fTopic)
		rules.defaultTopic, reason = c.auth.authorize(authz, topic)
		if reason == apns.ReasonMissingTopic && rules.noValidation {
			reason = "" // without validation the topic may be absent
		}
		if !c.tokenOK && c.auth.TokenValidated() {
			c.tokenOK = true
			c.announce(c.maxStreams())
		}
	}
	if reason == "" {
		reason = validateH2(&st.req, rules, p)
	} else {
		validateH2(&st.req, rules, p) // fills p for the journal
	}
	if forced != "" && (reason == "" || reason == apns.ReasonPayloadEmpty) {
		reason = forced
	}
	var unregistered int64
	if reason == "" {
		reason, unregistered = c.s.h2Device(p)
	}
	status := 0
	if plan.act == h2ActReject {
		reason, status = plan.reason, plan.status
	}
	c.respond(st, reason, status, unregistered, plan.delay, at)
	if reason == "" && c.restoreAfter > 0 {
		if c.restoreAfter--; c.restoreAfter == 0 {
			c.announce(c.maxStreams())
		}
	}
	if plan.maxStreams > 0 {
		c.restoreAfter = plan.restoreAfter
	}
}

// respond answers a judged request (reason "" accepts it; status 0 means
// the reason's own), after delay, journals it and forgets the stream.
// unregistered, for a 410, is the time in milliseconds since the epoch.
func (c *h2Conn) respond(st *h2Stream, reason apns.Reason, status int, unregistered int64, delay time.Duration, at time.Time) {
	p := &c.push
	m := &c.resp
	*m = h2Out{kind: outResponse, stream: st.id, final: true, hasID: true}
	if v := p.apnsID; canonicalUUID(v) {
		copy(m.apnsID[:], v)
	} else {
		c.newUUID(&m.apnsID)
	}
	switch {
	case reason == "":
		m.status = 200
		if c.s.h2Sandbox() {
			m.unique = true
			c.newUUID(&m.uniqueID)
		}
	case status != 0:
		m.status, m.reason = uint16(status), reason
	default:
		m.status, m.reason = uint16(reason.Status()), reason
	}
	if m.status == 410 {
		m.timestamp = unregistered
	}
	c.s.h2Record(c, &st.req, p, m, at)
	c.lastDone = max(c.lastDone, st.id)
	c.drop(st)
	if delay <= 0 {
		c.send(*m)
		return
	}
	c.log.Info("mockapns delay fault", "stream", m.stream, "delay", delay)
	late := *m
	late.flush = true
	c.delays.after(delay, func() { c.send(late) })
}

// faultGoAway sends GOAWAY for a goaway fault: its last stream is the one
// the fault names, else the last stream processed; the triggering request
// is answered with the fault's reason when it is not above it, and every
// stream above it is dropped unanswered. The connection closes once the
// streams up to it are answered.
func (c *h2Conn) faultGoAway(st *h2Stream, plan *h2Plan) {
	last := c.lastDone
	if plan.hasLast {
		last = plan.lastStreamID
	}
	c.log.Info("mockapns goaway fault", "stream", st.id, "last_stream_id", last, "reason", plan.reason)
	c.setWhy(whyGoAway)
	c.goAwayID.Store(last)
	c.draining.Store(true)
	c.send(h2Out{kind: outGoAway, val: last, code: http2.ErrCodeNo, debug: string(appendReasonBody(nil, plan.reason, 0)), flush: true})
	if st.id <= last {
		validateH2(&st.req, c.rules(), &c.push)
		c.respond(st, plan.reason, 0, 0, 0, time.Now())
	} else {
		c.drop(st)
		c.active.Add(-1)
	}
	for id, o := range c.streams {
		if id > last {
			c.drop(o)
			c.active.Add(-1)
		}
	}
	c.send(h2Out{kind: outNudge})
}

// h2Delays holds the timers of answers delayed by faults, so that a
// connection that ends stops them.
type h2Delays struct {
	mu      sync.Mutex
	set     map[*time.Timer]struct{}
	stopped bool
}

// after runs fn after d, unless stop comes first.
func (d *h2Delays) after(dur time.Duration, fn func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	if d.set == nil {
		d.set = make(map[*time.Timer]struct{})
	}
	var t *time.Timer
	t = time.AfterFunc(dur, func() {
		d.mu.Lock()
		delete(d.set, t) // after after has stored t: it holds the lock until then
		d.mu.Unlock()
		fn()
	})
	d.set[t] = struct{}{}
}

func (d *h2Delays) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	for t := range d.set {
		t.Stop()
	}
	d.set = nil
}

// newUUID writes a random version-4 UUID in canonical form.
func (c *h2Conn) newUUID(dst *[36]byte) {
	const digits = "0123456789abcdef"
	var b [16]byte
	lo, hi := c.rnd.Uint64(), c.rnd.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(lo>>(8*i)), byte(hi>>(8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	j := 0
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j], dst[j+1] = digits[x>>4], digits[x&0x0f]
		j += 2
	}
}
