// Package leakcheck is the specs' check that a piece of work leaves no
// goroutine and no file descriptor behind. It is for test code: it
// asserts with Gomega inside a running Ginkgo spec.
package leakcheck

import (
	"os"
	"runtime"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/goleak"
)

// openFDs counts the process's open file descriptors (Linux only).
func openFDs() int {
	GinkgoHelper()
	es, err := os.ReadDir("/proc/self/fd")
	Expect(err).NotTo(HaveOccurred())
	return len(es)
}

// ExpectNone runs body, then checks that the goroutines running before
// it are the only ones left and (on Linux, from /proc/self/fd) that no
// more descriptors are open than before, both with a retry window for a
// loaded machine. Elsewhere the descriptor check is skipped, saying so.
func ExpectNone(body func()) {
	GinkgoHelper()
	ignore := goleak.IgnoreCurrent()
	fds := -1
	if runtime.GOOS == "linux" {
		fds = openFDs()
	} else {
		GinkgoWriter.Println("descriptor check skipped: /proc/self/fd is Linux only")
	}
	body()
	// Find retries for a while itself; Eventually gives it longer still.
	Eventually(func() error { return goleak.Find(ignore) }).WithTimeout(20 * time.Second).Should(Succeed())
	if fds >= 0 {
		Eventually(openFDs).Should(BeNumerically("<=", fds))
	}
}
