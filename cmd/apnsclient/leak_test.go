package main_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/internal/leakcheck"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

var _ = Describe("apnsclient leaks", func() {
	// The mock runs outside the check (its listeners live for the
	// spec); what is checked is what each command leaves.
	DescribeTable("leaves no goroutine and no descriptor after a command",
		func(ctx SpecContext, args func(m *mockFixture, h *h2Fixture) []string, want int) {
			m := startMock(mockapns.Config{})
			h := startH2Mock(mockapns.Config{})
			leakcheck.ExpectNone(func() {
				code, _, stderr := runCmd(ctx, "", args(m, h)...)
				Expect(code).To(Equal(want), stderr)
			})
		},
		Entry("push (a stream, sentinel confirmation)", func(m *mockFixture, _ *h2Fixture) []string {
			return m.push("-token", devToken(1), "-token", devToken(2), "-alert", "hi")
		}, 0),
		Entry("push -confirm batch", func(m *mockFixture, _ *h2Fixture) []string {
			return m.push("-token", devToken(1), "-confirm", "batch", "-alert", "hi")
		}, 0),
		Entry("push with a token the gateway refuses (exit 1)", func(m *mockFixture, _ *h2Fixture) []string {
			_, err := m.srv.AddFault(mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: apns.MustParseToken(devToken(2))}})
			Expect(err).NotTo(HaveOccurred())
			return m.push("-token", devToken(1), "-token", devToken(2), "-token", devToken(3), "-alert", "hi")
		}, 1),
		Entry("push -http2", func(_ *mockFixture, h *h2Fixture) []string {
			return h.tokenAuth("-token", devToken(1), "-token", strings.ToUpper(devToken(2)), "-alert", "hi")
		}, 0),
		Entry("feedback", func(m *mockFixture, _ *h2Fixture) []string {
			return m.feedback()
		}, 0),
		Entry("push to a closed address (exit 2: cannot connect)", func(m *mockFixture, _ *h2Fixture) []string {
			args := m.push("-token", devToken(1), "-alert", "hi")
			for i, a := range args {
				if a == m.srv.GatewayAddr() {
					args[i] = closedAddr()
				}
			}
			return args
		}, 2),
	)
})
