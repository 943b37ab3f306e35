package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// freezer is a TCP relay in front of a server that can stop passing the
// client's bytes on: what the client writes is then read and dropped.
type freezer struct {
	ln       net.Listener
	target   string
	frozen   atomic.Bool
	upBytes  atomic.Int64  // client → server bytes passed on
	closedUp chan struct{} // the client closed its side
	once     sync.Once
}

func newFreezer(target string) *freezer {
	GinkgoHelper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	f := &freezer{ln: ln, target: target, closedUp: make(chan struct{})}
	DeferCleanup(ln.Close)
	go f.serve()
	return f
}

func (f *freezer) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", f.target)
		if err != nil {
			c.Close()
			continue
		}
		go func() { // server → client
			_, _ = io.Copy(c, s)
			c.Close()
		}()
		go func() { // client → server, dropped while frozen
			defer s.Close()
			defer f.once.Do(func() { close(f.closedUp) })
			buf := make([]byte, 32<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 && !f.frozen.Load() {
					f.upBytes.Add(int64(n))
					if _, werr := s.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

func (f *freezer) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, f.ln.Addr().String())
}

var _ = Describe("HTTP2Client's connections", func() {
	It("spreads a batch over up to Connections connections, each token accepted once", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{Connections: 3}, mockapns.Config{})
		toks := tokens(1, 600)
		r, err := e.c.Send(ctx, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Errors).To(BeEmpty())
		Expect(r.Accepted).To(Equal(600))
		acc, _ := e.h2Counts()
		Expect(acc).To(Equal(ones(toks)))
		// Each connection starts with a single stream (no valid token
		// yet), so the burst needs more than one; never more than three.
		Expect(e.srv.Stats().HTTP2.ConnectionsTotal).To(BeNumerically("~", 2.5, 0.5))
	})

	It("refuses a negative Connections or PingTimeout", func() {
		for _, cfg := range []client.HTTP2Config{{Connections: -1}, {PingTimeout: -time.Second}} {
			cfg.Certificate = &client.Certificate{}
			_, err := client.NewHTTP2Client("127.0.0.1:1", cfg)
			Expect(err).To(MatchError(client.ErrBadConfig))
		}
	})

	It("ends requests a GOAWAY refuses for a reason not to retry with a *GoAwayError, nothing sent", func(ctx SpecContext) {
		srv := mockapns.NewServer(mockapns.Config{Environment: certs.Production})
		DeferCleanup(srv.Close)
		cert, err := client.NewCertificate(srv.PKI().Client.TLS) // a sandbox certificate
		Expect(err).NotTo(HaveOccurred())
		c, err := client.NewHTTP2Client(srv.HTTP2Addr(), client.HTTP2Config{Certificate: cert, RootCAs: srv.RootCAs()})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		toks := tokens(1, 3)
		r, err := c.Send(ctx, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Errors).To(HaveLen(3))
		for _, err := range r.Errors {
			var ge *client.GoAwayError
			Expect(errors.As(err, &ge)).To(BeTrue(), "%v", err)
			Expect(ge.Reason).To(Equal(apns.ReasonBadCertificateEnvironment))
			Expect(err).To(MatchError(client.ErrCertificateRefused))
			Expect(err).To(MatchError(client.ErrConnect))
			Expect(err).To(MatchError(apns.ReasonBadCertificateEnvironment))
		}
		Expect(r.Sent).To(BeZero())
		Expect(r.Uncertain).To(BeEmpty())
		Expect(r.Retry().Tokens).To(Equal(toks))
		Expect(srv.Notifications(mockapns.Filter{Protocol: apns.HTTP2})).To(BeEmpty())
	})

	It("opens no other connection once a GOAWAY refused its certificate: later requests end with the same error", func(ctx SpecContext) {
		srv := mockapns.NewServer(mockapns.Config{Environment: certs.Production})
		DeferCleanup(srv.Close)
		cert, err := client.NewCertificate(srv.PKI().Client.TLS) // a sandbox certificate
		Expect(err).NotTo(HaveOccurred())
		c, err := client.NewHTTP2Client(srv.HTTP2Addr(), client.HTTP2Config{Certificate: cert, RootCAs: srv.RootCAs()})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		for i := range 5 {
			toks := tokens(20*i+1, 20)
			r, err := c.Send(ctx, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic})
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Errors).To(HaveLen(len(toks)))
			for _, err := range r.Errors {
				Expect(err).To(MatchError(apns.ReasonBadCertificateEnvironment))
				Expect(err).To(MatchError(client.ErrCertificateRefused))
			}
			Expect(r.Sent).To(BeZero())
			Expect(r.Retry().Tokens).To(Equal(toks))
		}
		Expect(srv.Stats().HTTP2.ConnectionsTotal).To(Equal(uint64(1)), "one connection, refused; none after it")
		Expect(srv.Stats().HTTP2.GoAways).To(Equal(uint64(1)))
	})

	It("keeps an idle connection with PINGs", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{}, mockapns.Config{})
		f := newFreezer(e.srv.HTTP2Addr())
		c, err := client.NewHTTP2Client(e.srv.HTTP2Addr(), client.HTTP2Config{Signer: e.signer, RootCAs: e.srv.RootCAs(),
			DialContext: f.dial, IdleTimeout: 50 * time.Millisecond, PingTimeout: 5 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		r, err := c.Send(ctx, &client.Message{Tokens: tokens(1, 1), Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(1))
		idle := f.upBytes.Load()
		// Nothing is sent, yet the client writes: its PINGs (17 bytes
		// each, in TLS records), answered, so the connection stays.
		Eventually(f.upBytes.Load).WithTimeout(5 * time.Second).Should(BeNumerically(">", idle+100))
		r, err = c.Send(ctx, &client.Message{Tokens: tokens(2, 1), Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(1))
		Expect(e.srv.Stats().HTTP2.ConnectionsTotal).To(BeEquivalentTo(1))
	})

	It("gives up a connection whose PING goes unanswered, and sends on a new one", func(ctx SpecContext) {
		e := newH2Env(client.HTTP2Config{}, mockapns.Config{})
		f := newFreezer(e.srv.HTTP2Addr())
		c, err := client.NewHTTP2Client(e.srv.HTTP2Addr(), client.HTTP2Config{Signer: e.signer, RootCAs: e.srv.RootCAs(),
			DialContext: f.dial, IdleTimeout: 50 * time.Millisecond, PingTimeout: 200 * time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		r, err := c.Send(ctx, &client.Message{Tokens: tokens(1, 1), Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(1))
		f.frozen.Store(true) // the server hears nothing more from this connection
		Eventually(f.closedUp).WithTimeout(5 * time.Second).Should(BeClosed())
		f.frozen.Store(false)
		r, err = c.Send(ctx, &client.Message{Tokens: tokens(2, 1), Alert: "x", Topic: h2Topic})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(1))
		Expect(e.srv.Stats().HTTP2.ConnectionsTotal).To(BeEquivalentTo(2))
	})
})
