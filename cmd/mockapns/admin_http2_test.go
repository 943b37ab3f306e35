package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/certs"
)

// send makes a request to the admin API and returns the status and body.
// A POST, and a request with a body, say Content-Type: application/json.
func (in *instance) send(method, path, body string, header ...string) (int, string) {
	GinkgoHelper()
	req, err := http.NewRequest(method, "http://"+in.admin+path, strings.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	if body != "" || method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 { // name, value pairs
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, string(b)
}

var _ = Describe("mockapns command, admin API of the HTTP/2 side", func() {
	var (
		dir string
		in  *instance
	)

	BeforeEach(func() {
		dir = filepath.Join(GinkgoT().TempDir(), "pki")
		in = launch(loopbackArgs(dir)...)
	})

	It("lists the folder's key and trusts a key posted to /api/v1/keys until it is deleted", func() {
		var keys []struct {
			KeyID     string `json:"key_id"`
			TeamID    string `json:"team_id"`
			PublicKey string `json:"public_key"`
		}
		Expect(in.get("/api/v1/keys", &keys)).To(Equal(http.StatusOK))
		own := folderKey(dir)
		Expect(keys).To(HaveLen(1))
		Expect(keys[0].KeyID).To(Equal(own.KeyID))
		Expect(keys[0].TeamID).To(Equal(own.TeamID))
		Expect(keys[0].PublicKey).To(HavePrefix("-----BEGIN PUBLIC KEY-----"))

		k, err := certs.NewAuthKey("", "")
		Expect(err).NotTo(HaveOccurred())
		jwt, err := k.Token(time.Now())
		Expect(err).NotTo(HaveOccurred())
		Expect(h2Push(h2Client(dir, false), in.http2, jwt).status).To(Equal(http.StatusForbidden), "not trusted yet")

		pub, err := k.PublicPEM()
		Expect(err).NotTo(HaveOccurred())
		body, err := json.Marshal(map[string]string{"key_id": k.KeyID, "team_id": k.TeamID, "public_key": string(pub)})
		Expect(err).NotTo(HaveOccurred())
		status, answer := in.send(http.MethodPost, "/api/v1/keys", string(body))
		Expect(status).To(Equal(http.StatusCreated), answer)
		a := h2Push(h2Client(dir, false), in.http2, jwt)
		Expect(a.status).To(Equal(http.StatusOK), "body: %s", a.body)

		status, answer = in.send(http.MethodDelete, "/api/v1/keys/"+k.KeyID, "")
		Expect(status).To(Equal(http.StatusNoContent), answer)
		Expect(h2Push(h2Client(dir, false), in.http2, jwt).status).To(Equal(http.StatusForbidden), "trusted no more")
		status, _ = in.send(http.MethodDelete, "/api/v1/keys/"+k.KeyID, "")
		Expect(status).To(Equal(http.StatusNotFound))
	})

	It("answers as /api/v1/devices says: 410 Unregistered with the timestamp, 400 DeviceTokenNotForTopic", func() {
		other := strings.ReplaceAll(h2Token, "0", "1")
		status, answer := in.send(http.MethodPost, "/api/v1/devices", `[
			{"token":"`+h2Token+`","unregistered_at":"2026-01-02T15:04:05Z"},
			{"token":"`+other+`","topic":"com.example.other"}]`)
		Expect(status).To(Equal(http.StatusCreated), answer)
		var devs []map[string]string
		Expect(in.get("/api/v1/devices", &devs)).To(Equal(http.StatusOK))
		Expect(devs).To(Equal([]map[string]string{
			{"token": h2Token, "unregistered_at": "2026-01-02T15:04:05Z"},
			{"token": other, "topic": "com.example.other"},
		}))

		c := h2Client(dir, true)
		a := h2Push(c, in.http2, "")
		Expect(a.status).To(Equal(http.StatusGone))
		Expect(a.body).To(MatchJSON(`{"reason":"Unregistered","timestamp":1767366245000}`))

		req, err := http.NewRequest(http.MethodPost, "https://"+in.http2+"/3/device/"+other, strings.NewReader(h2Payload))
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("apns-topic", h2Topic)
		resp, err := c.Do(req)
		Expect(err).NotTo(HaveOccurred())
		b, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Body.Close()).To(Succeed())
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		Expect(b).To(MatchJSON(`{"reason":"DeviceTokenNotForTopic"}`))

		status, answer = in.send(http.MethodDelete, "/api/v1/devices/"+h2Token, "")
		Expect(status).To(Equal(http.StatusNoContent), answer)
		Expect(h2Push(c, in.http2, "").status).To(Equal(http.StatusOK), "forgotten: delivered again")

		status, answer = in.send(http.MethodPost, "/api/v1/devices", `[{"token":"`+h2Token+`"},{"token":"xyz"}]`)
		Expect(status).To(Equal(http.StatusBadRequest))
		Expect(answer).To(ContainSubstring("[1]"))
		Expect(in.get("/api/v1/devices", &devs)).To(Equal(http.StatusOK))
		Expect(devs).To(HaveLen(1), "a refused POST adds nothing")
	})
})
