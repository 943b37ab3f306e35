package mockapns

import (
	"time"
	"unsafe"
)

// This file joins the HTTP/2 front end to the protocol-neutral core:
// journal, counters and faults.

// h2Sandbox reports whether the listener plays the development
// environment (which adds apns-unique-id to successes).
func (s *Server) h2Sandbox() bool { return true }

// h2ConnOpened and h2ConnClosed count a connection in the http2 stats.
func (s *Server) h2ConnOpened() {
	s.stats.h2ConnectionsTotal.Add(1)
	s.stats.h2ConnectionsOpen.Add(1)
}

func (s *Server) h2ConnClosed() { s.stats.h2ConnectionsOpen.Add(-1) }

// h2GoAwaySent counts a GOAWAY frame sent.
func (s *Server) h2GoAwaySent() { s.stats.h2GoAways.Add(1) }

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
