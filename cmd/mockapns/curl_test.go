package main_test

import (
	"net/http"
	"os/exec"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("mockapns command with curl", func() {
	It("answers the README's curl push over HTTP/2 with 200 and journals it", func(ctx SpecContext) {
		curl, err := exec.LookPath("curl")
		if err != nil {
			Skip("curl not found: " + err.Error())
		}
		in := launch(loopbackArgs(GinkgoT().TempDir() + "/pki")...)

		// The README's command, run from the PKI folder, with options that
		// only shape its output: the status and HTTP version on the last line.
		cmd := exec.CommandContext(ctx, curl, "--http2", "--cert", "client.pem", "--key", "client-key.pem", "--cacert", "ca.pem",
			"-d", h2Payload, "-H", "apns-topic: "+h2Topic, "https://"+in.http2+"/3/device/"+h2Token,
			"--silent", "--show-error", "--max-time", "30", "--write-out", `\n%{http_code} %{http_version}`)
		cmd.Dir = in.certs
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "curl: %s", out)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		Expect(lines[len(lines)-1]).To(Equal("200 2"), "curl: %s", out)

		var es []mockapns.Entry
		Expect(in.get("/api/v1/notifications?protocol=http2", &es)).To(Equal(http.StatusOK))
		Expect(es).To(HaveLen(1))
		Expect(es[0].Auth).To(Equal(mockapns.AuthCertificate))
		Expect(es[0].Topic).To(Equal(h2Topic))
		Expect(es[0].Token).To(Equal(mustHex(h2Token)))
		Expect(es[0].Payload).To(MatchJSON(h2Payload))
		Expect(es[0].HTTPStatus).To(Equal(http.StatusOK))
	}, SpecTimeout(2*startTimeout))
})
