package main_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	main "github.com/apnskit/apnskit/cmd/mockapns"
	"github.com/apnskit/apnskit/internal/cli"
	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("connection limit flags", func() {
	It("default to the library's limits and map 0 to never or no limit", func() {
		cfg, err := main.LimitsConfig(nil)
		Expect(err).NotTo(HaveOccurred())
		Expect([]any{cfg.IdleTimeout, cfg.FrameTimeout, cfg.MaxConns, cfg.StrictCerts}).To(Equal(
			[]any{mockapns.DefaultIdleTimeout, mockapns.DefaultFrameTimeout, mockapns.DefaultMaxConns, false}))
		cfg, err = main.LimitsConfig([]string{"-idle-timeout", "0", "-frame-timeout", "0", "-max-conns", "0", "-strict-certs"})
		Expect(err).NotTo(HaveOccurred())
		Expect([]any{cfg.IdleTimeout, cfg.FrameTimeout, cfg.MaxConns, cfg.StrictCerts}).To(Equal(
			[]any{time.Duration(-1), time.Duration(-1), -1, true}))
	})

	DescribeTable("refuse negative values", func(flag, value string) {
		_, err := main.LimitsConfig([]string{flag, value})
		var ue *cli.UsageError
		Expect(err).To(BeAssignableToTypeOf(ue))
		Expect(err.Error()).To(ContainSubstring(flag))
	},
		Entry(nil, "-idle-timeout", "-1s"),
		Entry(nil, "-frame-timeout", "-1s"),
		Entry(nil, "-max-conns", "-1"),
	)
})
