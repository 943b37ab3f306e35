package cli_test

import (
	"bytes"
	"errors"
	"log/slog"

	"github.com/apnskit/apnskit/internal/cli"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("usage errors", func() {
	It("wrap ErrUsage and the cause", func() {
		cause := errors.New("bad")
		err := cli.Usagef("-x: %w", cause)
		Expect(err).To(MatchError(cli.ErrUsage))
		Expect(err).To(MatchError(cause))
		Expect(err.Error()).To(Equal("-x: bad"))
		Expect(cli.Usage(nil)).To(BeNil())
		Expect(cli.Usage(cause)).To(MatchError(cli.ErrUsage))
	})
})

var _ = Describe("LogFlags", func() {
	parse := func(args ...string) (cli.LogFlags, error) {
		var l cli.LogFlags
		fs := cli.NewFlagSet("t")
		l.Register(fs)
		return l, fs.Parse(args)
	}

	It("defaults to info and text", func() {
		l, err := parse()
		Expect(err).NotTo(HaveOccurred())
		Expect(l).To(Equal(cli.LogFlags{Level: slog.LevelInfo, Format: cli.LogText}))
	})

	It("takes slog levels and the two formats", func() {
		l, err := parse("-log-level", "debug", "-log-format", "json")
		Expect(err).NotTo(HaveOccurred())
		Expect(l).To(Equal(cli.LogFlags{Level: slog.LevelDebug, Format: cli.LogJSON}))
		var buf bytes.Buffer
		l.Logger(&buf).Debug("hello")
		Expect(buf.String()).To(ContainSubstring(`"msg":"hello"`))
		l, err = parse("-log-level", "warn")
		Expect(err).NotTo(HaveOccurred())
		Expect(l.Level).To(Equal(slog.LevelWarn))
	})

	DescribeTable("refuses other values, naming the flag",
		func(flag, value string) {
			_, err := parse(flag, value)
			Expect(err).To(MatchError(ContainSubstring(flag)))
		},
		Entry(nil, "-log-level", "loud"),
		Entry(nil, "-log-format", "xml"),
	)

	It("round-trips LogFormat as text", func() {
		for _, f := range []cli.LogFormat{cli.LogText, cli.LogJSON} {
			b, err := f.MarshalText()
			Expect(err).NotTo(HaveOccurred())
			var g cli.LogFormat
			Expect(g.UnmarshalText(b)).To(Succeed())
			Expect(g).To(Equal(f))
		}
		g := cli.LogJSON
		Expect(g.UnmarshalText([]byte("yaml"))).NotTo(Succeed())
		Expect(g).To(Equal(cli.LogJSON))
	})
})

var _ = Describe("Version", func() {
	It("starts with the command's name", func() {
		Expect(cli.Version("apnsclient")).To(MatchRegexp(`^apnsclient \S+`))
	})
})
