package mockapns

import (
	"crypto/x509"
	"encoding/asn1"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
)

// Authentication of HTTP/2 connections.
//
// The frame server makes one connAuth per connection, right after the TLS
// handshake, and asks it about every request:
//
//	func (s *Server) newConnAuth(peer *x509.Certificate) (*connAuth, apns.Reason)
//	func (a *connAuth) authorize(authorization, topic string) (string, apns.Reason)
//	func (a *connAuth) Method() string      // authCertificate or authToken
//	func (a *connAuth) TokenValidated() bool
//	func (s *Server) checkDevice(tok apns.Token, topic string) (apns.Reason, time.Time)
//
// newConnAuth takes the verified client certificate (nil when the client
// sent none). A non-empty reason refuses the connection: the frame server
// sends GOAWAY with that reason and closes; connAuth is then nil. It is
// BadCertificateEnvironment for a certificate of the other environment
// than the server's, BadCertificate for one that is no push certificate
// (neither environment extension, or no topic at all).
//
// authorize takes the request's authorization and apns-topic header values
// ("" when absent) and returns the topic the notification goes to, or the
// reason to refuse the request with (the stream's answer; the connection
// stays open). On certificate connections the authorization header is
// ignored, an absent topic means the certificate's only topic (MissingTopic
// when it has several), and a topic outside the certificate's is
// TopicDisallowed. On token connections the JWT is checked (see h2_jwt.go;
// MissingProviderToken, InvalidProviderToken, ExpiredProviderToken), the
// connection is bound to the team of its first valid token (a token of
// another team is InvalidProviderToken), changing to another valid token
// less than tokenUpdateInterval after the previous change is
// TooManyProviderTokenUpdates unless the token in use has expired, and an
// absent topic is MissingTopic. A refused request changes nothing: the
// token in use stays the one last accepted. A token is verified once per
// connection: later requests with the same token only check its age.
//
// TokenValidated reports whether a valid token has been seen on the
// connection (always false on certificate connections); the frame server
// lifts the stream limit from 1 to the configured one when it turns true.
// Method is the journal's "auth" value.
//
// checkDevice applies the device state (see h2_devices.go) once a request
// is authorized. All of these are safe for concurrent use.

// Authentication methods, as the journal names them.
const (
	authCertificate = "certificate"
	authToken       = "token"
)

// tokenUpdateInterval is the least time between two token changes on one
// connection.
const tokenUpdateInterval = 20 * time.Minute

// oidUID is the userId attribute that carries a push certificate's bundle
// ID in its subject.
var oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// h2Auth is the server's state for authenticating HTTP/2 requests.
type h2Auth struct {
	env      certs.Environment // certs.Sandbox or certs.Production
	clock    func() time.Time
	keys     keyStore
	verifier jwtVerifier
	initial  []AuthKey // trusted at start and after Reset
	devices  deviceStore
}

// connAuth is one HTTP/2 connection's authentication state.
type connAuth struct {
	h      *h2Auth
	method string
	topics []string // certificate connections: the topics allowed

	validated atomic.Bool
	checks    atomic.Uint64 // tokens verified (cache misses)

	mu      sync.Mutex
	team    string    // bound by the first valid token
	cur     string    // the token in use: the last one accepted
	curGen  uint64    // key store generation when cur was verified
	claims  jwtClaims // cur's
	changed time.Time // when cur was adopted
	// The last token other than cur that was checked, with the verdict of
	// jwtVerifier.check at generation seenGen: a token refused, expired or
	// refused as too early a change is not verified again either.
	seen       string
	seenGen    uint64
	seenClaims jwtClaims
	seenWhy    apns.Reason
}

// newConnAuth makes the state of a new connection; see the top of this
// file.
func (s *Server) newConnAuth(peer *x509.Certificate) (*connAuth, apns.Reason) {
	a := &connAuth{h: &s.h2auth, method: authToken}
	if peer == nil {
		return a, ""
	}
	a.method = authCertificate
	env := certEnvironment(peer)
	switch {
	case env == 0:
		return nil, apns.ReasonBadCertificate
	case env&s.h2auth.env == 0:
		return nil, apns.ReasonBadCertificateEnvironment
	}
	a.topics = certTopics(peer)
	if len(a.topics) == 0 {
		return nil, apns.ReasonBadCertificate
	}
	return a, ""
}

// certEnvironment reads the environment extensions of a push certificate.
func certEnvironment(c *x509.Certificate) certs.Environment {
	var env certs.Environment
	for _, e := range c.Extensions {
		switch {
		case e.Id.Equal(certs.OIDSandbox):
			env |= certs.Sandbox
		case e.Id.Equal(certs.OIDProduction):
			env |= certs.Production
		}
	}
	return env
}

// certTopics lists the topics of a push certificate: its subject's bundle
// ID, then those of the topics extension (a sequence alternating a topic
// string and a sequence describing it), without repeats. A malformed
// extension contributes nothing.
func certTopics(c *x509.Certificate) []string {
	var topics []string
	add := func(t string) {
		if t != "" && !slices.Contains(topics, t) {
			topics = append(topics, t)
		}
	}
	for _, n := range c.Subject.Names {
		if n.Type.Equal(oidUID) {
			if v, ok := n.Value.(string); ok {
				add(v)
			}
		}
	}
	for _, e := range c.Extensions {
		if !e.Id.Equal(certs.OIDTopics) {
			continue
		}
		var seq []asn1.RawValue
		if rest, err := asn1.Unmarshal(e.Value, &seq); err != nil || len(rest) > 0 {
			continue
		}
		for _, v := range seq {
			if v.Class == asn1.ClassUniversal && v.Tag == asn1.TagUTF8String {
				add(string(v.Bytes))
			}
		}
	}
	return topics
}

// Method is "certificate" or "token".
func (a *connAuth) Method() string { return a.method }

// TokenValidated reports whether a valid provider token has been seen on
// this (token) connection.
func (a *connAuth) TokenValidated() bool { return a.validated.Load() }

// authorize judges one request; see the top of this file.
func (a *connAuth) authorize(authorization, topic string) (string, apns.Reason) {
	if a.method == authCertificate {
		return a.certTopic(topic)
	}
	if r := a.checkToken(authorization); r != "" {
		return "", r
	}
	if topic == "" {
		return "", apns.ReasonMissingTopic
	}
	return topic, ""
}

func (a *connAuth) certTopic(topic string) (string, apns.Reason) {
	switch {
	case topic == "" && len(a.topics) == 1:
		return a.topics[0], ""
	case topic == "":
		return "", apns.ReasonMissingTopic
	case !slices.Contains(a.topics, topic):
		return "", apns.ReasonTopicDisallowed
	}
	return topic, ""
}

// checkToken applies the provider-token rules to an authorization header.
func (a *connAuth) checkToken(authorization string) apns.Reason {
	tok, ok := bearerToken(authorization)
	if !ok {
		return apns.ReasonMissingProviderToken
	}
	h := a.h
	now := h.clock()
	gen := h.keys.gen.Load()
	a.mu.Lock()
	defer a.mu.Unlock()
	if tok == a.cur && gen == a.curGen {
		return h.verifier.age(a.claims, now)
	}
	var c jwtClaims
	var r apns.Reason
	if tok == a.seen && gen == a.seenGen {
		c, r = a.seenClaims, a.seenWhy
	} else {
		a.checks.Add(1)
		c, r = h.verifier.check(tok)
		a.seen, a.seenGen, a.seenClaims, a.seenWhy = tok, gen, c, r
	}
	if r == "" && a.team != "" && c.teamID != a.team {
		r = apns.ReasonInvalidProviderToken
	}
	if r != "" {
		return r
	}
	if tok == a.cur { // verified again after a change of the trusted keys
		a.curGen, a.claims = gen, c
		return h.verifier.age(c, now)
	}
	if r := h.verifier.age(c, now); r != "" {
		return r
	}
	if a.cur != "" && now.Sub(a.changed) < tokenUpdateInterval && h.verifier.age(a.claims, now) == "" {
		return apns.ReasonTooManyProviderTokenUpdates
	}
	a.cur, a.curGen, a.claims, a.changed, a.team = tok, gen, c, now, c.teamID
	a.seen = ""
	a.validated.Store(true)
	return ""
}
