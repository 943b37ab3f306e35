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
// Keys may be PKCS#8 ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC 1
// ("EC PRIVATE KEY"). A legacy OpenSSL-encrypted key (a block with
// "Proc-Type: 4,ENCRYPTED", as written by `openssl rsa -des3`) is
// decrypted with passphrase. PBES2-encrypted PKCS#8 ("ENCRYPTED PRIVATE
// KEY") is not supported and reported as ErrUnsupportedKey.
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
// the key is in certFile. File errors wrap the os error (errors.Is with
// fs.ErrNotExist works).
func LoadPEMFiles(certFile, keyFile string, passphrase []byte) (*Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("apns: read certificate: %w", err)
	}
	var keyPEM []byte
	if keyFile != "" {
		if keyPEM, err = os.ReadFile(keyFile); err != nil {
			return nil, fmt.Errorf("apns: read key: %w", err)
		}
	}
	c, err := ParsePEM(certPEM, keyPEM, passphrase)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	return c, nil
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
			return nil, fmt.Errorf("%w: PBES2-encrypted PKCS#8 key", ErrUnsupportedKey)
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
