// Package certs makes the test PKI of apnskit: a certificate authority, a
// server certificate for the mock gateway and feedback service, and client
// certificates shaped like the push certificates Apple issues, and a
// provider-token key ([AuthKey]) that signs JWTs as Apple's .p8 keys do.
//
// Everything is generated in memory ([New]); [PKI.WriteDir] and [LoadDir]
// move it to and from a folder of PEM files, the layout cmd/mockapns uses.
// To write a folder from the command line:
//
//	go run ./certs/gen.go -out DIR
//
// Nothing here is meant for production: keys are unencrypted and
// certificates are long-lived.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// File names inside a PKI folder. They are a contract of cmd/mockapns.
const (
	CAFile        = "ca.pem"
	CAKeyFile     = "ca-key.pem"
	ServerFile    = "server.pem"
	ServerKeyFile = "server-key.pem"
	ClientFile    = "client.pem"
	ClientKeyFile = "client-key.pem"
)

// Object identifiers of the extensions Apple puts in push certificates.
var (
	// OIDSandbox marks a certificate for the development environment.
	OIDSandbox = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 1}
	// OIDProduction marks a certificate for the production environment.
	OIDProduction = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 2}
	// OIDTopics lists the topics (bundle IDs) a certificate may push to.
	OIDTopics = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 6}
	// oidUID is the userId attribute (0.9.2342.19200300.100.1.1).
	oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
)

// Environment is the APNs environment a client certificate is issued for.
type Environment int

// Environments. Both extensions can be present at once, as in Apple's
// universal certificates.
const (
	Sandbox Environment = 1 << iota
	Production
	Universal = Sandbox | Production
)

// DefaultBundleID is the bundle ID of generated client certificates.
const DefaultBundleID = "com.example.apnskit"

// Options shape a generated PKI. The zero value is usable.
type Options struct {
	// BundleID goes into the client certificate's UID, common name and
	// topics; empty means DefaultBundleID.
	BundleID string
	// Environment of the client certificate; 0 means Sandbox.
	Environment Environment
	// Hosts are the DNS names and IP addresses of the server certificate;
	// nil means localhost, 127.0.0.1 and ::1.
	Hosts []string
	// NotBefore is the start of validity; zero means an hour ago.
	NotBefore time.Time
	// Validity is how long the certificates last; 0 means ten years.
	Validity time.Duration
	// RSABits selects RSA keys of that size; 0 means ECDSA P-256, which
	// is faster to generate and to handshake with.
	RSABits int
	// KeyID and TeamID name the provider-token key; empty means random
	// (see NewAuthKey).
	KeyID, TeamID string
}

func (o Options) withDefaults() Options {
	if o.BundleID == "" {
		o.BundleID = DefaultBundleID
	}
	if o.Environment == 0 {
		o.Environment = Sandbox
	}
	if o.Hosts == nil {
		o.Hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.Validity == 0 {
		o.Validity = 10 * 365 * 24 * time.Hour
	}
	return o
}

// Pair is one certificate with its key, in PEM and parsed.
type Pair struct {
	CertPEM []byte // "CERTIFICATE" block
	KeyPEM  []byte // "PRIVATE KEY" block (PKCS #8)
	Cert    *x509.Certificate
	TLS     tls.Certificate
}

// PKI is a CA with the server and client certificates it signed.
type PKI struct {
	CA     Pair
	Server Pair
	Client Pair
	// AuthKey is the provider-token (JWT) signing key of the folder. It is
	// nil only in a PKI loaded by LoadDir from a folder without the auth
	// key files.
	AuthKey *AuthKey
	opts    Options
	caKey   crypto.Signer
}

// New generates a fresh PKI in memory.
func New(opts Options) (*PKI, error) {
	opts = opts.withDefaults()
	p := &PKI{opts: opts}
	caKey, err := newKey(opts.RSABits)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "apnskit test CA", Organization: []string{"apnskit"}},
		NotBefore:             opts.NotBefore,
		NotAfter:              opts.NotBefore.Add(opts.Validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	if p.CA, err = sign(caTmpl, caKey, nil, caKey); err != nil {
		return nil, err
	}
	p.caKey = caKey

	srvKey, err := newKey(opts.RSABits)
	if err != nil {
		return nil, err
	}
	srvTmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "apnskit mock gateway"},
		NotBefore:   opts.NotBefore,
		NotAfter:    opts.NotBefore.Add(opts.Validity),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range opts.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			srvTmpl.IPAddresses = append(srvTmpl.IPAddresses, ip)
		} else {
			srvTmpl.DNSNames = append(srvTmpl.DNSNames, h)
		}
	}
	if p.Server, err = sign(srvTmpl, srvKey, &p.CA, caKey); err != nil {
		return nil, err
	}
	if p.Client, err = p.IssueClient(ClientOptions{BundleID: opts.BundleID, Environment: opts.Environment}); err != nil {
		return nil, err
	}
	if p.AuthKey, err = NewAuthKey(opts.KeyID, opts.TeamID); err != nil {
		return nil, err
	}
	return p, nil
}

// ClientOptions shape one more client certificate from an existing PKI.
type ClientOptions struct {
	BundleID    string      // empty means the PKI's bundle ID
	Environment Environment // 0 means the PKI's environment
	// NoEnvironment leaves out the environment extensions, to test clients
	// that must refuse such a certificate.
	NoEnvironment bool
	// Topics beyond the bundle ID itself; nil means BundleID.voip and
	// BundleID.complication, as Apple's universal certificates list them.
	Topics []string
	// ExtKeyUsage replaces the extended key usages (nil means client
	// authentication), to test servers that must refuse a certificate
	// not meant for clients.
	ExtKeyUsage []x509.ExtKeyUsage
	// CA marks the certificate as a certificate authority (basic
	// constraints), to test servers that must refuse one as a client's.
	CA bool
}

// IssueClient signs another client certificate with the PKI's CA, for tests
// that need several identities (one pool key per certificate).
func (p *PKI) IssueClient(o ClientOptions) (Pair, error) {
	if p.caKey == nil {
		return Pair{}, errors.New("certs: PKI has no CA key")
	}
	if o.BundleID == "" {
		o.BundleID = p.opts.withDefaults().BundleID
	}
	if o.Environment == 0 {
		o.Environment = p.opts.withDefaults().Environment
	}
	key, err := newKey(p.opts.RSABits)
	if err != nil {
		return Pair{}, err
	}
	tmpl := &x509.Certificate{
		Subject: pkix.Name{
			CommonName:         "Apple Push Services: " + o.BundleID,
			OrganizationalUnit: []string{"APNSKIT00"},
			Organization:       []string{"apnskit test"},
			Country:            []string{"US"},
			ExtraNames:         []pkix.AttributeTypeAndValue{{Type: oidUID, Value: o.BundleID}},
		},
		NotBefore:   p.CA.Cert.NotBefore,
		NotAfter:    p.CA.Cert.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if o.ExtKeyUsage != nil {
		tmpl.ExtKeyUsage = o.ExtKeyUsage
	}
	if o.CA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	null := []byte{0x05, 0x00} // ASN.1 NULL, the value Apple's extensions carry
	if !o.NoEnvironment {
		if o.Environment&Sandbox != 0 {
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: OIDSandbox, Value: null})
		}
		if o.Environment&Production != 0 {
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: OIDProduction, Value: null})
		}
	}
	topics, err := topicsExtension(o.BundleID, o.Topics)
	if err != nil {
		return Pair{}, err
	}
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: OIDTopics, Value: topics})
	return sign(tmpl, key, &p.CA, p.caKey)
}

// topicsExtension encodes the topics the way Apple's certificates do: a
// sequence alternating a topic (UTF8String) and a sequence naming its kind.
func topicsExtension(bundle string, extra []string) ([]byte, error) {
	type kinds struct {
		Kind string `asn1:"utf8"`
	}
	if extra == nil {
		extra = []string{bundle + ".voip", bundle + ".complication"}
	}
	var seq []any
	seq = append(seq, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(bundle)}, kinds{"app"})
	for _, t := range extra {
		kind := "app"
		switch {
		case len(t) > len(bundle)+1 && t[len(bundle)+1:] == "voip":
			kind = "voip"
		case len(t) > len(bundle)+1 && t[len(bundle)+1:] == "complication":
			kind = "complication"
		}
		seq = append(seq, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(t)}, kinds{kind})
	}
	return asn1.Marshal(seq)
}

func newKey(rsaBits int) (crypto.Signer, error) {
	if rsaBits > 0 {
		return rsa.GenerateKey(rand.Reader, rsaBits)
	}
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func sign(tmpl *x509.Certificate, key crypto.Signer, parent *Pair, parentKey crypto.Signer) (Pair, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return Pair{}, fmt.Errorf("certs: serial: %w", err)
	}
	tmpl.SerialNumber = serial
	parentCert := tmpl
	if parent != nil {
		parentCert = parent.Cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		return Pair{}, fmt.Errorf("certs: sign %q: %w", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Pair{}, fmt.Errorf("certs: marshal key: %w", err)
	}
	return pairFromPEM(
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	)
}

func pairFromPEM(certPEM, keyPEM []byte) (Pair, error) {
	tc, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return Pair{}, fmt.Errorf("certs: key pair: %w", err)
	}
	return Pair{CertPEM: certPEM, KeyPEM: keyPEM, Cert: tc.Leaf, TLS: tc}, nil
}

// CertPool returns a pool holding the CA, for either side to trust.
func (p *PKI) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA.Cert)
	return pool
}

// ServerTLSConfig returns a server configuration that presents the server
// certificate and requires a client certificate chained to the CA.
func (p *PKI) ServerTLSConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{p.Server.TLS},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.CertPool(),
		MinVersion:   tls.VersionTLS12,
	}
}

// ClientTLSConfig returns a client configuration that presents the client
// certificate and trusts the CA (full verification, no skipping).
func (p *PKI) ClientTLSConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{p.Client.TLS},
		RootCAs:      p.CertPool(),
		MinVersion:   tls.VersionTLS12,
	}
}

// WriteDir writes the six PEM files into dir (created if missing), and the
// auth key files (authkey.p8 and authkey.json) when p has an AuthKey; key
// files get mode 0600.
func (p *PKI) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	caKeyDER, err := x509.MarshalPKCS8PrivateKey(p.caKey)
	if err != nil {
		return fmt.Errorf("certs: marshal CA key: %w", err)
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{CAFile, p.CA.CertPEM, 0o644},
		{CAKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: caKeyDER}), 0o600},
		{ServerFile, p.Server.CertPEM, 0o644},
		{ServerKeyFile, p.Server.KeyPEM, 0o600},
		{ClientFile, p.Client.CertPEM, 0o644},
		{ClientKeyFile, p.Client.KeyPEM, 0o600},
	}
	for _, f := range files {
		if err := writeFile(dir, f.name, f.data, f.mode); err != nil {
			return err
		}
	}
	if p.AuthKey != nil {
		return p.AuthKey.write(dir)
	}
	return nil
}

// writeFile writes one file of a PKI folder with exactly mode.
func writeFile(dir, name string, data []byte, mode os.FileMode) error {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile keeps the mode of an existing file
		return fmt.Errorf("certs: %w", err)
	}
	return nil
}

// ErrIncomplete is returned by [LoadDir] when some but not all of the PKI
// files are present.
var ErrIncomplete = errors.New("certs: PKI folder is incomplete")

// LoadDir reads a PKI written by [PKI.WriteDir]. A folder without any of the
// six PEM files returns an error wrapping fs.ErrNotExist; one with only some
// of them returns [ErrIncomplete]. The auth key files are optional as a
// pair: without both, the PKI's AuthKey is nil; with only one of them the
// folder is incomplete, and a corrupt one is an error matching
// [ErrBadAuthKey].
func LoadDir(dir string) (*PKI, error) {
	names := []string{CAFile, CAKeyFile, ServerFile, ServerKeyFile, ClientFile, ClientKeyFile}
	data := make(map[string][]byte, len(names))
	var missing []string
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if errors.Is(err, os.ErrNotExist) {
			missing = append(missing, n)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("certs: %w", err)
		}
		data[n] = b
	}
	switch {
	case len(missing) == len(names):
		return nil, fmt.Errorf("certs: no PKI in %s: %w", dir, os.ErrNotExist)
	case len(missing) > 0:
		return nil, fmt.Errorf("%w: %s lacks %v", ErrIncomplete, dir, missing)
	}
	p := &PKI{}
	var err error
	if p.CA, err = pairFromPEM(data[CAFile], data[CAKeyFile]); err != nil {
		return nil, fmt.Errorf("CA in %s: %w", dir, err)
	}
	if p.Server, err = pairFromPEM(data[ServerFile], data[ServerKeyFile]); err != nil {
		return nil, fmt.Errorf("server in %s: %w", dir, err)
	}
	if p.Client, err = pairFromPEM(data[ClientFile], data[ClientKeyFile]); err != nil {
		return nil, fmt.Errorf("client in %s: %w", dir, err)
	}
	signer, ok := p.CA.TLS.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("certs: CA key in %s cannot sign", dir)
	}
	p.caKey = signer
	p.opts = Options{NotBefore: p.CA.Cert.NotBefore, Validity: p.CA.Cert.NotAfter.Sub(p.CA.Cert.NotBefore)}
	if _, ok := signer.(*rsa.PrivateKey); ok {
		p.opts.RSABits = signer.(*rsa.PrivateKey).N.BitLen()
	}
	if p.AuthKey, err = loadAuthKey(dir); err != nil {
		return nil, err
	}
	return p, nil
}

// loadAuthKey reads the auth key files of dir: nil without both.
func loadAuthKey(dir string) (*AuthKey, error) {
	p8, errKey := os.ReadFile(filepath.Join(dir, AuthKeyFile))
	info, errInfo := os.ReadFile(filepath.Join(dir, AuthKeyInfoFile))
	missingKey, missingInfo := errors.Is(errKey, os.ErrNotExist), errors.Is(errInfo, os.ErrNotExist)
	switch {
	case missingKey && missingInfo:
		return nil, nil
	case missingKey:
		return nil, fmt.Errorf("%w: %s lacks %s", ErrIncomplete, dir, AuthKeyFile)
	case missingInfo:
		return nil, fmt.Errorf("%w: %s lacks %s", ErrIncomplete, dir, AuthKeyInfoFile)
	case errKey != nil:
		return nil, fmt.Errorf("certs: %w", errKey)
	case errInfo != nil:
		return nil, fmt.Errorf("certs: %w", errInfo)
	}
	k, err := parseAuthKeyFiles(p8, info)
	if err != nil {
		return nil, fmt.Errorf("auth key in %s: %w", dir, err)
	}
	return k, nil
}

// LoadOrCreate loads the PKI in dir, or generates one with opts and writes
// it there when the folder holds none. created reports which happened. A
// folder holding the six PEM files but neither auth key file gets a fresh
// auth key (opts.KeyID and opts.TeamID, random if empty) written beside
// them; the rest of the folder is kept, and created is false. A folder
// holding only the auth key files keeps that key in the PKI it gets.
func LoadOrCreate(dir string, opts Options) (p *PKI, created bool, err error) {
	p, err = LoadDir(dir)
	if err == nil {
		if p.AuthKey == nil {
			if p.AuthKey, err = NewAuthKey(opts.KeyID, opts.TeamID); err != nil {
				return nil, false, err
			}
			if err := p.AuthKey.write(dir); err != nil {
				return nil, false, err
			}
		}
		return p, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	own, err := loadAuthKey(dir) // an auth key put there alone is kept
	if err != nil {
		return nil, false, err
	}
	if p, err = New(opts); err != nil {
		return nil, false, err
	}
	if own != nil {
		p.AuthKey = own
	}
	if err := p.WriteDir(dir); err != nil {
		return nil, false, err
	}
	return p, true, nil
}
