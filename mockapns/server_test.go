package mockapns_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// records returns the JSON log records with the given message.
func (l *logBuffer) records(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(l.buf.Bytes(), []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(line, &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

var _ = Describe("Server", func() {
	It("refuses to start on a busy address, and NewServer panics", func() {
		srv := startServer(mockapns.Config{})
		_, err := mockapns.Start(mockapns.Config{GatewayAddr: srv.GatewayAddr()})
		Expect(err).To(HaveOccurred())
		_, err = mockapns.Start(mockapns.Config{FeedbackAddr: srv.FeedbackAddr()})
		Expect(err).To(HaveOccurred())
		Expect(func() { mockapns.NewServer(mockapns.Config{GatewayAddr: srv.GatewayAddr()}) }).
			To(PanicWith(HavePrefix("mockapns: cannot start: gateway:")))
	})

	It("uses the PKI it is given", func() {
		srv := startServer(mockapns.Config{})
		other := startServer(mockapns.Config{PKI: srv.PKI()})
		Expect(other.PKI()).To(BeIdenticalTo(srv.PKI()))
		conn := dial(srv, other.GatewayAddr())
		send(conn, framed(1, token(1), payload))
		Expect(conn.CloseWrite()).To(Succeed())
		expectClosedWith(conn, nil)
		Expect(other.Stats().Accepted).To(BeEquivalentTo(1))
	})

	It("logs through the injected logger with the connection's attributes", func() {
		logs := &logBuffer{}
		srv := startServer(mockapns.Config{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(5, nil, payload))
		expectClosedWith(conn, response(wire.StatusMissingToken, 5))
		recs := logs.records("mockapns refused notification")
		Expect(recs).To(HaveLen(1))
		Expect(recs[0]).To(HaveKeyWithValue("conn", BeEquivalentTo(1)))
		Expect(recs[0]).To(HaveKeyWithValue("service", "gateway"))
		Expect(recs[0]).To(HaveKeyWithValue("remote", conn.LocalAddr().String()))
		Expect(recs[0]).To(HaveKeyWithValue("status", BeEquivalentTo(2)))
		Expect(recs[0]).To(HaveKeyWithValue("id", BeEquivalentTo(5)))
	})

	It("reports connection events to OnConn", func() {
		events := make(chan mockapns.ConnEvent, 16)
		srv := startServer(mockapns.Config{OnConn: func(e mockapns.ConnEvent) { events <- e }})
		conn := dial(srv, srv.GatewayAddr())
		var e mockapns.ConnEvent
		Eventually(events).Should(Receive(&e))
		Expect(e).To(And(HaveField("Kind", mockapns.ConnOpened), HaveField("Service", "gateway"),
			HaveField("Conn", BeEquivalentTo(1)), HaveField("Remote", conn.LocalAddr().String())))
		send(conn, framed(1, nil, payload))
		expectClosedWith(conn, response(wire.StatusMissingToken, 1))
		Expect(conn.Close()).To(Succeed())
		Eventually(events).Should(Receive(&e))
		Expect(e).To(And(HaveField("Kind", mockapns.ConnClosed), HaveField("Reason", "error response")))
		Expect(e.Kind.String()).To(Equal("closed"))

		refused, err := tls.Dial("tcp", srv.FeedbackAddr(), &tls.Config{RootCAs: srv.RootCAs(), MinVersion: tls.VersionTLS13})
		if err == nil {
			DeferCleanup(func() { _ = refused.Close() })
			// TLS 1.3: the refusal surfaces server-side only; wait for it.
			Eventually(func() uint64 { return srv.Stats().HandshakesFailed }).Should(BeEquivalentTo(1))
		}
		Eventually(events).Should(Receive(&e))
		Expect(e).To(And(HaveField("Kind", mockapns.ConnHandshakeFailed), HaveField("Service", "feedback")))
		Expect(e.Err).To(HaveOccurred())
	})

	It("does not count frames it cannot delimit after an unknown command", func() {
		srv := startServer(mockapns.Config{})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat([]byte{9}, framed(1, token(1), payload), framed(2, token(1), payload)))
		expectClosedWith(conn, response(wire.StatusProtocolError, 0))
		Expect(conn.Close()).To(Succeed()) // ends the gateway's linger
		Eventually(func() int64 { return srv.Stats().ConnectionsOpen }).Should(BeZero())
		st := srv.Stats()
		Expect(st.Discarded).To(BeZero())
		Expect(st.Rejected).To(BeEquivalentTo(1))
		Expect(st.Accepted).To(BeZero())
		es := srv.Notifications(mockapns.Filter{})
		Expect(es).To(HaveLen(1))
		Expect(es[0].Command).To(BeEquivalentTo(9))
		Expect(es[0].Status).To(Equal(int(wire.StatusProtocolError)))
	})
})

var _ = Describe("Config", func() {
	It("accepts the zero value and documented special values", func() {
		Expect(mockapns.Config{}.Validate()).To(Succeed())
		Expect(mockapns.Config{GatewayAddr: "127.0.0.1:0", FeedbackAddr: "localhost:2196", JournalSize: 1,
			ErrorLinger: time.Millisecond, Limits: wire.Limits{TokenLength: -1, MaxPayload: 65535},
			Faults: []mockapns.Fault{mockapns.Shutdown{}}}.Validate()).To(Succeed())
		Expect(mockapns.Config{Limits: wire.Limits{TokenLength: wire.MaxTokenLength}}.Validate()).To(Succeed())
	})

	DescribeTable("refuses what is out of range, naming the field, and Start refuses it too",
		func(cfg mockapns.Config, field string) {
			err := cfg.Validate()
			Expect(err).To(MatchError(mockapns.ErrBadConfig))
			Expect(err.Error()).To(ContainSubstring(field))
			srv, err := mockapns.Start(cfg)
			Expect(srv).To(BeNil())
			Expect(err).To(MatchError(mockapns.ErrBadConfig))
		},
		Entry("a gateway address without a port", mockapns.Config{GatewayAddr: "127.0.0.1"}, "GatewayAddr"),
		Entry("a feedback address without a port", mockapns.Config{FeedbackAddr: "nowhere"}, "FeedbackAddr"),
		Entry("a negative journal size", mockapns.Config{JournalSize: -1}, "JournalSize"),
		Entry("a negative linger", mockapns.Config{ErrorLinger: -time.Second}, "ErrorLinger"),
		Entry("a token length below -1", mockapns.Config{Limits: wire.Limits{TokenLength: -2}}, "TokenLength"),
		Entry("a token length over the maximum", mockapns.Config{Limits: wire.Limits{TokenLength: wire.MaxTokenLength + 1}}, "TokenLength"),
		Entry("a negative payload limit", mockapns.Config{Limits: wire.Limits{MaxPayload: -1}}, "MaxPayload"),
		Entry("a payload limit over 16 bits", mockapns.Config{Limits: wire.Limits{MaxPayload: 65536}}, "MaxPayload"),
		Entry("a bad fault", mockapns.Config{Faults: []mockapns.Fault{mockapns.Shutdown{}, mockapns.Reject{}}}, "Faults[1]"),
	)

	It("wraps ErrBadFault as well for a bad fault", func() {
		err := mockapns.Config{Faults: []mockapns.Fault{mockapns.Delay{}}}.Validate()
		Expect(err).To(MatchError(mockapns.ErrBadFault))
		Expect(err).To(MatchError(mockapns.ErrBadConfig))
	})
})
