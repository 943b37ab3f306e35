package mockapns_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/http2"

	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
)

var canonicalUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

const apnsID = "123e4567-e89b-12d3-a456-4266554400a0"

var _ = Describe("HTTP/2 listener", func() {
	var srv *mockapns.Server
	BeforeEach(func() { srv = startServer(mockapns.Config{}) })

	Describe("with Go's HTTP/2 client", func() {
		It("accepts a push on a token connection: 200, a generated apns-id and apns-unique-id", func() {
			c := srv.HTTP2Client()
			DeferCleanup(closeClient, c)
			status, hdr, body := h2Post(c, srv, h2Token, payload, "authorization", bearer(srv), "apns-topic", h2Topic)
			Expect(status).To(Equal(200))
			Expect(body).To(BeEmpty())
			Expect(hdr.Get("apns-id")).To(MatchRegexp(canonicalUUID.String()))
			Expect(hdr.Get("apns-unique-id")).To(MatchRegexp(canonicalUUID.String()))
			Expect(hdr.Get("apns-unique-id")).NotTo(Equal(hdr.Get("apns-id")))
		})

		It("echoes the apns-id it was given", func() {
			c := srv.HTTP2Client()
			DeferCleanup(closeClient, c)
			status, hdr, _ := h2Post(c, srv, h2Token, payload, "authorization", bearer(srv), "apns-topic", h2Topic, "apns-id", apnsID)
			Expect(status).To(Equal(200))
			Expect(hdr.Get("apns-id")).To(Equal(apnsID))
		})

		It("accepts a push on a certificate connection without authorization", func() {
			c := srv.HTTP2CertClient()
			DeferCleanup(closeClient, c)
			status, _, _ := h2Post(c, srv, h2Token, payload, "apns-topic", h2Topic)
			Expect(status).To(Equal(200))
		})

		It("refuses a token connection's push without authorization: 403 MissingProviderToken", func() {
			c := srv.HTTP2Client()
			DeferCleanup(closeClient, c)
			status, hdr, body := h2Post(c, srv, h2Token, payload, "apns-topic", h2Topic, "apns-id", apnsID)
			Expect(status).To(Equal(403))
			Expect(hdr.Get("content-type")).To(Equal("application/json"))
			Expect(hdr.Get("apns-id")).To(Equal(apnsID))
			Expect(hdr.Get("apns-unique-id")).To(BeEmpty())
			Expect(body).To(MatchJSON(`{"reason":"MissingProviderToken"}`))
		})

		DescribeTable("answers every validation failure with its status and reason",
			func(status int, reason, method, path, p string, hdr ...string) {
				c := srv.HTTP2CertClient()
				DeferCleanup(closeClient, c)
				got, h, body := h2Do(c, method, "https://"+srv.HTTP2Addr()+path, p, hdr...)
				Expect(got).To(Equal(status))
				Expect(h.Get("content-type")).To(Equal("application/json"))
				Expect(h.Get("apns-id")).To(MatchRegexp(canonicalUUID.String()))
				var doc map[string]any
				Expect(json.Unmarshal([]byte(body), &doc)).To(Succeed())
				Expect(doc).To(Equal(map[string]any{"reason": reason}))
			},
			Entry(nil, 405, "MethodNotAllowed", "GET", "/3/device/"+h2Token, payload, "apns-topic", h2Topic),
			Entry(nil, 404, "BadPath", "POST", "/3/notdevice/"+h2Token, payload, "apns-topic", h2Topic),
			Entry(nil, 400, "MissingDeviceToken", "POST", "/3/device/", payload, "apns-topic", h2Topic),
			Entry(nil, 400, "BadDeviceToken", "POST", "/3/device/xyz0", payload, "apns-topic", h2Topic),
			Entry(nil, 400, "BadDeviceToken", "POST", "/3/device/abcd", payload, "apns-topic", h2Topic),
			Entry(nil, 400, "BadMessageId", "POST", "/3/device/"+h2Token, payload, "apns-topic", h2Topic, "apns-id", "nope"),
			Entry(nil, 400, "BadExpirationDate", "POST", "/3/device/"+h2Token, payload, "apns-topic", h2Topic, "apns-expiration", "soon"),
			Entry(nil, 400, "BadPriority", "POST", "/3/device/"+h2Token, payload, "apns-topic", h2Topic, "apns-priority", "7"),
			Entry(nil, 400, "InvalidPushType", "POST", "/3/device/"+h2Token, payload, "apns-topic", h2Topic, "apns-push-type", "x"),
			Entry(nil, 400, "BadTopic", "POST", "/3/device/"+h2Token, payload, "apns-topic", h2Topic, "apns-push-type", "voip"),
			Entry(nil, 400, "MissingTopic", "POST", "/3/device/"+h2Token, payload),
			Entry(nil, 400, "BadCollapseId", "POST", "/3/device/"+h2Token, payload, "apns-topic", h2Topic, "apns-collapse-id", strings.Repeat("c", 65)),
			Entry(nil, 400, "DuplicateHeaders", "POST", "/3/device/"+h2Token, payload, "apns-topic", h2Topic, "apns-topic", h2Topic),
			Entry(nil, 400, "PayloadEmpty", "POST", "/3/device/"+h2Token, "", "apns-topic", h2Topic),
			Entry(nil, 400, "PayloadEmpty", "POST", "/3/device/"+h2Token, `{"alert":"no aps"}`, "apns-topic", h2Topic),
			Entry(nil, 400, "PayloadEmpty", "POST", "/3/device/"+h2Token, `not json`, "apns-topic", h2Topic),
			Entry(nil, 413, "PayloadTooLarge", "POST", "/3/device/"+h2Token, `{"aps":{},"x":"`+strings.Repeat("a", 4096)+`"}`, "apns-topic", h2Topic),
		)

		It("answers many concurrent requests on one connection", func() {
			c := srv.HTTP2CertClient()
			DeferCleanup(closeClient, c)
			const n = 200
			statuses := make(chan int, n)
			for i := range n {
				go func() {
					tok := h2Hex(byte(i))
					req, err := http.NewRequest(http.MethodPost, "https://"+srv.HTTP2Addr()+"/3/device/"+tok, strings.NewReader(payload))
					if err != nil {
						statuses <- -1
						return
					}
					req.Header.Set("apns-topic", h2Topic)
					resp, err := c.Do(req)
					if err != nil {
						statuses <- -2
						return
					}
					_ = resp.Body.Close()
					statuses <- resp.StatusCode
				}()
			}
			for range n {
				Eventually(statuses).WithTimeout(ioTimeout).Should(Receive(Equal(200)))
			}
			Expect(srv.Notifications(mockapns.Filter{Status: mockapns.Accepted})).To(HaveLen(n))
		})

		It("leaves apns-unique-id out in the production environment", func() {
			srv := startServer(mockapns.Config{Environment: certs.Production})
			c := srv.HTTP2Client()
			DeferCleanup(closeClient, c)
			status, hdr, _ := h2Post(c, srv, h2Token, payload, "authorization", bearer(srv), "apns-topic", h2Topic)
			Expect(status).To(Equal(200))
			Expect(hdr.Get("apns-id")).To(MatchRegexp(canonicalUUID.String()))
			Expect(hdr.Values("apns-unique-id")).To(BeEmpty())
		})

		It("refuses in the handshake a client certificate the CA did not sign", func() {
			other, err := certs.New(certs.Options{})
			Expect(err).NotTo(HaveOccurred())
			cfg := srv.HTTP2TLSConfig()
			cfg.Certificates = []tls.Certificate{other.Client.TLS}
			conn, err := tls.Dial("tcp", srv.HTTP2Addr(), cfg)
			if err == nil {
				// TLS 1.3: the client learns of the refusal on its first read.
				DeferCleanup(conn.Close)
				Expect(conn.SetDeadline(time.Now().Add(ioTimeout))).To(Succeed())
				_, err = conn.Read(make([]byte, 1))
			}
			Expect(err).To(HaveOccurred())
			Eventually(func() uint64 { return srv.Stats().HandshakesFailed }).WithTimeout(ioTimeout).Should(Equal(uint64(1)))
			Expect(srv.Stats().HTTP2.ConnectionsTotal).To(BeZero())
		})

		It("accepts anything routable without validation", func() {
			srv := startServer(mockapns.Config{NoValidation: true})
			c := srv.HTTP2CertClient()
			DeferCleanup(closeClient, c)
			status, _, _ := h2Post(c, srv, "abcd", "", "apns-priority", "7")
			Expect(status).To(Equal(200))
		})
	})

	Describe("on the wire", func() {
		It("announces Apple's SETTINGS, one stream on a token connection", func() {
			r := dialH2(srv, srv.HTTP2TLSConfig())
			Expect(r.first).To(ConsistOf(
				http2.Setting{ID: http2.SettingHeaderTableSize, Val: 4096},
				http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1},
				http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535},
				http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16384},
				http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: 8000},
			))
		})

		It("announces the configured limit on a certificate connection", func() {
			srv := startServer(mockapns.Config{HTTP2MaxStreams: 7})
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			Expect(r.settings).To(Equal([]uint32{7}))
		})

		It("allows one stream until the first valid token, then the limit, announced by SETTINGS", func() {
			r := dialH2(srv, srv.HTTP2TLSConfig())
			Expect(r.settings).To(Equal([]uint32{1}))
			auth := bearer(srv) // one token per connection: changing it is limited
			r.headers(1, false, request(h2Token, "authorization", auth)...)
			r.headers(3, false, request(h2Token, "authorization", auth)...)
			Expect(r.wait(3)[0]).To(Equal(&h2Resp{header: map[string]string{}, reset: true, rst: http2.ErrCodeRefusedStream}))
			r.data(1, true, payload)
			Expect(r.wait(1)[0].status).To(Equal("200"))
			Expect(r.readUntil(func() bool { return len(r.settings) == 2 })).To(Succeed())
			Expect(r.settings).To(Equal([]uint32{1, mockapns.DefaultHTTP2MaxStreams}))
			for id := uint32(5); id <= 13; id += 2 {
				r.headers(id, false, request(h2Token, "authorization", auth)...)
			}
			for id := uint32(5); id <= 13; id += 2 {
				r.data(id, true, payload)
			}
			for _, resp := range r.wait(5, 7, 9, 11, 13) {
				Expect(resp.status).To(Equal("200"))
			}
		})

		It("keeps one stream while the tokens are missing", func() {
			r := dialH2(srv, srv.HTTP2TLSConfig())
			r.push(1, payload, request(h2Token)...)
			resp := r.wait(1)[0]
			Expect(resp.status).To(Equal("403"))
			Expect(resp.body).To(MatchJSON(`{"reason":"MissingProviderToken"}`))
			r.headers(3, false, request(h2Token)...)
			r.headers(5, false, request(h2Token)...)
			Expect(r.wait(5)[0].rst).To(Equal(http2.ErrCodeRefusedStream))
			Expect(r.settings).To(Equal([]uint32{1}))
		})

		It("answers a request in HEADERS and CONTINUATION frames", func() {
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			b := r.block(request(h2Token, "apns-id", apnsID)...)
			Expect(r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:5]})).To(Succeed())
			Expect(r.fr.WriteContinuation(1, false, b[5:9])).To(Succeed())
			Expect(r.fr.WriteContinuation(1, true, b[9:])).To(Succeed())
			r.data(1, false, payload[:4])
			r.data(1, false, payload[4:])
			r.data(1, true, "")
			resp := r.wait(1)[0]
			Expect(resp.status).To(Equal("200"))
			Expect(resp.header["apns-id"]).To(Equal(apnsID))
		})

		It("answers a refusal with HEADERS, then DATA with the reason", func() {
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			r.push(1, payload, request(h2Token, "apns-priority", "9")...)
			resp := r.wait(1)[0]
			Expect(resp.status).To(Equal("400"))
			Expect(resp.headers).To(Equal(1))
			Expect(resp.header).To(HaveKeyWithValue("content-type", "application/json"))
			Expect(resp.body).To(Equal(`{"reason":"BadPriority"}`))
			Expect(r.frames).To(Equal([]string{"SETTINGS", "SETTINGS", "HEADERS", "DATA"}))
		})

		It("forgets a stream the client resets, and goes on", func() {
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			r.headers(1, false, request(h2Token)...)
			Expect(r.fr.WriteRSTStream(1, http2.ErrCodeCancel)).To(Succeed())
			r.data(1, true, payload) // on a closed stream: ignored
			r.push(3, payload, request(h2Token)...)
			Expect(r.wait(3)[0].status).To(Equal("200"))
			Expect(r.resps).NotTo(HaveKey(uint32(1)))
			Expect(srv.Notifications(mockapns.Filter{})).To(HaveLen(1))
		})

		It("answers PING", func() {
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			Expect(r.fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8})).To(Succeed())
			Expect(r.readUntil(func() bool { return len(r.pings) == 1 })).To(Succeed())
			Expect(r.pings[0]).To(Equal([8]byte{1, 2, 3, 4, 5, 6, 7, 8}))
		})

		It("refuses a body over the limit as soon as it arrives, and stops the upload", func() {
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			r.headers(1, false, request(h2Token)...)
			r.data(1, false, `{"aps":{},"x":"`+strings.Repeat("a", 3000))
			r.data(1, false, strings.Repeat("a", 2000))
			resp := r.wait(1)[0]
			Expect(resp.status).To(Equal("413"))
			Expect(resp.body).To(Equal(`{"reason":"PayloadTooLarge"}`))
			Expect(r.readUntil(func() bool { return r.resps[1].reset })).To(Succeed())
			Expect(r.resps[1].rst).To(Equal(http2.ErrCodeNo))
			// The rest of the upload is ignored, and the connection goes on.
			r.data(1, true, "")
			r.push(3, payload, request(h2Token)...)
			Expect(r.wait(3)[0].status).To(Equal("200"))
		})

		It("gives the connection window back as bodies are read", func() {
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			big := `{"aps":{},"x":"` + strings.Repeat("a", 4000) + `"}`
			var ids []uint32
			for i := uint32(0); i < 40; i++ { // 160 KB, more than the initial 64 KB window
				id := 1 + 2*i
				r.push(id, big, request(h2Token)...)
				ids = append(ids, id)
				Expect(r.readUntil(func() bool { return r.done[id] })).To(Succeed())
			}
			for _, resp := range r.wait(ids...) {
				Expect(resp.status).To(Equal("200"))
			}
			Expect(r.windows[0]).To(BeNumerically(">=", 40*len(big)-65535))
		})

		It("keeps a refusal's body within the client's window until WINDOW_UPDATE", func() {
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			Expect(r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 5})).To(Succeed())
			r.push(1, payload, request(h2Token, "apns-priority", "9")...)
			Expect(r.fr.WritePing(false, [8]byte{7})).To(Succeed())
			Expect(r.readUntil(func() bool { return len(r.pings) == 1 })).To(Succeed())
			Expect(r.resps).NotTo(HaveKey(uint32(1)))
			Expect(r.fr.WriteWindowUpdate(1, 100)).To(Succeed())
			resp := r.wait(1)[0]
			Expect(resp.status).To(Equal("400"))
			Expect(resp.body).To(Equal(`{"reason":"BadPriority"}`))
		})

		It("sends GOAWAY when the server closes", func() {
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			r.push(1, payload, request(h2Token)...)
			r.wait(1)
			srv.Close()
			r.readToClose()
			Expect(r.goaways).To(Equal([]goAway{{last: 1, code: http2.ErrCodeNo}}))
			Expect(srv.Stats().HTTP2.ConnectionsOpen).To(BeZero())
		})

		It("drains on Shutdown: GOAWAY, the open stream answered, then closed", func() {
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			r.headers(1, false, request(h2Token)...)
			Expect(r.fr.WritePing(false, [8]byte{9})).To(Succeed())
			Expect(r.readUntil(func() bool { return len(r.pings) == 1 })).To(Succeed()) // stream 1 is open
			done := make(chan error, 1)
			go func() { done <- srv.Shutdown(context.Background()) }()
			Expect(r.readUntil(func() bool { return len(r.goaways) == 1 })).To(Succeed())
			Expect(r.goaways[0]).To(Equal(goAway{last: 1, code: http2.ErrCodeNo}))
			r.headers(3, true, request(h2Token)...) // above the last stream: ignored
			r.data(1, true, payload)
			Expect(r.wait(1)[0].status).To(Equal("200"))
			r.readToClose()
			Expect(r.resps).NotTo(HaveKey(uint32(3)))
			Eventually(done).WithTimeout(ioTimeout).Should(Receive(BeNil()))
			Expect(srv.Stats().HTTP2.ConnectionsOpen).To(BeZero())
		})

		It("closes once idle after the client's GOAWAY", func() {
			r := dialH2(srv, srv.HTTP2CertTLSConfig())
			Expect(r.fr.WriteGoAway(0, http2.ErrCodeNo, nil)).To(Succeed())
			r.readToClose()
			Eventually(func() int64 { return srv.Stats().HTTP2.ConnectionsOpen }).WithTimeout(ioTimeout).Should(BeZero())
		})
	})
})
