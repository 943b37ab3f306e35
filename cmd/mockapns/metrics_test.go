package main_test

import (
	"encoding/csv"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/mockapns"
)

// readmeCurls returns the README's one-line curl commands that mention
// want, with the admin address of the examples replaced by admin.
func readmeCurls(want, admin string) []string {
	GinkgoHelper()
	readme, err := os.ReadFile("README.md")
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for line := range strings.Lines(string(readme)) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "curl ") && strings.Contains(line, want) && !strings.HasSuffix(line, `\`) {
			out = append(out, strings.ReplaceAll(line, "127.0.0.1:8195", admin))
		}
	}
	return out
}

var _ = Describe("mockapns command: export and metrics", func() {
	It("runs the README's export and metrics curl commands", func(ctx SpecContext) {
		if _, err := exec.LookPath("curl"); err != nil {
			Skip("curl not found: " + err.Error())
		}
		in := launch(loopbackArgs(GinkgoT().TempDir() + "/pki")...)
		c := h2Client(in.certs, true)
		Expect(h2Push(c, in.http2, "").status).To(Equal(http.StatusOK))
		var es []mockapns.Entry
		Expect(in.get("/api/v1/notifications", &es)).To(Equal(http.StatusOK))
		Expect(es).To(HaveLen(1))

		run := func(line string) string {
			GinkgoHelper()
			dir := GinkgoT().TempDir()
			cmd := exec.CommandContext(ctx, "sh", "-c", line)
			cmd.Dir = dir
			out, err := cmd.Output()
			Expect(err).NotTo(HaveOccurred(), "%s: %s", line, out)
			return dir + "\n" + string(out)
		}

		exports := readmeCurls("format=", in.admin)
		Expect(exports).To(HaveLen(2))
		dir, _, _ := strings.Cut(run(exports[0]), "\n")
		f, err := os.Open(filepath.Join(dir, "mockapns-notifications.csv"))
		Expect(err).NotTo(HaveOccurred(), "curl -OJ saves the file under the name the server gives")
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		Expect(err).NotTo(HaveOccurred())
		Expect(rows).To(HaveLen(2))
		Expect(rows[0][0]).To(Equal("seq"))
		Expect(rows[1][2]).To(Equal("http2"))
		Expect(rows[1][4]).To(Equal(es[0].APNsID))
		_, out, _ := strings.Cut(run(exports[1]), "\n")
		Expect(out).To(BeEmpty(), "no rejected notification")

		metrics := readmeCurls("/metrics", in.admin)
		Expect(metrics).To(HaveLen(1))
		_, out, _ = strings.Cut(run(metrics[0]), "\n")
		Expect(out).To(ContainSubstring(`mockapns_notifications_total{outcome="accepted",protocol="http2",reason="",status="200"} 1`))
		Expect(out).To(ContainSubstring(`mockapns_ingest_latency_seconds_count{protocol="http2"} 1`))
		Expect(out).To(ContainSubstring("go_goroutines "), "the command adds the Go and process metrics")
		Expect(out).To(ContainSubstring("process_open_fds "))
	}, SpecTimeout(2*startTimeout))
})
