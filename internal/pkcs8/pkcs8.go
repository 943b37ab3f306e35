// Package pkcs8 decrypts encrypted PKCS#8 private keys: RFC 5958
// EncryptedPrivateKeyInfo protected with RFC 8018 PBES2 (PBKDF2 and a CBC
// block cipher), the format OpenSSL 3 writes for `openssl pkcs8 -topk8`,
// `openssl pkey -aes256` and `openssl genpkey -aes-256-cbc`. Package client
// reads keys with it.
package pkcs8

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
)

// The kinds of error of Decrypt; match them with errors.Is.
var (
	// ErrMalformed: DER that is not an EncryptedPrivateKeyInfo with valid
	// PBES2 parameters, or a decrypted key that x509 cannot parse.
	ErrMalformed = errors.New("pkcs8: malformed encrypted key")
	// ErrUnsupported: a well-formed key of a scheme, key derivation,
	// cipher, PRF or key algorithm this package does not read, or an
	// iteration count above the bound.
	ErrUnsupported = errors.New("pkcs8: unsupported encrypted key")
	// ErrBadPassphrase: no passphrase, or one that does not decrypt the key.
	ErrBadPassphrase = errors.New("pkcs8: wrong or missing passphrase")
)

// Error is an error of Decrypt. Its message says what is wrong without the
// kind, so that a caller can put its own sentinel in front.
type Error struct {
	Kind error  // ErrMalformed, ErrUnsupported or ErrBadPassphrase
	Msg  string // what is wrong
	Err  error  // the cause, if any
}

// Error is Msg, and the cause.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

// Unwrap returns the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// maxPBKDF2Iterations bounds the PBKDF2 iteration count a key may ask for.
// The count comes from the (untrusted) key file and sets how long the key
// derivation runs; OpenSSL writes 2048 by default, and ten million already
// takes seconds.
const maxPBKDF2Iterations = 10_000_000

var (
	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
)

// pbkdf2PRFs are the PBKDF2 pseudo-random functions read, by OID
// (RFC 8018 appendix B.1). hmacWithSHA1 is the default when none is named.
var pbkdf2PRFs = []struct {
	oid  asn1.ObjectIdentifier
	name string
	hash func() hash.Hash
}{
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}, "hmacWithSHA1", sha1.New},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}, "hmacWithSHA224", sha256.New224},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}, "hmacWithSHA256", sha256.New},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}, "hmacWithSHA384", sha512.New384},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}, "hmacWithSHA512", sha512.New},
}

// pbes2Ciphers are the PBES2 encryption schemes read, by OID (RFC 8018
// appendix B.2). Each takes the IV (one block) as its parameters.
var pbes2Ciphers = []struct {
	oid       asn1.ObjectIdentifier
	name      string
	keyLen    int
	blockSize int
	new       func(key []byte) (cipher.Block, error)
}{
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}, "aes128-CBC", 16, aes.BlockSize, aes.NewCipher},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}, "aes192-CBC", 24, aes.BlockSize, aes.NewCipher},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}, "aes256-CBC", 32, aes.BlockSize, aes.NewCipher},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}, "des-EDE3-CBC", 24, des.BlockSize, des.NewTripleDESCipher},
}

// knownOIDs names algorithms that are recognised but not supported, so the
// error says what the key uses.
var knownOIDs = map[string]string{
	"1.3.6.1.4.1.11591.4.11":  "scrypt",
	"1.2.840.113549.1.5.1":    "PBES1 pbeWithMD2AndDES-CBC",
	"1.2.840.113549.1.5.3":    "PBES1 pbeWithMD5AndDES-CBC",
	"1.2.840.113549.1.5.4":    "PBES1 pbeWithMD2AndRC2-CBC",
	"1.2.840.113549.1.5.6":    "PBES1 pbeWithMD5AndRC2-CBC",
	"1.2.840.113549.1.5.10":   "PBES1 pbeWithSHA1AndDES-CBC",
	"1.2.840.113549.1.5.11":   "PBES1 pbeWithSHA1AndRC2-CBC",
	"1.2.840.113549.1.12.1.1": "PKCS#12 pbeWithSHAAnd128BitRC4",
	"1.2.840.113549.1.12.1.2": "PKCS#12 pbeWithSHAAnd40BitRC4",
	"1.2.840.113549.1.12.1.3": "PKCS#12 pbeWithSHAAnd3-KeyTripleDES-CBC",
	"1.2.840.113549.1.12.1.4": "PKCS#12 pbeWithSHAAnd2-KeyTripleDES-CBC",
	"1.2.840.113549.1.12.1.5": "PKCS#12 pbeWithSHAAnd128BitRC2-CBC",
	"1.2.840.113549.1.12.1.6": "PKCS#12 pbeWithSHAAnd40BitRC2-CBC",
	"1.2.840.113549.2.12":     "hmacWithSHA512-224",
	"1.2.840.113549.2.13":     "hmacWithSHA512-256",
	"1.2.840.113549.3.2":      "rc2-CBC",
	"1.3.14.3.2.7":            "des-CBC",
	"2.16.840.1.101.3.4.1.6":  "aes128-GCM",
	"2.16.840.1.101.3.4.1.46": "aes256-GCM",
}

// oidName is "name (oid)" for a recognised OID, else the dotted OID.
func oidName(oid asn1.ObjectIdentifier) string {
	s := oid.String()
	if name, ok := knownOIDs[s]; ok {
		return name + " (" + s + ")"
	}
	return s
}

// pbes2Params is the parameters of the PBES2 algorithm identifier.
type pbes2Params struct {
	KDF pkix.AlgorithmIdentifier
	Enc pkix.AlgorithmIdentifier
}

// pbkdf2Setup is what the key derivation needs, read and checked.
type pbkdf2Setup struct {
	salt       []byte
	iterations int
	keyLen     int // 0 when the parameters do not state it
	prf        func() hash.Hash
}

// malformedPKCS8 is an ErrMalformed error for an encrypted key that does not
// follow RFC 5958 / RFC 8018.
func malformedPKCS8(format string, args ...any) error {
	return &Error{Kind: ErrMalformed, Msg: "encrypted PKCS#8 key: " + fmt.Sprintf(format, args...)}
}

// unsupportedPKCS8 is an ErrUnsupported error for a well-formed encrypted key
// that uses an algorithm (or a cost) this package does not accept.
func unsupportedPKCS8(format string, args ...any) error {
	return &Error{Kind: ErrUnsupported, Msg: "encrypted PKCS#8 key: " + fmt.Sprintf(format, args...)}
}

// unmarshalAll parses exactly one DER value from der into v, refusing
// trailing bytes.
func unmarshalAll(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d trailing bytes", len(rest))
	}
	return nil
}

// Decrypt decrypts the contents of an "ENCRYPTED PRIVATE KEY" block and
// parses the PKCS#8 key inside. Every parameter is checked before the
// (costly) key derivation runs.
//
// Errors are *Error of kind ErrMalformed (DER that is not an
// EncryptedPrivateKeyInfo with valid PBES2 parameters), ErrUnsupported
// (another scheme, KDF, PRF or cipher, named with its OID, or an iteration
// count above maxPBKDF2Iterations), or ErrBadPassphrase (no passphrase, or
// one that does not decrypt the key).
func Decrypt(der, passphrase []byte) (crypto.PrivateKey, error) {
	var info struct {
		Algo pkix.AlgorithmIdentifier
		Data []byte
	}
	if err := unmarshalAll(der, &info); err != nil {
		return nil, malformedPKCS8("%v", err)
	}
	if !info.Algo.Algorithm.Equal(oidPBES2) {
		return nil, unsupportedPKCS8("encryption scheme %s; only PBES2 is read", oidName(info.Algo.Algorithm))
	}
	var params pbes2Params
	if err := unmarshalAll(info.Algo.Parameters.FullBytes, &params); err != nil {
		return nil, malformedPKCS8("PBES2 parameters: %v", err)
	}
	kdf, err := parsePBKDF2(params.KDF)
	if err != nil {
		return nil, err
	}

	scheme := -1
	for i, c := range pbes2Ciphers {
		if params.Enc.Algorithm.Equal(c.oid) {
			scheme = i
			break
		}
	}
	if scheme < 0 {
		return nil, unsupportedPKCS8("cipher %s; supported: aes128-CBC, aes192-CBC, aes256-CBC, des-EDE3-CBC", oidName(params.Enc.Algorithm))
	}
	c := pbes2Ciphers[scheme]
	var iv []byte
	if err := unmarshalAll(params.Enc.Parameters.FullBytes, &iv); err != nil {
		return nil, malformedPKCS8("%s IV: %v", c.name, err)
	}
	if len(iv) != c.blockSize {
		return nil, malformedPKCS8("%s IV of %d bytes, want %d", c.name, len(iv), c.blockSize)
	}
	if kdf.keyLen != 0 && kdf.keyLen != c.keyLen {
		return nil, malformedPKCS8("PBKDF2 key length %d does not fit %s (%d)", kdf.keyLen, c.name, c.keyLen)
	}
	if len(info.Data) == 0 || len(info.Data)%c.blockSize != 0 {
		return nil, malformedPKCS8("encrypted data of %d bytes is not a positive multiple of the %s block size", len(info.Data), c.name)
	}

	if len(passphrase) == 0 {
		return nil, &Error{Kind: ErrBadPassphrase, Msg: "key is encrypted"}
	}
	key, err := pbkdf2.Key(kdf.prf, string(passphrase), kdf.salt, kdf.iterations, c.keyLen)
	if err != nil { // only in FIPS 140-only mode
		return nil, unsupportedPKCS8("PBKDF2: %v", err)
	}
	block, err := c.new(key)
	clear(key)
	if err != nil {
		return nil, unsupportedPKCS8("%s: %v", c.name, err)
	}
	plain := make([]byte, len(info.Data))
	defer clear(plain)
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, info.Data)
	n, ok := unpadPKCS7(plain, c.blockSize)
	if !ok {
		return nil, &Error{Kind: ErrBadPassphrase, Msg: "encrypted PKCS#8 key does not decrypt"}
	}
	return parseDecryptedPKCS8(plain[:n])
}

// parsePBKDF2 reads and checks the key derivation function's identifier:
//
//	PBKDF2-params ::= SEQUENCE {
//	    salt CHOICE { specified OCTET STRING, otherSource AlgorithmIdentifier },
//	    iterationCount INTEGER (1..MAX),
//	    keyLength INTEGER (1..MAX) OPTIONAL,
//	    prf AlgorithmIdentifier DEFAULT algid-hmacWithSHA1 }
func parsePBKDF2(alg pkix.AlgorithmIdentifier) (pbkdf2Setup, error) {
	var s pbkdf2Setup
	if !alg.Algorithm.Equal(oidPBKDF2) {
		return s, unsupportedPKCS8("key derivation function %s; only PBKDF2 is read", oidName(alg.Algorithm))
	}
	var seq asn1.RawValue
	if err := unmarshalAll(alg.Parameters.FullBytes, &seq); err != nil {
		return s, malformedPKCS8("PBKDF2 parameters: %v", err)
	}
	if seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return s, malformedPKCS8("PBKDF2 parameters are not a SEQUENCE")
	}
	var elems []asn1.RawValue
	for rest := seq.Bytes; len(rest) > 0; {
		var e asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &e); err != nil {
			return s, malformedPKCS8("PBKDF2 parameters: %v", err)
		}
		if e.Class != asn1.ClassUniversal {
			return s, malformedPKCS8("PBKDF2 parameters: unexpected tag [%d]", e.Tag)
		}
		elems = append(elems, e)
		if len(elems) > 4 {
			return s, malformedPKCS8("PBKDF2 parameters: more than 4 fields")
		}
	}
	if len(elems) < 2 {
		return s, malformedPKCS8("PBKDF2 parameters: %d fields, want salt and iteration count", len(elems))
	}

	switch salt := elems[0]; {
	case salt.Tag == asn1.TagOctetString && !salt.IsCompound:
		if len(salt.Bytes) == 0 {
			return s, malformedPKCS8("empty PBKDF2 salt")
		}
		s.salt = salt.Bytes
	case salt.Tag == asn1.TagSequence && salt.IsCompound:
		return s, unsupportedPKCS8("PBKDF2 salt from another source (only a specified salt is read)")
	default:
		return s, malformedPKCS8("PBKDF2 salt is neither OCTET STRING nor AlgorithmIdentifier")
	}

	var iter int64
	if err := unmarshalAll(elems[1].FullBytes, &iter); err != nil {
		return s, malformedPKCS8("PBKDF2 iteration count: %v", err)
	}
	switch {
	case iter < 1:
		return s, malformedPKCS8("PBKDF2 iteration count %d", iter)
	case iter > maxPBKDF2Iterations:
		return s, unsupportedPKCS8("PBKDF2 iteration count %d is above the limit of %d", iter, maxPBKDF2Iterations)
	}
	s.iterations = int(iter)

	rest := elems[2:]
	if len(rest) > 0 && rest[0].Tag == asn1.TagInteger {
		var n int64
		if err := unmarshalAll(rest[0].FullBytes, &n); err != nil {
			return s, malformedPKCS8("PBKDF2 key length: %v", err)
		}
		if n < 1 || n > 64 { // no supported cipher takes more than 32
			return s, malformedPKCS8("PBKDF2 key length %d", n)
		}
		s.keyLen = int(n)
		rest = rest[1:]
	}

	s.prf = sha1.New // the DEFAULT, hmacWithSHA1
	switch len(rest) {
	case 0:
	case 1:
		var prf pkix.AlgorithmIdentifier
		if err := unmarshalAll(rest[0].FullBytes, &prf); err != nil {
			return s, malformedPKCS8("PBKDF2 PRF: %v", err)
		}
		if p := prf.Parameters; len(p.FullBytes) != 0 && !(p.Class == asn1.ClassUniversal && p.Tag == asn1.TagNull && len(p.Bytes) == 0) {
			return s, malformedPKCS8("PBKDF2 PRF %s has parameters other than NULL", oidName(prf.Algorithm))
		}
		s.prf = nil
		for _, p := range pbkdf2PRFs {
			if prf.Algorithm.Equal(p.oid) {
				s.prf = p.hash
				break
			}
		}
		if s.prf == nil {
			return s, unsupportedPKCS8("PBKDF2 PRF %s; supported: hmacWithSHA1, hmacWithSHA224, hmacWithSHA256, hmacWithSHA384, hmacWithSHA512", oidName(prf.Algorithm))
		}
	default:
		return s, malformedPKCS8("PBKDF2 parameters: unexpected fields after the iteration count")
	}
	return s, nil
}

// unpadPKCS7 returns the length of data without its PKCS#7 padding, and
// whether the padding is valid. It reads the same bytes whatever the
// padding holds.
func unpadPKCS7(data []byte, blockSize int) (int, bool) {
	if len(data) == 0 || len(data)%blockSize != 0 {
		return 0, false
	}
	pad := int(data[len(data)-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, blockSize)
	tail := data[len(data)-blockSize:]
	for i := range blockSize {
		// The last pad bytes must all equal pad; bytes before them are free.
		inPad := subtle.ConstantTimeLessOrEq(blockSize-i, pad)
		same := subtle.ConstantTimeByteEq(tail[i], byte(pad))
		good &= same | (inPad ^ 1)
	}
	if good != 1 {
		return 0, false
	}
	return len(data) - pad, true
}

// parseDecryptedPKCS8 parses the plaintext as a PKCS#8 PrivateKeyInfo. A
// plaintext that is not even shaped like one means the passphrase was
// wrong and the padding check passed by chance; one that is shaped right
// but names an algorithm x509 does not read is an unsupported key.
func parseDecryptedPKCS8(der []byte) (crypto.PrivateKey, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err == nil {
		return key, nil
	}
	var shape struct {
		Version    int
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
		// Attributes and a public key (RFC 5958) may follow; asn1 skips them.
	}
	if unmarshalAll(der, &shape) != nil {
		return nil, &Error{Kind: ErrBadPassphrase, Msg: "decrypted key does not parse"}
	}
	switch shape.Algo.Algorithm.String() {
	case "1.2.840.113549.1.1.1", "1.2.840.10045.2.1", "1.3.101.112", "1.3.101.110": // RSA, EC, Ed25519, X25519
		return nil, &Error{Kind: ErrMalformed, Msg: "decrypted PKCS#8 key", Err: err}
	}
	return nil, &Error{Kind: ErrUnsupported, Msg: fmt.Sprintf("decrypted PKCS#8 key of algorithm %s", shape.Algo.Algorithm), Err: err}
}
