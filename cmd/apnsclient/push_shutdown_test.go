package main_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("apnsclient push interrupted by the gateway's shutdown", func() {
	for _, parallel := range []string{"1", "4"} {
		It("prints as accepted exactly what the gateway accepted, -parallel "+parallel, func(ctx SpecContext) {
			const n = 200_000
			m := startMock(mockapns.Config{JournalSize: n})
			file := writeTokenFile(m.dir, n)
			type run struct {
				code           int
				stdout, stderr string
			}
			done := make(chan run, 1)
			go func() {
				code, stdout, stderr := runCmd(ctx, "", m.push("-tokens", file, "-parallel", parallel, "-window", "10000")...)
				done <- run{code, stdout, stderr}
			}()
			Eventually(func() uint64 { return m.srv.Stats().Accepted }).WithContext(ctx).Should(BeNumerically(">=", 20_000))
			Expect(m.srv.Shutdown(ctx)).To(Succeed())
			var r run
			Eventually(done).WithContext(ctx).Should(Receive(&r))
			Expect(r.code).To(Equal(2), r.stderr)
			Expect(r.stderr).To(ContainSubstring("connect"))
			s := parseSummary(r.stdout)
			accepted := m.deviceEntries(mockapns.Filter{Status: mockapns.Accepted})
			Expect(len(accepted)).To(BeNumerically("<", n), "the shutdown came mid-push")
			Expect(s.Accepted).To(Equal(len(accepted)))
			Expect(s.Failed).To(BeEmpty())
		})
	}
})
