package mockapns_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

var _ = Describe("Admin API guard", func() {
	var (
		srv *mockapns.Server
		ts  *httptest.Server
	)

	// serve starts a server with cfg and its admin API.
	serve := func(cfg mockapns.Config) {
		srv = startServer(cfg)
		ts = httptest.NewServer(srv.Handler())
		DeferCleanup(ts.Close)
	}

	const aFault = `{"action":"shutdown","nth":3}`

	Describe("what a web page can send", func() {
		BeforeEach(func() { serve(mockapns.Config{}) })

		DescribeTable("refuses a cross-origin text/plain POST with 403 and changes nothing",
			func(path, body string) {
				before := stateOf(srv)
				a := callWith(ts, "POST", path, body, map[string]string{
					"Origin": "http://evil.example", "Content-Type": "text/plain;charset=UTF-8"})
				expectAPIError(a, http.StatusForbidden, "Origin", "evil.example")
				Expect(cmp.Diff(before, stateOf(srv), cmpOpts)).To(BeEmpty())
			},
			Entry("a fault", "/api/v1/faults", aFault),
			Entry("a reset", "/api/v1/reset", ""),
			Entry("feedback", "/api/v1/feedback", `[{"token":"ab","time":"2026-01-01T00:00:00Z"}]`),
		)

		It("refuses Origin: null (a sandboxed page or a file)", func() {
			expectAPIError(callWith(ts, "GET", "/api/v1/stats", "", map[string]string{"Origin": "null"}), http.StatusForbidden, "null")
		})

		DescribeTable("refuses a mutation without Content-Type: application/json with 415 and changes nothing",
			func(method, path, body, contentType string) {
				Expect(srv.AddFault(mockapns.Shutdown{When: mockapns.Trigger{Nth: 9}})).Error().NotTo(HaveOccurred())
				before := stateOf(srv)
				a := callWith(ts, method, path, body, map[string]string{"Content-Type": contentType})
				expectAPIError(a, http.StatusUnsupportedMediaType, "application/json")
				Expect(a.header.Get("Accept-Post")).To(Equal("application/json"))
				Expect(cmp.Diff(before, stateOf(srv), cmpOpts)).To(BeEmpty())
			},
			Entry("a text/plain fault", "POST", "/api/v1/faults", aFault, "text/plain"),
			Entry("a form reset", "POST", "/api/v1/reset", "", "application/x-www-form-urlencoded"),
			Entry("a multipart reset", "POST", "/api/v1/reset", "", "multipart/form-data; boundary=x"),
			Entry("a reset without Content-Type", "POST", "/api/v1/reset", "", ""),
			Entry("a DELETE with a text/plain body", "DELETE", "/api/v1/faults", "{}", "text/plain"),
		)

		It("takes application/json with parameters, and a DELETE without a body without Content-Type", func() {
			a := callWith(ts, "POST", "/api/v1/faults", aFault, map[string]string{"Content-Type": "Application/JSON; charset=utf-8"})
			expectJSON(a, http.StatusCreated, nil)
			Expect(callWith(ts, "DELETE", "/api/v1/faults", "", map[string]string{"Content-Type": ""}).status).To(Equal(http.StatusNoContent))
			Expect(srv.Faults()).To(BeEmpty())
		})

		It("answers an unknown path 404 before asking for a Content-Type", func() {
			expectAPIError(callWith(ts, "POST", "/api/v1/nothing", "", map[string]string{"Content-Type": "text/plain"}), http.StatusNotFound, "nothing")
		})

		DescribeTable("refuses a Host that is neither an IP address nor localhost with 403 (DNS rebinding)",
			func(host string) {
				before := stateOf(srv)
				a := callWith(ts, "POST", "/api/v1/faults", aFault, map[string]string{"Host": host})
				expectAPIError(a, http.StatusForbidden, "Host", "-admin-allow-origin")
				Expect(cmp.Diff(before, stateOf(srv), cmpOpts)).To(BeEmpty())
				expectAPIError(callWith(ts, "GET", "/api/v1/notifications", "", map[string]string{"Host": host}), http.StatusForbidden, "Host")
			},
			Entry("a rebound name", "evil.example:8195"),
			Entry("a name without a port", "evil.example"),
			Entry("a subdomain of localhost's look-alike", "localhost.evil.example"),
		)

		DescribeTable("takes loopback names, IP addresses and same-origin requests",
			func(host, origin string) {
				h := map[string]string{"Host": host}
				if origin != "" {
					h["Origin"] = origin
				}
				expectJSON(callWith(ts, "POST", "/api/v1/faults", aFault, h), http.StatusCreated, nil)
			},
			Entry("localhost", "localhost:8195", ""),
			Entry("LOCALHOST.", "LOCALHOST.:8195", ""),
			Entry("127.0.0.1", "127.0.0.1:8195", ""),
			Entry("::1", "[::1]:8195", ""),
			Entry("a LAN address (-admin 0.0.0.0:8195)", "192.168.1.5:8195", ""),
			Entry("an origin on loopback, another port", "127.0.0.1:8195", "http://localhost:3000"),
			Entry("the admin API's own origin", "192.168.1.5:8195", "http://192.168.1.5:8195"),
		)

		It("refuses a LAN origin other than the admin API's own", func() {
			a := callWith(ts, "POST", "/api/v1/faults", aFault, map[string]string{"Host": "192.168.1.5:8195", "Origin": "http://192.168.1.7"})
			expectAPIError(a, http.StatusForbidden, "Origin")
			Expect(srv.Faults()).To(BeEmpty())
		})
	})

	Describe("Admin.AllowOrigins", func() {
		BeforeEach(func() {
			serve(mockapns.Config{Admin: mockapns.AdminConfig{AllowOrigins: []string{"https://ui.example:8443", "mock.internal"}}})
		})

		It("takes a listed origin and a listed host", func() {
			expectJSON(callWith(ts, "POST", "/api/v1/faults", aFault, map[string]string{"Origin": "https://ui.example:8443"}), http.StatusCreated, nil)
			expectJSON(callWith(ts, "POST", "/api/v1/faults", aFault, map[string]string{"Host": "mock.internal:8195", "Origin": "http://mock.internal:8195"}), http.StatusCreated, nil)
			Expect(srv.Faults()).To(HaveLen(2))
		})

		It("still refuses an origin on another port or another host", func() {
			expectAPIError(callWith(ts, "POST", "/api/v1/faults", aFault, map[string]string{"Origin": "https://ui.example:9999"}), http.StatusForbidden, "Origin")
			expectAPIError(callWith(ts, "POST", "/api/v1/faults", aFault, map[string]string{"Origin": "https://evil.example:8443"}), http.StatusForbidden, "Origin")
			Expect(srv.Faults()).To(BeEmpty())
		})

		DescribeTable("Config.Validate refuses entries of no known form",
			func(entry string) {
				err := mockapns.Config{Admin: mockapns.AdminConfig{AllowOrigins: []string{"ok.example", entry}}}.Validate()
				Expect(err).To(MatchError(mockapns.ErrBadConfig))
				Expect(err.Error()).To(ContainSubstring("AllowOrigins[1]"))
			},
			Entry("empty", ""),
			Entry("a path", "https://ui.example/app"),
			Entry("another scheme", "ftp://ui.example"),
			Entry("a port without a host", ":8195"),
			Entry("a space", "ui example"),
		)
	})

	Describe("Admin.Token", func() {
		const secret = "s3cret-token"
		BeforeEach(func() { serve(mockapns.Config{Admin: mockapns.AdminConfig{Token: secret}}) })

		It("answers 401 with WWW-Authenticate without the token, and changes nothing", func() {
			before := stateOf(srv)
			a := call(ts, "POST", "/api/v1/faults", aFault)
			expectAPIError(a, http.StatusUnauthorized, "Bearer")
			Expect(a.header.Get("WWW-Authenticate")).To(HavePrefix("Bearer "))
			expectAPIError(call(ts, "GET", "/api/v1/notifications", ""), http.StatusUnauthorized, "Bearer")
			Expect(cmp.Diff(before, stateOf(srv), cmpOpts)).To(BeEmpty())
		})

		DescribeTable("answers 401 invalid_token for a wrong one",
			func(auth string) {
				a := callWith(ts, "POST", "/api/v1/faults", aFault, map[string]string{"Authorization": auth})
				expectAPIError(a, http.StatusUnauthorized, "wrong")
				Expect(a.header.Get("WWW-Authenticate")).To(ContainSubstring(`error="invalid_token"`))
				Expect(srv.Faults()).To(BeEmpty())
			},
			Entry("another token", "Bearer other"),
			Entry("a prefix", "Bearer "+secret[:4]),
			Entry("a longer one", "Bearer "+secret+"x"),
			Entry("basic", "Basic "+secret),
		)

		It("takes the token on every route", func() {
			auth := map[string]string{"Authorization": "Bearer " + secret}
			expectJSON(callWith(ts, "POST", "/api/v1/faults", aFault, auth), http.StatusCreated, nil)
			expectJSON(callWith(ts, "GET", "/api/v1/faults", "", auth), http.StatusOK, nil)
			auth["Authorization"] = "bearer " + secret // the scheme is case-insensitive
			Expect(callWith(ts, "POST", "/api/v1/reset", "", auth).status).To(Equal(http.StatusNoContent))
			Expect(srv.Faults()).To(BeEmpty())
		})

		It("leaves /healthz open", func() {
			expectJSON(call(ts, "GET", "/healthz", ""), http.StatusOK, nil)
		})
	})

	Describe("?wait=N", func() {
		BeforeEach(func() { serve(mockapns.Config{}) })

		It("serves DefaultAdminMaxWaits waits at once and answers one more 429 with Retry-After", func() {
			var waits []<-chan asyncAnswer
			for range mockapns.DefaultAdminMaxWaits {
				waits = append(waits, getAsync(ts, "/api/v1/notifications?wait=1&timeout=1m"))
			}
			Eventually(srv.WaitersForTest, ioTimeout).Should(Equal(mockapns.DefaultAdminMaxWaits))

			a := call(ts, "GET", "/api/v1/notifications?wait=1&timeout=1m", "")
			expectAPIError(a, http.StatusTooManyRequests, "64")
			Expect(a.header.Get("Retry-After")).To(Equal("1"))
			// A plain GET is not a wait.
			expectJSON(call(ts, "GET", "/api/v1/notifications", ""), http.StatusOK, nil)

			send(dial(srv, srv.GatewayAddr()), framed(1, token(1), payload))
			for _, w := range waits {
				var r asyncAnswer
				Eventually(w, ioTimeout).Should(Receive(&r))
				Expect(r.err).NotTo(HaveOccurred())
				Expect(r.status).To(Equal(http.StatusOK), "body: %s", r.body)
			}
			Eventually(func() int {
				return call(ts, "GET", "/api/v1/notifications?wait=1&timeout=1m", "").status
			}, ioTimeout).Should(Equal(http.StatusOK))
		})

		It("counts the waits of every handler of the server against one limit", func() {
			serve(mockapns.Config{Admin: mockapns.AdminConfig{MaxWaits: 2}})
			other := httptest.NewServer(srv.Handler())
			DeferCleanup(other.Close)
			first := getAsync(ts, "/api/v1/notifications?wait=1&timeout=1m")
			second := getAsync(other, "/api/v1/notifications?wait=1&timeout=1m")
			Eventually(srv.WaitersForTest, ioTimeout).Should(Equal(2))
			// Each handler serves one wait: a third is refused on either.
			expectAPIError(call(other, "GET", "/api/v1/notifications?wait=1&timeout=1m", ""), http.StatusTooManyRequests, "2")
			expectAPIError(call(ts, "GET", "/api/v1/notifications?wait=1&timeout=1m", ""), http.StatusTooManyRequests, "2")

			send(dial(srv, srv.GatewayAddr()), framed(1, token(1), payload))
			for _, w := range []<-chan asyncAnswer{first, second} {
				var r asyncAnswer
				Eventually(w, ioTimeout).Should(Receive(&r))
				Expect(r.status).To(Equal(http.StatusOK), "body: %s", r.body)
			}
		})
	})

	Describe("the feedback queue's bound", func() {
		tuples := func(n int) string {
			parts := make([]string, n)
			for i := range parts {
				parts[i] = `{"token":"ab","time":"2026-01-01T00:00:00Z"}`
			}
			return "[" + strings.Join(parts, ",") + "]"
		}

		It("refuses a POST that would go beyond FeedbackMax with 400 naming the bound, queuing nothing", func() {
			serve(mockapns.Config{FeedbackMax: 3})
			expectJSON(call(ts, "POST", "/api/v1/feedback", tuples(2)), http.StatusOK, nil)
			before := stateOf(srv)
			expectAPIError(call(ts, "POST", "/api/v1/feedback", tuples(2)), http.StatusBadRequest, "3", "full")
			Expect(cmp.Diff(before, stateOf(srv), cmpOpts)).To(BeEmpty())
			expectJSON(call(ts, "POST", "/api/v1/feedback", tuples(1)), http.StatusOK, nil)
			Expect(srv.PendingFeedback()).To(HaveLen(3))
		})

		It("bounds QueueFeedback in Go with ErrFeedbackFull, all or nothing", func() {
			serve(mockapns.Config{FeedbackMax: 2})
			tu := wire.FeedbackTuple{Time: time.Unix(10, 0).UTC(), Token: token(1)}
			Expect(srv.QueueFeedback(tu, tu, tu)).To(MatchError(mockapns.ErrFeedbackFull))
			Expect(srv.PendingFeedback()).To(BeEmpty())
			Expect(srv.QueueFeedback(tu, tu)).To(Succeed())
			Expect(srv.QueueFeedback(tu)).To(MatchError(mockapns.ErrFeedbackFull))
		})

		It("defaults to DefaultFeedbackMax", func() {
			serve(mockapns.Config{})
			tu := wire.FeedbackTuple{Time: time.Unix(10, 0).UTC(), Token: token(1)}
			many := make([]wire.FeedbackTuple, mockapns.DefaultFeedbackMax+1)
			for i := range many {
				many[i] = tu
			}
			Expect(srv.QueueFeedback(many...)).To(MatchError(mockapns.ErrFeedbackFull))
			Expect(srv.QueueFeedback(many[1:]...)).To(Succeed())
		})

		It("is refused negative by Config.Validate", func() {
			Expect(mockapns.Config{FeedbackMax: -1}.Validate()).To(MatchError(mockapns.ErrBadConfig))
		})
	})
})
