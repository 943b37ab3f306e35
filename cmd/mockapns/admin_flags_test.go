package main_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	main "github.com/apnskit/apnskit/cmd/mockapns"
)

// dropTimeout bounds how long a spec waits for the server to drop a
// connection. It is a safety net, not an assertion.
const dropTimeout = 10 * time.Second

// rawAdmin opens a plain TCP connection to the admin API, closed when the
// spec ends.
func rawAdmin(in *instance) net.Conn {
	GinkgoHelper()
	conn, err := net.Dial("tcp", in.admin)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(conn.Close)
	return conn
}

// expectDropped asserts that the server closes conn (within the safety
// net of dropTimeout): a read ends with EOF or a reset, not the spec's own
// deadline. It returns what the server wrote before.
func expectDropped(conn net.Conn) string {
	GinkgoHelper()
	Expect(conn.SetReadDeadline(time.Now().Add(dropTimeout))).To(Succeed())
	data, err := io.ReadAll(conn)
	var ne net.Error
	Expect(errors.As(err, &ne) && ne.Timeout()).To(BeFalse(), "the server kept the connection open (read: %v)", err)
	return string(data)
}

var _ = Describe("mockapns command, admin API flags", func() {
	var dir string
	BeforeEach(func() { dir = GinkgoT().TempDir() + "/pki" })

	It("drops a request whose body stalls after -admin-read-timeout, adding nothing", func() {
		in := launch(loopbackArgs(dir, "-admin-read-timeout", "300ms")...)
		conn := rawAdmin(in)
		_, err := io.WriteString(conn, "POST /api/v1/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"action\":")
		Expect(err).NotTo(HaveOccurred())
		expectDropped(conn)
		var faults []any
		Expect(in.get("/api/v1/faults", &faults)).To(Equal(http.StatusOK))
		Expect(faults).To(BeEmpty())
	})

	It("drops a keep-alive connection left idle for -admin-idle-timeout", func() {
		in := launch(loopbackArgs(dir, "-admin-idle-timeout", "300ms")...)
		conn := rawAdmin(in)
		_, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.ReadResponse(bufio.NewReader(io.TeeReader(conn, io.Discard)), nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(resp.Body.Close()).To(Succeed())
		expectDropped(conn)
	})

	It("answers a ?wait longer than -admin-read-timeout with its own timeout (504), not a cut", func() {
		in := launch(loopbackArgs(dir, "-admin-read-timeout", "200ms")...)
		status, body := in.send(http.MethodGet, "/api/v1/notifications?wait=1&timeout=1s", "")
		Expect(status).To(Equal(http.StatusGatewayTimeout), body)
		Expect(body).To(ContainSubstring(`"wanted":1`))
	})

	It("wants -admin-token on every route but /healthz", func() {
		in := launch(loopbackArgs(dir, "-admin-token", "t0k3n")...)
		Expect(in.get("/healthz", nil)).To(Equal(http.StatusOK))
		status, body := in.send(http.MethodGet, "/api/v1/stats", "")
		Expect(status).To(Equal(http.StatusUnauthorized), body)
		status, body = in.send(http.MethodPost, "/api/v1/reset", "")
		Expect(status).To(Equal(http.StatusUnauthorized), body)
		status, body = in.send(http.MethodPost, "/api/v1/reset", "", "Authorization", "Bearer t0k3n")
		Expect(status).To(Equal(http.StatusNoContent), body)
	})

	It("takes the token from $MOCKAPNS_ADMIN_TOKEN", func() {
		GinkgoT().Setenv("MOCKAPNS_ADMIN_TOKEN", "from-env")
		in := launch(loopbackArgs(dir)...)
		status, _ := in.send(http.MethodGet, "/api/v1/stats", "")
		Expect(status).To(Equal(http.StatusUnauthorized))
		status, body := in.send(http.MethodGet, "/api/v1/stats", "", "Authorization", "Bearer from-env")
		Expect(status).To(Equal(http.StatusOK), body)
	})

	It("refuses a cross-origin text/plain POST and takes the origins of -admin-allow-origin", func() {
		in := launch(loopbackArgs(dir, "-admin-allow-origin", "https://ui.example:8443, mock.internal", "-admin-allow-origin", "other.example")...)
		status, body := in.send(http.MethodPost, "/api/v1/faults", `{"action":"shutdown","nth":1}`,
			"Content-Type", "text/plain", "Origin", "http://evil.example")
		Expect(status).To(Equal(http.StatusForbidden), body)
		Expect(body).To(ContainSubstring("Origin"))
		for _, origin := range []string{"https://ui.example:8443", "http://mock.internal", "https://other.example"} {
			status, body = in.send(http.MethodPost, "/api/v1/faults", `{"action":"shutdown","nth":1}`, "Origin", origin)
			Expect(status).To(Equal(http.StatusCreated), "%s: %s", origin, body)
		}
		var faults []any
		Expect(in.get("/api/v1/faults", &faults)).To(Equal(http.StatusOK))
		Expect(faults).To(HaveLen(3))
	})

	It("bounds the feedback queue with -feedback-max", func() {
		in := launch(loopbackArgs(dir, "-feedback-max", "2")...)
		tuple := `{"token":"ab","time":"2026-01-01T00:00:00Z"}`
		status, body := in.send(http.MethodPost, "/api/v1/feedback", "["+tuple+","+tuple+","+tuple+"]")
		Expect(status).To(Equal(http.StatusBadRequest), body)
		Expect(body).To(ContainSubstring("2"))
		status, body = in.send(http.MethodPost, "/api/v1/feedback", "["+tuple+","+tuple+"]")
		Expect(status).To(Equal(http.StatusOK), body)
	})

	DescribeTable("warns at start when the admin API listens beyond loopback without a token",
		func(listening, token string, warned bool) {
			var log bytes.Buffer
			main.AdminWarn(listening, token, &log)
			if warned {
				Expect(log.String()).To(ContainSubstring("without a token"))
				Expect(log.String()).To(ContainSubstring(listening))
			} else {
				Expect(log.String()).To(BeEmpty())
			}
		},
		Entry("all interfaces", "0.0.0.0:8195", "", true),
		Entry("all interfaces, IPv6", "[::]:8195", "", true),
		Entry("a LAN address", "192.168.1.5:8195", "", true),
		Entry("a LAN address with a token", "192.168.1.5:8195", "t", false),
		Entry("127.0.0.1", "127.0.0.1:8195", "", false),
		Entry("::1", "[::1]:8195", "", false),
	)

	DescribeTable("refuses bad admin flags with status 2",
		func(args ...string) {
			var stdout, stderr bytes.Buffer
			err := main.Run(context.Background(), append(loopbackArgs(dir), args...), &stdout, &stderr)
			Expect(err).To(HaveOccurred())
			var errLine bytes.Buffer
			Expect(main.Report(err, &errLine)).To(Equal(2))
			Expect(errLine.String()).To(ContainSubstring(strings.TrimPrefix(args[0], "-")))
			_, statErr := os.Stat(dir)
			Expect(os.IsNotExist(statErr)).To(BeTrue(), "no PKI written")
		},
		Entry("-feedback-max 0", "-feedback-max", "0"),
		Entry("-feedback-max not a number", "-feedback-max", "lots"),
		Entry("-admin-read-timeout 0", "-admin-read-timeout", "0s"),
		Entry("-admin-idle-timeout negative", "-admin-idle-timeout", "-1s"),
		Entry("-admin-allow-origin with a path", "-admin-allow-origin", "https://ui.example/app"),
		Entry("-admin-allow-origin empty", "-admin-allow-origin", "a.example,,b.example"),
	)
})
