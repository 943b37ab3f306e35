package mockapns

import (
	"bufio"
	"encoding/json"
	"strconv"
	"time"

	"golang.org/x/net/http2"

	"github.com/apnskit/apnskit/apns"
)

// h2OutKind says what a message to the writer asks for.
type h2OutKind uint8

const (
	outResponse          h2OutKind = iota + 1 // a response: HEADERS, and DATA for a refusal
	outRST                                    // RST_STREAM
	outPingAck                                // PING with ACK
	outSettingsAck                            // SETTINGS with ACK
	outSettings                               // SETTINGS with a new MAX_CONCURRENT_STREAMS
	outWindowUpdate                           // WINDOW_UPDATE giving receive window back
	outGoAway                                 // GOAWAY
	outPeerWindow                             // the client's WINDOW_UPDATE: more send window
	outPeerInitialWindow                      // the client's SETTINGS_INITIAL_WINDOW_SIZE
	outNudge                                  // nothing to write: check whether a draining connection is done
	outDrain                                  // the client sent GOAWAY: close once every stream is answered
	outFlush                                  // the reader has nothing more to read: flush
	outCut                                    // flush, then cut the connection without a word (a disconnect fault)
)

// h2Out is one message to the writer. It is passed by value, so that
// queueing it does not allocate.
type h2Out struct {
	kind       h2OutKind
	stream     uint32
	val        uint32 // window increment, setting value, GOAWAY last stream
	code       http2.ErrCode
	status     uint16
	reason     apns.Reason
	timestamp  int64 // milliseconds since the epoch, sent with a 410
	apnsID     [36]byte
	uniqueID   [36]byte
	hasID      bool
	unique     bool
	ping       [8]byte
	debug      string // GOAWAY debug data
	final      bool   // the stream's last frame: it stops counting as active
	rstAfter   bool   // RST_STREAM NO_ERROR after the response: the request was not read to its end
	closeAfter bool   // close the connection once this is written
	flush      bool   // flush once written (a message the reader's flush request does not follow)
	written    chan struct{}
}

// h2Writer owns the writing side of a connection.
type h2Writer struct {
	c         *h2Conn
	bw        *bufio.Writer
	fr        *http2.Framer
	connWin   int64
	initWin   int64
	streamWin map[uint32]int64 // WINDOW_UPDATE credit of streams, beyond initWin
	blocked   []h2Out          // responses waiting for send window
	hb, bb    []byte
	drain     bool // a GOAWAY went either way: close once idle
	cut       bool // the connection was cut
}

func (w *h2Writer) init(c *h2Conn) {
	w.c = c
	w.bw = bufio.NewWriterSize(c.c, h2WriteBuf)
	w.fr = http2.NewFramer(w.bw, nil)
	w.connWin, w.initWin = h2InitialWindow, h2InitialWindow
	w.streamWin = make(map[uint32]int64)
}

// run writes until the reader stops, a write fails, a GOAWAY that closes is
// written, or a draining connection has answered every stream.
func (w *h2Writer) run(first uint32) {
	c := w.c
	defer close(c.wdone)
	err := w.fr.WriteSettings(
		http2.Setting{ID: http2.SettingHeaderTableSize, Val: h2HeaderTableSize},
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: first},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2InitialWindow},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: h2MaxFrameSize},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: h2MaxHeaderListSize},
	)
	if err == nil {
		err = w.flush()
	}
	for err == nil {
		var m h2Out
		select {
		case m = <-c.out:
		case <-c.quit:
			return
		}
		stop, flush := false, false
		for {
			flush = flush || m.flush || m.kind != outResponse && m.kind != outWindowUpdate && m.kind != outRST
			if stop, err = w.handle(&m); stop || err != nil {
				break
			}
			if len(c.out) == 0 {
				break
			}
			m = <-c.out
		}
		// Responses and window updates wait for the reader's flush
		// request (it sends one whenever it has read all that arrived),
		// so that a burst of requests is answered in few writes.
		if err == nil && (flush || stop || w.bw.Available() < h2WriteBuf/4) {
			err = w.flush()
		}
		if w.cut {
			return
		}
		if stop || err == nil && w.drain && c.active.Load() == 0 && len(w.blocked) == 0 {
			c.log.Debug("mockapns http2 connection done")
			if err = w.flush(); err == nil {
				w.finish()
				return
			}
			break
		}
	}
	c.log.Info("mockapns http2 write failed", "err", err)
	select {
	case <-c.t.cut:
		c.setWhy(whyServer) // the server cut the connection under the write
	default:
		c.setWhy(whyWrite)
	}
	_ = c.c.Close()
}

// finish ends the writing side (TLS close_notify, then FIN) and bounds
// how long the reader goes on reading and discarding: closing with unread
// data would reset the connection and could destroy the last frames in
// flight.
func (w *h2Writer) finish() {
	if cw, ok := w.c.c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		_ = w.c.c.Close()
	}
	w.c.lingering.Store(true)
	_ = w.c.c.SetReadDeadline(time.Now().Add(w.c.s.linger))
}

func (w *h2Writer) flush() error {
	if w.bw.Buffered() == 0 {
		return nil
	}
	_ = w.c.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	return w.bw.Flush()
}

// handle writes one message; stop is set when the connection must close.
func (w *h2Writer) handle(m *h2Out) (stop bool, err error) {
	switch m.kind {
	case outResponse:
		return false, w.response(m)
	case outRST:
		if m.final {
			w.c.streamDone()
		}
		return false, w.fr.WriteRSTStream(m.stream, m.code)
	case outPingAck:
		return false, w.fr.WritePing(true, m.ping)
	case outSettingsAck:
		return false, w.fr.WriteSettingsAck()
	case outSettings:
		return false, w.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: m.val})
	case outWindowUpdate:
		return false, w.fr.WriteWindowUpdate(m.stream, m.val)
	case outGoAway:
		err = w.fr.WriteGoAway(m.val, m.code, []byte(m.debug))
		w.c.s.h2GoAwaySent()
		w.drain = true
		if err == nil && m.closeAfter {
			err = w.flush()
		}
		if m.written != nil {
			close(m.written)
		}
		return m.closeAfter, err
	case outPeerWindow:
		return w.peerWindow(m.stream, int64(m.val))
	case outCut:
		_ = w.flush()
		w.cut = true
		w.c.t.close()
		return true, nil
	case outDrain:
		w.drain = true
	case outPeerInitialWindow:
		w.initWin = int64(m.val)
		return false, w.unblock()
	}
	return false, nil
}

// peerWindow adds the client's WINDOW_UPDATE credit.
func (w *h2Writer) peerWindow(stream uint32, inc int64) (bool, error) {
	const maxWin = 1<<31 - 1
	if stream == 0 {
		w.connWin += inc
		if w.connWin > maxWin {
			w.c.s.h2GoAwaySent()
			return true, w.fr.WriteGoAway(w.c.lastID.Load(), http2.ErrCodeFlowControl, []byte("connection window over 2^31-1"))
		}
	} else if len(w.streamWin) < 2*DefaultHTTP2MaxStreams || w.streamWin[stream] != 0 {
		w.streamWin[stream] += inc
		if w.initWin+w.streamWin[stream] > maxWin {
			delete(w.streamWin, stream)
			return false, w.fr.WriteRSTStream(stream, http2.ErrCodeFlowControl)
		}
	}
	return false, w.unblock()
}

// unblock writes the waiting responses that fit the windows now, in order.
func (w *h2Writer) unblock() error {
	if len(w.blocked) == 0 {
		return nil
	}
	waiting := w.blocked
	w.blocked = w.blocked[len(w.blocked):]
	for i := range waiting {
		if err := w.response(&waiting[i]); err != nil {
			return err
		}
	}
	if len(w.blocked) == 0 {
		w.blocked = waiting[:0]
	} else {
		w.blocked = append(waiting[:0], w.blocked...)
	}
	return nil
}

// response writes a response, or parks it while the send windows are too
// small for its body.
func (w *h2Writer) response(m *h2Out) error {
	body := w.bb[:0]
	if m.reason != "" {
		body = appendReasonBody(body, m.reason, m.timestamp)
		w.bb = body
		sw := w.initWin + w.streamWin[m.stream]
		if int64(len(body)) > w.connWin || int64(len(body)) > sw {
			w.blocked = append(w.blocked, *m)
			return nil
		}
		w.connWin -= int64(len(body))
	}
	delete(w.streamWin, m.stream)
	if m.final {
		// Counted before the write: a client that sees the end of the
		// stream may open another at once.
		w.c.streamDone()
	}
	hb := appendStatus(w.hb[:0], m.status)
	if m.hasID {
		hb = append(hb, 0x00, 7)
		hb = append(hb, "apns-id"...)
		hb = append(hb, 36)
		hb = append(hb, m.apnsID[:]...)
	}
	if m.unique {
		hb = append(hb, 0x00, 14)
		hb = append(hb, "apns-unique-id"...)
		hb = append(hb, 36)
		hb = append(hb, m.uniqueID[:]...)
	}
	if len(body) > 0 {
		// content-type (static index 31), literal without indexing
		hb = append(hb, 0x0f, 0x10, 16)
		hb = append(hb, "application/json"...)
	}
	w.hb = hb
	err := w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: m.stream, BlockFragment: hb,
		EndStream: len(body) == 0, EndHeaders: true})
	for err == nil && len(body) > 0 {
		n := min(len(body), h2MaxFrameSize)
		err = w.fr.WriteData(m.stream, n == len(body), body[:n])
		body = body[n:]
	}
	if err == nil && m.rstAfter {
		err = w.fr.WriteRSTStream(m.stream, http2.ErrCodeNo)
	}
	return err
}

// appendStatus encodes :status, indexed when the static table has it.
func appendStatus(b []byte, status uint16) []byte {
	switch status {
	case 200:
		return append(b, 0x88)
	case 204:
		return append(b, 0x89)
	case 206:
		return append(b, 0x8a)
	case 304:
		return append(b, 0x8b)
	case 400:
		return append(b, 0x8c)
	case 404:
		return append(b, 0x8d)
	case 500:
		return append(b, 0x8e)
	}
	if status < 100 || status > 999 {
		status = 500
	}
	// literal without indexing, name :status (static index 8)
	b = append(b, 0x08, 3)
	return strconv.AppendUint(b, uint64(status), 10)
}

// appendReasonBody appends {"reason":"…"} (and "timestamp" when ts is
// not 0).
func appendReasonBody(b []byte, r apns.Reason, ts int64) []byte {
	b = append(b, `{"reason":`...)
	if plainASCII(string(r)) {
		b = append(append(append(b, '"'), r...), '"')
	} else {
		q, _ := json.Marshal(string(r))
		b = append(b, q...)
	}
	if ts != 0 {
		b = append(b, `,"timestamp":`...)
		b = strconv.AppendInt(b, ts, 10)
	}
	return append(b, '}')
}

func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
