package mockapns_test

import (
	"math"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/http2"

	"github.com/apnskit/apnskit/mockapns"
)

// overStreams is 2^31 where int has 64 bits (and negative where it has 32).
var overStreams = func() int { n := int64(math.MaxInt32); return int(n + 1) }()

var _ = Describe("Config of the HTTP/2 listener", func() {
	It("accepts an HTTP/2 address and stream limits from 0 to 2^31-1", func() {
		for _, n := range []int{0, 1, mockapns.DefaultHTTP2MaxStreams, math.MaxInt32} {
			Expect(mockapns.Config{HTTP2Addr: "127.0.0.1:0", HTTP2MaxStreams: n}.Validate()).To(Succeed(), "HTTP2MaxStreams %d", n)
		}
	})

	DescribeTable("refuses what is out of range, naming the field, and Start refuses it too",
		func(cfg mockapns.Config, field string) {
			err := cfg.Validate()
			Expect(err).To(MatchError(mockapns.ErrBadConfig))
			Expect(err.Error()).To(ContainSubstring(field))
			srv, err := mockapns.Start(cfg)
			Expect(srv).To(BeNil())
			Expect(err).To(MatchError(mockapns.ErrBadConfig))
		},
		Entry("an HTTP/2 address without a port", mockapns.Config{HTTP2Addr: "127.0.0.1"}, "HTTP2Addr"),
		Entry("an HTTP/2 address that is a bare word", mockapns.Config{HTTP2Addr: "nowhere"}, "HTTP2Addr"),
		Entry("a negative stream limit", mockapns.Config{HTTP2MaxStreams: -1}, "HTTP2MaxStreams"),
		Entry("a stream limit over 31 bits", mockapns.Config{HTTP2MaxStreams: overStreams}, "HTTP2MaxStreams"),
	)

	It("announces the configured stream limit", func() {
		srv := startServer(mockapns.Config{HTTP2MaxStreams: 7})
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		Expect(r.first).To(ContainElement(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 7}))
	})
})
