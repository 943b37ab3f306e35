package main_test

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

var _ = Describe("mockapns -exit-with-parent", Ordered, func() {
	var bin string

	BeforeAll(func() {
		var err error
		bin, err = gexec.Build("github.com/apnskit/apnskit/cmd/mockapns")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(gexec.CleanupBuildArtifacts)
	})

	// startUnderShell starts the binary as the child of a shell that waits
	// for it, as `go run` or a script would, and returns the shell and the
	// ready line's gateway address. The child is killed by its process ID
	// when the spec ends, should it still run.
	startUnderShell := func(args ...string) (*exec.Cmd, string) {
		GinkgoHelper()
		dir := filepath.Join(GinkgoT().TempDir(), "pki")
		sh := exec.Command("sh", append([]string{"-c", `"$@" & echo "child $!"; wait`, "sh", bin}, loopbackArgs(dir, args...)...)...)
		out, err := sh.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		// A file, not a pipe: Wait would also wait for the child, which
		// inherits the shell's stderr, to close a pipe.
		logFile, err := os.Create(filepath.Join(GinkgoT().TempDir(), "stderr"))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(logFile.Close)
		sh.Stderr = logFile
		Expect(sh.Start()).To(Succeed())
		DeferCleanup(func() { _ = sh.Process.Kill(); _ = sh.Wait() })
		lines := make(chan string, 2)
		go func() {
			r := bufio.NewReader(out)
			for range 2 {
				line, _ := r.ReadString('\n')
				lines <- strings.TrimSuffix(line, "\n")
			}
			_, _ = r.WriteTo(GinkgoWriter)
		}()
		var first, ready string
		Eventually(lines, startTimeout).Should(Receive(&first))
		pid, err := strconv.Atoi(strings.TrimPrefix(first, "child "))
		Expect(err).NotTo(HaveOccurred(), first)
		DeferCleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
		Eventually(lines, startTimeout).Should(Receive(&ready))
		m := readyRE.FindStringSubmatch(ready)
		Expect(m).NotTo(BeNil(), "ready line %q", ready)
		return sh, m[1]
	}

	// released reports whether addr can be listened on again.
	released := func(addr string) func() error {
		return func() error {
			l, err := net.Listen("tcp", addr)
			if err == nil {
				return l.Close()
			}
			return err
		}
	}

	It("shuts down and frees its ports when its parent is killed", func() {
		sh, gateway := startUnderShell("-exit-with-parent")
		Expect(released(gateway)()).NotTo(Succeed(), "the gateway is serving")
		Expect(sh.Process.Signal(syscall.SIGKILL)).To(Succeed())
		Eventually(released(gateway), startTimeout).Should(Succeed())
	})

	It("keeps serving without the flag when its parent is killed (what the flag is for)", func() {
		sh, gateway := startUnderShell()
		Expect(sh.Process.Signal(syscall.SIGKILL)).To(Succeed())
		_ = sh.Wait()
		Consistently(released(gateway), "500ms").ShouldNot(Succeed())
	})
})
