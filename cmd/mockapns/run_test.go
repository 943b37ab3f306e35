package main_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	main "github.com/apnskit/apnskit/cmd/mockapns"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// startTimeout bounds how long a spec waits for the ready line (the PKI
// may be generated first). It is a safety net, not an assertion.
const startTimeout = 30 * time.Second

// readyRE is the ready line of the contract.
var readyRE = regexp.MustCompile(`^mockapns ready gateway=(\S+:\d+) feedback=(\S+:\d+) http2=(\S+:\d+) admin=(\S+:\d+) certs=(\S+)$`)

// pkiFiles are the files of the -certs folder (a contract).
var pkiFiles = []string{"ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem", "authkey.p8", "authkey.json"}

// syncBuffer is a bytes.Buffer safe for the writer goroutine and the spec.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the complete lines written so far.
func (b *syncBuffer) lines() []string {
	s := b.String()
	if s == "" {
		return nil
	}
	return strings.SplitAfter(strings.TrimSuffix(s, "\n"), "\n")
}

// instance is one in-process run of the command.
type instance struct {
	gateway, feedback, http2, admin, certs string
	stdout, stderr                         *syncBuffer
	cancel                                 context.CancelFunc
	done                                   chan error
}

// launch runs the command in-process with args and waits for its ready
// line. The run is stopped (as by SIGTERM) when the spec ends, unless the
// spec stops it first.
func launch(args ...string) *instance {
	GinkgoHelper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- main.Run(ctx, args, in.stdout, in.stderr) }()
	DeferCleanup(func() {
		cancel()
		Eventually(in.done, startTimeout).Should(Receive())
	})
	Eventually(in.stdout.lines, startTimeout).Should(HaveLen(1), "stderr: %s", in.stderr)
	m := readyRE.FindStringSubmatch(strings.TrimSuffix(in.stdout.lines()[0], "\n"))
	Expect(m).NotTo(BeNil(), "ready line %q", in.stdout.String())
	in.gateway, in.feedback, in.http2, in.admin, in.certs = m[1], m[2], m[3], m[4], m[5]
	return in
}

// stop cancels the run as a signal would and returns its error.
func (in *instance) stop() error {
	GinkgoHelper()
	in.cancel()
	var err error
	Eventually(in.done, startTimeout).Should(Receive(&err))
	in.done <- err // for the cleanup
	return err
}

// get fetches path from the admin API and decodes the JSON answer into v.
func (in *instance) get(path string, v any) int {
	GinkgoHelper()
	resp, err := http.Get("http://" + in.admin + path)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	if v != nil {
		Expect(json.Unmarshal(body, v)).To(Succeed(), "body: %s", body)
	}
	return resp.StatusCode
}

// loopbackArgs are the flags that keep a run on free loopback ports.
func loopbackArgs(certsDir string, more ...string) []string {
	return append([]string{"-gateway", "127.0.0.1:0", "-feedback", "127.0.0.1:0", "-http2", "127.0.0.1:0",
		"-admin", "127.0.0.1:0", "-certs", certsDir}, more...)
}

// clientTLS builds a client configuration from the PEM files of dir only.
func clientTLS(dir string) *tls.Config {
	GinkgoHelper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem"))
	Expect(err).NotTo(HaveOccurred())
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	Expect(err).NotTo(HaveOccurred())
	pool := x509.NewCertPool()
	Expect(pool.AppendCertsFromPEM(caPEM)).To(BeTrue())
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// framed encodes a command-2 notification with every item.
func framed(id uint32, tok byte) []byte {
	n := wire.Notification{Command: wire.CommandFramed, ID: id, Priority: 10, Present: wire.AllFields,
		Token: bytes.Repeat([]byte{tok}, 32), Payload: []byte(`{"aps":{"alert":"hi"}}`)}
	b, err := n.MarshalBinary()
	Expect(err).NotTo(HaveOccurred())
	return b
}

var _ = Describe("mockapns command", func() {
	var dir string

	BeforeEach(func() {
		dir = filepath.Join(GinkgoT().TempDir(), "pki")
	})

	It("prints the ready line with real ports, serves /healthz and stops cleanly", func() {
		in := launch(loopbackArgs(dir)...)
		for _, addr := range []string{in.gateway, in.feedback, in.http2, in.admin} {
			host, port, err := net.SplitHostPort(addr)
			Expect(err).NotTo(HaveOccurred())
			Expect(host).To(Equal("127.0.0.1"))
			Expect(port).NotTo(Equal("0"))
		}
		Expect(in.certs).To(Equal(dir))
		var h map[string]string
		Expect(in.get("/healthz", &h)).To(Equal(http.StatusOK))
		Expect(h).To(HaveKeyWithValue("status", "ok"))

		err := in.stop()
		Expect(err).NotTo(HaveOccurred())
		Expect(main.Report(err, io.Discard)).To(Equal(0))
		Expect(in.stdout.lines()).To(HaveLen(1), "exactly one line on stdout")
		_, err = net.Dial("tcp", in.admin)
		Expect(err).To(HaveOccurred(), "the admin API is closed")
		_, err = net.Dial("tcp", in.gateway)
		Expect(err).To(HaveOccurred(), "the gateway is closed")
	})

	It("writes the PKI folder once and reuses it on the next start", func() {
		in := launch(loopbackArgs(dir)...)
		for _, f := range pkiFiles {
			st, err := os.Stat(filepath.Join(dir, f))
			Expect(err).NotTo(HaveOccurred())
			if strings.HasSuffix(f, "-key.pem") || f == "authkey.p8" {
				Expect(st.Mode().Perm()).To(Equal(os.FileMode(0o600)), f)
			}
		}
		ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
		Expect(err).NotTo(HaveOccurred())
		Expect(in.stop()).To(Succeed())

		again := launch(loopbackArgs(dir)...)
		ca2, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
		Expect(err).NotTo(HaveOccurred())
		Expect(ca2).To(Equal(ca))
		Expect(again.stderr.String()).To(ContainSubstring("PKI loaded"))

		// The server presents what the folder holds: a client built from
		// the PEM files alone completes the handshake with full verification.
		conn, err := tls.Dial("tcp", again.gateway, clientTLS(dir))
		Expect(err).NotTo(HaveOccurred())
		Expect(conn.Close()).To(Succeed())
	})

	It("journals what a client sends with the folder's certificate, keeping -journal-size entries", func() {
		in := launch(loopbackArgs(dir, "-journal-size", "2")...)
		conn, err := tls.Dial("tcp", in.gateway, clientTLS(dir))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(conn.Close)
		for id := uint32(1); id <= 3; id++ {
			_, err := conn.Write(framed(id, byte(id)))
			Expect(err).NotTo(HaveOccurred())
		}
		Eventually(func() uint64 {
			var st mockapns.Stats
			in.get("/api/v1/stats", &st)
			return st.Accepted
		}, startTimeout).Should(BeEquivalentTo(3))
		var es []mockapns.Entry
		Expect(in.get("/api/v1/notifications", &es)).To(Equal(http.StatusOK))
		Expect(es).To(HaveLen(2))
		Expect(es[0].ID).To(BeEquivalentTo(2))
		Expect(es[1].ID).To(BeEquivalentTo(3))
	})

	It("installs every -fault", func() {
		in := launch(loopbackArgs(dir,
			"-fault", `{"action":"reject","status":8,"nth":2}`,
			"-fault", `{"action": "feedback_split", "times": 0}`)...)
		var list []struct {
			ID    int             `json:"id"`
			Fired int             `json:"fired"`
			Fault json.RawMessage `json:"fault"`
		}
		Expect(in.get("/api/v1/faults", &list)).To(Equal(http.StatusOK))
		Expect(list).To(HaveLen(2))
		Expect(list[0].Fault).To(MatchJSON(`{"action":"reject","status":8,"nth":2}`))
		Expect(list[1].Fault).To(MatchJSON(`{"action":"feedback_split","times":0}`))

		// and the gateway applies them
		conn, err := tls.Dial("tcp", in.gateway, clientTLS(dir))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(conn.Close)
		Expect(conn.SetDeadline(time.Now().Add(startTimeout))).To(Succeed())
		_, err = conn.Write(append(framed(1, 1), framed(2, 2)...))
		Expect(err).NotTo(HaveOccurred())
		got, _ := io.ReadAll(conn)
		Expect(got).To(Equal([]byte{8, 8, 0, 0, 0, 2}))
	})

	It("logs the seed it uses, as JSON with -log-format json", func() {
		in := launch(loopbackArgs(dir, "-seed", "42", "-log-format", "json")...)
		Expect(in.stop()).To(Succeed())
		var seeds []float64
		for _, line := range in.stderr.lines() {
			var rec map[string]any
			Expect(json.Unmarshal([]byte(line), &rec)).To(Succeed(), "not JSON: %q", line)
			Expect(rec).To(HaveKey("level"))
			if s, ok := rec["seed"].(float64); ok {
				seeds = append(seeds, s)
			}
		}
		Expect(seeds).NotTo(BeEmpty())
		Expect(seeds).To(HaveEach(BeEquivalentTo(42)))
	})

	It("logs a time-based seed when none is given", func() {
		in := launch(loopbackArgs(dir)...)
		Expect(in.stderr.String()).To(MatchRegexp(`seed=-?[1-9]\d*`))
	})

	It("logs nothing below -log-level", func() {
		in := launch(loopbackArgs(dir, "-log-level", "warn")...)
		Expect(in.stop()).To(Succeed())
		Expect(in.stderr.String()).To(BeEmpty())

		in = launch(loopbackArgs(dir, "-log-level", "DEBUG")...)
		Expect(in.stop()).To(Succeed())
		Expect(in.stderr.String()).To(ContainSubstring("level=INFO"))
	})

	It("fails with status 1 and one line when a port is taken", func() {
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(taken.Close)
		for _, flagName := range []string{"-gateway", "-feedback", "-http2", "-admin"} {
			args := append(loopbackArgs(dir), flagName, taken.Addr().String())
			var stdout, stderr bytes.Buffer
			err := main.Run(context.Background(), args, &stdout, &stderr)
			Expect(err).To(HaveOccurred(), flagName)
			var errLine bytes.Buffer
			Expect(main.Report(err, &errLine)).To(Equal(1))
			Expect(strings.Count(errLine.String(), "\n")).To(Equal(1), errLine.String())
			Expect(errLine.String()).To(HavePrefix("mockapns: "))
			Expect(errLine.String()).To(ContainSubstring(taken.Addr().String()))
			Expect(stdout.String()).To(BeEmpty(), "no ready line")
		}
	})

	It("reports a Config the server refuses as a usage error (status 2)", func() {
		_, err := mockapns.Start(mockapns.Config{JournalSize: -1})
		Expect(err).To(MatchError(mockapns.ErrBadConfig))
		var errLine bytes.Buffer
		Expect(main.Report(err, &errLine)).To(Equal(2))
		Expect(errLine.String()).To(HavePrefix("mockapns: bad config: JournalSize"))
		Expect(strings.Count(errLine.String(), "\n")).To(Equal(1), errLine.String())
	})

	DescribeTable("refuses a bad command line with status 2 and one line on stderr",
		func(args ...string) {
			var stdout, stderr bytes.Buffer
			err := main.Run(context.Background(), append(loopbackArgs(dir), args...), &stdout, &stderr)
			Expect(err).To(HaveOccurred())
			var errLine bytes.Buffer
			Expect(main.Report(err, &errLine)).To(Equal(2))
			Expect(strings.Count(errLine.String(), "\n")).To(Equal(1), errLine.String())
			Expect(errLine.String()).To(HavePrefix("mockapns: "))
			Expect(errLine.String()).To(ContainSubstring("-h"))
			Expect(stdout.String()).To(BeEmpty())
			Expect(stderr.String()).To(BeEmpty(), "nothing logged before the line")
			_, statErr := os.Stat(dir)
			Expect(os.IsNotExist(statErr)).To(BeTrue(), "no PKI written")
		},
		Entry("unknown flag", "-nope"),
		Entry("flag without value", "-seed"),
		Entry("journal size not a number", "-journal-size", "many"),
		Entry("journal size 0", "-journal-size", "0"),
		Entry("negative journal size", "-journal-size", "-5"),
		Entry("seed not a number", "-seed", "abc"),
		Entry("fault not JSON", "-fault", "{bad"),
		Entry("fault without its status", "-fault", `{"action":"reject"}`),
		Entry("fault with an unknown field", "-fault", `{"action":"shutdown","when":"now"}`),
		Entry("fault spread over lines", "-fault", "{\n  \"action\": \"reject\",\n  \"status\": 0\n}"),
		Entry("unknown log level", "-log-level", "loud"),
		Entry("unknown log format", "-log-format", "xml"),
		Entry("extra argument", "serve"),
		Entry("address without port", "-gateway", "localhost"),
		Entry("empty certs folder name", "-certs", ""),
		Entry("token length 0", "-token-length", "0"),
		Entry("token length over 100", "-token-length", "101"),
		Entry("max payload 0", "-max-payload", "0"),
		Entry("max payload over 65535", "-max-payload", "70000"),
		Entry("validate not a boolean", "-validate=maybe"),
	)

	// answer sends one notification with the given token and payload sizes
	// and returns the gateway's answer: the status of its error response,
	// or 0 if it accepted the notification (proved by the journal).
	answer := func(in *instance, tokenLen, payloadLen int) wire.Status {
		conn, err := tls.Dial("tcp", in.gateway, clientTLS(dir))
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		n := wire.Notification{Command: wire.CommandFramed, ID: 9, Present: wire.HasIdentifier,
			Token: bytes.Repeat([]byte{7}, tokenLen), Payload: bytes.Repeat([]byte{'x'}, payloadLen)}
		b, err := n.MarshalBinary()
		Expect(err).NotTo(HaveOccurred())
		_, err = conn.Write(b)
		Expect(err).NotTo(HaveOccurred())
		Expect(conn.CloseWrite()).To(Succeed()) // the gateway judges it, answers, closes
		Expect(conn.SetReadDeadline(time.Now().Add(startTimeout))).To(Succeed())
		got, _ := io.ReadAll(conn)
		if len(got) == 0 {
			return wire.StatusNoError
		}
		var r wire.ErrorResponse
		Expect(r.UnmarshalBinary(got)).To(Succeed())
		Expect(r.ID).To(BeEquivalentTo(9))
		return r.Status
	}

	It("applies Apple's checks by default", func() {
		in := launch(loopbackArgs(dir)...)
		Expect(answer(in, 32, 2048)).To(Equal(wire.StatusNoError))
		Expect(answer(in, 20, 10)).To(Equal(wire.StatusInvalidTokenSize))
		Expect(answer(in, 32, 2049)).To(Equal(wire.StatusInvalidPayloadSize))
	})

	It("takes other limits from -token-length and -max-payload", func() {
		in := launch(loopbackArgs(dir, "-token-length", "-1", "-max-payload", "256")...)
		Expect(answer(in, 20, 256)).To(Equal(wire.StatusNoError))
		Expect(answer(in, 100, 10)).To(Equal(wire.StatusNoError))
		Expect(answer(in, 32, 257)).To(Equal(wire.StatusInvalidPayloadSize))
	})

	It("accepts anything that parses with -validate=false", func() {
		in := launch(loopbackArgs(dir, "-validate=false")...)
		Expect(answer(in, 5, 3000)).To(Equal(wire.StatusNoError))
		var st mockapns.Stats
		Expect(in.get("/api/v1/stats", &st)).To(Equal(http.StatusOK))
		Expect(st.Accepted).To(BeEquivalentTo(1))
	})

	It("prints the usage on stdout for -h and exits 0", func() {
		var stdout, stderr bytes.Buffer
		err := main.Run(context.Background(), []string{"-h"}, &stdout, &stderr)
		Expect(err).NotTo(HaveOccurred())
		Expect(main.Report(err, &stderr)).To(Equal(0))
		for _, f := range []string{"-gateway", "-feedback", "-admin", "-certs", "-fault", "-journal-size", "-seed", "-log-level", "-log-format", "-version",
			"-http2", "-environment", "-auth-key", "-jwt-verify"} {
			Expect(stdout.String()).To(ContainSubstring(f))
		}
		Expect(stderr.String()).To(BeEmpty())
	})

	It("prints the version for -version and exits 0", func() {
		var stdout, stderr bytes.Buffer
		err := main.Run(context.Background(), []string{"-version"}, &stdout, &stderr)
		Expect(err).NotTo(HaveOccurred())
		Expect(stdout.String()).To(MatchRegexp(`^mockapns \S+.*\n$`))
		Expect(stderr.String()).To(BeEmpty())
	})
})
