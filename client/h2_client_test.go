package client_test

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/http2"
)

const h2Topic = "com.example.apnskit"

// h2Env is a fresh mock with an HTTP/2 client that trusts it.
type h2Env struct {
	srv    *mockapns.Server
	c      *client.HTTP2Client
	signer *client.TokenSigner
}

// newH2Env starts a mock and a token-auth client (cfg.Certificate set
// means certificate auth instead).
func newH2Env(cfg client.HTTP2Config, mcfg mockapns.Config) *h2Env {
	GinkgoHelper()
	srv := mockapns.NewServer(mcfg)
	DeferCleanup(srv.Close)
	e := &h2Env{srv: srv}
	if cfg.Certificate == nil {
		k := srv.PKI().AuthKey
		p8, err := k.PrivatePEM()
		Expect(err).NotTo(HaveOccurred())
		e.signer, err = client.NewTokenSigner(p8, k.KeyID, k.TeamID, client.TokenOptions{Clock: mcfg.Clock})
		Expect(err).NotTo(HaveOccurred())
		cfg.Signer = e.signer
	}
	cfg.RootCAs = srv.RootCAs()
	c, err := client.NewHTTP2Client(srv.HTTP2Addr(), cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	e.c = c
	return e
}

// h2Counts returns how often the mock accepted and refused each token.
func (e *h2Env) h2Counts() (accepted, refused map[string]int) {
	accepted, refused = map[string]int{}, map[string]int{}
	for _, en := range e.srv.Notifications(mockapns.Filter{Protocol: apns.HTTP2}) {
		if en.Accepted() {
			accepted[hex.EncodeToString(en.Token)]++
		} else {
			refused[hex.EncodeToString(en.Token)]++
		}
	}
	return accepted, refused
}

func ones(toks []string) map[string]int {
	m := map[string]int{}
	for _, t := range toks {
		m[t] = 1
	}
	return m
}

var _ = Describe("Message's HTTP/2 fields", func() {
	It("round-trip through JSON under their names", func() {
		m := client.Message{Tokens: []string{"ab"}, Alert: "hi", PushType: "alert", Topic: h2Topic,
			APNsID: "123e4567-e89b-12d3-a456-4266554400a0", CollapseID: "c1", Priority: 1}
		b, err := json.Marshal(m)
		Expect(err).NotTo(HaveOccurred())
		var raw map[string]any
		Expect(json.Unmarshal(b, &raw)).To(Succeed())
		Expect(raw).To(HaveKeyWithValue("push_type", "alert"))
		Expect(raw).To(HaveKeyWithValue("topic", h2Topic))
		Expect(raw).To(HaveKeyWithValue("apns_id", m.APNsID))
		Expect(raw).To(HaveKeyWithValue("collapse_id", "c1"))
		var back client.Message
		Expect(json.Unmarshal(b, &back)).To(Succeed())
		Expect(cmp.Diff(m, back)).To(BeEmpty())
	})
})

var _ = Describe("HTTP2Client", func() {
	It("refuses a config without credentials, or with both, and a bad address", func() {
		_, err := client.NewHTTP2Client("127.0.0.1:1", client.HTTP2Config{})
		Expect(err).To(MatchError(client.ErrBadConfig))
		_, err = client.NewHTTP2Client("nowhere", client.HTTP2Config{Signer: &client.TokenSigner{}})
		Expect(err).To(MatchError(client.ErrBadAddress))
		_, err = client.NewHTTP2Client("127.0.0.1:1", client.HTTP2Config{Signer: &client.TokenSigner{}, MaxInFlight: -1})
		Expect(err).To(MatchError(client.ErrBadConfig))
	})

	It("pushes to every token with every header and one shared JWT", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{}, mockapns.Config{})
		toks := tokens(1, 20)
		at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		m := &client.Message{Tokens: toks, Alert: "hello", PushType: "alert", Topic: h2Topic,
			APNsID: "123e4567-e89b-12d3-a456-4266554400a0", CollapseID: "news", Priority: 5, Expiry: client.ExpireAt(at)}
		r, err := e.c.Send(ctx, m)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Failed).To(BeEmpty())
		Expect(r.Errors).To(BeEmpty())
		Expect(r.Sent).To(Equal(20))
		Expect(r.Accepted).To(Equal(20))
		Expect(r.Responses).To(HaveLen(20))
		for i, resp := range r.Responses {
			Expect(resp).To(Equal(client.Response{Token: toks[i], HTTPStatus: 200, APNsID: m.APNsID,
				UniqueID: resp.UniqueID, Attempts: 1}))
		}
		Expect(r.NeedsRetry()).To(BeFalse())
		Expect(e.signer.Minted()).To(Equal(1))

		acc, ref := e.h2Counts()
		Expect(acc).To(Equal(ones(toks)))
		Expect(ref).To(BeEmpty())
		for _, en := range e.srv.Notifications(mockapns.Filter{Protocol: apns.HTTP2}) {
			Expect(en.Auth).To(Equal(mockapns.AuthProviderToken))
			Expect(en.Topic).To(Equal(h2Topic))
			Expect(en.PushType).To(Equal("alert"))
			Expect(en.CollapseID).To(Equal("news"))
			Expect(en.APNsID).To(Equal(m.APNsID))
			Expect(en.Priority).To(Equal(apns.PriorityConserve))
			Expect(en.Expiration).NotTo(BeNil())
			Expect(*en.Expiration).To(Equal(at.Unix()))
			Expect(string(en.Payload)).To(Equal(`{"aps":{"alert":"hello"}}`))
		}
	})

	It("leaves out the headers the message leaves out, and gets the server's apns-id", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{}, mockapns.Config{})
		r, err := e.c.Send(ctx, &client.Message{Tokens: tokens(1, 1), Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(1))
		en := e.srv.Notifications(mockapns.Filter{Protocol: apns.HTTP2})
		Expect(en).To(HaveLen(1))
		Expect(en[0].PushType).To(BeEmpty())
		Expect(en[0].CollapseID).To(BeEmpty())
		Expect(en[0].Expiration).To(BeNil())
		Expect(en[0].Priority.IsSet()).To(BeFalse())
		Expect(r.Responses[0].APNsID).To(Equal(en[0].APNsID))
		Expect(r.Responses[0].APNsID).To(MatchRegexp(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`))
		Expect(r.Responses[0].UniqueID).NotTo(BeEmpty(), "the sandbox answers apns-unique-id")
	})

	It("authenticates with a client certificate", func(ctx SpecContext) {
		srv := mockapns.NewServer(mockapns.Config{})
		DeferCleanup(srv.Close)
		cert, err := client.NewCertificate(srv.PKI().Client.TLS)
		Expect(err).NotTo(HaveOccurred())
		c, err := client.NewHTTP2Client(srv.HTTP2Addr(), client.HTTP2Config{Certificate: cert, RootCAs: srv.RootCAs()})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		r, err := c.Send(ctx, &client.Message{Tokens: tokens(1, 3), Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(3))
		for _, en := range srv.Notifications(mockapns.Filter{Protocol: apns.HTTP2}) {
			Expect(en.Auth).To(Equal(mockapns.AuthCertificate))
		}
	})

	It("fails at once, as a connect error, when the server refuses the client certificate after the handshake", func(ctx SpecContext) {
		srv := mockapns.NewServer(mockapns.Config{})
		DeferCleanup(srv.Close)
		other, err := certs.New(certs.Options{}) // a client certificate of a CA the mock does not know
		Expect(err).NotTo(HaveOccurred())
		cert, err := client.NewCertificate(other.Client.TLS)
		Expect(err).NotTo(HaveOccurred())
		c, err := client.NewHTTP2Client(srv.HTTP2Addr(), client.HTTP2Config{Certificate: cert, RootCAs: srv.RootCAs(), RequestTimeout: time.Minute})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		r, err := c.Send(ctx, &client.Message{Tokens: tokens(1, 3), Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Sent).To(BeZero())
		Expect(r.Uncertain).To(BeEmpty())
		Expect(r.Retry().Tokens).To(Equal(tokens(1, 3)))
		Expect(r.Errors).To(HaveLen(3))
		for _, e := range r.Errors {
			Expect(e).To(MatchError(client.ErrCertificateRefused))
			Expect(e).To(MatchError(client.ErrConnect))
		}
		Expect(srv.Stats().HTTP2.Requests).To(BeZero())
	}, SpecTimeout(20*time.Second))

	It("reports each refusal with its typed reason, status and IDs; 410 with its timestamp", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{}, mockapns.Config{})
		toks := tokens(1, 3)
		_, err := e.srv.AddFault(mockapns.Reject{Reason: apns.ReasonBadDeviceToken,
			When: mockapns.Trigger{Token: apns.MustParseToken(toks[0]), Times: mockapns.Always}})
		Expect(err).NotTo(HaveOccurred())
		gone := time.Date(2026, 11, 30, 10, 0, 0, 123e6, time.UTC)
		Expect(e.srv.SetDevice(mockapns.Device{Token: apns.MustParseToken(toks[1]), UnregisteredAt: gone})).To(Succeed())
		r, err := e.c.Send(ctx, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(1))
		Expect(r.Failed).To(HaveLen(2))
		f0, f1 := r.Failed[0], r.Failed[1]
		Expect(f0.Token).To(Equal(toks[0]))
		Expect(errors.Is(f0.Outcome, apns.ReasonBadDeviceToken)).To(BeTrue())
		Expect(f0.HTTPStatus).To(Equal(400))
		Expect(f0.APNsID).NotTo(BeEmpty())
		Expect(f0.Timestamp.IsZero()).To(BeTrue())
		Expect(f1.Token).To(Equal(toks[1]))
		Expect(f1.Outcome).To(Equal(apns.ReasonUnregistered))
		Expect(f1.HTTPStatus).To(Equal(410))
		Expect(f1.Timestamp.Equal(gone)).To(BeTrue(), "%v", f1.Timestamp)
		Expect(r.NeedsRetry()).To(BeFalse())
	})

	It("refuses a message that cannot be sent, sending nothing", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{}, mockapns.Config{})
		_, err := e.c.Send(ctx, &client.Message{Alert: "x"})
		Expect(err).To(MatchError(client.ErrNoTokens))
		_, err = e.c.Send(ctx, &client.Message{Tokens: []string{"zz"}, Alert: "x"})
		Expect(err).To(MatchError(client.ErrBadToken))
		Expect(e.srv.Notifications(mockapns.Filter{})).To(BeEmpty())
	})
})

// fakeH2 is a stand-in HTTP/2 server, for answers the mock never gives.
func fakeH2(h http.HandlerFunc) (addr string, pool *mockapns.Server) {
	GinkgoHelper()
	srv := mockapns.NewServer(mockapns.Config{})
	DeferCleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	tc := srv.PKI().ServerTLSConfig().Clone()
	tc.NextProtos = []string{"h2"}
	tc.ClientAuth = tls.NoClientCert
	hs := &http.Server{Handler: h, TLSConfig: tc, ErrorLog: log.New(io.Discard, "", 0)}
	Expect(http2.ConfigureServer(hs, nil)).To(Succeed())
	done := make(chan error, 1)
	go func() { done <- hs.Serve(tls.NewListener(ln, tc)) }()
	DeferCleanup(func() {
		Expect(hs.Close()).To(Succeed())
		Expect(<-done).To(MatchError(http.ErrServerClosed))
	})
	return ln.Addr().String(), srv
}

func fakeClient(addr string, srv *mockapns.Server, cfg client.HTTP2Config) *client.HTTP2Client {
	GinkgoHelper()
	k := srv.PKI().AuthKey
	p8, err := k.PrivatePEM()
	Expect(err).NotTo(HaveOccurred())
	cfg.Signer, err = client.NewTokenSigner(p8, k.KeyID, k.TeamID, client.TokenOptions{})
	Expect(err).NotTo(HaveOccurred())
	cfg.RootCAs = srv.RootCAs()
	c, err := client.NewHTTP2Client(addr, cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	return c
}

var _ = Describe("HTTP2Client against bad answers", func() {
	answer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("apns-id", "00000000-0000-0000-0000-000000000001")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}

	DescribeTable("turns an unreadable body into a *ResponseError",
		func(ctx SpecContext, status int, body string, disp apns.Disposition) {
			addr, srv := fakeH2(answer(status, body))
			c := fakeClient(addr, srv, client.HTTP2Config{Retry: client.HTTP2Retry{MaxAttempts: 1}})
			r, err := c.Send(ctx, &client.Message{Tokens: tokens(1, 1), Alert: "x", Topic: h2Topic})
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Failed).To(HaveLen(1))
			f := r.Failed[0]
			Expect(f.Outcome).To(MatchError(client.ErrMalformedResponse))
			var re *client.ResponseError
			Expect(errors.As(f.Outcome, &re)).To(BeTrue())
			Expect(re.HTTPStatus).To(Equal(status))
			Expect(f.Outcome.Disposition()).To(Equal(disp))
			Expect(f.HTTPStatus).To(Equal(status))
			Expect(f.APNsID).To(Equal("00000000-0000-0000-0000-000000000001"))
		},
		Entry("not JSON", 400, "<html>", apns.DropMessage),
		Entry("truncated JSON", 400, `{"reason":"BadDev`, apns.DropMessage),
		Entry("no reason", 400, `{"timestamp":1}`, apns.DropMessage),
		Entry("empty body", 503, ``, apns.Retry),
		Entry("a bad timestamp", 410, `{"reason":"Unregistered","timestamp":"soon"}`, apns.DropMessage),
		Entry("too long", 400, `{"reason":"`+string(make([]byte, 5000))+`"}`, apns.DropMessage),
	)

	It("keeps an unknown reason as it came", func(ctx SpecContext) {
		addr, srv := fakeH2(answer(400, `{"reason":"SomethingNew"}`))
		c := fakeClient(addr, srv, client.HTTP2Config{})
		r, err := c.Send(ctx, &client.Message{Tokens: tokens(1, 1), Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Failed).To(HaveLen(1))
		Expect(r.Failed[0].Outcome).To(Equal(apns.Reason("SomethingNew")))
		Expect(r.Responses[0].Attempts).To(Equal(1), "an unknown reason is fixed before retrying")
	})

	It("turns a body cut off by a stream reset into a *ResponseError", func(ctx SpecContext) {
		addr, srv := fakeH2(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"reason":`))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		})
		c := fakeClient(addr, srv, client.HTTP2Config{})
		r, err := c.Send(ctx, &client.Message{Tokens: tokens(1, 1), Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Failed).To(HaveLen(1))
		Expect(r.Failed[0].Outcome).To(MatchError(client.ErrMalformedResponse))
	})

	It("gives up on a server that never answers after RequestTimeout, the token to retry and uncertain", func(ctx SpecContext) {
		release := make(chan struct{})
		DeferCleanup(func() { close(release) })
		addr, srv := fakeH2(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		c := fakeClient(addr, srv, client.HTTP2Config{RequestTimeout: 200 * time.Millisecond})
		toks := tokens(1, 2)
		r, err := c.Send(ctx, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(BeZero())
		Expect(r.Errors).To(HaveLen(2))
		for _, err := range r.Errors {
			Expect(err).To(MatchError(client.ErrRequestTimeout))
			var re *client.RequestError
			Expect(errors.As(err, &re)).To(BeTrue())
		}
		Expect(r.Retry()).NotTo(BeNil())
		Expect(r.Retry().Tokens).To(Equal(toks))
		Expect(r.Retry().Topic).To(Equal(h2Topic))
		Expect(r.Uncertain).To(ConsistOf(toks))
	})

	It("reports ctx ending as the caller's error, not a timeout", func() {
		release := make(chan struct{})
		DeferCleanup(func() { close(release) })
		started := make(chan struct{}, 1)
		addr, srv := fakeH2(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		c := fakeClient(addr, srv, client.HTTP2Config{})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-started
			cancel()
		}()
		r, err := c.Send(ctx, &client.Message{Tokens: tokens(1, 1), Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Errors).To(HaveLen(1))
		Expect(r.Errors[0]).To(MatchError(context.Canceled))
		Expect(r.Errors[0]).NotTo(MatchError(client.ErrRequestTimeout))
	})
})

var _ = Describe("HTTP2Client's provider tokens", func() {
	It("refreshes the JWT on the shared clock before it expires, without TooManyProviderTokenUpdates", func(ctx SpecContext) {
		clk := newFakeClock()
		clk.now = time.Now()
		e := newH2Env(client.HTTP2Config{}, mockapns.Config{Clock: clk.Now})
		send := func() *client.Result {
			GinkgoHelper()
			r, err := e.c.Send(ctx, &client.Message{Tokens: tokens(1, 5), Alert: "x", Topic: h2Topic})
			Expect(err).NotTo(HaveOccurred())
			return r
		}
		for _, step := range []struct {
			advance time.Duration
			minted  int
		}{{0, 1}, {30 * time.Minute, 1}, {19 * time.Minute, 1}, {time.Minute, 2}, {49 * time.Minute, 2}, {time.Minute, 3}} {
			clk.Advance(step.advance)
			r := send()
			Expect(r.Failed).To(BeEmpty(), "after %v", step.advance)
			Expect(r.Accepted).To(Equal(5))
			Expect(e.signer.Minted()).To(Equal(step.minted))
		}
		_, ref := e.h2Counts()
		Expect(ref).To(BeEmpty())
	})

	It("gets ExpiredProviderToken from a token older than an hour, and reports it", func(ctx SpecContext) {
		clk := newFakeClock()
		clk.now = time.Now()
		srv := mockapns.NewServer(mockapns.Config{Clock: func() time.Time { return clk.Now().Add(61 * time.Minute) }})
		DeferCleanup(srv.Close)
		k := srv.PKI().AuthKey
		p8, err := k.PrivatePEM()
		Expect(err).NotTo(HaveOccurred())
		signer, err := client.NewTokenSigner(p8, k.KeyID, k.TeamID, client.TokenOptions{Clock: clk.Now})
		Expect(err).NotTo(HaveOccurred())
		c, err := client.NewHTTP2Client(srv.HTTP2Addr(), client.HTTP2Config{Signer: signer, RootCAs: srv.RootCAs(), Retry: fastRetry})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		r, err := c.Send(ctx, &client.Message{Tokens: tokens(1, 1), Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Failed).To(HaveLen(1))
		Expect(errors.Is(r.Failed[0].Outcome, apns.ReasonExpiredProviderToken)).To(BeTrue())
		Expect(r.Failed[0].HTTPStatus).To(Equal(403))
	})
})

var _ = Describe("HTTP2Client after ExpiredProviderToken", func() {
	It("mints a fresh token for the retry when the expired one is at least 20 minutes old", func(ctx SpecContext) {
		clk := newFakeClock()
		clk.now = time.Now()
		var ahead time.Duration
		var mu sync.Mutex
		srv := mockapns.NewServer(mockapns.Config{Clock: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return clk.Now().Add(ahead)
		}})
		DeferCleanup(srv.Close)
		k := srv.PKI().AuthKey
		p8, err := k.PrivatePEM()
		Expect(err).NotTo(HaveOccurred())
		e := &h2Env{srv: srv}
		e.signer, err = client.NewTokenSigner(p8, k.KeyID, k.TeamID, client.TokenOptions{Clock: clk.Now})
		Expect(err).NotTo(HaveOccurred())
		e.c, err = client.NewHTTP2Client(srv.HTTP2Addr(), client.HTTP2Config{Signer: e.signer, RootCAs: srv.RootCAs(), Retry: fastRetry})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(e.c.Close)
		r, err := e.c.Send(ctx, &client.Message{Tokens: tokens(1, 1), Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(1))
		mu.Lock()
		ahead = 20 * time.Minute // the server's clock runs ahead: the 45-minute-old token is 65 minutes old there
		mu.Unlock()
		clk.Advance(45 * time.Minute)
		r, err = e.c.Send(ctx, &client.Message{Tokens: tokens(2, 1), Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Failed).To(BeEmpty())
		Expect(r.Accepted).To(Equal(1))
		Expect(r.Responses[0].Attempts).To(Equal(2))
		Expect(e.signer.Minted()).To(Equal(2))
		_, ref := e.h2Counts()
		Expect(ref).To(HaveLen(1))
		en := e.srv.Notifications(mockapns.Filter{Protocol: apns.HTTP2, Status: mockapns.Rejected})
		Expect(en).To(HaveLen(1))
		Expect(en[0].Reason).To(Equal(apns.ReasonExpiredProviderToken))
	})
})
