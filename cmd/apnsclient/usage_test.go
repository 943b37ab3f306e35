package main_test

import (
	"bytes"
	"context"
	"net"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	main "github.com/apnskit/apnskit/cmd/apnsclient"
)

// closedAddr returns a loopback address nothing listens on: a port the
// kernel handed out and that was closed again. The usage errors below are
// found before any dial; should one slip through, it is refused here
// rather than reaching some fixed port.
func closedAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// runCmd runs apnsclient in-process and returns its exit status and output.
func runCmd(ctx context.Context, stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = main.Run(ctx, args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

var _ = Describe("the command line", func() {
	const tok = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	conn := []string{"-addr", closedAddr(), "-ca", "ca.pem", "-cert", "c.pem", "-key", "k.pem"}
	push := func(extra ...string) []string { return append(append([]string{"push"}, conn...), extra...) }

	DescribeTable("exits 2 with one line on stderr and nothing on stdout for a usage error",
		func(ctx SpecContext, args []string, mention string) {
			code, stdout, stderr := runCmd(ctx, "", args...)
			Expect(code).To(Equal(2))
			Expect(stdout).To(BeEmpty())
			Expect(stderr).To(HaveSuffix("\n"))
			Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
			Expect(stderr).To(HavePrefix("apnsclient"))
			Expect(stderr).To(ContainSubstring(mention))
		},
		Entry("no subcommand", []string{}, "subcommand"),
		Entry("unknown subcommand", []string{"pull"}, `"pull"`),
		Entry("no -addr", []string{"push", "-cert", "c.pem", "-token", tok}, "-addr"),
		Entry("both -token and -tokens", push("-token", tok, "-tokens", "list.txt"), "-tokens"),
		Entry("bad hex", push("-token", "0xdeadbeef"), "-token"),
		Entry("bad -priority", push("-token", tok, "-priority", "1"), "-priority"),
		Entry("bad -expiry", push("-token", tok, "-expiry", "tomorrow"), "-expiry"),
		Entry("bad -payload JSON", push("-token", tok, "-payload", `{"aps":{`), "-payload"),
		Entry("undefined flag", push("-token", tok, "-topic", "x"), "-topic"),
		Entry("feedback with a push flag", append(append([]string{"feedback"}, conn...), "-alert", "x"), "-alert"),
	)

	It("exits 2 naming the line of a bad token list on stdin", func(ctx SpecContext) {
		code, stdout, stderr := runCmd(ctx, "# list\n"+tok+"\n\nnot-a-token\n", push("-tokens", "-")...)
		Expect(code).To(Equal(2))
		Expect(stdout).To(BeEmpty())
		Expect(stderr).To(ContainSubstring("stdin:4:"))
		Expect(strings.Count(stderr, "\n")).To(Equal(1), stderr)
	})

	It("exits 2 for a token file that does not exist", func(ctx SpecContext) {
		code, stdout, stderr := runCmd(ctx, "", push("-tokens", "/nonexistent/tokens.txt")...)
		Expect(code).To(Equal(2))
		Expect(stdout).To(BeEmpty())
		Expect(stderr).To(ContainSubstring("/nonexistent/tokens.txt"))
	})

	It("prints the help of push, defining the summary fields, on stdout", func(ctx SpecContext) {
		code, stdout, stderr := runCmd(ctx, "", "push", "-h")
		Expect(code).To(Equal(0))
		Expect(stderr).To(BeEmpty())
		for _, s := range []string{"-addr", "-tokens", "-max-attempts", `"uncertain"`, "retried", "rate"} {
			Expect(stdout).To(ContainSubstring(s))
		}
	})

	It("prints its version", func(ctx SpecContext) {
		code, stdout, _ := runCmd(ctx, "", "-version")
		Expect(code).To(Equal(0))
		Expect(stdout).To(HavePrefix("apnsclient "))
	})
})
