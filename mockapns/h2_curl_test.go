package mockapns_test

import (
	"context"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("HTTP/2 listener with curl", func() {
	It("takes a push from curl --http2 with the PKI's client certificate", func() {
		curl, err := exec.LookPath("curl")
		if err != nil {
			Skip("curl is not installed")
		}
		srv := startServer(mockapns.Config{})
		dir := GinkgoT().TempDir()
		Expect(srv.PKI().WriteDir(dir)).To(Succeed())
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, curl, "--silent", "--show-error", "--http2",
			"--cert", filepath.Join(dir, certs.ClientFile), "--key", filepath.Join(dir, certs.ClientKeyFile),
			"--cacert", filepath.Join(dir, certs.CAFile),
			"-d", payload, "-H", "apns-topic: "+h2Topic, "-w", "%{http_code} %{http_version}",
			"https://"+srv.HTTP2Addr()+"/3/device/"+h2Token).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "%s", out)
		Expect(string(out)).To(Equal("200 2"))
		es := srv.Notifications(mockapns.Filter{})
		Expect(es).To(HaveLen(1))
		Expect(string(es[0].Payload)).To(Equal(payload))
		Expect(es[0].Auth).To(Equal(mockapns.AuthCertificate))
	})
})
