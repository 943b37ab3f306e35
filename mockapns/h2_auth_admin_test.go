package mockapns_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("Admin API: trusted keys and devices", func() {
	var (
		srv *mockapns.Server
		ts  *httptest.Server
	)
	BeforeEach(func() {
		pki, err := certs.New(certs.Options{KeyID: "PKIKEY0001", TeamID: "TEAM000001"})
		Expect(err).NotTo(HaveOccurred())
		srv = startServer(mockapns.Config{PKI: pki})
		ts = httptest.NewServer(srv.Handler())
		DeferCleanup(ts.Close)
	})

	keyJSON := func(k *certs.AuthKey) string {
		GinkgoHelper()
		b, err := json.Marshal(mockapns.TrustedKey(k))
		Expect(err).NotTo(HaveOccurred())
		return string(b)
	}
	listKeys := func() []map[string]string {
		GinkgoHelper()
		var out []map[string]string
		expectJSON(call(ts, http.MethodGet, "/api/v1/keys", ""), http.StatusOK, &out)
		return out
	}
	keyIDs := func() []string {
		GinkgoHelper()
		ids := []string{}
		for _, k := range listKeys() {
			ids = append(ids, k["key_id"])
		}
		return ids
	}

	It("lists the PKI's key with its public key in PEM", func() {
		ks := listKeys()
		Expect(ks).To(HaveLen(1))
		Expect(ks[0]).To(HaveKeyWithValue("key_id", "PKIKEY0001"))
		Expect(ks[0]).To(HaveKeyWithValue("team_id", "TEAM000001"))
		pub, err := srv.PKI().AuthKey.PublicPEM()
		Expect(err).NotTo(HaveOccurred())
		Expect(ks[0]).To(HaveKeyWithValue("public_key", string(pub)))
	})

	It("adds one key or several, and a token of a key added is accepted on the wire", func() {
		k2, k3 := mustAuthKey("KEY0000002", "TEAM000002"), mustAuthKey("KEY0000003", "TEAM000003")
		a := call(ts, http.MethodPost, "/api/v1/keys", keyJSON(k2))
		var added []map[string]string
		expectJSON(a, http.StatusCreated, &added)
		Expect(added).To(HaveLen(1))
		Expect(added[0]).To(HaveKeyWithValue("key_id", "KEY0000002"))

		p8, err := k3.PrivatePEM()
		Expect(err).NotTo(HaveOccurred())
		body, err := json.Marshal([]map[string]string{{"key_id": "KEY0000003", "team_id": "TEAM000003", "public_key": string(p8)}})
		Expect(err).NotTo(HaveOccurred())
		a = call(ts, http.MethodPost, "/api/v1/keys", string(body))
		expectJSON(a, http.StatusCreated, &added)
		Expect(added[0]["public_key"]).To(HavePrefix("-----BEGIN PUBLIC KEY-----"), "only the public half is kept")
		Expect(keyIDs()).To(Equal([]string{"KEY0000002", "KEY0000003", "PKIKEY0001"}))

		tok, err := k3.Token(time.Now())
		Expect(err).NotTo(HaveOccurred())
		c := srv.HTTP2Client()
		DeferCleanup(closeClient, c)
		status, _, resp := h2Post(c, srv, h2Token, payload, "authorization", "bearer "+tok, "apns-topic", h2Topic)
		Expect(status).To(Equal(http.StatusOK), resp)
	})

	It("removes one key, then all; a token of a removed key is InvalidProviderToken", func() {
		Expect(call(ts, http.MethodDelete, "/api/v1/keys/PKIKEY0001", "").status).To(Equal(http.StatusNoContent))
		a := call(ts, http.MethodDelete, "/api/v1/keys/PKIKEY0001", "")
		expectJSON(a, http.StatusNotFound, nil)
		Expect(string(a.body)).To(ContainSubstring("PKIKEY0001"))

		c := srv.HTTP2Client()
		DeferCleanup(closeClient, c)
		status, _, resp := h2Post(c, srv, h2Token, payload, "authorization", bearer(srv), "apns-topic", h2Topic)
		Expect(status).To(Equal(http.StatusForbidden))
		Expect(resp).To(MatchJSON(`{"reason": "InvalidProviderToken"}`))

		Expect(call(ts, http.MethodPost, "/api/v1/keys", keyJSON(mustAuthKey("KEY0000002", "TEAM000002"))).status).To(Equal(http.StatusCreated))
		Expect(call(ts, http.MethodDelete, "/api/v1/keys", "").status).To(Equal(http.StatusNoContent))
		Expect(keyIDs()).To(BeEmpty())
		Expect(call(ts, http.MethodGet, "/api/v1/keys", "").body).To(MatchJSON(`[]`))
	})

	DescribeTable("refuses a bad key body with 400 naming the member, adding nothing",
		func(body string, says ...string) {
			a := call(ts, http.MethodPost, "/api/v1/keys", body)
			expectJSON(a, http.StatusBadRequest, nil)
			for _, s := range says {
				Expect(string(a.body)).To(ContainSubstring(s))
			}
			Expect(keyIDs()).To(Equal([]string{"PKIKEY0001"}))
		},
		Entry("empty", "", "empty body"),
		Entry("not JSON", `{"key_id": `, "bad JSON"),
		Entry("a short key_id", `{"key_id": "K", "team_id": "TEAM000002", "public_key": ""}`, `field \"key_id\"`),
		Entry("a public_key that is no PEM", `{"key_id": "KEY0000002", "team_id": "TEAM000002", "public_key": "abc"}`, `field \"public_key\"`),
		Entry("an unknown member", `{"key_id": "KEY0000002", "team_id": "TEAM000002", "public_key": "", "kid": 1}`, `field \"kid\"`),
		Entry("a bad second element", `[{"key_id": "KEY0000002", "team_id": "TEAM000002", "public_key": "x"}, 1]`, "[0]: "),
	)

	It("refuses a bad element after good ones, adding none of them", func() {
		good := keyJSON(mustAuthKey("KEY0000002", "TEAM000002"))
		a := call(ts, http.MethodPost, "/api/v1/keys", "["+good+`, {"key_id": "KEY0000003"}]`)
		expectJSON(a, http.StatusBadRequest, nil)
		Expect(string(a.body)).To(ContainSubstring(`[1]: mockapns: bad auth key: field \"team_id\"`))
		Expect(keyIDs()).To(Equal([]string{"PKIKEY0001"}))
	})

	Describe("devices", func() {
		listDevices := func() string {
			GinkgoHelper()
			a := call(ts, http.MethodGet, "/api/v1/devices", "")
			expectJSON(a, http.StatusOK, nil)
			return string(a.body)
		}

		It("sets devices that answer Unregistered and DeviceTokenNotForTopic on the wire", func() {
			gone, other := h2Hex(0x01), h2Hex(0x02)
			a := call(ts, http.MethodPost, "/api/v1/devices",
				`[{"token": "`+strings.ToUpper(gone)+`", "unregistered_at": "2026-11-30T12:00:00.123Z"}, {"token": "`+other+`", "topic": "com.example.other"}]`)
			expectJSON(a, http.StatusCreated, nil)
			Expect(a.body).To(MatchJSON(`[{"token": "` + gone + `", "unregistered_at": "2026-11-30T12:00:00.123Z"}, {"token": "` + other + `", "topic": "com.example.other"}]`))
			Expect(listDevices()).To(MatchJSON(a.body))

			c := srv.HTTP2Client()
			DeferCleanup(closeClient, c)
			auth := bearer(srv)
			status, _, resp := h2Post(c, srv, gone, payload, "authorization", auth, "apns-topic", h2Topic)
			Expect(status).To(Equal(http.StatusGone))
			Expect(resp).To(MatchJSON(`{"reason": "Unregistered", "timestamp": 1796040000123}`))
			status, _, resp = h2Post(c, srv, other, payload, "authorization", auth, "apns-topic", h2Topic)
			Expect(status).To(Equal(http.StatusBadRequest))
			Expect(resp).To(MatchJSON(`{"reason": "DeviceTokenNotForTopic"}`))
			status, _, _ = h2Post(c, srv, other, payload, "authorization", auth, "apns-topic", "com.example.other")
			Expect(status).To(Equal(http.StatusOK))
			status, _, _ = h2Post(c, srv, h2Hex(0x03), payload, "authorization", auth, "apns-topic", h2Topic)
			Expect(status).To(Equal(http.StatusOK))
		})

		It("sets one device, removes it by token, clears all; Reset forgets them", func() {
			tok := h2Hex(0x01)
			expectJSON(call(ts, http.MethodPost, "/api/v1/devices", `{"token": "`+tok+`", "topic": "t"}`), http.StatusCreated, nil)
			Expect(listDevices()).To(MatchJSON(`[{"token": "` + tok + `", "topic": "t"}]`))
			Expect(call(ts, http.MethodDelete, "/api/v1/devices/"+tok, "").status).To(Equal(http.StatusNoContent))
			expectJSON(call(ts, http.MethodDelete, "/api/v1/devices/"+tok, ""), http.StatusNotFound, nil)
			expectJSON(call(ts, http.MethodDelete, "/api/v1/devices/xyz", ""), http.StatusBadRequest, nil)
			Expect(listDevices()).To(MatchJSON(`[]`))

			expectJSON(call(ts, http.MethodPost, "/api/v1/devices", `[{"token": "aa"}, {"token": "bb"}]`), http.StatusCreated, nil)
			Expect(call(ts, http.MethodDelete, "/api/v1/devices", "").status).To(Equal(http.StatusNoContent))
			Expect(listDevices()).To(MatchJSON(`[]`))

			expectJSON(call(ts, http.MethodPost, "/api/v1/devices", `{"token": "aa"}`), http.StatusCreated, nil)
			Expect(call(ts, http.MethodPost, "/api/v1/reset", "").status).To(Equal(http.StatusNoContent))
			Expect(listDevices()).To(MatchJSON(`[]`))
		})

		DescribeTable("refuses a bad device body with 400 naming the member, changing nothing",
			func(body string, says string) {
				expectJSON(call(ts, http.MethodPost, "/api/v1/devices", `{"token": "aa"}`), http.StatusCreated, nil)
				a := call(ts, http.MethodPost, "/api/v1/devices", body)
				expectJSON(a, http.StatusBadRequest, nil)
				Expect(string(a.body)).To(ContainSubstring(says))
				Expect(listDevices()).To(MatchJSON(`[{"token": "aa"}]`))
			},
			Entry("empty", "", "empty body"),
			Entry("not JSON", `[{"token": "bb"`, "bad JSON"),
			Entry("no token", `{"topic": "t"}`, `field \"token\": required`),
			Entry("trailing data", `{"token": "bb", "topic": "x"}, `, "more than one value"),
			Entry("odd hex", `{"token": "abc"}`, `field \"token\"`),
			Entry("a time that is not RFC 3339", `{"token": "bb", "unregistered_at": "2026-11-30"}`, `field \"unregistered_at\"`),
			Entry("a bad second element", `[{"token": "bb"}, {"token": "cc", "topics": []}]`, `[1]: mockapns: bad device: field \"topics\"`),
		)
	})
})
