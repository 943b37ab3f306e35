package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// Token refresh bounds. APNs refuses a provider token whose iat is more
// than an hour old (ExpiredProviderToken) and one replaced more often than
// every 20 minutes on a connection (TooManyProviderTokenUpdates). A
// [TokenSigner] mints a new token once its current one is Refresh old,
// with Refresh between MinTokenRefresh and MaxTokenRefresh.
// DefaultTokenRefresh, 50 minutes, leaves ten minutes of margin for a
// server clock ahead of ours and is thirty minutes clear of the lower
// bound.
const (
	MinTokenRefresh     = 20 * time.Minute
	MaxTokenRefresh     = 55 * time.Minute
	DefaultTokenRefresh = 50 * time.Minute
)

// AuthIDLength is the length of a key ID and of a team ID.
const AuthIDLength = 10

// ErrBadAuthKey is wrapped by every error about a provider-token key or its
// identifiers: no PEM, not a private key, a key that is not ECDSA P-256
// ([*AuthKeyTypeError]), a key or team ID of the wrong shape
// ([*AuthIDError]).
var ErrBadAuthKey = errors.New("apns: bad provider-token key")

// AuthKeyTypeError reports a private key that is not ECDSA P-256, the only
// kind ES256 signs with. It matches ErrBadAuthKey with errors.Is.
type AuthKeyTypeError struct {
	// Algorithm names what was found: "RSA", "ECDSA P-384", "Ed25519", ...
	Algorithm string
}

// Error reads "apns: bad provider-token key: RSA, want ECDSA P-256".
func (e *AuthKeyTypeError) Error() string {
	return ErrBadAuthKey.Error() + ": " + e.Algorithm + ", want ECDSA P-256"
}

// Is reports whether target is ErrBadAuthKey.
func (e *AuthKeyTypeError) Is(target error) bool { return target == ErrBadAuthKey }

// AuthIDError reports a key ID or team ID that is not [AuthIDLength] ASCII
// letters or digits. It matches ErrBadAuthKey with errors.Is.
type AuthIDError struct {
	Field string // "key ID" or "team ID"
	Value string
}

// Error names the field and the value.
func (e *AuthIDError) Error() string {
	return fmt.Sprintf("%s: %s %q: want %d letters or digits", ErrBadAuthKey, e.Field, e.Value, AuthIDLength)
}

// Is reports whether target is ErrBadAuthKey.
func (e *AuthIDError) Is(target error) bool { return target == ErrBadAuthKey }

// TokenOptions tune a [TokenSigner]. The zero value is usable.
type TokenOptions struct {
	// Refresh is the age at which the token is replaced; 0 means
	// DefaultTokenRefresh. It must lie between MinTokenRefresh and
	// MaxTokenRefresh.
	Refresh time.Duration
	// Clock gives the current time; nil means time.Now. Tests pass a fake
	// clock to make a token age without waiting.
	Clock func() time.Time
}

// TokenSigner mints provider tokens (JWTs signed with ES256) for token
// authentication over HTTP/2. It keeps one token and hands the same one to
// every request and every connection until it is Refresh old, then mints
// the next: never a token per request. It is safe for concurrent use;
// share one per key.
type TokenSigner struct {
	keyID, teamID string
	key           *ecdsa.PrivateKey
	refresh       time.Duration
	clock         func() time.Time

	mu     sync.Mutex
	token  string
	iat    time.Time
	minted int
}

// NewTokenSigner reads a .p8 key (a PKCS #8 "PRIVATE KEY" PEM block, as
// Apple hands them out; an "EC PRIVATE KEY" block is accepted too) with
// its 10-character key ID and team ID. Errors wrap ErrBadAuthKey (and
// ErrMalformedPEM or ErrNoKey where they apply), or ErrBadConfig for
// Refresh out of range.
func NewTokenSigner(p8 []byte, keyID, teamID string, opts TokenOptions) (*TokenSigner, error) {
	if !validAuthID(keyID) {
		return nil, &AuthIDError{Field: "key ID", Value: keyID}
	}
	if !validAuthID(teamID) {
		return nil, &AuthIDError{Field: "team ID", Value: teamID}
	}
	switch {
	case opts.Refresh == 0:
		opts.Refresh = DefaultTokenRefresh
	case opts.Refresh < MinTokenRefresh || opts.Refresh > MaxTokenRefresh:
		return nil, fmt.Errorf("%w: token Refresh %v: want %v to %v", ErrBadConfig, opts.Refresh, MinTokenRefresh, MaxTokenRefresh)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	key, err := parseP8(p8)
	if err != nil {
		return nil, err
	}
	return &TokenSigner{keyID: keyID, teamID: teamID, key: key, refresh: opts.Refresh, clock: opts.Clock}, nil
}

// LoadTokenSigner is NewTokenSigner reading the key from a file.
func LoadTokenSigner(file, keyID, teamID string, opts TokenOptions) (*TokenSigner, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAuthKey, err)
	}
	s, err := NewTokenSigner(b, keyID, teamID, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return s, nil
}

func validAuthID(s string) bool {
	if len(s) != AuthIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func parseP8(b []byte) (*ecdsa.PrivateKey, error) {
	var block *pem.Block
	for {
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("%w: %w: no PRIVATE KEY block", ErrBadAuthKey, ErrNoKey)
		}
		if block.Type == "PRIVATE KEY" || block.Type == "EC PRIVATE KEY" {
			break
		}
	}
	var k any
	var err error
	if block.Type == "EC PRIVATE KEY" {
		k, err = x509.ParseECPrivateKey(block.Bytes)
	} else {
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w: %w", ErrBadAuthKey, ErrMalformedPEM, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, &AuthKeyTypeError{Algorithm: fmt.Sprintf("%T", k)}
	}
	if ec.Curve != elliptic.P256() {
		return nil, &AuthKeyTypeError{Algorithm: "ECDSA " + ec.Curve.Params().Name}
	}
	return ec, nil
}

// KeyID is the key ID the tokens carry as "kid".
func (s *TokenSigner) KeyID() string { return s.keyID }

// TeamID is the team ID the tokens carry as "iss".
func (s *TokenSigner) TeamID() string { return s.teamID }

// Token returns the current provider token, minting one when there is none
// yet or the current one is Refresh old (or issued in the future of the
// clock, which went back).
func (s *TokenSigner) Token() (string, error) {
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && now.Sub(s.iat) < s.refresh && !now.Before(s.iat.Add(-time.Minute)) {
		return s.token, nil
	}
	t, err := s.sign(now)
	if err != nil {
		return "", err
	}
	s.token, s.iat = t, now.Truncate(time.Second)
	s.minted++
	return t, nil
}

// renew drops the token used when APNs called it expired
// (ExpiredProviderToken), so that the next Token mints a fresh one: only
// when it is still the current token and at least MinTokenRefresh old, so
// that no connection sees tokens change more often than APNs allows.
func (s *TokenSigner) renew(used string) {
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == used && now.Sub(s.iat) >= MinTokenRefresh {
		s.token = ""
	}
}

// Minted counts the tokens minted so far.
func (s *TokenSigner) Minted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.minted
}

// sign makes the JWS compact form of {"alg":"ES256","kid":…} and
// {"iss":…,"iat":…}, the signature being R‖S of 32 bytes each.
func (s *TokenSigner) sign(iat time.Time) (string, error) {
	h, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}{"ES256", s.keyID})
	c := []byte(`{"iss":` + strconv.Quote(s.teamID) + `,"iat":` + strconv.FormatInt(iat.Unix(), 10) + `}`)
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(signing))
	r, sig, err := ecdsa.Sign(rand.Reader, s.key, sum[:])
	if err != nil {
		return "", fmt.Errorf("apns: signing provider token: %w", err)
	}
	raw := make([]byte, 64)
	r.FillBytes(raw[:32])
	sig.FillBytes(raw[32:])
	return signing + "." + enc.EncodeToString(raw), nil
}
