package client

import (
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/apnskit/apnskit/internal/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

// Identity is the SHA-256 digest of a certificate's leaf (DER). Pools key
// connections on it, so a session never needs to hold on to PEM data.
type Identity [32]byte

// String returns the digest in lower-case hex.
func (id Identity) String() string { return hex.EncodeToString(id[:]) }

// Certificate is a client certificate with its private key, ready for the
// TLS handshake with the gateway. It is immutable and safe to share.
type Certificate struct {
	tls      tls.Certificate
	identity Identity
}

// NewCertificate wraps a parsed tls.Certificate. Its first certificate is
// the leaf; the private key must match it.
func NewCertificate(tc tls.Certificate) (*Certificate, error) {
	if len(tc.Certificate) == 0 {
		return nil, ErrNoCertificate
	}
	if tc.PrivateKey == nil {
		return nil, ErrNoKey
	}
	leaf := tc.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(tc.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%w: certificate: %w", ErrMalformedPEM, err)
		}
	}
	if err := checkKeyMatch(leaf, tc.PrivateKey); err != nil {
		return nil, err
	}
	tc.Leaf = leaf
	return &Certificate{tls: tc, identity: sha256.Sum256(leaf.Raw)}, nil
}

// ParsePEM reads a certificate and its private key from PEM data. The
// certificate block comes first in certPEM, optionally followed by
// intermediate certificates. When keyPEM is nil the key is looked for in
// certPEM (certificate and key in one file).
//
// The first private key block in keyPEM is used. Its formats:
//   - "PRIVATE KEY": unencrypted PKCS#8 (RSA, ECDSA or Ed25519 key).
//   - "RSA PRIVATE KEY": PKCS#1; "EC PRIVATE KEY": SEC 1.
//   - "ENCRYPTED PRIVATE KEY": PKCS#8 encrypted with PBES2 (RFC 5958,
//     RFC 8018), as OpenSSL 3 writes by default for `openssl pkcs8 -topk8`,
//     `openssl pkey -aes256` and `openssl genpkey -aes-256-cbc`: key
//     derivation PBKDF2 with hmacWithSHA1, -SHA224, -SHA256, -SHA384 or
//     -SHA512 and at most 10,000,000 iterations; cipher aes128-CBC,
//     aes192-CBC, aes256-CBC or des-EDE3-CBC. Other schemes (scrypt, PBES1,
//     PKCS#12 PBE, RC2, ...) are reported as ErrUnsupportedKey naming the
//     algorithm's OID; re-encrypt such a key with
//     `openssl pkcs8 -topk8 -v2 aes256`.
//   - A legacy OpenSSL-encrypted PKCS#1 or SEC 1 key: a block with the
//     header "Proc-Type: 4,ENCRYPTED", as written by `openssl rsa -des3`.
//
// Encrypted keys are decrypted with passphrase; a missing (empty) or wrong
// passphrase is reported as ErrBadPassphrase.
//
// Errors wrap ErrMalformedPEM, ErrNoCertificate, ErrNoKey, ErrBadPassphrase,
// ErrUnsupportedKey or ErrKeyMismatch.
func ParsePEM(certPEM, keyPEM, passphrase []byte) (*Certificate, error) {
	chain, err := pemCertificates(certPEM)
	if err != nil {
		return nil, err
	}
	if keyPEM == nil {
		keyPEM = certPEM
	}
	key, err := pemKey(keyPEM, passphrase)
	if err != nil {
		return nil, err
	}
	return NewCertificate(tls.Certificate{Certificate: chain, PrivateKey: key})
}

// LoadPEMFiles reads ParsePEM's inputs from files. An empty keyFile means
// the key is in certFile. The key formats, encrypted ones included, are
// those of [ParsePEM]; passphrase decrypts an encrypted key. File errors
// wrap the os error (errors.Is with fs.ErrNotExist works); the others wrap
// ParsePEM's sentinels and begin with the name of the file at fault: the
// certificate's for its own errors, the key's for a key that cannot be
// read or decrypted, the key's followed by the certificate's for a key
// that does not match.
func LoadPEMFiles(certFile, keyFile string, passphrase []byte) (*Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("apns: read certificate: %w", err)
	}
	keyPEM, keyName := certPEM, certFile
	if keyFile != "" {
		if keyPEM, err = os.ReadFile(keyFile); err != nil {
			return nil, fmt.Errorf("apns: read key: %w", err)
		}
		keyName = keyFile
	}
	chain, err := pemCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	key, err := pemKey(keyPEM, passphrase)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyName, err)
	}
	c, err := NewCertificate(tls.Certificate{Certificate: chain, PrivateKey: key})
	switch {
	case err == nil:
		return c, nil
	case keyFile != "" && errors.Is(err, ErrKeyMismatch):
		return nil, fmt.Errorf("%s: %w %s", keyFile, err, certFile)
	}
	return nil, fmt.Errorf("%s: %w", certFile, err)
}

// ParsePKCS12 reads a PKCS#12 (.p12) file as exported by Keychain Access:
// the certificate, its key and optional CA certificates. A wrong password
// wraps ErrBadPassphrase; data that is not PKCS#12 wraps ErrMalformedPKCS12.
func ParsePKCS12(data []byte, password string) (*Certificate, error) {
	key, leaf, cas, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, fmt.Errorf("%w: %w", ErrBadPassphrase, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrMalformedPKCS12, err)
	}
	if leaf == nil {
		return nil, ErrNoCertificate
	}
	chain := [][]byte{leaf.Raw}
	for _, ca := range cas {
		chain = append(chain, ca.Raw)
	}
	return NewCertificate(tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf})
}

// Identity returns the SHA-256 digest of the leaf certificate.
func (c *Certificate) Identity() Identity { return c.identity }

// Leaf returns the parsed leaf certificate (subject, validity, ...).
func (c *Certificate) Leaf() *x509.Certificate { return c.tls.Leaf }

// TLSCertificate returns the certificate for a tls.Config.
func (c *Certificate) TLSCertificate() tls.Certificate { return c.tls }

func pemCertificates(data []byte) ([][]byte, error) {
	var chain [][]byte
	blocks := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks++
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %w", ErrMalformedPEM, len(chain)+1, err)
		}
		chain = append(chain, b.Bytes)
	}
	switch {
	case blocks == 0:
		return nil, fmt.Errorf("%w: no PEM block in certificate data", ErrMalformedPEM)
	case len(chain) == 0:
		return nil, ErrNoCertificate
	}
	return chain, nil
}

func pemKey(data, passphrase []byte) (crypto.PrivateKey, error) {
	blocks := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks++
		if b.Type == "ENCRYPTED PRIVATE KEY" {
			return decryptPKCS8(b.Bytes, passphrase)
		}
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
			continue
		}
		der := b.Bytes
		encrypted := x509.IsEncryptedPEMBlock(b) //nolint:staticcheck // legacy format, still in use for APNs keys
		if encrypted {
			if len(passphrase) == 0 {
				return nil, fmt.Errorf("%w: key is encrypted", ErrBadPassphrase)
			}
			var err error
			der, err = x509.DecryptPEMBlock(b, passphrase) //nolint:staticcheck // see above
			if err != nil {
				if errors.Is(err, x509.IncorrectPasswordError) {
					return nil, fmt.Errorf("%w: %w", ErrBadPassphrase, err)
				}
				return nil, fmt.Errorf("%w: encrypted key: %w", ErrMalformedPEM, err)
			}
		}
		key, err := parseKeyDER(der)
		if err != nil {
			if encrypted { // a wrong passphrase sometimes passes the padding check
				return nil, fmt.Errorf("%w: decrypted key does not parse", ErrBadPassphrase)
			}
			return nil, fmt.Errorf("%w: key: %w", ErrMalformedPEM, err)
		}
		return key, nil
	}
	if blocks == 0 {
		return nil, fmt.Errorf("%w: no PEM block in key data", ErrMalformedPEM)
	}
	return nil, ErrNoKey
}

func parseKeyDER(der []byte) (crypto.PrivateKey, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParseECPrivateKey(der)
	if err != nil {
		return nil, errors.New("not a PKCS#8, PKCS#1 or SEC 1 private key")
	}
	return k, nil
}

func checkKeyMatch(leaf *x509.Certificate, key crypto.PrivateKey) error {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return fmt.Errorf("%w: %T", ErrUnsupportedKey, key)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return ErrKeyMismatch
	}
	return nil
}

// decryptPKCS8 decrypts an encrypted PKCS#8 key with package pkcs8 and
// puts the client's sentinel for the kind of error in front.
func decryptPKCS8(der, passphrase []byte) (crypto.PrivateKey, error) {
	key, err := pkcs8.Decrypt(der, passphrase)
	if err == nil {
		return key, nil
	}
	for _, k := range []struct{ kind, sentinel error }{
		{pkcs8.ErrBadPassphrase, ErrBadPassphrase},
		{pkcs8.ErrUnsupported, ErrUnsupportedKey},
		{pkcs8.ErrMalformed, ErrMalformedPEM},
	} {
		if errors.Is(err, k.kind) {
			return nil, fmt.Errorf("%w: %w", k.sentinel, err)
		}
	}
	return nil, fmt.Errorf("%w: %w", ErrMalformedPEM, err)
}
