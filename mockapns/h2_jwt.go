package mockapns

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
)

// Provider tokens (JWTs) on the HTTP/2 API.
//
// A token connection carries "authorization: bearer <JWT>", the JWT in JWS
// compact form: base64url (no padding) of a JSON header, of JSON claims,
// and of the ES256 signature (64 bytes R‖S) of the first two parts joined
// by a dot. The mock checks, in this order:
//
//   - an authorization header that is absent, empty, of a scheme other
//     than "bearer" (compared without regard to case) or with nothing after
//     the scheme presents no token: MissingProviderToken;
//   - a token longer than maxJWTLength bytes is refused before anything is
//     decoded: InvalidProviderToken;
//   - form: three parts of strict base64url, a header object with "alg"
//     "ES256" and a "kid" of 10 letters or digits, a claims object with an
//     "iss" of 10 letters or digits and a numeric "iat", a 64-byte
//     signature; otherwise InvalidProviderToken;
//   - the key: "kid" names a trusted key whose team is "iss", and the
//     signature verifies under it; otherwise InvalidProviderToken. With
//     signature checks off (Config.NoJWTVerify) the signature is not
//     checked and an unknown "kid" is accepted, but a known key's team must
//     still match;
//   - age: an "iat" more than jwtLifetime before now, or more than
//     jwtFutureSkew after now: ExpiredProviderToken.
//
// The first four steps depend only on the token and the trusted keys, so a
// connection keeps their verdict for the token it uses (see connAuth) and
// repeats only the age check on later requests; any change to the trusted
// keys makes it verify again.

// Bounds of provider tokens.
const (
	// maxJWTLength bounds the token (after "bearer ") in bytes. Apple's
	// tokens are about 200 bytes; 2048 leaves room for extra claims and
	// caps what one header makes the mock decode.
	maxJWTLength = 2048
	// jwtLifetime is how long after its "iat" a token is valid.
	jwtLifetime = time.Hour
	// jwtFutureSkew is how far in the future an "iat" may lie, for clocks
	// that disagree by a little.
	jwtFutureSkew = time.Minute
	// maxIat bounds |iat| in seconds so that time arithmetic cannot
	// overflow; anything beyond is far outside the valid window anyway.
	maxIat = 1 << 40
)

// AuthKey is a key the mock trusts for provider tokens: tokens whose "kid"
// is KeyID and whose "iss" is TeamID, signed by the private half of
// PublicKey. In JSON it is {"key_id": "...", "team_id": "...",
// "public_key": "PEM"}; reading also accepts a "PRIVATE KEY" PEM (a .p8
// file) in "public_key" and keeps only its public half.
type AuthKey struct {
	KeyID     string
	TeamID    string
	PublicKey *ecdsa.PublicKey
}

// TrustedKey is the AuthKey that trusts k's tokens.
func TrustedKey(k *certs.AuthKey) AuthKey {
	return AuthKey{KeyID: k.KeyID, TeamID: k.TeamID, PublicKey: &k.Key.PublicKey}
}

// JSON member names of an AuthKey.
const (
	fieldKeyID     = "key_id"
	fieldTeamID    = "team_id"
	fieldPublicKey = "public_key"
)

// validate checks the key's shape; errors are a *FieldError wrapping
// ErrBadAuthKey.
func (k AuthKey) validate() error {
	if err := k.validateIDs(); err != nil {
		return err
	}
	if k.PublicKey == nil {
		return keyErr(fieldPublicKey, "required")
	}
	if k.PublicKey.Curve != elliptic.P256() {
		return keyErr(fieldPublicKey, "want an ECDSA P-256 key")
	}
	if _, err := k.PublicKey.ECDH(); err != nil { // the point is on the curve
		return keyErr(fieldPublicKey, "%v", err)
	}
	return nil
}

func (k AuthKey) validateIDs() error {
	switch {
	case !certs.ValidAuthID(k.KeyID):
		return keyErr(fieldKeyID, "want %d letters or digits, got %q", certs.AuthIDLength, k.KeyID)
	case !certs.ValidAuthID(k.TeamID):
		return keyErr(fieldTeamID, "want %d letters or digits, got %q", certs.AuthIDLength, k.TeamID)
	}
	return nil
}

func (k AuthKey) publicPEM() (string, error) {
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

func keyErr(field, format string, args ...any) *FieldError {
	return fieldErr(ErrBadAuthKey, field, format, args...)
}

// keyCause is the FieldError for a PEM that certs refused.
func keyCause(err error) *FieldError {
	e := keyErr(fieldPublicKey, "%v", err)
	e.cause = err
	return e
}

// ParseTrustedKey makes the AuthKey of keyID and teamID from PEM: a .p8
// file ("PRIVATE KEY", of which only the public half is kept) or a "PUBLIC
// KEY", either ECDSA P-256. Errors are a *FieldError wrapping ErrBadAuthKey
// and, for the PEM, the error of certs.ParseAuthPublicKey.
func ParseTrustedKey(keyID, teamID string, pemBytes []byte) (AuthKey, error) {
	k := AuthKey{KeyID: keyID, TeamID: teamID}
	if err := k.validateIDs(); err != nil {
		return AuthKey{}, err
	}
	pub, err := certs.ParseAuthPublicKey(pemBytes)
	if err != nil {
		return AuthKey{}, keyCause(err)
	}
	k.PublicKey = pub
	return k, nil
}

// MarshalJSON writes {"key_id", "team_id", "public_key"}, the key as a PEM
// "PUBLIC KEY" block.
func (k AuthKey) MarshalJSON() ([]byte, error) {
	var p string
	if k.PublicKey != nil {
		var err error
		if p, err = k.publicPEM(); err != nil {
			return nil, keyErr(fieldPublicKey, "%v", err)
		}
	}
	return json.Marshal(struct {
		KeyID     string `json:"key_id"`
		TeamID    string `json:"team_id"`
		PublicKey string `json:"public_key"`
	}{k.KeyID, k.TeamID, p})
}

// UnmarshalJSON reads the form MarshalJSON writes and checks it: IDs of 10
// letters or digits, a P-256 key in PEM. Unknown members are refused.
// Errors are a *FieldError naming the member, wrapping ErrBadAuthKey; on
// error k is unchanged.
func (k *AuthKey) UnmarshalJSON(b []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil || members == nil {
		return keyErr("", "want a JSON object with key_id, team_id and public_key")
	}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		if name != fieldKeyID && name != fieldTeamID && name != fieldPublicKey {
			return keyErr(name, "unknown member (want key_id, team_id and public_key)")
		}
	}
	var out AuthKey
	var pemText string
	for _, m := range []struct {
		name string
		dst  *string
	}{{fieldKeyID, &out.KeyID}, {fieldTeamID, &out.TeamID}, {fieldPublicKey, &pemText}} {
		raw, ok := members[m.name]
		if !ok {
			return keyErr(m.name, "required")
		}
		if err := json.Unmarshal(raw, m.dst); err != nil {
			return keyErr(m.name, "want a string")
		}
	}
	if err := out.validateIDs(); err != nil {
		return err
	}
	pub, err := certs.ParseAuthPublicKey([]byte(pemText))
	if err != nil {
		return keyCause(err)
	}
	out.PublicKey = pub
	*k = out
	return nil
}

// keyStore holds the trusted keys by key ID. Its generation changes with
// every change, so that cached verdicts know when to verify again.
type keyStore struct {
	mu   sync.RWMutex
	keys map[string]AuthKey
	gen  atomic.Uint64
}

func (ks *keyStore) get(keyID string) (AuthKey, bool) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	k, ok := ks.keys[keyID]
	return k, ok
}

// add trusts k, replacing a key of the same ID.
func (ks *keyStore) add(k AuthKey) error {
	if err := k.validate(); err != nil {
		return err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.keys == nil {
		ks.keys = make(map[string]AuthKey)
	}
	ks.keys[k.KeyID] = k
	ks.gen.Add(1)
	return nil
}

func (ks *keyStore) remove(keyID string) bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	_, ok := ks.keys[keyID]
	if ok {
		delete(ks.keys, keyID)
		ks.gen.Add(1)
	}
	return ok
}

// replace trusts exactly keys (already validated).
func (ks *keyStore) replace(keys []AuthKey) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.keys = make(map[string]AuthKey, len(keys))
	for _, k := range keys {
		ks.keys[k.KeyID] = k
	}
	ks.gen.Add(1)
}

// list returns the keys ordered by key ID.
func (ks *keyStore) list() []AuthKey {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	out := make([]AuthKey, 0, len(ks.keys))
	for _, k := range ks.keys {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b AuthKey) int { return strings.Compare(a.KeyID, b.KeyID) })
	return out
}

// jwtClaims is what a token that passed the checks says.
type jwtClaims struct {
	keyID, teamID string
	iat           time.Time
}

// jwtVerifier checks tokens against a key store.
type jwtVerifier struct {
	keys      *keyStore
	noVerify  bool // Config.NoJWTVerify
	lifetime  time.Duration
	skewAhead time.Duration
}

// bearerToken extracts the JWT of an authorization header value; ok is
// false when the header presents none (MissingProviderToken).
func bearerToken(authorization string) (token string, ok bool) {
	v := strings.Trim(authorization, " \t")
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.Trim(rest, " \t")
	return token, token != ""
}

var jwtB64 = base64.RawURLEncoding.Strict()

// check runs every step but the age check on a token (without "bearer ")
// and returns its claims, or the reason it fails (InvalidProviderToken).
func (v *jwtVerifier) check(token string) (jwtClaims, apns.Reason) {
	const invalid = apns.ReasonInvalidProviderToken
	if len(token) > maxJWTLength || !jwtAlphabet(token) {
		return jwtClaims{}, invalid
	}
	h64, rest, ok1 := strings.Cut(token, ".")
	c64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s64, ".") {
		return jwtClaims{}, invalid
	}
	// Every part is shorter than maxJWTLength, so these buffers are bounded.
	var buf [maxJWTLength]byte
	hn, err := jwtB64.Decode(buf[:], []byte(h64))
	if err != nil {
		return jwtClaims{}, invalid
	}
	header, ok := decodeObject(buf[:hn])
	if !ok {
		return jwtClaims{}, invalid
	}
	alg, okAlg := stringMember(header, "alg")
	kid, okKid := stringMember(header, "kid")
	if !okAlg || alg != "ES256" || !okKid || !certs.ValidAuthID(kid) {
		return jwtClaims{}, invalid
	}
	cn, err := jwtB64.Decode(buf[:], []byte(c64))
	if err != nil {
		return jwtClaims{}, invalid
	}
	claims, ok := decodeObject(buf[:cn])
	if !ok {
		return jwtClaims{}, invalid
	}
	iss, okIss := stringMember(claims, "iss")
	iat, okIat := numericDate(claims["iat"])
	if !okIss || !certs.ValidAuthID(iss) || !okIat {
		return jwtClaims{}, invalid
	}
	var sig [64]byte
	if jwtB64.DecodedLen(len(s64)) != len(sig) {
		return jwtClaims{}, invalid
	}
	if n, err := jwtB64.Decode(sig[:], []byte(s64)); err != nil || n != len(sig) {
		return jwtClaims{}, invalid
	}
	out := jwtClaims{keyID: kid, teamID: iss, iat: iat}
	key, known := v.keys.get(out.keyID)
	switch {
	case known && key.TeamID != out.teamID:
		return jwtClaims{}, invalid
	case v.noVerify:
		return out, ""
	case !known:
		return jwtClaims{}, invalid
	}
	digest := sha256.Sum256([]byte(token[:len(h64)+1+len(c64)]))
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(key.PublicKey, digest[:], r, s) {
		return jwtClaims{}, invalid
	}
	return out, ""
}

// jwtAlphabet reports whether s holds only base64url digits and dots (the
// decoder would skip line breaks).
func jwtAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// decodeObject reads a JSON object; anything else (null, an array, bad
// JSON) is refused. Member names are exact: "ALG" is not "alg".
func decodeObject(b []byte) (map[string]json.RawMessage, bool) {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	return m, json.Unmarshal(b, &m) == nil
}

// stringMember reads the string member name of an object.
func stringMember(m map[string]json.RawMessage, name string) (string, bool) {
	raw, ok := m[name]
	if !ok || len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

// numericDate reads a JWT NumericDate: a JSON number of seconds since the
// epoch, fractions allowed. Values beyond ±maxIat are clamped.
func numericDate(raw json.RawMessage) (time.Time, bool) {
	if len(raw) == 0 || !(raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9') {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil && !isRangeErr(err) {
		return time.Time{}, false
	}
	if math.IsNaN(f) {
		return time.Time{}, false
	}
	f = max(min(f, maxIat), -maxIat)
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64((f-sec)*1e9)), true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// age checks a valid token's "iat" against now.
func (v *jwtVerifier) age(c jwtClaims, now time.Time) apns.Reason {
	if now.Sub(c.iat) > v.lifetime || c.iat.Sub(now) > v.skewAhead {
		return apns.ReasonExpiredProviderToken
	}
	return ""
}
