package main_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/http2"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	main "github.com/apnskit/apnskit/cmd/mockapns"
	"github.com/apnskit/apnskit/mockapns"
)

// Values of the HTTP/2 pushes of these specs.
const (
	h2Token   = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	h2Topic   = "com.example.apnskit"
	h2Payload = `{"aps":{"alert":"hi"}}`
)

// uuidRE is a canonical UUID, as apns-id carries it.
const uuidRE = `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`

// h2Client is an HTTP/2 client (golang.org/x/net/http2) trusting the CA of
// dir, presenting the folder's client certificate when cert is set.
func h2Client(dir string, cert bool) *http.Client {
	GinkgoHelper()
	conf := clientTLS(dir)
	if !cert {
		conf.Certificates = nil
	}
	tr := &http2.Transport{TLSClientConfig: conf}
	DeferCleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: startTimeout}
}

// folderKey loads the provider-token key of the PKI folder dir from its
// authkey.p8 and authkey.json only.
func folderKey(dir string) *certs.AuthKey {
	GinkgoHelper()
	info, err := os.ReadFile(filepath.Join(dir, "authkey.json"))
	Expect(err).NotTo(HaveOccurred())
	var ids struct {
		KeyID  string `json:"key_id"`
		TeamID string `json:"team_id"`
	}
	Expect(json.Unmarshal(info, &ids)).To(Succeed())
	k, err := certs.LoadAuthKey(filepath.Join(dir, "authkey.p8"), ids.KeyID, ids.TeamID)
	Expect(err).NotTo(HaveOccurred())
	return k
}

// h2Answer is the part of an HTTP/2 answer the specs look at.
type h2Answer struct {
	status   int
	apnsID   string
	uniqueID string
	body     string
}

// h2Push posts the payload to token over c, with a bearer token when jwt
// is not empty.
func h2Push(c *http.Client, addr, jwt string) h2Answer {
	GinkgoHelper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost,
		"https://"+addr+"/3/device/"+h2Token, strings.NewReader(h2Payload))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("apns-topic", h2Topic)
	if jwt != "" {
		req.Header.Set("authorization", "bearer "+jwt)
	}
	resp, err := c.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.ProtoMajor).To(Equal(2))
	return h2Answer{status: resp.StatusCode, apnsID: resp.Header.Get("apns-id"),
		uniqueID: resp.Header.Get("apns-unique-id"), body: string(body)}
}

// firstGoAway opens an HTTP/2 connection to addr with conf (ALPN h2 added),
// sends the client preface and reads frames until the server's GOAWAY.
func firstGoAway(addr string, conf *tls.Config) *http2.GoAwayFrame {
	GinkgoHelper()
	conf.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", addr, conf)
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close()
	Expect(conn.SetDeadline(time.Now().Add(startTimeout))).To(Succeed())
	_, err = io.WriteString(conn, http2.ClientPreface)
	Expect(err).NotTo(HaveOccurred())
	fr := http2.NewFramer(conn, conn)
	Expect(fr.WriteSettings()).To(Succeed())
	for {
		f, err := fr.ReadFrame()
		Expect(err).NotTo(HaveOccurred(), "no GOAWAY before the connection ended")
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			return ga
		}
	}
}

// mustHex decodes hex text.
func mustHex(s string) []byte {
	GinkgoHelper()
	b, err := hex.DecodeString(s)
	Expect(err).NotTo(HaveOccurred())
	return b
}

// writeAuthKey writes a fresh key's private PEM (public when public is
// set) into a file of its own and returns the key and the file's path.
func writeAuthKey(public bool) (*certs.AuthKey, string) {
	GinkgoHelper()
	k, err := certs.NewAuthKey("", "")
	Expect(err).NotTo(HaveOccurred())
	pemBytes, err := k.PrivatePEM()
	name := "key.p8"
	if public {
		pemBytes, err = k.PublicPEM()
		name = "key.pem"
	}
	Expect(err).NotTo(HaveOccurred())
	file := filepath.Join(GinkgoT().TempDir(), name)
	Expect(os.WriteFile(file, pemBytes, 0o600)).To(Succeed())
	return k, file
}

var _ = Describe("mockapns command, HTTP/2 provider API", func() {
	var dir string

	BeforeEach(func() {
		dir = filepath.Join(GinkgoT().TempDir(), "pki")
	})

	// journalled checks that the journal holds exactly one HTTP/2 entry,
	// the push of h2Push answered a, authenticated by auth.
	journalled := func(in *instance, a h2Answer, auth mockapns.AuthMethod) {
		GinkgoHelper()
		var es []mockapns.Entry
		Expect(in.get("/api/v1/notifications?protocol=http2", &es)).To(Equal(http.StatusOK))
		Expect(es).To(HaveLen(1))
		e := es[0]
		Expect(e.Protocol).To(Equal(apns.HTTP2))
		Expect(e.Auth).To(Equal(auth))
		Expect(e.APNsID).To(Equal(a.apnsID))
		Expect(e.Topic).To(Equal(h2Topic))
		Expect(e.Token).To(Equal(mustHex(h2Token)))
		Expect(e.Payload).To(MatchJSON(h2Payload))
		Expect(e.Status).To(Equal(0))
		Expect(e.HTTPStatus).To(Equal(http.StatusOK))
		Expect(e.Reason).To(BeEmpty())

		var binary []mockapns.Entry
		Expect(in.get("/api/v1/notifications?protocol=binary", &binary)).To(Equal(http.StatusOK))
		Expect(binary).To(BeEmpty())

		var st mockapns.Stats
		Expect(in.get("/api/v1/stats", &st)).To(Equal(http.StatusOK))
		Expect(st.HTTP2.Accepted).To(BeEquivalentTo(1))
		Expect(st.HTTP2.Requests).To(BeEquivalentTo(1))
		Expect(st.HTTP2.ConnectionsTotal).To(BeEquivalentTo(1))
		Expect(st.Accepted).To(BeEquivalentTo(1))
	}

	It("prints the HTTP/2 address in the ready line, a free port for :0, and serves TLS with ALPN h2 there", func() {
		in := launch(loopbackArgs(dir)...)
		host, port, err := net.SplitHostPort(in.http2)
		Expect(err).NotTo(HaveOccurred())
		Expect(host).To(Equal("127.0.0.1"))
		Expect(port).NotTo(Equal("0"))
		Expect(port).NotTo(Equal("2197"))

		conf := clientTLS(dir)
		conf.Certificates = nil
		conf.NextProtos = []string{"h2"}
		conn, err := tls.Dial("tcp", in.http2, conf)
		Expect(err).NotTo(HaveOccurred())
		Expect(conn.ConnectionState().NegotiatedProtocol).To(Equal("h2"))
		Expect(conn.Close()).To(Succeed())

		Expect(in.stop()).To(Succeed())
		_, err = net.Dial("tcp", in.http2)
		Expect(err).To(HaveOccurred(), "the HTTP/2 listener is closed")
	})

	It("accepts and journals a push with the folder's client certificate", func() {
		in := launch(loopbackArgs(dir)...)
		a := h2Push(h2Client(dir, true), in.http2, "")
		Expect(a.status).To(Equal(http.StatusOK), "body: %s", a.body)
		Expect(a.apnsID).To(MatchRegexp(uuidRE))
		journalled(in, a, mockapns.AuthCertificate)
	})

	It("accepts and journals a push with a JWT minted from the folder's authkey.p8, a key it trusts unasked", func() {
		in := launch(loopbackArgs(dir)...)
		Expect(in.stderr.String()).To(ContainSubstring("auth_keys=1"))
		jwt, err := folderKey(dir).Token(time.Now())
		Expect(err).NotTo(HaveOccurred())
		a := h2Push(h2Client(dir, false), in.http2, jwt)
		Expect(a.status).To(Equal(http.StatusOK), "body: %s", a.body)
		Expect(a.apnsID).To(MatchRegexp(uuidRE))
		journalled(in, a, mockapns.AuthProviderToken)
	})

	DescribeTable("plays the sandbox by default and with -environment sandbox: the folder's certificate accepted, apns-unique-id on success",
		func(more ...string) {
			in := launch(loopbackArgs(dir, more...)...)
			Expect(in.stderr.String()).To(ContainSubstring("environment=sandbox"))
			a := h2Push(h2Client(dir, true), in.http2, "")
			Expect(a.status).To(Equal(http.StatusOK), "body: %s", a.body)
			Expect(a.uniqueID).To(MatchRegexp(uuidRE))
		},
		Entry("by default"),
		Entry("-environment sandbox", "-environment", "sandbox"),
	)

	It("plays production with -environment production: a production certificate of the folder's CA is accepted, the folder's sandbox one refused with GOAWAY BadCertificateEnvironment", func() {
		in := launch(loopbackArgs(dir, "-environment", "production")...)
		Expect(in.stderr.String()).To(ContainSubstring("environment=production"))

		pki, err := certs.LoadDir(dir)
		Expect(err).NotTo(HaveOccurred())
		prod, err := pki.IssueClient(certs.ClientOptions{Environment: certs.Production})
		Expect(err).NotTo(HaveOccurred())
		conf := clientTLS(dir)
		conf.Certificates = []tls.Certificate{prod.TLS}
		tr := &http2.Transport{TLSClientConfig: conf}
		DeferCleanup(tr.CloseIdleConnections)
		a := h2Push(&http.Client{Transport: tr, Timeout: startTimeout}, in.http2, "")
		Expect(a.status).To(Equal(http.StatusOK), "body: %s", a.body)
		Expect(a.uniqueID).To(BeEmpty(), "apns-unique-id only on sandbox")

		ga := firstGoAway(in.http2, clientTLS(dir))
		Expect(ga.LastStreamID).To(BeZero())
		Expect(string(ga.DebugData())).To(MatchJSON(`{"reason":"BadCertificateEnvironment"}`))

		var es []mockapns.Entry
		Expect(in.get("/api/v1/notifications?protocol=http2", &es)).To(Equal(http.StatusOK))
		Expect(es).To(HaveLen(1), "the refused connection journals nothing")
	})

	It("trusts every -auth-key, a .p8 private key or a PEM public key, beside the folder's", func() {
		priv, privFile := writeAuthKey(false)
		pub, pubFile := writeAuthKey(true)
		in := launch(loopbackArgs(dir,
			"-auth-key", priv.KeyID+":"+priv.TeamID+":"+privFile,
			"-auth-key", pub.KeyID+":"+pub.TeamID+":"+pubFile)...)
		Expect(in.stderr.String()).To(ContainSubstring("auth_keys=3"))
		Expect(in.stderr.String()).To(ContainSubstring("jwt_verify=true"))

		for _, k := range []*certs.AuthKey{priv, pub} {
			jwt, err := k.Token(time.Now())
			Expect(err).NotTo(HaveOccurred())
			// A connection is bound to the team of its first token: one
			// client, so one connection, per key.
			a := h2Push(h2Client(dir, false), in.http2, jwt)
			Expect(a.status).To(Equal(http.StatusOK), "body: %s", a.body)
		}
		var es []mockapns.Entry
		Expect(in.get("/api/v1/notifications?protocol=http2", &es)).To(Equal(http.StatusOK))
		Expect(es).To(HaveLen(2))
		Expect(es).To(HaveEach(HaveField("Auth", mockapns.AuthProviderToken)))
	})

	It("applies HTTP/2 -fault values on the wire: a reject with an Apple reason, a GOAWAY", func() {
		in := launch(loopbackArgs(dir,
			"-fault", `{"action":"reject","reason":"BadDeviceToken","nth":1}`,
			"-fault", `{"action":"goaway","reason":"Shutdown","nth":2}`)...)
		c := h2Client(dir, true)
		a := h2Push(c, in.http2, "")
		Expect(a.status).To(Equal(http.StatusBadRequest))
		Expect(a.body).To(MatchJSON(`{"reason":"BadDeviceToken"}`))

		// The GOAWAY names stream 1 (the reject) as the last processed: the
		// client retries the second push on a new connection, where it is
		// accepted.
		a = h2Push(c, in.http2, "")
		Expect(a.status).To(Equal(http.StatusOK), "body: %s", a.body)

		var es []mockapns.Entry
		Expect(in.get("/api/v1/notifications?protocol=http2", &es)).To(Equal(http.StatusOK))
		Expect(es).To(HaveLen(2))
		Expect(es[0].Reason).To(Equal(apns.Reason("BadDeviceToken")))
		Expect(es[0].HTTPStatus).To(Equal(http.StatusBadRequest))
		Expect(es[0].Status).To(Equal(http.StatusBadRequest))
		Expect(es[1].Accepted()).To(BeTrue())
		var st mockapns.Stats
		Expect(in.get("/api/v1/stats", &st)).To(Equal(http.StatusOK))
		Expect(st.HTTP2.GoAways).To(BeEquivalentTo(1))
		Expect(st.HTTP2.ConnectionsTotal).To(BeEquivalentTo(2))
		Expect(st.HTTP2.Rejected).To(BeEquivalentTo(1))
		Expect(st.HTTP2.Accepted).To(BeEquivalentTo(1))
	})

	It("refuses a JWT of a key it was not given with 403 InvalidProviderToken", func() {
		stranger, _ := writeAuthKey(false)
		in := launch(loopbackArgs(dir)...)
		jwt, err := stranger.Token(time.Now())
		Expect(err).NotTo(HaveOccurred())
		a := h2Push(h2Client(dir, false), in.http2, jwt)
		Expect(a.status).To(Equal(http.StatusForbidden))
		Expect(a.body).To(MatchJSON(`{"reason":"InvalidProviderToken"}`))
	})

	It("checks only the form and claims of provider tokens with -jwt-verify=false", func() {
		stranger, _ := writeAuthKey(false)
		in := launch(loopbackArgs(dir, "-jwt-verify=false")...)
		Expect(in.stderr.String()).To(ContainSubstring("jwt_verify=false"))

		jwt, err := stranger.Token(time.Now())
		Expect(err).NotTo(HaveOccurred())
		a := h2Push(h2Client(dir, false), in.http2, jwt)
		Expect(a.status).To(Equal(http.StatusOK), "an unverified signature: body %s", a.body)

		old, err := stranger.Token(time.Now().Add(-2 * time.Hour))
		Expect(err).NotTo(HaveOccurred())
		a = h2Push(h2Client(dir, false), in.http2, old)
		Expect(a.status).To(Equal(http.StatusForbidden))
		Expect(a.body).To(MatchJSON(`{"reason":"ExpiredProviderToken"}`), "the claims are still checked")
	})

	DescribeTable("names the part of -auth-key that is wrong",
		func(value func() string, part string) {
			err := main.Run(context.Background(), append(loopbackArgs(dir), "-auth-key", value()), io.Discard, io.Discard)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("-auth-key: " + part))
		},
		Entry("key ID", func() string { _, f := writeAuthKey(false); return "KEY:TEAM123456:" + f }, "KEYID"),
		Entry("team ID", func() string { _, f := writeAuthKey(false); return "ABCDE12345:T-1:" + f }, "TEAMID"),
		Entry("file", func() string {
			f := filepath.Join(GinkgoT().TempDir(), "key.p8")
			Expect(os.WriteFile(f, []byte("not a key\n"), 0o600)).To(Succeed())
			return "ABCDE12345:TEAM123456:" + f
		}, "FILE"),
	)

	DescribeTable("refuses a bad HTTP/2 flag with status 2 and one line naming it",
		func(flagName string, value func() string) {
			args := append(loopbackArgs(dir), flagName+"="+value())
			var stdout, stderr bytes.Buffer
			err := main.Run(context.Background(), args, &stdout, &stderr)
			Expect(err).To(HaveOccurred())
			var errLine bytes.Buffer
			Expect(main.Report(err, &errLine)).To(Equal(2))
			Expect(strings.Count(errLine.String(), "\n")).To(Equal(1), errLine.String())
			Expect(errLine.String()).To(HavePrefix("mockapns: "))
			Expect(errLine.String()).To(ContainSubstring(flagName))
			Expect(errLine.String()).To(ContainSubstring("-h"))
			Expect(stdout.String()).To(BeEmpty())
			Expect(stderr.String()).To(BeEmpty(), "nothing logged before the line")
			_, statErr := os.Stat(dir)
			Expect(os.IsNotExist(statErr)).To(BeTrue(), "no PKI written")
		},
		Entry("-http2 without a port", "-http2", func() string { return "localhost" }),
		Entry("-http2 empty", "-http2", func() string { return "" }),
		Entry("-environment unknown", "-environment", func() string { return "staging" }),
		Entry("-environment in capitals", "-environment", func() string { return "Production" }),
		Entry("-environment empty", "-environment", func() string { return "" }),
		Entry("-jwt-verify not a boolean", "-jwt-verify", func() string { return "maybe" }),
		Entry("-auth-key without colons", "-auth-key", func() string { return "ABCDE12345" }),
		Entry("-auth-key without a file", "-auth-key", func() string { return "ABCDE12345:TEAM123456:" }),
		Entry("-auth-key with a missing file", "-auth-key", func() string {
			return "ABCDE12345:TEAM123456:" + filepath.Join(GinkgoT().TempDir(), "none.p8")
		}),
		Entry("-auth-key with a file that is no PEM", "-auth-key", func() string {
			f := filepath.Join(GinkgoT().TempDir(), "key.p8")
			Expect(os.WriteFile(f, []byte("not a key\n"), 0o600)).To(Succeed())
			return "ABCDE12345:TEAM123456:" + f
		}),
		Entry("-auth-key with a certificate instead of a key", "-auth-key", func() string {
			p, err := certs.New(certs.Options{})
			Expect(err).NotTo(HaveOccurred())
			f := filepath.Join(GinkgoT().TempDir(), "ca.pem")
			Expect(os.WriteFile(f, p.CA.CertPEM, 0o600)).To(Succeed())
			return "ABCDE12345:TEAM123456:" + f
		}),
		Entry("-auth-key with a short key ID", "-auth-key", func() string {
			_, f := writeAuthKey(false)
			return "ABC:TEAM123456:" + f
		}),
		Entry("-auth-key with a team ID of 11 characters", "-auth-key", func() string {
			_, f := writeAuthKey(true)
			return "ABCDE12345:TEAM1234567:" + f
		}),
	)
})
