package main_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	main "github.com/apnskit/apnskit/cmd/mockapns"
)

var _ = Describe("mockapns error lines", func() {
	var dir string
	BeforeEach(func() { dir = filepath.Join(GinkgoT().TempDir(), "pki") })

	// line runs the command with args and returns its exit status and the
	// one line it reports.
	line := func(args ...string) (int, string) {
		GinkgoHelper()
		var stdout, stderr, errLine bytes.Buffer
		err := main.Run(context.Background(), append(loopbackArgs(dir), args...), &stdout, &stderr)
		Expect(err).To(HaveOccurred())
		code := main.Report(err, &errLine)
		Expect(strings.Count(errLine.String(), "\n")).To(Equal(1), errLine.String())
		return code, errLine.String()
	}

	It("says what is wrong with a -fault once, without a second package prefix", func() {
		code, msg := line("-fault", `{"action":"reject"}`)
		Expect(code).To(Equal(2))
		Expect(strings.Count(msg, "mockapns:")).To(Equal(1), msg)
		Expect(msg).To(MatchRegexp(`^mockapns: invalid value .* for flag -fault: bad fault: field "status": `))
	})

	DescribeTable("says what an integer flag takes",
		func(flag, want string) {
			code, msg := line(flag, "abc")
			Expect(code).To(Equal(2))
			Expect(msg).To(Equal(`mockapns: invalid value "abc" for flag ` + flag + ": " + want + " (run mockapns -h for usage)\n"))
		},
		Entry("-seed", "-seed", "want a whole number (a 64-bit integer; 0 for a time-based seed)"),
		Entry("-journal-size", "-journal-size", "want a whole number of entries, at least 1"),
		Entry("-token-length", "-token-length", "want a length in bytes, 1 to 100, or -1 for any"),
		Entry("-max-payload", "-max-payload", "want a size in bytes, 1 to 65535"),
	)

	It("says how to fix an incomplete -certs folder, and leaves it as it was", func() {
		Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("x"), 0o600)).To(Succeed())
		code, msg := line()
		Expect(code).To(Equal(1))
		Expect(msg).To(ContainSubstring(dir))
		Expect(msg).To(ContainSubstring("client.pem"))
		Expect(msg).To(HaveSuffix("(remove the folder to have a new PKI generated there, or choose another with -certs)\n"))
		entries, err := os.ReadDir(dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(HaveLen(1))
	})
})
