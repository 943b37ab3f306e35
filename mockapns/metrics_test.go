package mockapns_test

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// scrape reads GET /metrics and parses it with the Prometheus text parser.
func scrape(ts *httptest.Server, header map[string]string) map[string]*dto.MetricFamily {
	GinkgoHelper()
	a := callWith(ts, http.MethodGet, "/metrics", "", header)
	Expect(a.status).To(Equal(http.StatusOK), "body: %s", a.body)
	Expect(a.header.Get("Content-Type")).To(HavePrefix("text/plain; version=0.0.4"))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(a.body))
	Expect(err).NotTo(HaveOccurred(), "body: %s", a.body)
	return fams
}

// labelsOf returns the labels of m as a map.
func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// sample is the value of the sample of family name whose labels include
// want (summed over the samples that match), and the number matched.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, int) {
	f := fams[name]
	if f == nil {
		return 0, 0
	}
	var sum float64
	n := 0
	for _, m := range f.GetMetric() {
		l := labelsOf(m)
		ok := true
		for k, v := range want {
			if l[k] != v {
				ok = false
			}
		}
		if !ok {
			continue
		}
		n++
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, n
}

// value is sample's value as a count.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) uint64 {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	v, _ := sample(fams, name, want)
	return uint64(v)
}

// statsOf rebuilds the Stats of GET /api/v1/stats from the metrics.
func statsOf(f map[string]*dto.MetricFamily) mockapns.Stats {
	const n = "mockapns_notifications_total"
	st := mockapns.Stats{
		ConnectionsTotal:    value(f, "mockapns_connections_total", "service", "gateway"),
		ConnectionsOpen:     int64(value(f, "mockapns_connections_open", "service", "gateway")),
		HandshakesFailed:    value(f, "mockapns_handshakes_failed_total"),
		ConnectionsRefused:  value(f, "mockapns_connections_refused_total"),
		Accepted:            value(f, n, "outcome", "accepted"),
		Rejected:            value(f, n, "outcome", "rejected"),
		Discarded:           value(f, "mockapns_binary_frames_discarded_total"),
		FeedbackServed:      value(f, "mockapns_feedback_tuples_served_total"),
		FeedbackConnections: value(f, "mockapns_connections_total", "service", "feedback"),
		Binary: mockapns.BinaryStats{
			Accepted: value(f, n, "protocol", "binary", "outcome", "accepted"),
			Rejected: value(f, n, "protocol", "binary", "outcome", "rejected"),
		},
		HTTP2: mockapns.HTTP2Stats{
			ConnectionsTotal: value(f, "mockapns_connections_total", "service", "http2"),
			ConnectionsOpen:  int64(value(f, "mockapns_connections_open", "service", "http2")),
			Requests:         value(f, n, "protocol", "http2"),
			Accepted:         value(f, n, "protocol", "http2", "outcome", "accepted"),
			Rejected:         value(f, n, "protocol", "http2", "outcome", "rejected"),
			GoAways:          value(f, "mockapns_http2_goaways_total"),
			StreamsRefused:   value(f, "mockapns_http2_streams_refused_total"),
			StreamsPeak:      value(f, "mockapns_http2_streams_peak"),
			Pings:            value(f, "mockapns_http2_pings_total"),
		},
		JournalFileErrors: value(f, "mockapns_journal_file_errors_total"),
	}
	return st
}

var _ = Describe("Prometheus metrics (GET /metrics)", func() {
	var (
		srv *mockapns.Server
		ts  *httptest.Server
	)

	BeforeEach(func() {
		srv = startServer(mockapns.Config{JournalSize: 5})
		ts = httptest.NewServer(srv.Handler())
		DeferCleanup(ts.Close)
	})

	It("agrees with /api/v1/stats after pushes over both protocols with rejects, faults and a failed handshake", func() {
		// Binary: a reject fault on token 5 (status 7), then 2 accepted, the
		// faulted one, and one after it that is discarded.
		addFault(srv, mockapns.Reject{Status: wire.StatusInvalidPayloadSize, When: mockapns.Trigger{Token: tokenOf(token(5))}})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(framed(1, token(1), payload), framed(2, token(2), payload), framed(3, token(5), payload), framed(4, token(1), payload)))
		expectClosedWith(conn, response(wire.StatusInvalidPayloadSize, 3))
		// Binary: a bad token size (status 5) on another connection.
		conn = dial(srv, srv.GatewayAddr())
		send(conn, concat(framed(5, token(1), payload), badTokenSize(6)))
		expectClosedWith(conn, response(wire.StatusInvalidTokenSize, 6))

		// HTTP/2: a reject fault on the second request, and a bad token.
		addFault(srv, mockapns.Reject{Reason: apns.ReasonBadDeviceToken, When: mockapns.Trigger{Nth: 2}})
		c := srv.HTTP2Client()
		DeferCleanup(closeClient, c)
		auth := bearer(srv) // one token: a new one per request is TooManyProviderTokenUpdates
		for i, want := range []int{200, 400, 200} {
			status, _, body := h2Post(c, srv, h2Hex(byte(0x10+i)), payload, "authorization", auth, "apns-topic", h2Topic)
			Expect(status).To(Equal(want), body)
		}
		status, _, _ := h2Post(c, srv, "abcd", payload, "authorization", auth, "apns-topic", h2Topic)
		Expect(status).To(Equal(http.StatusBadRequest))

		// A failed handshake: bytes that are not TLS.
		raw, err := net.Dial("tcp", srv.GatewayAddr())
		Expect(err).NotTo(HaveOccurred())
		_, _ = raw.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		_ = raw.Close()
		Eventually(func() uint64 { return srv.Stats().HandshakesFailed }).WithTimeout(ioTimeout).Should(Equal(uint64(1)))
		Eventually(func() int64 { return srv.Stats().ConnectionsOpen }).WithTimeout(ioTimeout).Should(BeZero())

		Expect(srv.QueueFeedback(wire.FeedbackTuple{Token: token(9)}, wire.FeedbackTuple{Token: token(8)})).To(Succeed())

		a := call(ts, http.MethodGet, "/api/v1/stats", "")
		var want mockapns.Stats
		expectJSON(a, http.StatusOK, &want)
		fams := scrape(ts, nil)
		Expect(cmp.Diff(want, statsOf(fams))).To(BeEmpty())
		Expect(want.Binary).To(Equal(mockapns.BinaryStats{Accepted: 3, Rejected: 2}))
		Expect(want.HTTP2.Accepted).To(Equal(uint64(2)))
		Expect(want.HTTP2.Rejected).To(Equal(uint64(2)))
		Expect(want.Discarded).To(Equal(uint64(1)))

		// By status and reason.
		const n = "mockapns_notifications_total"
		Expect(value(fams, n, "protocol", "binary", "status", "0", "reason", "")).To(Equal(uint64(3)))
		Expect(value(fams, n, "protocol", "binary", "status", "7", "reason", "invalid payload size", "outcome", "rejected")).To(Equal(uint64(1)))
		Expect(value(fams, n, "protocol", "binary", "status", "5", "reason", "invalid token size")).To(Equal(uint64(1)))
		Expect(value(fams, n, "protocol", "http2", "status", "200", "outcome", "accepted")).To(Equal(uint64(2)))
		Expect(value(fams, n, "protocol", "http2", "status", "400", "reason", "BadDeviceToken")).To(Equal(uint64(2)))

		// The histogram counts every notification judged, once.
		for _, p := range []struct {
			name     string
			accepted uint64
			rejected uint64
		}{{"binary", want.Binary.Accepted, want.Binary.Rejected}, {"http2", want.HTTP2.Accepted, want.HTTP2.Rejected}} {
			v, count := sample(fams, "mockapns_ingest_latency_seconds", map[string]string{"protocol": p.name})
			Expect(count).To(Equal(1))
			Expect(uint64(v)).To(Equal(p.accepted+p.rejected), p.name)
		}
		h := fams["mockapns_ingest_latency_seconds"].GetMetric()[0].GetHistogram()
		Expect(h.GetSampleSum()).To(BeNumerically(">", 0))
		buckets := h.GetBucket()
		Expect(buckets[len(buckets)-1].GetCumulativeCount()).To(BeNumerically("<=", h.GetSampleCount()))

		Expect(value(fams, "mockapns_faults_fired_total", "kind", "reject")).To(Equal(uint64(2)))
		Expect(value(fams, "mockapns_faults_installed")).To(Equal(uint64(2)))
		Expect(value(fams, "mockapns_feedback_queue_length")).To(Equal(uint64(2)))
		Expect(value(fams, "mockapns_feedback_queue_capacity")).To(Equal(uint64(mockapns.DefaultFeedbackMax)))
		Expect(value(fams, "mockapns_journal_entries")).To(Equal(uint64(5)))
		Expect(value(fams, "mockapns_journal_capacity")).To(Equal(uint64(5)))
		Expect(value(fams, "mockapns_journal_dropped_total")).To(Equal(uint64(4)), "9 journalled, 5 kept")
		Expect(fams).NotTo(HaveKey("go_goroutines"), "no process metrics unless asked")
		for name, f := range fams {
			Expect(f.GetHelp()).NotTo(BeEmpty(), name)
		}

		// A fault removed still counts; Reset zeroes the counts.
		srv.ClearFaults()
		fams = scrape(ts, nil)
		Expect(value(fams, "mockapns_faults_fired_total", "kind", "reject")).To(Equal(uint64(2)))
		srv.Reset()
		fams = scrape(ts, nil)
		Expect(value(fams, n)).To(BeZero())
		Expect(value(fams, "mockapns_ingest_latency_seconds")).To(BeZero())
		Expect(value(fams, "mockapns_faults_fired_total")).To(BeZero())
		Expect(value(fams, "mockapns_journal_dropped_total")).To(BeZero())
	})

	It("is served to any Host and Origin, but wants the bearer token when the server has one", func() {
		tokSrv := startServer(mockapns.Config{Admin: mockapns.AdminConfig{Token: "s3cret", ProcessMetrics: true}})
		tts := httptest.NewServer(tokSrv.Handler())
		DeferCleanup(tts.Close)
		foreign := map[string]string{"Host": "mockapns:8195", "Origin": "https://evil.example"}

		before := stateOf(tokSrv)
		a := callWith(tts, http.MethodGet, "/metrics", "", foreign)
		expectAPIError(a, http.StatusUnauthorized, "bearer token")
		Expect(a.header.Get("WWW-Authenticate")).To(HavePrefix("Bearer"))
		foreign["Authorization"] = "Bearer wrong"
		expectAPIError(callWith(tts, http.MethodGet, "/metrics", "", foreign), http.StatusUnauthorized, "wrong bearer token")

		foreign["Authorization"] = "Bearer s3cret"
		fams := scrape(tts, foreign)
		Expect(fams).To(HaveKey("mockapns_connections_total"))
		Expect(fams).To(HaveKey("go_goroutines"), "ProcessMetrics adds the Go collector")
		Expect(fams).To(HaveKey("process_open_fds"), "ProcessMetrics adds the process collector")

		// The rest of the API still checks Host and Origin; /metrics only
		// for reads.
		expectAPIError(callWith(tts, http.MethodGet, "/api/v1/stats", "", foreign), http.StatusForbidden, "not allowed")
		expectAPIError(callWith(tts, http.MethodPost, "/metrics", "{}", foreign), http.StatusForbidden, "not allowed")
		delete(foreign, "Origin")
		delete(foreign, "Host")
		a = callWith(tts, http.MethodPost, "/metrics", "{}", foreign)
		expectAPIError(a, http.StatusMethodNotAllowed, "/metrics")
		Expect(stateOf(tokSrv)).To(Equal(before))
	})

	It("keeps two servers in one process apart", func() {
		other := startServer(mockapns.Config{})
		ots := httptest.NewServer(other.Handler())
		DeferCleanup(ots.Close)
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(1, token(1), payload))
		waitEntries(srv, 1)
		Expect(value(scrape(ts, nil), "mockapns_notifications_total")).To(Equal(uint64(1)))
		Expect(value(scrape(ots, nil), "mockapns_notifications_total")).To(BeZero())
	})
})
