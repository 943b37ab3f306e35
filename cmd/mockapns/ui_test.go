package main_test

import (
	"bufio"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("mockapns command, the web page", func() {
	var dir string
	BeforeEach(func() { dir = GinkgoT().TempDir() + "/pki" })

	It("serves the page at the admin address, without the token", func() {
		in := launch(loopbackArgs(dir, "-admin-token", "t0k3n")...)
		status, body := in.send(http.MethodGet, "/", "")
		Expect(status).To(Equal(http.StatusOK))
		Expect(body).To(ContainSubstring("<title>mockapns</title>"))
	})

	It("keeps an event stream open past -admin-read-timeout, and ends it with closed at shutdown", func() {
		in := launch(loopbackArgs(dir, "-admin-read-timeout", "200ms")...)
		resp, err := http.Get("http://" + in.admin + "/api/v1/events")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(resp.Body.Close)
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		events := make(chan string, 64)
		go func() {
			defer close(events)
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
					events <- name
				}
			}
		}()
		Eventually(events, 10*time.Second).Should(Receive(Equal("update")))
		// A wait of 500ms, well past the read timeout, is the clock.
		status, _ := in.send(http.MethodGet, "/api/v1/notifications?wait=1&timeout=500ms", "")
		Expect(status).To(Equal(http.StatusGatewayTimeout))
		status, _ = in.send(http.MethodDelete, "/api/v1/notifications", "")
		Expect(status).To(Equal(http.StatusNoContent))
		Eventually(events, 10*time.Second).Should(Receive(Equal("update")), "the stream still delivers")
		Expect(in.stop()).To(Succeed())
		Eventually(events, 10*time.Second).Should(Receive(Equal("closed")))
		Eventually(events, 10*time.Second).Should(BeClosed())
	})
})
