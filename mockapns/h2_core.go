package mockapns

import (
	"strings"
	"time"
	"unsafe"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
)

// This file joins the HTTP/2 front end to the protocol-neutral core and
// to the state the auth files keep: journal, counters, faults, device
// state and environment.

// h2Sandbox reports whether the listener plays the development
// environment (which adds apns-unique-id to successes).
func (s *Server) h2Sandbox() bool { return s.h2auth.env == certs.Sandbox }

// h2ConnOpened and h2ConnClosed count a connection in the http2 stats.
func (s *Server) h2ConnOpened() {
	s.stats.h2ConnectionsTotal.Add(1)
	s.stats.h2ConnectionsOpen.Add(1)
}

func (s *Server) h2ConnClosed() { s.stats.h2ConnectionsOpen.Add(-1) }

// h2GoAwaySent counts a GOAWAY frame sent.
func (s *Server) h2GoAwaySent() { s.stats.h2GoAways.Add(1) }

// h2Act is what a fault makes of a request.
type h2Act uint8

const (
	h2ActNone       h2Act = iota // judge it as usual
	h2ActReject                  // answer reason (and status, if not 0)
	h2ActGoAway                  // GOAWAY with reason, then close
	h2ActReset                   // RST_STREAM instead of an answer
	h2ActDisconnect              // cut the connection without a word
)

// h2Plan is what the faults that fired on a request ask of the
// connection: delay the answer, lower MAX_CONCURRENT_STREAMS (lifted again
// after restoreAfter successes), and act.
type h2Plan struct {
	act          h2Act
	reason       apns.Reason
	status       int
	lastStreamID uint32
	hasLast      bool
	delay        time.Duration
	maxStreams   uint32
	restoreAfter int
}

// plan runs the HTTP/2 faults against a complete request, before it is
// judged: the token they match is the one of :path, if it decodes. A delay
// holds back an answer only: with a goaway, rst_stream or disconnect
// firing on the same request it does not apply.
func (c *h2Conn) plan(st *h2Stream) h2Plan {
	if !c.s.faults.activeFor(apns.HTTP2) {
		return h2Plan{}
	}
	var tok []byte
	if hexTok, ok := strings.CutPrefix(st.req.f[fPath], devicePath); ok && decodeHexToken(hexTok, &c.push) {
		tok = c.push.tokenBytes()
	}
	a := c.s.faults.onRequest(tok)
	p := h2Plan{delay: a.delay, restoreAfter: a.restoreAfter}
	if a.hasMaxStreams {
		p.maxStreams = a.maxStreams
	}
	switch a.kind {
	case actReject:
		p.act, p.reason, p.status = h2ActReject, a.reason, a.httpStatus
	case actGoAway:
		p.act, p.reason, p.lastStreamID, p.hasLast = h2ActGoAway, a.reason, a.lastStreamID, a.hasLastStreamID
	case actRstStream:
		p.act = h2ActReset
	case actDisconnect:
		p.act = h2ActDisconnect
	}
	return p
}

// h2Device applies the device state to an accepted push: a reason to
// refuse it, and for Unregistered the time in milliseconds since the epoch.
func (s *Server) h2Device(p *h2Push) (apns.Reason, int64) {
	if s.h2auth.devices.n.Load() == 0 {
		return "", 0 // no device state: no need to make an apns.Token
	}
	tok, err := apns.TokenFromBytes(p.tokenBytes())
	if err != nil {
		return "", 0
	}
	r, at := s.checkDevice(tok, p.topic)
	if r == apns.ReasonUnregistered {
		return r, at.UnixMilli()
	}
	return r, 0
}

// h2Record journals (and counts) a request answered with m.
func (s *Server) h2Record(c *h2Conn, r *h2Incoming, p *h2Push, m *h2Out, at time.Time) {
	auth := AuthProviderToken
	if c.cert {
		auth = AuthCertificate
	}
	s.journal.addH2(&h2Request{
		Conn: c.num, At: at, Token: p.tokenBytes(), Payload: r.body, APNsID: m.apnsID[:],
		Topic: bytesOf(p.topic), PushType: bytesOf(p.pushType), CollapseID: bytesOf(p.collapseID),
		Expiration: p.expiration, HasExpiration: p.hasExpiration, Priority: p.priority,
		Auth: auth, HTTPStatus: int(m.status), Reason: m.reason,
	})
}

// bytesOf returns the bytes of s without copying them; the journal only
// reads them, copying them into its own storage.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
