package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/apnskit/apnskit/apns"
	main "github.com/apnskit/apnskit/cmd/apnsclient"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// pushSummary mirrors the JSON line of push; decoding is strict, so a field
// added or renamed fails the specs.
type pushSummary struct {
	Sent      int       `json:"sent"`
	Accepted  int       `json:"accepted"`
	Failed    []failure `json:"failed"`
	Retried   int       `json:"retried"`
	Uncertain int       `json:"uncertain"`
	Seconds   float64   `json:"seconds"`
	Rate      float64   `json:"rate"`
}

type failure struct {
	Token  string `json:"token"`
	Status int    `json:"status"`
	Reason string `json:"reason"`
}

// parseSummary checks that stdout is exactly one JSON line and decodes it.
func parseSummary(stdout string) pushSummary {
	GinkgoHelper()
	Expect(stdout).To(HaveSuffix("\n"))
	Expect(strings.Count(stdout, "\n")).To(Equal(1), "stdout: %q", stdout)
	d := json.NewDecoder(strings.NewReader(stdout))
	d.DisallowUnknownFields()
	var s pushSummary
	Expect(d.Decode(&s)).To(Succeed())
	Expect(s.Failed).NotTo(BeNil(), "failed must be [] rather than null")
	return s
}

// deviceEntries are the journal entries matching f of notifications to a
// device: without the sentinels (empty device tokens) that push ends its
// connections with, which the gateway refuses by design.
func (m *mockFixture) deviceEntries(f mockapns.Filter) []mockapns.Entry {
	var out []mockapns.Entry
	for _, e := range m.srv.Notifications(f) {
		if len(e.Token) > 0 {
			out = append(out, e)
		}
	}
	return out
}

// deviceRejected counts the gateway's refusals of notifications to a device.
func (m *mockFixture) deviceRejected() int {
	return len(m.deviceEntries(mockapns.Filter{Status: mockapns.Rejected}))
}

// devToken returns a distinct 32-byte token in hex.
func devToken(i int) string { return fmt.Sprintf("%064x", 0xa0000000+i) }

func binToken(h string) []byte {
	b, err := hex.DecodeString(h)
	Expect(err).NotTo(HaveOccurred())
	return b
}

// mockFixture is an in-process mock and its PKI written to PEM files for
// -ca, -cert and -key.
type mockFixture struct {
	srv  *mockapns.Server
	dir  string
	conn []string // -ca -cert -key
}

func startMock(cfg mockapns.Config) *mockFixture {
	GinkgoHelper()
	srv := mockapns.NewServer(cfg)
	DeferCleanup(srv.Close)
	dir := GinkgoT().TempDir()
	pki := srv.PKI()
	files := map[string][]byte{
		"ca.pem":         pki.CA.CertPEM,
		"client.pem":     pki.Client.CertPEM,
		"client-key.pem": pki.Client.KeyPEM,
	}
	for name, data := range files {
		Expect(os.WriteFile(filepath.Join(dir, name), data, 0o600)).To(Succeed())
	}
	return &mockFixture{srv: srv, dir: dir, conn: []string{
		"-ca", filepath.Join(dir, "ca.pem"),
		"-cert", filepath.Join(dir, "client.pem"),
		"-key", filepath.Join(dir, "client-key.pem"),
	}}
}

// push returns the arguments of a push to the mock's gateway.
func (m *mockFixture) push(extra ...string) []string {
	args := append([]string{"push", "-addr", m.srv.GatewayAddr()}, m.conn...)
	return append(args, extra...)
}

func (m *mockFixture) feedback(extra ...string) []string {
	args := append([]string{"feedback", "-addr", m.srv.FeedbackAddr()}, m.conn...)
	return append(args, extra...)
}

// writeTokenFile writes n tokens, one per line, with a comment and a blank
// line, and returns the file name.
func writeTokenFile(dir string, n int) string {
	GinkgoHelper()
	var b bytes.Buffer
	b.WriteString("# generated\n\n")
	for i := range n {
		b.WriteString(devToken(i))
		b.WriteByte('\n')
	}
	name := filepath.Join(dir, "tokens.txt")
	Expect(os.WriteFile(name, b.Bytes(), 0o644)).To(Succeed())
	return name
}

var _ = Describe("apnsclient push", func() {
	var m *mockFixture
	BeforeEach(func() { m = startMock(mockapns.Config{}) })

	It("sends to every -token and reports what the gateway counted", func(ctx SpecContext) {
		t := []string{devToken(1), devToken(2), devToken(3)}
		before := time.Now().Add(time.Hour).Unix()
		code, stdout, stderr := runCmd(ctx, "", m.push("-token", t[0], "-token", strings.ToUpper(t[1]), "-token", t[2],
			"-alert", "Hello", "-badge", "2", "-sound", "chime", "-priority", "5", "-expiry", "1h")...)
		after := time.Now().Add(time.Hour).Unix()
		Expect(code).To(Equal(0), stderr)
		Expect(stderr).To(BeEmpty())
		s := parseSummary(stdout)
		Expect(s.Sent).To(Equal(3))
		Expect(s.Accepted).To(Equal(3))
		Expect(s.Failed).To(BeEmpty())
		Expect(s.Retried).To(Equal(0))
		Expect(s.Uncertain).To(Equal(0))
		Expect(s.Seconds).To(BeNumerically(">", 0))
		Expect(s.Rate).To(BeNumerically("~", float64(s.Sent)/s.Seconds, 0.1+float64(s.Sent)/s.Seconds*0.01))

		st := m.srv.Stats()
		Expect(st.Accepted).To(BeEquivalentTo(s.Accepted))
		Expect(m.deviceRejected()).To(BeZero())

		entries := m.deviceEntries(mockapns.Filter{})
		Expect(entries).To(HaveLen(3))
		for i, e := range entries {
			Expect(hex.EncodeToString(e.Token)).To(Equal(t[i]))
			Expect(e.Payload).To(MatchJSON(`{"aps":{"alert":"Hello","badge":2,"sound":"chime"}}`))
			Expect(e.Priority).To(Equal(apns.PriorityConserve))
			Expect(int64(e.Expiry)).To(BeNumerically(">=", before))
			Expect(int64(e.Expiry)).To(BeNumerically("<=", after))
		}
	})

	It("sends a raw -payload as given", func(ctx SpecContext) {
		code, stdout, stderr := runCmd(ctx, "", m.push("-token", devToken(1), "-payload", `{"aps":{"content-available":1},"k":"v"}`)...)
		Expect(code).To(Equal(0), stderr)
		Expect(parseSummary(stdout).Accepted).To(Equal(1))
		entries := m.deviceEntries(mockapns.Filter{})
		Expect(entries).To(HaveLen(1))
		Expect(entries[0].Payload).To(MatchJSON(`{"aps":{"content-available":1},"k":"v"}`))
	})

	It("exits 1 and lists a token the gateway refuses, resending the rest", func(ctx SpecContext) {
		t := []string{devToken(1), devToken(2), devToken(3)}
		_, err := m.srv.AddFault(mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: apns.MustParseToken(t[1])}})
		Expect(err).NotTo(HaveOccurred())
		code, stdout, stderr := runCmd(ctx, "", m.push("-token", t[0], "-token", t[1], "-token", t[2], "-alert", "x")...)
		Expect(code).To(Equal(1), stderr)
		s := parseSummary(stdout)
		Expect(s.Failed).To(Equal([]failure{{Token: t[1], Status: 8, Reason: "invalid token"}}))
		Expect(s.Accepted).To(Equal(2))
		Expect(s.Retried).To(Equal(1))
		Expect(s.Sent).To(Equal(4))
		Expect(s.Uncertain).To(Equal(0))
		st := m.srv.Stats()
		Expect(st.Accepted).To(BeEquivalentTo(s.Accepted))
		Expect(m.deviceRejected()).To(Equal(1))
	})

	It("fails every token of a message the gateway refuses as such", func(ctx SpecContext) {
		big := `{"aps":{"alert":"` + strings.Repeat("x", 2100) + `"}}`
		code, stdout, stderr := runCmd(ctx, "", m.push("-token", devToken(1), "-token", devToken(2), "-payload", big)...)
		Expect(code).To(Equal(1), stderr)
		s := parseSummary(stdout)
		Expect(s.Accepted).To(Equal(0))
		Expect(s.Failed).To(HaveLen(2))
		for _, f := range s.Failed {
			Expect(f.Status).To(Equal(7))
			Expect(f.Reason).To(Equal("invalid payload size"))
		}
		Expect(m.srv.Stats().Accepted).To(BeZero())
	})

	It("resends everything after a shutdown and loses nothing", func(ctx SpecContext) {
		_, err := m.srv.AddFault(mockapns.Shutdown{When: mockapns.Trigger{Nth: 3}})
		Expect(err).NotTo(HaveOccurred())
		args := m.push("-alert", "x")
		for i := range 6 {
			args = append(args, "-token", devToken(i))
		}
		code, stdout, stderr := runCmd(ctx, "", args...)
		Expect(code).To(Equal(0), stderr)
		s := parseSummary(stdout)
		Expect(s.Accepted).To(Equal(6))
		Expect(s.Retried).To(BeNumerically(">=", 4))
		Expect(s.Sent).To(Equal(6 + s.Retried))
		Expect(s.Uncertain).To(Equal(0))
		Expect(m.srv.Stats().Accepted).To(BeEquivalentTo(6))
	})

	It("counts the resends after a silent disconnect as uncertain", func(ctx SpecContext) {
		_, err := m.srv.AddFault(mockapns.Disconnect{When: mockapns.Trigger{Nth: 3}})
		Expect(err).NotTo(HaveOccurred())
		args := m.push("-alert", "x")
		for i := range 6 {
			args = append(args, "-token", devToken(i))
		}
		code, stdout, stderr := runCmd(ctx, "", args...)
		Expect(code).To(Equal(0), stderr)
		s := parseSummary(stdout)
		Expect(s.Accepted).To(Equal(6))
		Expect(s.Uncertain).To(BeNumerically(">", 0))
		Expect(s.Uncertain).To(BeNumerically("<=", s.Retried))
		Expect(s.Sent).To(Equal(6 + s.Retried))
		// Every token reached the gateway; the uncertain ones maybe twice.
		st := m.srv.Stats()
		Expect(st.Accepted).To(BeNumerically(">=", 6))
		Expect(st.Accepted).To(BeNumerically("<=", 6+s.Uncertain))
	})

	It("sends a -tokens file of 100,000 tokens and agrees with the gateway's stats", func(ctx SpecContext) {
		const n = 100000
		file := writeTokenFile(m.dir, n)
		code, stdout, stderr := runCmd(ctx, "", m.push("-tokens", file, "-alert", "bulk")...)
		Expect(code).To(Equal(0), stderr)
		Expect(stderr).To(BeEmpty(), "no progress line: stderr is not a terminal")
		s := parseSummary(stdout)
		Expect(s.Sent).To(Equal(n))
		Expect(s.Accepted).To(Equal(n))
		Expect(s.Failed).To(BeEmpty())
		Expect(s.Retried + s.Uncertain).To(BeZero())
		// The gateway may still be reading the last frames when the client,
		// having heard no error within its error window, is done.
		Eventually(ctx, func() uint64 { return m.srv.Stats().Accepted }).Should(BeEquivalentTo(s.Accepted))
		Expect(m.srv.Stats().Discarded).To(BeZero())
		Expect(m.deviceEntries(mockapns.Filter{Status: mockapns.Rejected})).To(BeEmpty())
	}, SpecTimeout(2*time.Minute))

	It("reads -tokens - from stdin", func(ctx SpecContext) {
		in := "# three devices\n" + devToken(1) + "\r\n\n  " + devToken(2) + "  \n# off: " + devToken(9) + "\n" + devToken(3) + "\n"
		code, stdout, stderr := runCmd(ctx, in, m.push("-tokens", "-", "-alert", "x")...)
		Expect(code).To(Equal(0), stderr)
		Expect(parseSummary(stdout).Accepted).To(Equal(3))
		var got []string
		for _, e := range m.deviceEntries(mockapns.Filter{}) {
			got = append(got, hex.EncodeToString(e.Token))
		}
		Expect(got).To(Equal([]string{devToken(1), devToken(2), devToken(3)}))
	})

	It("draws a progress line on stderr when asked to", func(ctx SpecContext) {
		file := writeTokenFile(m.dir, 50)
		code, stdout, stderr := runCmd(ctx, "", m.push("-tokens", file, "-batch", "10", "-progress", "always")...)
		Expect(code).To(Equal(0), stderr)
		Expect(parseSummary(stdout).Accepted).To(Equal(50))
		Expect(stderr).To(HavePrefix("\r"))
		last := stderr[strings.LastIndex(stderr, "\r"):]
		Expect(last).To(HavePrefix("\r50/50 done (100%), sent 50, failed 0, retried 0, "))
		Expect(last).To(HaveSuffix("/s\x1b[K\n"))
	})

	It("authenticates with -p12 instead of -cert and -key", func(ctx SpecContext) {
		pki := m.srv.PKI()
		p12, err := pkcs12.Modern.Encode(pki.Client.TLS.PrivateKey, pki.Client.Cert, []*x509.Certificate{pki.CA.Cert}, "pw")
		Expect(err).NotTo(HaveOccurred())
		file := filepath.Join(m.dir, "client.p12")
		Expect(os.WriteFile(file, p12, 0o600)).To(Succeed())
		args := []string{"push", "-addr", m.srv.GatewayAddr(), "-ca", m.conn[1], "-p12", file, "-token", devToken(1)}
		code, stdout, stderr := runCmd(ctx, "", append(args, "-p12-password", "pw")...)
		Expect(code).To(Equal(0), stderr)
		Expect(parseSummary(stdout).Accepted).To(Equal(1))

		code, stdout, stderr = runCmd(ctx, "", append(args, "-p12-password", "wrong")...)
		Expect(code).To(Equal(2))
		Expect(stdout).To(BeEmpty())
		Expect(stderr).To(ContainSubstring("-p12"))
	})

	It("decrypts a legacy encrypted key with $APNSCLIENT_PASSPHRASE", func(ctx SpecContext) {
		block, _ := pem.Decode(m.srv.PKI().Client.KeyPEM)
		Expect(block).NotTo(BeNil())
		enc, err := x509.EncryptPEMBlock(rand.Reader, block.Type, block.Bytes, []byte("s3cret"), x509.PEMCipherAES256) //nolint:staticcheck // the legacy format under test
		Expect(err).NotTo(HaveOccurred())
		keyFile := filepath.Join(m.dir, "client-key-enc.pem")
		Expect(os.WriteFile(keyFile, pem.EncodeToMemory(enc), 0o600)).To(Succeed())
		Expect(os.Setenv("APNSCLIENT_PASSPHRASE", "s3cret")).To(Succeed())
		DeferCleanup(os.Unsetenv, "APNSCLIENT_PASSPHRASE")
		args := []string{"push", "-addr", m.srv.GatewayAddr(), "-ca", m.conn[1], "-cert", m.conn[3], "-key", keyFile, "-token", devToken(1)}
		code, stdout, stderr := runCmd(ctx, "", args...)
		Expect(code).To(Equal(0), stderr)
		Expect(parseSummary(stdout).Accepted).To(Equal(1))

		code, _, stderr = runCmd(ctx, "", append(args, "-passphrase", "wrong")...)
		Expect(code).To(Equal(2))
		Expect(stderr).To(ContainSubstring("passphrase"))
	})

	It("reports error responses and resends on stderr with -v, next to the progress line", func(ctx SpecContext) {
		_, err := m.srv.AddFault(mockapns.Shutdown{When: mockapns.Trigger{Nth: 25}})
		Expect(err).NotTo(HaveOccurred())
		file := writeTokenFile(m.dir, 100)
		code, stdout, stderr := runCmd(ctx, "", m.push("-tokens", file, "-batch", "20", "-v", "-progress", "always")...)
		Expect(code).To(Equal(0), stderr)
		s := parseSummary(stdout)
		Expect(s.Accepted).To(Equal(100))
		Expect(s.Retried).To(BeNumerically(">", 0))
		Expect(stderr).To(ContainSubstring("\r\x1b[Kapnsclient push: batch "))
		Expect(stderr).To(MatchRegexp(`resending \d+ notifications \(0 uncertain\)`))
		Expect(stderr).To(HaveSuffix("\x1b[K\n"))
	})

	It("exits 2 when the gateway is unreachable", func(ctx SpecContext) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		addr := l.Addr().String()
		Expect(l.Close()).To(Succeed())
		args := append([]string{"push", "-addr", addr}, m.conn...)
		code, stdout, stderr := runCmd(ctx, "", append(args, "-token", devToken(1))...)
		Expect(code).To(Equal(2))
		Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
		Expect(stderr).To(ContainSubstring(addr))
		s := parseSummary(stdout)
		Expect(s.Sent).To(Equal(0))
		Expect(s.Accepted).To(Equal(0))
	})

	It("exits 2 when the server's certificate is not trusted (no -ca)", func(ctx SpecContext) {
		args := []string{"push", "-addr", m.srv.GatewayAddr(), "-cert", m.conn[3], "-key", m.conn[5], "-token", devToken(1)}
		code, _, stderr := runCmd(ctx, "", args...)
		Expect(code).To(Equal(2))
		Expect(stderr).To(ContainSubstring("-ca"))
		Expect(m.srv.Stats().Accepted).To(BeZero())
	})

	It("exits 2 when the certificate files do not exist", func(ctx SpecContext) {
		args := []string{"push", "-addr", m.srv.GatewayAddr(), "-cert", filepath.Join(m.dir, "nope.pem"), "-token", devToken(1)}
		code, stdout, stderr := runCmd(ctx, "", args...)
		Expect(code).To(Equal(2))
		Expect(stdout).To(BeEmpty())
		Expect(stderr).To(ContainSubstring("nope.pem"))
	})

	It("stops when interrupted and reports what was done", func(ctx SpecContext) {
		// The gateway stalls on the second notification, so the client's
		// writes of a large batch (far more bytes than socket buffers hold)
		// block until the interrupt.
		_, err := m.srv.AddFault(mockapns.Delay{Duration: time.Minute, When: mockapns.Trigger{Nth: 2}})
		Expect(err).NotTo(HaveOccurred())
		const n = 50000
		file := writeTokenFile(m.dir, n)
		runCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		type outcome struct {
			code           int
			stdout, stderr string
		}
		done := make(chan outcome, 1)
		go func() {
			var out, errb bytes.Buffer
			code := main.Run(runCtx, m.push("-tokens", file, "-batch", "50000", "-alert", strings.Repeat("x", 1800)), strings.NewReader(""), &out, &errb)
			done <- outcome{code, out.String(), errb.String()}
		}()
		_, err = m.srv.WaitNotifications(ctx, mockapns.Filter{}, 1)
		Expect(err).NotTo(HaveOccurred())
		cancel()
		var o outcome
		Eventually(ctx, done).Should(Receive(&o))
		Expect(o.code).To(Equal(2))
		Expect(o.stderr).To(ContainSubstring("interrupted"))
		s := parseSummary(o.stdout)
		Expect(s.Accepted).To(BeNumerically("<", n))
		Expect(s.Failed).To(BeEmpty())
	}, SpecTimeout(30*time.Second))
})

var _ = Describe("apnsclient feedback", func() {
	var m *mockFixture
	BeforeEach(func() { m = startMock(mockapns.Config{}) })

	It("prints one TOKEN_HEX RFC3339_TIME line per tuple, and the queue is then empty", func(ctx SpecContext) {
		t1 := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
		t2 := time.Date(2026, 11, 26, 23, 59, 59, 0, time.UTC)
		m.srv.QueueFeedback(
			wire.FeedbackTuple{Time: t1, Token: binToken(devToken(1))},
			wire.FeedbackTuple{Time: t2, Token: binToken(devToken(2))},
		)
		code, stdout, stderr := runCmd(ctx, "", m.feedback()...)
		Expect(code).To(Equal(0), stderr)
		Expect(stderr).To(BeEmpty())
		Expect(stdout).To(Equal(devToken(1) + " 2026-11-27T09:30:00Z\n" + devToken(2) + " 2026-11-26T23:59:59Z\n"))

		code, stdout, _ = runCmd(ctx, "", m.feedback()...)
		Expect(code).To(Equal(0))
		Expect(stdout).To(BeEmpty())
	})

	It("exits 2 when the service is unreachable", func(ctx SpecContext) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		addr := l.Addr().String()
		Expect(l.Close()).To(Succeed())
		args := append([]string{"feedback", "-addr", addr}, m.conn...)
		code, stdout, stderr := runCmd(ctx, "", args...)
		Expect(code).To(Equal(2))
		Expect(stdout).To(BeEmpty())
		Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
	})
})
