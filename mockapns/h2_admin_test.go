package mockapns_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/http2"

	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("HTTP/2 through the admin API", func() {
	It("takes an HTTP/2 fault as JSON and shows the requests in the journal and the stats", func() {
		srv := startServer(mockapns.Config{})
		ts := httptest.NewServer(srv.Handler())
		DeferCleanup(ts.Close)
		a := call(ts, http.MethodPost, "/api/v1/faults", `{"action": "goaway", "nth": 2, "reason": "Shutdown"}`)
		Expect(a.status).To(Equal(http.StatusCreated), "%s", a.body)

		r := dialH2(srv, srv.HTTP2CertTLSConfig())
		r.push(1, payload, request(h2Token, "apns-id", apnsID, "apns-push-type", "alert")...)
		Expect(r.wait(1)[0].status).To(Equal("200"))
		r.push(3, payload, request(h2Token)...)
		r.readToClose()
		Expect(r.goaways).To(Equal([]goAway{{last: 1, code: http2.ErrCodeNo, debug: `{"reason":"Shutdown"}`}}))

		a = call(ts, http.MethodGet, "/api/v1/notifications?protocol=http2", "")
		Expect(a.status).To(Equal(http.StatusOK), "%s", a.body)
		var entries []map[string]any
		Expect(json.Unmarshal(a.body, &entries)).To(Succeed())
		Expect(entries).To(HaveLen(1))
		e := entries[0]
		for k, v := range map[string]any{"protocol": "http2", "apns_id": apnsID, "topic": h2Topic, "push_type": "alert",
			"auth": "certificate", "http_status": float64(200), "status": float64(0), "token": h2Token} {
			Expect(e).To(HaveKeyWithValue(k, v))
		}
		Expect(e).To(HaveKeyWithValue("payload", map[string]any{"aps": map[string]any{"alert": "Hi"}}))
		Expect(call(ts, http.MethodGet, "/api/v1/notifications?protocol=binary", "").body).To(MatchJSON(`[]`))

		a = call(ts, http.MethodGet, "/api/v1/stats", "")
		var st map[string]any
		Expect(json.Unmarshal(a.body, &st)).To(Succeed())
		Expect(st["http2"]).To(HaveKeyWithValue("requests", float64(1)))
		Expect(st["http2"]).To(HaveKeyWithValue("goaways", float64(1)))
		Expect(st["http2"]).To(HaveKeyWithValue("connections_total", float64(1)))
	})
})
