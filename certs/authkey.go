package certs

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"
)

// File names of the provider-token key inside a PKI folder. They are a
// contract of cmd/mockapns.
const (
	// AuthKeyFile holds the P-256 private key in PKCS #8 PEM ("PRIVATE
	// KEY"), as Apple hands out .p8 files; mode 0600.
	AuthKeyFile = "authkey.p8"
	// AuthKeyInfoFile holds the key's identifiers as JSON:
	// {"key_id": "...", "team_id": "..."}.
	AuthKeyInfoFile = "authkey.json"
)

// AuthIDLength is the length of a key ID and of a team ID.
const AuthIDLength = 10

// ErrBadAuthKey is wrapped by every error about a provider-token key that
// cannot be used: no PEM block, a key of another algorithm or curve
// ([*AuthKeyTypeError]), an identifier of the wrong shape, a corrupt
// authkey.json.
var ErrBadAuthKey = errors.New("certs: bad auth key")

// ErrNoPEM is wrapped (beside [ErrBadAuthKey]) when the bytes hold no PEM
// block of the expected type.
var ErrNoPEM = errors.New("certs: no PEM block")

// AuthKeyTypeError reports a key that is not ECDSA P-256, the only kind
// ES256 signs with. It matches [ErrBadAuthKey] with errors.Is.
type AuthKeyTypeError struct {
	// Algorithm names what was found: "RSA", "ECDSA P-384", "Ed25519", ...
	Algorithm string
}

func (e *AuthKeyTypeError) Error() string {
	return "certs: auth key is " + e.Algorithm + ", want ECDSA P-256"
}

// Is reports whether target is [ErrBadAuthKey].
func (e *AuthKeyTypeError) Is(target error) bool { return target == ErrBadAuthKey }

// AuthKey is a provider-token signing key as Apple issues them: a P-256
// key with its 10-character key ID and the 10-character ID of the team that
// owns it.
type AuthKey struct {
	KeyID  string
	TeamID string
	Key    *ecdsa.PrivateKey
}

// authAlphabet is the alphabet of Apple's key and team IDs.
const authAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// ValidAuthID reports whether s has the shape of a key or team ID: exactly
// [AuthIDLength] ASCII letters or digits.
func ValidAuthID(s string) bool {
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

func checkAuthIDs(keyID, teamID string) error {
	if !ValidAuthID(keyID) {
		return fmt.Errorf("%w: key ID %q: want %d letters or digits", ErrBadAuthKey, keyID, AuthIDLength)
	}
	if !ValidAuthID(teamID) {
		return fmt.Errorf("%w: team ID %q: want %d letters or digits", ErrBadAuthKey, teamID, AuthIDLength)
	}
	return nil
}

func randomAuthID() (string, error) {
	b := make([]byte, AuthIDLength)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(authAlphabet))))
		if err != nil {
			return "", fmt.Errorf("certs: auth ID: %w", err)
		}
		b[i] = authAlphabet[n.Int64()]
	}
	return string(b), nil
}

// NewAuthKey generates a P-256 provider-token key. An empty keyID or
// teamID is replaced by a random one of 10 upper-case letters and digits;
// a given one must satisfy [ValidAuthID].
func NewAuthKey(keyID, teamID string) (*AuthKey, error) {
	var err error
	if keyID == "" {
		if keyID, err = randomAuthID(); err != nil {
			return nil, err
		}
	}
	if teamID == "" {
		if teamID, err = randomAuthID(); err != nil {
			return nil, err
		}
	}
	if err := checkAuthIDs(keyID, teamID); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: auth key: %w", err)
	}
	return &AuthKey{KeyID: keyID, TeamID: teamID, Key: key}, nil
}

// keyAlgorithm names a parsed key for an [AuthKeyTypeError].
func keyAlgorithm(k any) string {
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return "ECDSA " + k.Curve.Params().Name
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PrivateKey, *rsa.PublicKey:
		return "RSA"
	case ed25519.PrivateKey, ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", k)
}

// ParseAuthKey reads a .p8 file's content: a PEM "PRIVATE KEY" block
// (PKCS #8) holding an ECDSA P-256 key, named keyID of team teamID. A
// missing block wraps [ErrNoPEM], a key of another kind is an
// [*AuthKeyTypeError]; every error matches [ErrBadAuthKey].
func ParseAuthKey(pemBytes []byte, keyID, teamID string) (*AuthKey, error) {
	if err := checkAuthIDs(keyID, teamID); err != nil {
		return nil, err
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: %w of type PRIVATE KEY", ErrBadAuthKey, ErrNoPEM)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAuthKey, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, &AuthKeyTypeError{Algorithm: keyAlgorithm(k)}
	}
	return &AuthKey{KeyID: keyID, TeamID: teamID, Key: ec}, nil
}

// LoadAuthKey reads a .p8 file as [ParseAuthKey] does.
func LoadAuthKey(file, keyID, teamID string) (*AuthKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	k, err := ParseAuthKey(b, keyID, teamID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return k, nil
}

// ParseAuthPublicKey reads the public half of a provider-token key from
// PEM: a "PUBLIC KEY" block (PKIX) or a "PRIVATE KEY" block (PKCS #8, a
// .p8 file), either holding an ECDSA P-256 key. Errors are as for
// [ParseAuthKey].
func ParseAuthPublicKey(pemBytes []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PUBLIC KEY" && block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: %w of type PUBLIC KEY or PRIVATE KEY", ErrBadAuthKey, ErrNoPEM)
	}
	var k any
	var err error
	if block.Type == "PUBLIC KEY" {
		k, err = x509.ParsePKIXPublicKey(block.Bytes)
	} else {
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAuthKey, err)
	}
	if priv, ok := k.(*ecdsa.PrivateKey); ok {
		k = &priv.PublicKey
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, &AuthKeyTypeError{Algorithm: keyAlgorithm(k)}
	}
	return pub, nil
}

// PrivatePEM is the key as a .p8 file holds it: PKCS #8 in a PEM "PRIVATE
// KEY" block.
func (k *AuthKey) PrivatePEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.Key)
	if err != nil {
		return nil, fmt.Errorf("certs: marshal auth key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicPEM is the public key in a PEM "PUBLIC KEY" block (PKIX), what a
// server needs to check the key's tokens.
func (k *AuthKey) PublicPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(&k.Key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("certs: marshal auth public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// Token mints a provider token: a JWT in JWS compact form with header
// {"alg":"ES256","kid":KeyID} and claims {"iss":TeamID,"iat":iat in Unix
// seconds}, signed with ES256. Pass time.Now() for a fresh token, or
// another time to test expiry.
func (k *AuthKey) Token(iat time.Time) (string, error) {
	return k.SignJWT(
		struct {
			Alg string `json:"alg"`
			Kid string `json:"kid"`
		}{"ES256", k.KeyID},
		struct {
			Iss string `json:"iss"`
			Iat int64  `json:"iat"`
		}{k.TeamID, iat.Unix()})
}

// SignJWT signs arbitrary header and claims (each marshalled to JSON) with
// ES256, whatever they say: for tests that need tokens with a wrong alg, a
// missing claim or a foreign key ID under a valid signature. The result is
// header.claims.signature, each part base64url without padding, the
// signature the 64 bytes R‖S.
func (k *AuthKey) SignJWT(header, claims any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("certs: JWT header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("certs: JWT claims: %w", err)
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	digest := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, k.Key, digest[:])
	if err != nil {
		return "", fmt.Errorf("certs: JWT signature: %w", err)
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + enc.EncodeToString(sig[:]), nil
}

// authKeyInfo is the content of [AuthKeyInfoFile].
type authKeyInfo struct {
	KeyID  string `json:"key_id"`
	TeamID string `json:"team_id"`
}

// write writes authkey.p8 (0600) and authkey.json (0644) into dir.
func (k *AuthKey) write(dir string) error {
	keyPEM, err := k.PrivatePEM()
	if err != nil {
		return err
	}
	info, err := json.Marshal(authKeyInfo{KeyID: k.KeyID, TeamID: k.TeamID})
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	// The JSON first: a folder with authkey.json but no authkey.p8 is
	// incomplete, never one whose key is silently unnamed.
	if err := writeFile(dir, AuthKeyInfoFile, append(info, '\n'), 0o644); err != nil {
		return err
	}
	return writeFile(dir, AuthKeyFile, keyPEM, 0o600)
}

// parseAuthKeyFiles builds the key from the two files' contents.
func parseAuthKeyFiles(p8, info []byte) (*AuthKey, error) {
	var ids authKeyInfo
	if err := json.Unmarshal(info, &ids); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadAuthKey, AuthKeyInfoFile, err)
	}
	k, err := ParseAuthKey(p8, ids.KeyID, ids.TeamID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", AuthKeyFile, err)
	}
	return k, nil
}
