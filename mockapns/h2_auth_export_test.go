package mockapns

import (
	"crypto/x509"
	"time"

	"github.com/apnskit/apnskit/apns"
)

// ConnAuth exposes one HTTP/2 connection's authentication state to the
// specs, as the frame server uses it.
type ConnAuth struct{ a *connAuth }

// NewConnAuthForTest is newConnAuth.
func (s *Server) NewConnAuthForTest(peer *x509.Certificate) (*ConnAuth, apns.Reason) {
	a, r := s.newConnAuth(peer)
	if a == nil {
		return nil, r
	}
	return &ConnAuth{a}, r
}

// Authorize is authorize.
func (c *ConnAuth) Authorize(authorization, topic string) (string, apns.Reason) {
	return c.a.authorize(authorization, topic)
}

// Method is connAuth.Method.
func (c *ConnAuth) Method() string { return c.a.Method() }

// TokenValidated is connAuth.TokenValidated.
func (c *ConnAuth) TokenValidated() bool { return c.a.TokenValidated() }

// Verifications counts the tokens the connection verified (cache misses).
func (c *ConnAuth) Verifications() uint64 { return c.a.checks.Load() }

// CheckDeviceForTest is checkDevice.
func (s *Server) CheckDeviceForTest(tok apns.Token, topic string) (apns.Reason, time.Time) {
	return s.checkDevice(tok, topic)
}

// Bounds of provider tokens.
const (
	MaxJWTLength          = maxJWTLength
	JWTLifetime           = jwtLifetime
	JWTFutureSkew         = jwtFutureSkew
	TokenUpdateInterval   = tokenUpdateInterval
	AuthMethodToken       = authToken
	AuthMethodCertificate = authCertificate
)

// ParseDevicesForTest is parseDevices (the body of POST /api/v1/devices).
func ParseDevicesForTest(body []byte) ([]Device, error) { return parseDevices(body) }

// ParseAuthKeysForTest is parseAuthKeys (the body of POST /api/v1/keys).
func ParseAuthKeysForTest(body []byte) ([]AuthKey, error) { return parseAuthKeys(body) }
