package main_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
)

// h2Summary mirrors the JSON line of push -http2, decoded strictly: the
// binary summary's fields, failures with an optional timestamp.
type h2Summary struct {
	Sent      int         `json:"sent"`
	Accepted  int         `json:"accepted"`
	Failed    []h2Failure `json:"failed"`
	Retried   int         `json:"retried"`
	Uncertain int         `json:"uncertain"`
	Seconds   float64     `json:"seconds"`
	Rate      float64     `json:"rate"`
}

type h2Failure struct {
	Token     string     `json:"token"`
	Status    int        `json:"status"`
	Reason    string     `json:"reason"`
	Timestamp *time.Time `json:"timestamp,omitempty"`
}

func parseH2Summary(stdout string) h2Summary {
	GinkgoHelper()
	Expect(stdout).To(HaveSuffix("\n"))
	Expect(strings.Count(stdout, "\n")).To(Equal(1), "stdout: %q", stdout)
	d := json.NewDecoder(strings.NewReader(stdout))
	d.DisallowUnknownFields()
	var s h2Summary
	Expect(d.Decode(&s)).To(Succeed())
	Expect(s.Failed).NotTo(BeNil(), "failed must be [] rather than null")
	return s
}

const h2Topic = "com.example.apnskit"

// h2Fixture is the mock of startMock with its auth key written as a .p8.
type h2Fixture struct {
	*mockFixture
	p8     string
	keyID  string
	teamID string
}

func startH2Mock(cfg mockapns.Config) *h2Fixture {
	GinkgoHelper()
	m := startMock(cfg)
	key := m.srv.PKI().AuthKey
	p8, err := key.PrivatePEM()
	Expect(err).NotTo(HaveOccurred())
	file := filepath.Join(m.dir, "authkey.p8")
	Expect(os.WriteFile(file, p8, 0o600)).To(Succeed())
	return &h2Fixture{mockFixture: m, p8: file, keyID: key.KeyID, teamID: key.TeamID}
}

// tokenAuth returns the arguments of a push -http2 with the mock's auth key.
func (m *h2Fixture) tokenAuth(extra ...string) []string {
	args := []string{"push", "-http2", "-addr", m.srv.HTTP2Addr(), "-ca", m.conn[1],
		"-p8", m.p8, "-key-id", m.keyID, "-team-id", m.teamID, "-topic", h2Topic}
	return append(args, extra...)
}

// certAuth returns the arguments of a push -http2 with the client certificate.
func (m *h2Fixture) certAuth(extra ...string) []string {
	args := append([]string{"push", "-http2", "-addr", m.srv.HTTP2Addr()}, m.conn...)
	return append(append(args, "-topic", h2Topic), extra...)
}

func (m *h2Fixture) h2Entries(f mockapns.Filter) []mockapns.Entry {
	f.Protocol = apns.HTTP2
	return m.srv.Notifications(f)
}

var _ = Describe("apnsclient push -http2", func() {
	var m *h2Fixture
	BeforeEach(func() { m = startH2Mock(mockapns.Config{}) })

	It("sends with token authentication (-p8) and the request headers of the flags", func(ctx SpecContext) {
		t := []string{devToken(1), devToken(2)}
		code, stdout, stderr := runCmd(ctx, "", m.tokenAuth("-token", t[0], "-token", strings.ToUpper(t[1]),
			"-alert", "Hello", "-badge", "3", "-sound", "chime", "-priority", "5", "-collapse-id", "news", "-expiry", "1h")...)
		Expect(code).To(Equal(0), stderr)
		Expect(stderr).To(BeEmpty())
		s := parseH2Summary(stdout)
		Expect(s).To(Equal(h2Summary{Sent: 2, Accepted: 2, Failed: []h2Failure{}, Seconds: s.Seconds, Rate: s.Rate}))
		es := m.h2Entries(mockapns.Filter{})
		Expect(es).To(HaveLen(2))
		for i, e := range es {
			Expect(e.Token).To(Equal(binToken(t[i])))
			Expect(e.Auth).To(Equal(mockapns.AuthProviderToken))
			Expect(e.Topic).To(Equal(h2Topic))
			Expect(e.PushType).To(Equal("alert"))
			Expect(e.CollapseID).To(Equal("news"))
			Expect(e.Priority).To(Equal(apns.PriorityConserve))
			Expect(e.Expiration).NotTo(BeNil())
			Expect(*e.Expiration).To(BeNumerically("~", time.Now().Add(time.Hour).Unix(), 5))
			Expect(e.Payload).To(MatchJSON(`{"aps":{"alert":"Hello","badge":3,"sound":"chime"}}`))
		}
	})

	It("takes an https://HOST:PORT -addr, as the library does", func(ctx SpecContext) {
		args := m.tokenAuth("-token", devToken(1))
		for i, a := range args {
			if a == "-addr" {
				args[i+1] = "https://" + m.srv.HTTP2Addr()
			}
		}
		code, stdout, stderr := runCmd(ctx, "", args...)
		Expect(code).To(Equal(0), stderr)
		Expect(parseH2Summary(stdout).Accepted).To(Equal(1))
		Expect(m.h2Entries(mockapns.Filter{})).To(HaveLen(1))
	})

	It("sends with certificate authentication (-cert, -key), priority 1 and a raw payload", func(ctx SpecContext) {
		code, stdout, stderr := runCmd(ctx, "", m.certAuth("-token", devToken(1), "-priority", "1",
			"-payload", `{"aps":{"content-available":1},"k":"v"}`)...)
		Expect(code).To(Equal(0), stderr)
		Expect(parseH2Summary(stdout).Accepted).To(Equal(1))
		es := m.h2Entries(mockapns.Filter{})
		Expect(es).To(HaveLen(1))
		Expect(es[0].Auth).To(Equal(mockapns.AuthCertificate))
		Expect(es[0].PushType).To(Equal("background"), "a content-available payload without -push-type")
		Expect(es[0].Priority).To(Equal(apns.NewPriority(1)))
		Expect(es[0].Payload).To(MatchJSON(`{"aps":{"content-available":1},"k":"v"}`))
	})

	It("exits 1 and lists a refusal with its HTTP status and reason, the others accepted", func(ctx SpecContext) {
		_, err := m.srv.AddFault(mockapns.Reject{Reason: apns.ReasonBadDeviceToken, When: mockapns.Trigger{Token: apns.MustParseToken(devToken(2))}})
		Expect(err).NotTo(HaveOccurred())
		code, stdout, stderr := runCmd(ctx, "", m.tokenAuth("-token", devToken(1), "-token", devToken(2), "-token", devToken(3), "-push-type", "alert", "-alert", "x")...)
		Expect(code).To(Equal(1), stderr)
		s := parseH2Summary(stdout)
		Expect(s.Sent).To(Equal(3))
		Expect(s.Accepted).To(Equal(2))
		Expect(s.Failed).To(Equal([]h2Failure{{Token: devToken(2), Status: 400, Reason: "BadDeviceToken"}}))
		Expect(m.srv.Stats().HTTP2.Accepted).To(Equal(uint64(2)))
	})

	It("lists an unregistered device with 410 and the time it was last valid", func(ctx SpecContext) {
		gone := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
		Expect(m.srv.SetDevice(mockapns.Device{Token: apns.MustParseToken(devToken(7)), UnregisteredAt: gone})).To(Succeed())
		code, stdout, stderr := runCmd(ctx, "", m.tokenAuth("-token", devToken(6), "-token", devToken(7), "-alert", "x")...)
		Expect(code).To(Equal(1), stderr)
		s := parseH2Summary(stdout)
		Expect(s.Failed).To(HaveLen(1))
		Expect(s.Failed[0].Token).To(Equal(devToken(7)))
		Expect(s.Failed[0].Status).To(Equal(410))
		Expect(s.Failed[0].Reason).To(Equal("Unregistered"))
		Expect(s.Failed[0].Timestamp).NotTo(BeNil())
		Expect(s.Failed[0].Timestamp.Equal(gone)).To(BeTrue(), "%v", s.Failed[0].Timestamp)
		Expect(stdout).To(ContainSubstring(`"timestamp":"2026-11-30T08:00:00Z"`))
	})

	It("sends a -tokens file, batch by batch, and agrees with the server's counts", func(ctx SpecContext) {
		const n = 5000
		file := writeTokenFile(m.dir, n)
		code, stdout, stderr := runCmd(ctx, "", m.tokenAuth("-tokens", file, "-batch", "100", "-alert", "x")...)
		Expect(code).To(Equal(0), stderr)
		s := parseH2Summary(stdout)
		Expect(s.Sent).To(Equal(n))
		Expect(s.Accepted).To(Equal(n))
		Expect(s.Rate).To(BeNumerically(">", 0))
		st := m.srv.Stats().HTTP2
		Expect(st.Accepted).To(Equal(uint64(n)))
		Expect(st.Requests).To(Equal(uint64(n)))
	})

	It("reads -tokens - from stdin", func(ctx SpecContext) {
		in := "# list\n" + devToken(1) + "\n\n" + devToken(2) + "\n" + devToken(3) + "\n"
		code, stdout, stderr := runCmd(ctx, in, m.certAuth("-tokens", "-", "-alert", "x")...)
		Expect(code).To(Equal(0), stderr)
		Expect(parseH2Summary(stdout).Accepted).To(Equal(3))
		Expect(m.h2Entries(mockapns.Filter{Status: mockapns.Accepted})).To(HaveLen(3))
	})

	It("counts the library's retries of a reason to retry once per token", func(ctx SpecContext) {
		_, err := m.srv.AddFault(mockapns.Reject{Reason: apns.ReasonTooManyRequests, When: mockapns.Trigger{Token: apns.MustParseToken(devToken(2))}})
		Expect(err).NotTo(HaveOccurred())
		code, stdout, stderr := runCmd(ctx, "", m.tokenAuth("-token", devToken(1), "-token", devToken(2), "-alert", "x")...)
		Expect(code).To(Equal(0), stderr)
		s := parseH2Summary(stdout)
		Expect(s.Accepted).To(Equal(2))
		Expect(s.Sent).To(Equal(3))
		Expect(s.Retried).To(Equal(1))
		Expect(m.srv.Stats().HTTP2.Rejected).To(Equal(uint64(1)))
	}, SpecTimeout(30*time.Second))

	It("gives up on a token after -max-attempts answers to retry, with the last one", func(ctx SpecContext) {
		_, err := m.srv.AddFault(mockapns.Reject{Reason: apns.ReasonServiceUnavailable, When: mockapns.Trigger{Token: apns.MustParseToken(devToken(2))}})
		Expect(err).NotTo(HaveOccurred())
		code, stdout, stderr := runCmd(ctx, "", m.tokenAuth("-token", devToken(1), "-token", devToken(2), "-max-attempts", "1", "-alert", "x")...)
		Expect(code).To(Equal(1), stderr)
		s := parseH2Summary(stdout)
		Expect(s.Failed).To(Equal([]h2Failure{{Token: devToken(2), Status: 503, Reason: "ServiceUnavailable"}}))
		Expect(s.Retried).To(BeZero())
	})

	It("logs each refusal on stderr with -v, next to the progress line", func(ctx SpecContext) {
		_, err := m.srv.AddFault(mockapns.Reject{Reason: apns.ReasonBadDeviceToken, When: mockapns.Trigger{Token: apns.MustParseToken(devToken(3))}})
		Expect(err).NotTo(HaveOccurred())
		file := writeTokenFile(m.dir, 40)
		code, stdout, stderr := runCmd(ctx, "", m.tokenAuth("-tokens", file, "-batch", "10", "-v", "-progress", "always")...)
		Expect(code).To(Equal(1))
		Expect(parseH2Summary(stdout).Accepted).To(Equal(39))
		Expect(stderr).To(ContainSubstring("\r\x1b[Kapnsclient push: batch "))
		Expect(stderr).To(ContainSubstring("HTTP 400 BadDeviceToken for token " + devToken(3)))
		last := stderr[strings.LastIndex(stderr, "\r"):]
		Expect(last).To(HavePrefix("\r40/40 done (100%), sent 40, failed 1, retried 0, "))
		Expect(last).To(HaveSuffix("/s\x1b[K\n"))
	})

	It("numbers the -v lines by batches of -batch tokens", func(ctx SpecContext) {
		_, err := m.srv.AddFault(mockapns.Reject{Reason: apns.ReasonBadDeviceToken, When: mockapns.Trigger{Token: apns.MustParseToken(devToken(25))}})
		Expect(err).NotTo(HaveOccurred())
		file := writeTokenFile(m.dir, 40)
		code, stdout, stderr := runCmd(ctx, "", m.tokenAuth("-tokens", file, "-batch", "10", "-v", "-progress", "never")...)
		Expect(code).To(Equal(1))
		Expect(parseH2Summary(stdout).Failed).To(Equal([]h2Failure{{Token: devToken(25), Status: 400, Reason: "BadDeviceToken"}}))
		Expect(stderr).To(Equal("apnsclient push: batch 3: HTTP 400 BadDeviceToken for token " + devToken(25) + "\n"))
	})

	It("keeps at most -window requests in flight", func(ctx SpecContext) {
		file := writeTokenFile(m.dir, 300)
		code, stdout, stderr := runCmd(ctx, "", m.tokenAuth("-tokens", file, "-parallel", "1", "-window", "5", "-alert", "x")...)
		Expect(code).To(Equal(0), stderr)
		s := parseH2Summary(stdout)
		Expect(s.Accepted).To(Equal(300))
		Expect(s.Sent).To(Equal(300))
		st := m.srv.Stats().HTTP2
		Expect(st.Requests).To(Equal(uint64(300)))
		Expect(st.StreamsPeak).To(BeNumerically("<=", 5))
		Expect(st.StreamsPeak).To(BeNumerically(">", 1), "requests overlap")
	})

	It("stops at the first refusal of an untrusted key: exit 2, one line, one request", func(ctx SpecContext) {
		other, err := certs.NewAuthKey("", "")
		Expect(err).NotTo(HaveOccurred())
		p8, err := other.PrivatePEM()
		Expect(err).NotTo(HaveOccurred())
		file := filepath.Join(m.dir, "other.p8")
		Expect(os.WriteFile(file, p8, 0o600)).To(Succeed())
		tokens := writeTokenFile(m.dir, 3000)
		args := []string{"push", "-http2", "-addr", m.srv.HTTP2Addr(), "-ca", m.conn[1], "-p8", file,
			"-key-id", other.KeyID, "-team-id", other.TeamID, "-topic", h2Topic, "-tokens", tokens, "-alert", "x"}
		code, stdout, stderr := runCmd(ctx, "", args...)
		Expect(code).To(Equal(2))
		Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
		Expect(stderr).To(HavePrefix("apnsclient push: "))
		Expect(stderr).To(ContainSubstring("InvalidProviderToken"))
		Expect(stderr).To(ContainSubstring("-p8"))
		s := parseH2Summary(stdout)
		Expect(s.Sent).To(Equal(1))
		Expect(s.Accepted).To(BeZero())
		Expect(s.Failed).To(Equal([]h2Failure{{Token: devToken(0), Status: 403, Reason: "InvalidProviderToken"}}))
		Expect(m.srv.Stats().HTTP2.Requests).To(Equal(uint64(1)))
	})

	It("exits 2 and sends nothing when the address refuses connections", func(ctx SpecContext) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		addr := l.Addr().String()
		Expect(l.Close()).To(Succeed())
		args := m.tokenAuth("-token", devToken(1), "-token", devToken(2))
		args[3] = addr
		code, stdout, stderr := runCmd(ctx, "", args...)
		Expect(code).To(Equal(2))
		Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
		Expect(stderr).To(ContainSubstring(addr))
		Expect(stderr).To(ContainSubstring("connection refused"))
		s := parseH2Summary(stdout)
		Expect(s).To(Equal(h2Summary{Failed: []h2Failure{}, Seconds: s.Seconds}))
	})

	It("exits 2 and sends nothing when the server's certificate is not trusted (no -ca)", func(ctx SpecContext) {
		args := []string{"push", "-http2", "-addr", m.srv.HTTP2Addr(), "-p8", m.p8, "-key-id", m.keyID, "-team-id", m.teamID,
			"-topic", h2Topic, "-token", devToken(1)}
		code, stdout, stderr := runCmd(ctx, "", args...)
		Expect(code).To(Equal(2))
		Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
		Expect(stderr).To(ContainSubstring("give its CA with -ca"))
		Expect(parseH2Summary(stdout).Sent).To(BeZero())
		Expect(m.srv.Stats().HTTP2.Requests).To(BeZero())
	})

	It("exits 2 and sends nothing when the server refuses the client certificate", func(ctx SpecContext) {
		other, err := certs.New(certs.Options{})
		Expect(err).NotTo(HaveOccurred())
		certFile, keyFile := filepath.Join(m.dir, "other.pem"), filepath.Join(m.dir, "other-key.pem")
		Expect(os.WriteFile(certFile, other.Client.CertPEM, 0o600)).To(Succeed())
		Expect(os.WriteFile(keyFile, other.Client.KeyPEM, 0o600)).To(Succeed())
		args := []string{"push", "-http2", "-addr", m.srv.HTTP2Addr(), "-ca", m.conn[1], "-cert", certFile, "-key", keyFile,
			"-topic", h2Topic, "-token", devToken(1), "-token", devToken(2)}
		code, stdout, stderr := runCmd(ctx, "", args...)
		Expect(code).To(Equal(2), stdout)
		Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
		Expect(stderr).To(ContainSubstring("the server refused the client certificate"))
		s := parseH2Summary(stdout)
		Expect(s.Sent).To(BeZero())
		Expect(s.Uncertain).To(BeZero())
		Expect(m.srv.Stats().HTTP2.Requests).To(BeZero())
	})

	DescribeTable("exits 2 with one line and nothing on stdout for a key that cannot be used",
		func(ctx SpecContext, content []byte, mention string) {
			file := filepath.Join(m.dir, "bad.p8")
			if content != nil {
				Expect(os.WriteFile(file, content, 0o600)).To(Succeed())
			}
			args := m.tokenAuth("-token", devToken(1))
			Expect(args[6]).To(Equal("-p8"))
			args[7] = file
			code, stdout, stderr := runCmd(ctx, "", args...)
			Expect(code).To(Equal(2))
			Expect(stdout).To(BeEmpty())
			Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
			Expect(stderr).To(ContainSubstring("-p8"))
			Expect(stderr).To(ContainSubstring(mention))
			Expect(m.srv.Stats().HTTP2.ConnectionsTotal).To(BeZero())
		},
		Entry("no such file", nil, "no such file"),
		Entry("not PEM", []byte("not a key\n"), "no PRIVATE KEY"),
		Entry("a certificate instead of a key", []byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"), "no PRIVATE KEY"),
		Entry("an RSA key", rsaKeyPEM(), "want ECDSA P-256"),
	)
})

// rsaKeyPEM is a PKCS #8 RSA private key, a key ES256 cannot sign with.
func rsaKeyPEM() []byte {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

var _ = Describe("apnsclient push -http2 usage", func() {
	const tok = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	h2 := func(extra ...string) []string {
		args := []string{"push", "-http2", "-addr", closedAddr(), "-p8", "k.p8", "-key-id", "ABCDE12345", "-team-id", "TEAM123456", "-topic", h2Topic, "-token", tok}
		return append(args, extra...)
	}
	without := func(args []string, flag string) []string {
		for i, a := range args {
			if a == flag {
				return append(append([]string{}, args[:i]...), args[i+2:]...)
			}
		}
		Fail("no " + flag)
		return nil
	}
	bin := []string{"push", "-addr", closedAddr(), "-cert", "c.pem", "-token", tok}

	DescribeTable("exits 2 with one line on stderr naming the flag, nothing on stdout",
		func(ctx SpecContext, args []string, mention string) {
			code, stdout, stderr := runCmd(ctx, "", args...)
			Expect(code).To(Equal(2))
			Expect(stdout).To(BeEmpty())
			Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
			Expect(stderr).To(HavePrefix("apnsclient push: "))
			Expect(stderr).To(ContainSubstring(mention))
		},
		Entry("no -topic", without(h2(), "-topic"), "-topic"),
		Entry("bad -priority", h2("-priority", "3"), "-priority"),
		Entry("-p8 with -cert", h2("-cert", "c.pem"), "-p8 excludes -cert"),
		Entry("-p8 with -p12", h2("-p12", "c.p12"), "-p8 excludes"),
		Entry("-p8 without -key-id", without(h2(), "-key-id"), "-key-id"),
		Entry("a -key-id of the wrong length", h2("-key-id", "ABC"), "-key-id"),
		Entry("a -team-id of the wrong length", h2("-team-id", "TEAM12345678"), "-team-id"),
		Entry("no credentials", without(without(without(h2(), "-p8"), "-key-id"), "-team-id"), "-p8"),
		Entry("-confirm with -http2", h2("-confirm", "batch"), "-confirm"),
		Entry("-error-wait with -http2", h2("-error-wait", "1s"), "-error-wait"),
		Entry("a binary gateway name with -http2", append(without(h2(), "-addr"), "-addr", "push_sandbox"), "api_sandbox"),
		Entry("-p8 without -http2", append(h2(), "-http2=false"), "need -http2"),
		Entry("-topic without -http2", append(bin, "-topic", h2Topic), "-topic"),
		Entry("-push-type and -collapse-id without -http2", append(bin, "-push-type", "alert", "-collapse-id", "x"), "-push-type, -collapse-id"),
		Entry("-priority 1 without -http2", append(bin, "-priority", "1"), "-priority 1"),
		Entry("an HTTP/2 name without -http2", []string{"push", "-addr", "api_sandbox", "-cert", "c.pem", "-token", tok}, "-http2"),
		Entry("an https address without -http2", []string{"push", "-addr", "https://127.0.0.1:1", "-cert", "c.pem", "-token", tok}, "push -http2"),
		Entry("an https address with a path", append(without(h2(), "-addr"), "-addr", "https://127.0.0.1:1/3/device"), "https://HOST[:PORT]"),
	)

	It("lists the HTTP/2 flags and names in push -h", func(ctx SpecContext) {
		code, stdout, _ := runCmd(ctx, "", "push", "-h")
		Expect(code).To(Equal(0))
		for _, f := range []string{"-http2", "-p8", "-key-id", "-team-id", "-topic", "-push-type", "-collapse-id"} {
			Expect(stdout).To(MatchRegexp(`\n  `+f+`[ \n]`), f)
		}
		Expect(stdout).To(ContainSubstring("api_sandbox"))
	})
})
