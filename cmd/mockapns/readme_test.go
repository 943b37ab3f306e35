package main_test

import (
	"os"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("the README", func() {
	It("shows only faults that -fault and the admin API take", func() {
		readme, err := os.ReadFile("README.md")
		Expect(err).NotTo(HaveOccurred())
		var faults []string
		for line := range strings.Lines(string(readme)) {
			if line = strings.TrimSpace(line); strings.HasPrefix(line, `{"action"`) {
				faults = append(faults, line)
			}
		}
		Expect(len(faults)).To(BeNumerically(">=", 20))
		for _, f := range faults {
			_, err := mockapns.ParseFault([]byte(strings.ReplaceAll(f, `"HEX"`, `"`+h2Token+`"`)))
			Expect(err).NotTo(HaveOccurred(), f)
		}
	})
})
