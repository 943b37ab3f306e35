package pkcs8_test

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"hash"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/apnskit/apnskit/internal/pkcs8"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The encrypted PKCS#8 test keys (see testdata/README.md).
const (
	pkcs8Dir  = "testdata"
	pkcs8Pass = "apnskit-test"
)

func pkcs8File(name string) string { return filepath.Join(pkcs8Dir, name) }

// readPKCS8File returns a testdata file's contents (test helpers that run
// outside Ginkgo nodes, like the fuzz target, check err themselves).
func readPKCS8File(name string) ([]byte, error) { return os.ReadFile(pkcs8File(name)) }

// encryptedTestKeys pairs each encrypted test key with its unencrypted
// form (a slice, so the spec tree is the same in every Ginkgo process).
var encryptedTestKeys = []struct{ enc, plain string }{
	{"ec-p256.aes256-sha256.pem", "ec-p256.pem"},
	{"ec-p256.pkey-aes256.pem", "ec-p256.pem"},
	{"ec-p256.aes128-sha1.pem", "ec-p256.pem"},
	{"ec-p256.aes128-sha384.pem", "ec-p256.pem"},
	{"ec-p256.aes192-sha512.pem", "ec-p256.pem"},
	{"ec-p256.aes256-sha224.pem", "ec-p256.pem"},
	{"rsa-2048.aes256-sha256.pem", "rsa-2048.pem"},
	{"rsa-2048.des3-sha256.pem", "rsa-2048.pem"},
	{"genpkey-p256.aes256-sha256.pem", "genpkey-p256.pem"},
}

// Sentinels an encrypted key may be refused with.
var pkcs8Sentinels = []error{pkcs8.ErrMalformed, pkcs8.ErrBadPassphrase, pkcs8.ErrUnsupported}

// decrypt decrypts the first PEM block of keyPEM with pkcs8.Decrypt.
func decrypt(keyPEM, pass []byte) (crypto.PrivateKey, error) {
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	return pkcs8.Decrypt(b.Bytes, pass)
}

func isPKCS8Sentinel(err error) bool {
	for _, s := range pkcs8Sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// OIDs the crafted keys use.
var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
)

// DER building blocks for crafted keys.
func derOf(v any) []byte {
	b, err := asn1.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return b
}

func derSeq(parts ...[]byte) []byte {
	return derOf(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: bytes.Join(parts, nil)})
}

func derNull() []byte { return []byte{5, 0} }

// pbes2Spec describes an EncryptedPrivateKeyInfo the test encrypts
// itself: by default a valid PBES2 key (PBKDF2 hmacWithSHA256, aes128-CBC,
// 3 iterations) that the DER fields can then be bent away from.
type pbes2Spec struct {
	plain   []byte           // the plaintext
	noPad   bool             // encrypt plain as is (block aligned) instead of PKCS#7 padding it
	hash    func() hash.Hash // PRF that derives the key
	iter    int              // iterations that derive the key
	pass    string           // passphrase that derives the key
	salt    []byte           // salt that derives the key
	keySize int              // AES key size used

	schemeOID asn1.ObjectIdentifier
	kdfOID    asn1.ObjectIdentifier
	cipherOID asn1.ObjectIdentifier
	saltDER   []byte // nil: OCTET STRING of salt
	iterDER   []byte // nil: INTEGER iter
	keyLenDER []byte // nil: absent
	prfDER    []byte // nil: absent (hmacWithSHA1 by default)
	extraKDF  []byte // appended to the PBKDF2 parameters
	ivDER     []byte // nil: OCTET STRING of the 16-byte IV
	noIV      bool   // the cipher identifier has no parameters
	data      func(ct []byte) []byte
	trailer   []byte // bytes after the EncryptedPrivateKeyInfo
}

func newPBES2Spec(plain []byte) *pbes2Spec {
	return &pbes2Spec{
		plain: plain, hash: sha256.New, iter: 3, pass: pkcs8Pass, salt: []byte("saltsalt"), keySize: 16,
		schemeOID: oidPBES2, kdfOID: oidPBKDF2, cipherOID: oidAES128CBC,
		prfDER: derSeq(derOf(oidHMACSHA256), derNull()),
	}
}

func (s *pbes2Spec) der() []byte {
	key, err := pbkdf2.Key(s.hash, s.pass, s.salt, s.iter, s.keySize)
	Expect(err).NotTo(HaveOccurred())
	block, err := aes.NewCipher(key)
	Expect(err).NotTo(HaveOccurred())
	iv := bytes.Repeat([]byte{0x5a}, aes.BlockSize)
	msg := s.plain
	if !s.noPad {
		n := aes.BlockSize - len(msg)%aes.BlockSize
		msg = append(append([]byte{}, msg...), bytes.Repeat([]byte{byte(n)}, n)...)
	}
	ct := make([]byte, len(msg))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, msg)
	if s.data != nil {
		ct = s.data(ct)
	}

	or := func(b, def []byte) []byte {
		if b != nil {
			return b
		}
		return def
	}
	kdfParams := [][]byte{or(s.saltDER, derOf(s.salt)), or(s.iterDER, derOf(s.iter))}
	for _, p := range [][]byte{s.keyLenDER, s.prfDER, s.extraKDF} {
		if p != nil {
			kdfParams = append(kdfParams, p)
		}
	}
	cipherID := [][]byte{derOf(s.cipherOID)}
	if !s.noIV {
		cipherID = append(cipherID, or(s.ivDER, derOf(iv)))
	}
	out := derSeq(
		derSeq(derOf(s.schemeOID), derSeq(
			derSeq(derOf(s.kdfOID), derSeq(kdfParams...)),
			derSeq(cipherID...),
		)),
		derOf(ct),
	)
	return append(out, s.trailer...)
}

func encryptedPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
}

// plainKey parses an unencrypted testdata key.
func plainKey(name string) crypto.Signer {
	data, err := readPKCS8File(name)
	Expect(err).NotTo(HaveOccurred())
	b, _ := pem.Decode(data)
	Expect(b).NotTo(BeNil())
	Expect(b.Type).To(Equal("PRIVATE KEY"))
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	Expect(err).NotTo(HaveOccurred())
	return k.(crypto.Signer)
}

func mustRead(name string) []byte {
	data, err := readPKCS8File(name)
	Expect(err).NotTo(HaveOccurred())
	return data
}

// expectSameKey checks that got is the private key want.
func expectSameKey(got crypto.PrivateKey, want crypto.Signer) {
	eq, ok := got.(interface{ Equal(crypto.PrivateKey) bool })
	Expect(ok).To(BeTrue(), "%T has no Equal", got)
	Expect(eq.Equal(want)).To(BeTrue(), "decrypted key differs from the unencrypted one")
}

var _ = Describe("Encrypted PKCS#8 keys", func() {
	pass := []byte(pkcs8Pass)

	Describe("OpenSSL 3 test keys", func() {
		for _, k := range encryptedTestKeys {
			enc, plain := k.enc, k.plain
			It("decrypts "+enc+" to the key in "+plain, func() {
				want := plainKey(plain)
				c, err := decrypt(mustRead(enc), pass)
				Expect(err).NotTo(HaveOccurred())
				expectSameKey(c, want)
			})

			It("refuses "+enc+" with a wrong, empty or missing passphrase", func() {
				for _, pw := range [][]byte{[]byte("apnskit-tesT"), []byte(pkcs8Pass + " "), {}, nil} {
					c, err := decrypt(mustRead(enc), pw)
					Expect(err).To(MatchError(pkcs8.ErrBadPassphrase), "passphrase %q", pw)
					Expect(c).To(BeNil())
				}
			})
		}

		It("refuses the scrypt-encrypted key as unsupported, naming scrypt's OID, with or without passphrase", func() {
			for _, pw := range [][]byte{pass, nil} {
				c, err := decrypt(mustRead("ec-p256.scrypt.pem"), pw)
				Expect(err).To(MatchError(pkcs8.ErrUnsupported))
				Expect(err).To(MatchError(ContainSubstring("1.3.6.1.4.1.11591.4.11")))
				Expect(c).To(BeNil())
			}
		})
	})

	Describe("damaged input", func() {
		var der []byte
		BeforeEach(func() {
			b, _ := pem.Decode(mustRead("ec-p256.aes128-sha1.pem"))
			Expect(b).NotTo(BeNil())
			der = b.Bytes
		})

		It("refuses every truncation as malformed", func() {
			for n := range len(der) {
				_, err := decrypt(encryptedPEM(der[:n]), pass)
				Expect(err).To(MatchError(pkcs8.ErrMalformed), "cut at %d of %d", n, len(der))
			}
		})

		It("refuses a corrupted byte with one of the kinds of error, or yields a key", func() {
			// Encryption is not authentication: a corrupted byte may still
			// decrypt to a parsable key (the right one, where the change
			// lands on bytes x509 ignores, or another one: client's specs
			// check that the certificate then refuses it).
			refused := 0
			for i := range der {
				bad := bytes.Clone(der)
				bad[i] ^= 0xa5
				k, err := decrypt(encryptedPEM(bad), pass)
				if err != nil {
					Expect(isPKCS8Sentinel(err)).To(BeTrue(), "byte %d: %v", i, err)
					Expect(k).To(BeNil())
					refused++
					continue
				}
				Expect(k).NotTo(BeNil())
			}
			// Most are refused here already; with the certificate's check
			// more than three quarters are.
			Expect(refused).To(BeNumerically(">", len(der)/2), "too many corruptions accepted")
		})
	})

	Describe("crafted PBES2 parameters", func() {
		var (
			key  crypto.Signer
			spec *pbes2Spec
		)
		BeforeEach(func() {
			key = plainKey("ec-p256.pem")
			der, err := x509.MarshalPKCS8PrivateKey(key)
			Expect(err).NotTo(HaveOccurred())
			spec = newPBES2Spec(der)
		})

		DescribeTable("accepts valid variations",
			func(bend func(s *pbes2Spec)) {
				bend(spec)
				c, err := decrypt(encryptedPEM(spec.der()), pass)
				Expect(err).NotTo(HaveOccurred())
				expectSameKey(c, key)
			},
			Entry("the baseline", func(*pbes2Spec) {}),
			Entry("one iteration", func(s *pbes2Spec) { s.iter = 1 }),
			Entry("key length stated, matching aes128", func(s *pbes2Spec) { s.keyLenDER = derOf(16) }),
			Entry("no PRF: hmacWithSHA1", func(s *pbes2Spec) { s.hash, s.prfDER = sha1.New, nil }),
			Entry("PRF named without NULL parameters", func(s *pbes2Spec) { s.prfDER = derSeq(derOf(oidHMACSHA256)) }),
			Entry("hmacWithSHA1 named explicitly", func(s *pbes2Spec) { s.hash, s.prfDER = sha1.New, derSeq(derOf(oidHMACSHA1), derNull()) }),
			Entry("a one-byte salt", func(s *pbes2Spec) { s.salt = []byte{7} }),
		)

		DescribeTable("refuses invalid ones with a matchable error",
			func(bend func(s *pbes2Spec), want error, mentions string) {
				bend(spec)
				c, err := decrypt(encryptedPEM(spec.der()), pass)
				Expect(err).To(MatchError(want))
				Expect(c).To(BeNil())
				if mentions != "" {
					Expect(err).To(MatchError(ContainSubstring(mentions)))
				}
			},
			Entry("iteration count one over the bound", func(s *pbes2Spec) { s.iterDER = derOf(10_000_001) }, pkcs8.ErrUnsupported, "10000001"),
			Entry("iteration count 2^40", func(s *pbes2Spec) { s.iterDER = derOf(int64(1) << 40) }, pkcs8.ErrUnsupported, ""),
			Entry("iteration count beyond int64", func(s *pbes2Spec) {
				s.iterDER = derOf(new(big.Int).Lsh(big.NewInt(1), 100))
			}, pkcs8.ErrMalformed, ""),
			Entry("iteration count 0", func(s *pbes2Spec) { s.iterDER = derOf(0) }, pkcs8.ErrMalformed, ""),
			Entry("negative iteration count", func(s *pbes2Spec) { s.iterDER = derOf(-2048) }, pkcs8.ErrMalformed, ""),
			Entry("iteration count not an INTEGER", func(s *pbes2Spec) { s.iterDER = derOf([]byte{8, 0}) }, pkcs8.ErrMalformed, ""),
			Entry("empty salt", func(s *pbes2Spec) { s.saltDER = derOf([]byte{}) }, pkcs8.ErrMalformed, ""),
			Entry("salt from another source", func(s *pbes2Spec) { s.saltDER = derSeq(derOf(oidHMACSHA1)) }, pkcs8.ErrUnsupported, ""),
			Entry("salt of another type", func(s *pbes2Spec) { s.saltDER = derOf(42) }, pkcs8.ErrMalformed, ""),
			Entry("key length not that of aes128", func(s *pbes2Spec) { s.keyLenDER = derOf(32) }, pkcs8.ErrMalformed, ""),
			Entry("key length 0", func(s *pbes2Spec) { s.keyLenDER = derOf(0) }, pkcs8.ErrMalformed, ""),
			Entry("unsupported PRF", func(s *pbes2Spec) {
				s.prfDER = derSeq(derOf(asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 13}), derNull())
			}, pkcs8.ErrUnsupported, "1.2.840.113549.2.13"),
			Entry("PRF with parameters", func(s *pbes2Spec) {
				s.prfDER = derSeq(derOf(oidHMACSHA256), derOf([]byte{1}))
			}, pkcs8.ErrMalformed, ""),
			Entry("a field after the PRF", func(s *pbes2Spec) { s.extraKDF = derNull() }, pkcs8.ErrMalformed, ""),
			Entry("scrypt", func(s *pbes2Spec) { s.kdfOID = oidScrypt }, pkcs8.ErrUnsupported, "1.3.6.1.4.1.11591.4.11"),
			Entry("PBES1", func(s *pbes2Spec) {
				s.schemeOID = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 10}
			}, pkcs8.ErrUnsupported, "1.2.840.113549.1.5.10"),
			Entry("PKCS#12 PBE", func(s *pbes2Spec) {
				s.schemeOID = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
			}, pkcs8.ErrUnsupported, "1.2.840.113549.1.12.1.3"),
			Entry("RC2", func(s *pbes2Spec) {
				s.cipherOID = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 2}
			}, pkcs8.ErrUnsupported, "1.2.840.113549.3.2"),
			Entry("IV one byte short", func(s *pbes2Spec) { s.ivDER = derOf(make([]byte, 15)) }, pkcs8.ErrMalformed, ""),
			Entry("IV missing", func(s *pbes2Spec) { s.noIV = true }, pkcs8.ErrMalformed, ""),
			Entry("ciphertext not a multiple of the block size", func(s *pbes2Spec) {
				s.data = func(ct []byte) []byte { return ct[:len(ct)-1] }
			}, pkcs8.ErrMalformed, ""),
			Entry("empty ciphertext", func(s *pbes2Spec) { s.data = func([]byte) []byte { return []byte{} } }, pkcs8.ErrMalformed, ""),
			Entry("trailing bytes", func(s *pbes2Spec) { s.trailer = []byte{0} }, pkcs8.ErrMalformed, ""),
			Entry("key derived with another PRF", func(s *pbes2Spec) { s.hash = sha1.New }, pkcs8.ErrBadPassphrase, ""),
			Entry("padding byte 0", func(s *pbes2Spec) {
				s.plain, s.noPad = append(bytes.Repeat([]byte{1}, 31), 0), true
			}, pkcs8.ErrBadPassphrase, ""),
			Entry("padding longer than a block", func(s *pbes2Spec) {
				s.plain, s.noPad = bytes.Repeat([]byte{17}, 32), true
			}, pkcs8.ErrBadPassphrase, ""),
			Entry("padding bytes that differ", func(s *pbes2Spec) {
				s.plain, s.noPad = append(bytes.Repeat([]byte{1}, 29), 2, 3, 3), true
			}, pkcs8.ErrBadPassphrase, ""),
			Entry("plaintext that is not PKCS#8", func(s *pbes2Spec) { s.plain = []byte("not a key at all") }, pkcs8.ErrBadPassphrase, ""),
			Entry("PKCS#8 of an algorithm x509 does not read", func(s *pbes2Spec) {
				s.plain = derSeq(derOf(0), derSeq(derOf(asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1})), derOf([]byte{2, 1, 1}))
			}, pkcs8.ErrUnsupported, "1.2.840.10040.4.1"),
			Entry("PKCS#8 RSA key that does not parse", func(s *pbes2Spec) {
				s.plain = derSeq(derOf(0), derSeq(derOf(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}), derNull()), derOf([]byte{2, 1, 1}))
			}, pkcs8.ErrMalformed, ""),
		)
	})
})

// mayAskManyIterations reports whether der holds anything that could be a
// minimal positive DER INTEGER of 3 to 8 bytes (65536 or more), such as a
// PBKDF2 iteration count. It over-approximates: ciphertext matches too.
func mayAskManyIterations(der []byte) bool {
	for i := 0; i+2 < len(der); i++ {
		if der[i] == asn1.TagInteger && der[i+1] >= 3 && der[i+1] <= 8 && der[i+2] != 0 && der[i+2] < 0x80 {
			return true
		}
	}
	return false
}

// FuzzDecryptPKCS8 feeds arbitrary "ENCRYPTED PRIVATE KEY" contents and
// passphrases to Decrypt: it never panics, every refusal is one of the
// kinds of error, and a key it accepts is one of the test keys. The seeds
// are the encrypted test keys, so a plain `go test` runs each of them as a
// test case.
//
// The decoder's iteration bound (10,000,000) keeps every input finite, but
// an input near it costs seconds of PBKDF2 (tens of seconds under coverage
// instrumentation), which would stall the fuzzer; inputs that may ask for
// 65536 iterations or more are skipped. The specs cover the bound. Every
// input that gets as far as PBKDF2 still costs a fraction of a millisecond,
// so minimising a large one (an RSA seed) takes a while: run with a short
// -fuzzminimizetime, e.g.
//
//	go test -run '^$' -fuzz '^FuzzDecryptPKCS8$' -fuzztime 60s -fuzzminimizetime 5s ./internal/pkcs8/
func FuzzDecryptPKCS8(f *testing.F) {
	names, err := filepath.Glob(filepath.Join(pkcs8Dir, "*.pem"))
	if err != nil {
		f.Fatal(err)
	}
	seeds := 0
	var plain []crypto.PrivateKey
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := pem.Decode(data)
		switch {
		case b == nil:
		case b.Type == "ENCRYPTED PRIVATE KEY":
			f.Add(b.Bytes, pkcs8Pass)
			seeds++
		case b.Type == "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				f.Fatal(err)
			}
			plain = append(plain, k)
		}
	}
	if seeds < len(encryptedTestKeys) {
		f.Fatalf("%d seeds from %s, want at least %d", seeds, pkcs8Dir, len(encryptedTestKeys))
	}
	f.Fuzz(func(t *testing.T, der []byte, pass string) {
		if mayAskManyIterations(der) {
			return // seconds per input under instrumentation; the specs cover the bound
		}
		k, err := pkcs8.Decrypt(der, []byte(pass))
		if err != nil {
			if !isPKCS8Sentinel(err) {
				t.Fatalf("error is none of the kinds: %v", err)
			}
			if k != nil {
				t.Fatalf("key returned with error %v", err)
			}
			return
		}
		for _, p := range plain {
			if eq, ok := k.(interface{ Equal(crypto.PrivateKey) bool }); ok && eq.Equal(p) {
				return
			}
		}
		t.Fatalf("accepted a key that is none of the test keys")
	})
}

// BenchmarkDecryptPKCS8 measures Decrypt with keys encrypted with
// OpenSSL 3's defaults (PBKDF2 hmacWithSHA256, 2048 iterations,
// aes256-CBC); parsing the unencrypted key is the baseline.
func BenchmarkDecryptPKCS8(b *testing.B) {
	for _, name := range []string{"ec-p256.pem", "ec-p256.aes256-sha256.pem", "rsa-2048.aes256-sha256.pem"} {
		keyPEM, err := readPKCS8File(name)
		if err != nil {
			b.Fatal(err)
		}
		blk, _ := pem.Decode(keyPEM)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				var err error
				if blk.Type == "PRIVATE KEY" {
					_, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
				} else {
					_, err = pkcs8.Decrypt(blk.Bytes, []byte(pkcs8Pass))
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
