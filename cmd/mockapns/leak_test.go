package main_test

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/internal/leakcheck"
)

var _ = Describe("mockapns command leaks", func() {
	It("leaves no goroutine and no descriptor after a run stopped as by SIGTERM, with a client connected and a journal file", func() {
		dir := GinkgoT().TempDir()
		journal := filepath.Join(dir, "journal.jsonl")
		// The PKI is generated once outside the check: what is measured
		// is the run, not the first start's key generation.
		first := launch(loopbackArgs(filepath.Join(dir, "pki"))...)
		Expect(first.stop()).To(Succeed())

		leakcheck.ExpectNone(func() {
			in := launch(loopbackArgs(filepath.Join(dir, "pki"), "-journal-file", journal)...)
			conn, err := tls.Dial("tcp", in.gateway, clientTLS(in.certs))
			Expect(err).NotTo(HaveOccurred())
			_, err = conn.Write(framed(1, 1))
			Expect(err).NotTo(HaveOccurred())
			admin := &http.Client{Transport: &http.Transport{}}
			Eventually(func() uint64 {
				resp, err := admin.Get("http://" + in.admin + "/api/v1/stats")
				Expect(err).NotTo(HaveOccurred())
				defer resp.Body.Close()
				var st struct {
					Accepted uint64 `json:"accepted"`
				}
				Expect(json.NewDecoder(resp.Body).Decode(&st)).To(Succeed())
				return st.Accepted
			}, startTimeout).Should(BeEquivalentTo(1))
			admin.CloseIdleConnections()

			Expect(in.stop()).To(Succeed())
			// The run answered status 10 naming notification 1, then
			// closed: the connection ends.
			got, _ := io.ReadAll(conn)
			Expect(got).To(Equal([]byte{8, 10, 0, 0, 0, 1}))
			Expect(conn.Close()).To(Succeed())
		})
	})
})
