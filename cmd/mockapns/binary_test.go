package main_test

import (
	"crypto/tls"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
)

var _ = Describe("the mockapns binary", Ordered, func() {
	var bin string

	BeforeAll(func() {
		var err error
		bin, err = gexec.Build("github.com/apnskit/apnskit/cmd/mockapns")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(gexec.CleanupBuildArtifacts)
	})

	It("starts on free ports, serves TLS with the PEM files it wrote, and exits 0 on SIGTERM", func() {
		dir := filepath.Join(GinkgoT().TempDir(), "pki")
		cmd := exec.Command(bin, loopbackArgs(dir)...)
		session, err := gexec.Start(cmd, nil, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { session.Kill().Wait(startTimeout) })

		Eventually(session.Out, startTimeout).Should(gbytes.Say(`mockapns ready [^\n]*\n`))
		line := strings.TrimSuffix(string(session.Out.Contents()), "\n")
		m := readyRE.FindStringSubmatch(line)
		Expect(m).NotTo(BeNil(), "ready line %q", line)
		Expect(m[5]).To(Equal(dir))

		resp, err := http.Get("http://" + m[4] + "/healthz")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Body.Close()).To(Succeed())
		Expect(resp.StatusCode).To(Equal(http.StatusOK))

		h2conf := clientTLS(dir)
		h2conf.NextProtos = []string{"h2"}
		h2, err := tls.Dial("tcp", m[3], h2conf)
		Expect(err).NotTo(HaveOccurred(), "http2")
		Expect(h2.ConnectionState().NegotiatedProtocol).To(Equal("h2"))
		Expect(h2.Close()).To(Succeed())

		for _, addr := range []string{m[1], m[2]} { // gateway and feedback
			conn, err := tls.Dial("tcp", addr, clientTLS(dir))
			Expect(err).NotTo(HaveOccurred(), addr)
			Expect(conn.ConnectionState().HandshakeComplete).To(BeTrue())
			Expect(conn.Close()).To(Succeed())
		}

		session.Signal(syscall.SIGTERM)
		Eventually(session, startTimeout).Should(gexec.Exit(0))
		Expect(strings.Count(string(session.Out.Contents()), "\n")).To(Equal(1), "one line on stdout")
	})

	It("exits 2 with one line on stderr for a bad flag", func() {
		session, err := gexec.Start(exec.Command(bin, "-journal-size", "none"), nil, nil)
		Expect(err).NotTo(HaveOccurred())
		Eventually(session, startTimeout).Should(gexec.Exit(2))
		Expect(session.Out.Contents()).To(BeEmpty())
		stderr := string(session.Err.Contents())
		Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
		Expect(stderr).To(ContainSubstring("-journal-size"))
	})
})
