package apns

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
)

// MaxTokenLength is the longest device token apnskit accepts, in bytes:
// the last table of Apple's binary items allows "up to 100 bytes", and the
// HTTP/2 API says only that tokens vary in length. The client, the mock and
// the command-line tools all apply this one bound.
const MaxTokenLength = 100

// ErrBadToken is wrapped by every error of [ParseToken] and [TokenFromBytes].
var ErrBadToken = errors.New("apns: bad device token")

// Token is a device token. It is immutable and comparable (it can be a map
// key and compared with ==), so values can be shared without copying. The
// zero Token is empty and is what the parse functions never return.
type Token struct {
	b string // the token's bytes
}

// ParseToken parses the hexadecimal form of a token, as Apple shows it and
// as HTTP/2 carries it in :path. Upper- and lower-case digits are accepted.
// The token must be non-empty, of even length and at most [MaxTokenLength]
// bytes; otherwise the error wraps [ErrBadToken] and says why.
func ParseToken(s string) (Token, error) {
	b, err := AppendParsedToken(nil, s)
	if err != nil {
		return Token{}, err
	}
	return Token{b: string(b)}, nil
}

// AppendParsedToken appends the bytes of the hexadecimal token s to dst,
// under the rules of [ParseToken], without allocating when dst has room:
// for encoders that turn many tokens into frames. On error dst is returned
// unchanged.
func AppendParsedToken(dst []byte, s string) ([]byte, error) {
	switch {
	case s == "":
		return dst, fmt.Errorf("%w: empty", ErrBadToken)
	case len(s)%2 != 0:
		return dst, fmt.Errorf("%w: odd number of hex digits (%d)", ErrBadToken, len(s))
	case len(s)/2 > MaxTokenLength:
		return dst, fmt.Errorf("%w: %d bytes, longer than %d", ErrBadToken, len(s)/2, MaxTokenLength)
	}
	n := len(s) / 2
	out := slices.Grow(dst, n)[:len(dst)+n]
	// Decode into place and check once at the end: a bad digit has the
	// high bits of its table value set. Eight digits a round, whose
	// look-ups do not wait for each other, then the rest.
	o, h := out[len(dst):], s
	var bad byte
	for len(h) >= 8 && len(o) >= 4 {
		a0, a1, a2, a3 := hexValue[h[0]], hexValue[h[1]], hexValue[h[2]], hexValue[h[3]]
		a4, a5, a6, a7 := hexValue[h[4]], hexValue[h[5]], hexValue[h[6]], hexValue[h[7]]
		bad |= a0 | a1 | a2 | a3 | a4 | a5 | a6 | a7
		o[0], o[1], o[2], o[3] = a0<<4|a1, a2<<4|a3, a4<<4|a5, a6<<4|a7
		h, o = h[8:], o[4:]
	}
	for i := range o {
		hi, lo := hexValue[h[2*i]], hexValue[h[2*i+1]]
		bad |= hi | lo
		o[i] = hi<<4 | lo
	}
	if bad <= 0x0f {
		return out, nil
	}
	for at := range len(s) {
		if hexValue[s[at]] > 0x0f {
			return dst, fmt.Errorf("%w: %q at offset %d is not a hex digit", ErrBadToken, s[at], at)
		}
	}
	return dst, nil // not reached: some digit was bad
}

// hexValue maps a hex digit of either case to its value and every other
// byte to 0xff: one look-up per digit on the parsing path.
var hexValue = func() (t [256]byte) {
	for c := range t {
		v, ok := fromHex(byte(c))
		if !ok {
			v = 0xff
		}
		t[c] = v
	}
	return t
}()

// MustParseToken is [ParseToken] for tokens known to be valid, such as
// constants in tests; it panics on an error.
func MustParseToken(s string) Token {
	t, err := ParseToken(s)
	if err != nil {
		panic(err)
	}
	return t
}

// TokenFromBytes makes a token of a copy of b, which must be non-empty and
// at most [MaxTokenLength] bytes.
func TokenFromBytes(b []byte) (Token, error) {
	switch {
	case len(b) == 0:
		return Token{}, fmt.Errorf("%w: empty", ErrBadToken)
	case len(b) > MaxTokenLength:
		return Token{}, fmt.Errorf("%w: %d bytes, longer than %d", ErrBadToken, len(b), MaxTokenLength)
	}
	return Token{b: string(b)}, nil
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// IsZero reports whether t is the zero (empty) Token.
func (t Token) IsZero() bool { return t.b == "" }

// Len is the token's length in bytes.
func (t Token) Len() int { return len(t.b) }

// Bytes returns a copy of the token's bytes.
func (t Token) Bytes() []byte { return []byte(t.b) }

// AppendBytes appends the token's bytes to dst, for encoders that must not
// allocate.
func (t Token) AppendBytes(dst []byte) []byte { return append(dst, t.b...) }

// Equal reports whether the token is b, without allocating.
func (t Token) Equal(b []byte) bool { return t.b == string(b) }

// String is the token in lower-case hex.
func (t Token) String() string { return hex.EncodeToString([]byte(t.b)) }

// AppendHex appends the token in lower-case hex to dst.
func (t Token) AppendHex(dst []byte) []byte { return hex.AppendEncode(dst, []byte(t.b)) }

// MarshalText encodes the token as lower-case hex; the zero Token as "".
func (t Token) MarshalText() ([]byte, error) { return t.AppendHex(nil), nil }

// UnmarshalText parses hex as [ParseToken] does, so that a Token can be a
// JSON string or a flag value. On error t is unchanged.
func (t *Token) UnmarshalText(text []byte) error {
	p, err := ParseToken(string(text))
	if err != nil {
		return err
	}
	*t = p
	return nil
}
