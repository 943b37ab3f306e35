package mockapns_test

import (
	"context"
	"os"
	"runtime"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/goleak"

	"github.com/apnskit/apnskit/mockapns"
)

// openFDs counts the process's open file descriptors (Linux only).
func openFDs() int {
	GinkgoHelper()
	es, err := os.ReadDir("/proc/self/fd")
	Expect(err).NotTo(HaveOccurred())
	return len(es)
}

// expectNoLeaks checks that the goroutines running at the spec's start
// are the only ones left, and (on Linux) that the descriptors open then
// are the only ones open, both after a retry window for a loaded machine.
func expectNoLeaks(body func()) {
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

var _ = Describe("Leaks", func() {
	var file lockedBuffer

	It("leaves no goroutine and no descriptor after Shutdown of a server with a connection and a journal file", func() {
		expectNoLeaks(func() {
			srv, err := mockapns.Start(mockapns.Config{JournalFile: &file})
			Expect(err).NotTo(HaveOccurred())
			conn := dial(srv, srv.GatewayAddr())
			send(conn, framed(1, token(1), payload))
			Eventually(func() uint64 { return srv.Stats().Accepted }).Should(BeEquivalentTo(1))
			Expect(srv.Shutdown(context.Background())).To(Succeed())
			got, _ := readToEnd(conn)
			Expect(got).To(Equal(response(10, 1)))
			Expect(conn.Close()).To(Succeed())
		})
	})

	It("leaves no goroutine and no descriptor after Close with connections open", func() {
		expectNoLeaks(func() {
			srv, err := mockapns.Start(mockapns.Config{JournalFile: &file})
			Expect(err).NotTo(HaveOccurred())
			conn := dial(srv, srv.GatewayAddr())
			send(conn, concat(framed(1, token(1), payload), framed(2, token(2), payload)))
			Eventually(func() uint64 { return srv.Stats().Accepted }).Should(BeEquivalentTo(2))
			srv.Close()
			Expect(conn.Close()).To(Succeed()) // the spec's own descriptor
		})
	})

	It("leaves no goroutine and no descriptor after a Shutdown whose context ends", func() {
		expectNoLeaks(func() {
			srv, err := mockapns.Start(mockapns.Config{})
			Expect(err).NotTo(HaveOccurred())
			conn := dial(srv, srv.GatewayAddr())
			send(conn, framed(1, token(1), payload)[:10]) // half a frame, then silence
			Eventually(func() int64 { return srv.Stats().ConnectionsOpen }).Should(BeEquivalentTo(1))
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			Expect(srv.Shutdown(ctx)).To(MatchError(context.Canceled))
			Expect(conn.Close()).To(Succeed())
		})
	})
})
