package mockapns_test

import (
	"io"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("HTTP/2 bad input", func() {
	var srv *mockapns.Server
	BeforeEach(func() { srv = startServer(mockapns.Config{}) })

	// expectGoAway reads to the close and checks the one GOAWAY sent.
	expectGoAway := func(r *rawH2, code http2.ErrCode) {
		GinkgoHelper()
		r.readToClose()
		Expect(r.goaways).To(HaveLen(1))
		Expect(r.goaways[0].code).To(Equal(code), "GOAWAY debug data: %s", r.goaways[0].debug)
	}
	// stillServing checks that a fresh connection is answered.
	stillServing := func() {
		GinkgoHelper()
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.push(1, payload, request(h2Token)...)
		Expect(r.wait(1)[0].status).To(Equal("200"))
	}

	DescribeTable("ends the connection with GOAWAY and the code HTTP/2 requires",
		func(code http2.ErrCode, write func(r *rawH2)) {
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			write(r)
			expectGoAway(r, code)
			stillServing()
		},
		Entry("a SETTINGS frame of 3 bytes", http2.ErrCodeFrameSize, func(r *rawH2) {
			Expect(r.fr.WriteRawFrame(http2.FrameSettings, 0, 0, []byte{1, 2, 3})).To(Succeed())
		}),
		Entry("a bad setting", http2.ErrCodeFlowControl, func(r *rawH2) {
			Expect(r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})).To(Succeed())
		}),
		Entry("a frame over MAX_FRAME_SIZE", http2.ErrCodeFrameSize, func(r *rawH2) {
			r.headers(1, false, request(h2Token)...)
			Expect(r.fr.WriteRawFrame(http2.FrameData, 0, 1, make([]byte, 16385))).To(Succeed())
		}),
		Entry("HEADERS on an even stream", http2.ErrCodeProtocol, func(r *rawH2) {
			r.headers(2, true, request(h2Token)...)
		}),
		Entry("HEADERS on a closed stream", http2.ErrCodeStreamClosed, func(r *rawH2) {
			r.push(1, payload, request(h2Token)...)
			r.wait(1)
			r.headers(1, true, request(h2Token)...)
		}),
		Entry("DATA on an idle stream", http2.ErrCodeProtocol, func(r *rawH2) {
			r.data(5, true, payload)
		}),
		Entry("RST_STREAM on an idle stream", http2.ErrCodeProtocol, func(r *rawH2) {
			Expect(r.fr.WriteRSTStream(7, http2.ErrCodeCancel)).To(Succeed())
		}),
		Entry("a CONTINUATION out of place", http2.ErrCodeProtocol, func(r *rawH2) {
			Expect(r.fr.WriteContinuation(1, true, r.block(request(h2Token)...))).To(Succeed())
		}),
		Entry("a PUSH_PROMISE", http2.ErrCodeProtocol, func(r *rawH2) {
			r.headers(1, false, request(h2Token)...)
			Expect(r.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: []byte{0x82}, EndHeaders: true})).To(Succeed())
		}),
		Entry("a WINDOW_UPDATE of 0 on the connection", http2.ErrCodeProtocol, func(r *rawH2) {
			Expect(r.fr.WriteRawFrame(http2.FrameWindowUpdate, 0, 0, []byte{0, 0, 0, 0})).To(Succeed())
		}),
		Entry("a connection window over 2^31-1", http2.ErrCodeFlowControl, func(r *rawH2) {
			Expect(r.fr.WriteWindowUpdate(0, 1<<31-1)).To(Succeed())
		}),
		Entry("an HPACK table size update beyond HEADER_TABLE_SIZE", http2.ErrCodeCompression, func(r *rawH2) {
			r.enc.SetMaxDynamicTableSizeLimit(1 << 20)
			r.enc.SetMaxDynamicTableSize(1 << 20)
			r.headers(1, true, request(h2Token)...)
		}),
		Entry("a header value over MAX_HEADER_LIST_SIZE", http2.ErrCodeCompression, func(r *rawH2) {
			r.headers(1, true, request(h2Token, "x-big", strings.Repeat("a", 9000))...)
		}),
		Entry("an HPACK block that does not decode", http2.ErrCodeCompression, func(r *rawH2) {
			Expect(r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
				EndStream: true, EndHeaders: true})).To(Succeed())
		}),
		Entry("a CONTINUATION flood", http2.ErrCodeEnhanceYourCalm, func(r *rawH2) {
			b := r.block(request(h2Token)...)
			Expect(r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:2]})).To(Succeed())
			for range 100 {
				Expect(r.fr.WriteContinuation(1, false, nil)).To(Succeed())
			}
		}),
		Entry("a header block over 64 KiB", http2.ErrCodeEnhanceYourCalm, func(r *rawH2) {
			Expect(r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.block(request(h2Token)...)})).To(Succeed())
			var fields []string
			for i := range 120 { // distinct, each under the string limit, 75 KB encoded in all
				fields = append(fields, "x-pad", strings.Repeat("a", 1000)+strconv.Itoa(i))
			}
			big := r.block(fields...)
			for i := 0; i < len(big); i += 16000 {
				Expect(r.fr.WriteContinuation(1, false, big[i:min(i+16000, len(big))])).To(Succeed())
			}
		}),
		Entry("a flood of PINGs", http2.ErrCodeEnhanceYourCalm, func(r *rawH2) {
			go func() { // the PING ACKs are read by expectGoAway
				for range 10001 {
					if r.fr.WritePing(false, [8]byte{}) != nil {
						return
					}
				}
			}()
		}),
		Entry("a flood of empty DATA frames", http2.ErrCodeEnhanceYourCalm, func(r *rawH2) {
			r.headers(1, false, request(h2Token)...)
			go func() {
				for range 10001 {
					if r.fr.WriteData(1, false, nil) != nil {
						return
					}
				}
			}()
		}),
		Entry("a flood of resets", http2.ErrCodeEnhanceYourCalm, func(r *rawH2) {
			for id := uint32(1); id < 2*1002; id += 2 {
				r.headers(id, false, request(h2Token)...)
				Expect(r.fr.WriteRSTStream(id, http2.ErrCodeCancel)).To(Succeed())
			}
		}),
	)

	It("closes a connection whose preface is wrong", func() {
		conn := dialWith(srv.HTTP2Addr(), srv.HTTP2CertTLSConfig())
		_, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		Expect(err).NotTo(HaveOccurred())
		_, _ = io.Copy(io.Discard, conn) // the server's SETTINGS, then the close
		stillServing()
	})

	It("closes a connection whose first frame is not SETTINGS", func() {
		conn := dialWith(srv.HTTP2Addr(), srv.HTTP2CertTLSConfig())
		_, err := io.WriteString(conn, http2.ClientPreface)
		Expect(err).NotTo(HaveOccurred())
		r := &rawH2{conn: conn, fr: http2.NewFramer(conn, conn), resps: map[uint32]*h2Resp{}, done: map[uint32]bool{}, windows: map[uint32]uint32{}}
		r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		Expect(r.fr.WritePing(false, [8]byte{})).To(Succeed())
		expectGoAway(r, http2.ErrCodeProtocol)
	})

	DescribeTable("resets a malformed request and goes on",
		func(fields []string) {
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			r.headers(1, true, fields...)
			Expect(r.wait(1)[0]).To(Equal(&h2Resp{header: map[string]string{}, reset: true, rst: http2.ErrCodeProtocol}))
			r.push(3, payload, request(h2Token)...)
			Expect(r.wait(3)[0].status).To(Equal("200"))
			Expect(srv.Notifications(mockapns.Filter{})).To(HaveLen(1))
		},
		Entry("a pseudo-header after a regular one", append(request(h2Token), ":method", "POST")),
		Entry("a repeated pseudo-header", append([]string{":path", "/"}, request(h2Token)...)),
		Entry("an unknown pseudo-header", append([]string{":protocol", "x"}, request(h2Token)...)),
		Entry("an upper-case name", append(request(h2Token), "Apns-Topic", h2Topic)),
		Entry("a connection header", append(request(h2Token), "connection", "close")),
		Entry("no :path", []string{":method", "POST", ":scheme", "https"}),
	)

	It("answers a header list over MAX_HEADER_LIST_SIZE with 431 and goes on", func() {
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.headers(1, true, request(h2Token, "x-a", strings.Repeat("a", 4500), "x-b", strings.Repeat("b", 4500))...)
		resp := r.wait(1)[0]
		Expect(resp.status).To(Equal("431"))
		r.push(3, payload, request(h2Token)...)
		Expect(r.wait(3)[0].status).To(Equal("200"))
	})

	It("counts a header the dynamic table repeats in the list size (an HPACK bomb)", func() {
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		bomb := []string{"x-bomb", strings.Repeat("z", 3000)}
		r.push(1, payload, request(h2Token, bomb...)...)
		Expect(r.wait(1)[0].status).To(Equal("200"))
		var fields []string
		for range 200 { // 200 one-byte references to a 3 KB entry: 600 KB decoded
			fields = append(fields, bomb...)
		}
		r.push(3, payload, request(h2Token, fields...)...)
		Expect(r.wait(3)[0].status).To(Equal("431"))
		r.push(5, payload, request(h2Token)...)
		Expect(r.wait(5)[0].status).To(Equal("200"))
	})

	It("resets a stream that sends beyond its window and goes on", func() {
		srv := startServer(mockapns.Config{NoValidation: true})
		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.headers(1, false, request(h2Token)...)
		for range 4 {
			r.data(1, false, strings.Repeat("a", 16384)) // 65536 bytes: one past the window
		}
		Expect(r.wait(1)[0]).To(Equal(&h2Resp{header: map[string]string{}, reset: true, rst: http2.ErrCodeFlowControl}))
		r.push(3, payload, request(h2Token)...)
		Expect(r.wait(3)[0].status).To(Equal("200"))
	})

	It("serves other connections while one sends half a header block, or half a frame", func() {
		slow := dialH2(srv, srv.HTTP2CertTLSConfig())
		b := slow.block(request(h2Token)...)
		Expect(slow.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:3]})).To(Succeed())
		slower := dialH2(srv, srv.HTTP2CertTLSConfig())
		_, err := slower.conn.Write([]byte{0, 0, 100, byte(http2.FrameData), 0, 0, 0, 0, 1, 'x'})
		Expect(err).NotTo(HaveOccurred())
		stillServing()
		Expect(slow.fr.WriteContinuation(1, true, b[3:])).To(Succeed())
		slow.data(1, true, payload)
		Expect(slow.wait(1)[0].status).To(Equal("200"))
	})
})
