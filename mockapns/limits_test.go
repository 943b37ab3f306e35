package mockapns_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/http2"

	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
)

// closeReasons collects the reasons of ConnClosed events, by service.
type closeReasons struct {
	mu      sync.Mutex
	reasons []string
	errs    []error
}

func (c *closeReasons) hook(e mockapns.ConnEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch e.Kind {
	case mockapns.ConnClosed:
		c.reasons = append(c.reasons, e.Service+": "+e.Reason)
	case mockapns.ConnHandshakeFailed:
		c.errs = append(c.errs, e.Err)
	}
}

func (c *closeReasons) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.reasons...)
}

func (c *closeReasons) failed() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.errs...)
}

// expectDropped asserts that the server closes conn without writing.
func expectDropped(conn net.Conn) {
	GinkgoHelper()
	b, err := io.ReadAll(conn)
	Expect(b).To(BeEmpty())
	if err != nil {
		Expect(isClosedErr(err)).To(BeTrue(), "read ended with %v", err)
	}
}

var _ = Describe("Connection limits", func() {
	It("closes a gateway connection that reads nothing for IdleTimeout", func() {
		var ev closeReasons
		srv := startServer(mockapns.Config{IdleTimeout: 100 * time.Millisecond, OnConn: ev.hook})
		conn := dial(srv, srv.GatewayAddr())
		expectDropped(conn)
		Eventually(ev.list).Should(ConsistOf("gateway: idle timeout"))
		Expect(srv.Stats().ConnectionsOpen).To(BeZero())
	})

	It("keeps a quiet gateway connection with a negative IdleTimeout until a frame begun times out", func() {
		var ev closeReasons
		srv := startServer(mockapns.Config{IdleTimeout: -1, FrameTimeout: 100 * time.Millisecond, OnConn: ev.hook})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(1, token(1), payload)) // a whole frame: no deadline
		Eventually(func() uint64 { return srv.Stats().Accepted }).Should(BeEquivalentTo(1))
		Consistently(ev.list, 300*time.Millisecond).Should(BeEmpty())
		send(conn, framed(2, token(1), payload)[:10]) // half a frame
		expectDropped(conn)
		Eventually(ev.list).Should(ConsistOf("gateway: frame timeout"))
		Expect(srv.Stats().Accepted).To(BeEquivalentTo(1))
	})

	It("sends an idle HTTP/2 connection GOAWAY IdleTimeout after IdleTimeout, then closes it", func() {
		var ev closeReasons
		srv := startServer(mockapns.Config{IdleTimeout: 100 * time.Millisecond, ErrorLinger: 50 * time.Millisecond, OnConn: ev.hook})
		r := dialH2(srv, srv.HTTP2TLSConfig())
		r.readToClose()
		Expect(r.goaways).To(HaveLen(1))
		Expect(r.goaways[0].code).To(Equal(http2.ErrCodeNo))
		Expect(r.goaways[0].debug).To(MatchJSON(`{"reason":"IdleTimeout"}`))
		Eventually(ev.list).Should(ConsistOf("http2: idle timeout"))
	})

	It("closes an HTTP/2 connection whose frame begun does not arrive whole within FrameTimeout", func() {
		var ev closeReasons
		srv := startServer(mockapns.Config{IdleTimeout: -1, FrameTimeout: 100 * time.Millisecond, OnConn: ev.hook})
		r := dialH2(srv, srv.HTTP2TLSConfig())
		_, err := r.conn.Write([]byte{0, 0, 8, byte(http2.FramePing), 0, 0, 0, 0, 0, 1, 2}) // 3 of 8 payload bytes
		Expect(err).NotTo(HaveOccurred())
		r.readToClose()
		Expect(r.goaways).To(BeEmpty())
		Eventually(ev.list).Should(ConsistOf("http2: frame timeout"))
	})

	It("closes connections beyond MaxConns at accept, counts them, and serves again below the limit", func() {
		srv := startServer(mockapns.Config{MaxConns: 2})
		Expect(srv.MaxConns()).To(Equal(2))
		gw := dial(srv, srv.GatewayAddr())
		h2 := dialH2(srv, srv.HTTP2TLSConfig())
		_ = h2
		// Feedback, the third service, shares the limit: refused.
		_, err := tls.Dial("tcp", srv.FeedbackAddr(), srv.ClientTLSConfig())
		Expect(err).To(HaveOccurred())
		Eventually(func() uint64 { return srv.Stats().ConnectionsRefused }).Should(BeEquivalentTo(1))
		Expect(srv.Stats().HandshakesFailed).To(BeZero())
		Expect(gw.Close()).To(Succeed())
		Eventually(func() error {
			c, err := tls.Dial("tcp", srv.GatewayAddr(), srv.ClientTLSConfig())
			if err == nil {
				_ = c.Close()
			}
			return err
		}).Should(Succeed())
	})

	It("applies the defaults and keeps the limit below the file descriptor limit", func() {
		idle, frame, maxConns := mockapns.LimitsOf(mockapns.Config{}, 0)
		Expect([]any{idle, frame, maxConns}).To(Equal([]any{mockapns.DefaultIdleTimeout, mockapns.DefaultFrameTimeout, int64(mockapns.DefaultMaxConns)}))
		idle, frame, maxConns = mockapns.LimitsOf(mockapns.Config{IdleTimeout: -1, FrameTimeout: -1, MaxConns: -1}, 0)
		Expect([]any{idle, frame, maxConns}).To(Equal([]any{time.Duration(0), time.Duration(0), int64(0)}))
		_, _, maxConns = mockapns.LimitsOf(mockapns.Config{}, 256)
		Expect(maxConns).To(BeEquivalentTo(256 - 64))
		_, _, maxConns = mockapns.LimitsOf(mockapns.Config{MaxConns: -1}, 1024)
		Expect(maxConns).To(BeEquivalentTo(1024 - 64))
		_, _, maxConns = mockapns.LimitsOf(mockapns.Config{MaxConns: 10}, 1024)
		Expect(maxConns).To(BeEquivalentTo(10))
	})
})

// emfileListener fails its first accepts with EMFILE, noting when each
// came, then waits to be closed.
type emfileListener struct {
	fails  int
	mu     sync.Mutex
	at     []time.Time
	closed chan struct{}
	once   sync.Once
}

func (l *emfileListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	l.at = append(l.at, time.Now())
	n := len(l.at)
	l.mu.Unlock()
	if n <= l.fails {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *emfileListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *emfileListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func (l *emfileListener) times() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.at...)
}

var _ = Describe("Accept back-off", func() {
	It("backs off 5 ms doubling on EMFILE and warns once", func() {
		var logs logBuffer
		log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		srv := startServer(mockapns.Config{Logger: log})
		ln := &emfileListener{fails: 5, closed: make(chan struct{})}
		DeferCleanup(ln.Close)
		srv.ServeListener(ln)
		Eventually(func() int { return len(ln.times()) }).Should(Equal(6))
		at := ln.times()
		want := 5 * time.Millisecond
		for i := 1; i < len(at); i++ {
			Expect(at[i].Sub(at[i-1])).To(BeNumerically(">=", want), "pause %d", i)
			want *= 2
		}
		recs := logs.records("mockapns accept failing; backing off")
		Expect(recs).To(HaveLen(1))
		Expect(recs[0]["err"]).To(ContainSubstring("too many open files"))
		Expect(logs.records("mockapns accept failed")).To(BeEmpty())
	})
})

var _ = Describe("Client certificate checks", func() {
	var pki *certs.PKI
	BeforeEach(func() {
		var err error
		pki, err = certs.New(certs.Options{})
		Expect(err).NotTo(HaveOccurred())
	})
	clientConf := func(p certs.Pair) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{p.TLS}, RootCAs: pki.CertPool(), MinVersion: tls.VersionTLS12}
	}
	// handshakeRefused asserts that the gateway refuses cert, counting
	// and reporting the failure with an error wrapping want.
	handshakeRefused := func(cfg mockapns.Config, addr func(*mockapns.Server) string, cert certs.Pair, want error) {
		GinkgoHelper()
		var ev closeReasons
		cfg.PKI, cfg.OnConn = pki, ev.hook
		srv := startServer(cfg)
		conn, err := tls.Dial("tcp", addr(srv), clientConf(cert))
		if err == nil { // TLS 1.3: the refusal comes with the first read
			DeferCleanup(conn.Close)
			Expect(conn.SetDeadline(time.Now().Add(ioTimeout))).To(Succeed())
			_, err = conn.Read(make([]byte, 1))
		}
		Expect(err).To(HaveOccurred())
		Eventually(func() uint64 { return srv.Stats().HandshakesFailed }).Should(BeEquivalentTo(1))
		Expect(ev.failed()).To(HaveLen(1))
		Expect(errors.Is(ev.failed()[0], want)).To(BeTrue(), "%v", ev.failed()[0])
	}
	gateway := (*mockapns.Server).GatewayAddr
	feedback := (*mockapns.Server).FeedbackAddr

	It("lets a client that wrote before it read get the refusal's alert, not a reset, on every listener", func(ctx SpecContext) {
		other, err := certs.New(certs.Options{}) // a client certificate of another CA
		Expect(err).NotTo(HaveOccurred())
		srv := startServer(mockapns.Config{PKI: pki})
		for _, addr := range []string{srv.GatewayAddr(), srv.FeedbackAddr(), srv.HTTP2Addr()} {
			failed := srv.Stats().HandshakesFailed
			conn, err := tls.Dial("tcp", addr, &tls.Config{Certificates: []tls.Certificate{other.Client.TLS},
				RootCAs: pki.CertPool(), MinVersion: tls.VersionTLS13, NextProtos: []string{"h2"}})
			Expect(err).NotTo(HaveOccurred(), addr) // TLS 1.3: the client's side is done
			DeferCleanup(conn.Close)
			_, err = conn.Write(make([]byte, 64<<10)) // what the server will never read
			Expect(err).NotTo(HaveOccurred(), addr)
			// Until the server has refused the handshake and ended the
			// connection: a reset by then would drop the alert unread.
			Eventually(func() uint64 { return srv.Stats().HandshakesFailed }).WithContext(ctx).Should(Equal(failed + 1))
			Eventually(func() int64 { return srv.Stats().ConnectionsOpen }).WithContext(ctx).WithTimeout(5 * time.Second).Should(BeZero())
			Expect(conn.SetDeadline(time.Now().Add(ioTimeout))).To(Succeed())
			_, err = conn.Read(make([]byte, 1))
			var oe *net.OpError
			Expect(errors.As(err, &oe)).To(BeTrue(), "%s: %v", addr, err)
			Expect(oe.Op).To(Equal("remote error"), "%s: the alert, not %v", addr, err)
		}
	})

	It("refuses a CA certificate as a client certificate, on every listener", func() {
		ca, err := pki.IssueClient(certs.ClientOptions{CA: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(ca.Cert.IsCA).To(BeTrue())
		handshakeRefused(mockapns.Config{}, gateway, ca, mockapns.ErrClientCertCA)
		handshakeRefused(mockapns.Config{}, (*mockapns.Server).HTTP2Addr, ca, mockapns.ErrClientCertCA)
	})

	It("refuses a client certificate whose extended key usages leave out client authentication", func() {
		srvOnly, err := pki.IssueClient(certs.ClientOptions{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		Expect(err).NotTo(HaveOccurred())
		srv := startServer(mockapns.Config{PKI: pki})
		conn, err := tls.Dial("tcp", srv.GatewayAddr(), clientConf(srvOnly))
		if err == nil {
			DeferCleanup(conn.Close)
			Expect(conn.SetDeadline(time.Now().Add(ioTimeout))).To(Succeed())
			_, err = conn.Read(make([]byte, 1))
		}
		Expect(err).To(HaveOccurred())
		Eventually(func() uint64 { return srv.Stats().HandshakesFailed }).Should(BeEquivalentTo(1))
	})

	It("with StrictCerts refuses a production certificate on the sandbox gateway and feedback service, with the reason", func() {
		prod, err := pki.IssueClient(certs.ClientOptions{Environment: certs.Production})
		Expect(err).NotTo(HaveOccurred())
		handshakeRefused(mockapns.Config{StrictCerts: true}, gateway, prod, mockapns.ErrClientCertEnvironment)
		handshakeRefused(mockapns.Config{StrictCerts: true}, feedback, prod, mockapns.ErrClientCertEnvironment)
		none, err := pki.IssueClient(certs.ClientOptions{NoEnvironment: true})
		Expect(err).NotTo(HaveOccurred())
		handshakeRefused(mockapns.Config{StrictCerts: true, Environment: certs.Production}, gateway, none, mockapns.ErrClientCertEnvironment)
	})

	It("with StrictCerts accepts certificates of its environment, universal ones too; without, any push certificate", func() {
		uni, err := pki.IssueClient(certs.ClientOptions{Environment: certs.Universal})
		Expect(err).NotTo(HaveOccurred())
		prod, err := pki.IssueClient(certs.ClientOptions{Environment: certs.Production})
		Expect(err).NotTo(HaveOccurred())
		for _, c := range []struct {
			cfg  mockapns.Config
			cert certs.Pair
		}{
			{mockapns.Config{StrictCerts: true}, pki.Client},
			{mockapns.Config{StrictCerts: true}, uni},
			{mockapns.Config{StrictCerts: true, Environment: certs.Production}, prod},
			{mockapns.Config{}, prod},
		} {
			c.cfg.PKI = pki
			srv := startServer(c.cfg)
			conn := dialWith(srv.GatewayAddr(), clientConf(c.cert))
			send(conn, framed(1, token(1), payload))
			Eventually(func() uint64 { return srv.Stats().Accepted }).Should(BeEquivalentTo(1))
			Expect(srv.Stats().HandshakesFailed).To(BeZero())
		}
	})
})
