package mockapns

// Prometheus metrics: GET /metrics on the admin handler, and
// Server.Collector for a registry of one's own.
//
// Every metric is read when scraped from counters the server keeps
// anyway: the atomics of Stats, and the counts the journal keeps under
// its lock as it appends (journal_metrics.go). Nothing is added to the
// ingest path per notification but, under the journal lock it already
// holds, a status count and a histogram bucket (per read's batch on the
// binary side, per request on HTTP/2).
//
// Ingest latency (mockapns_ingest_latency_seconds) is the time the mock
// takes to judge a notification: from the moment it has the notification
// whole — binary: the read that completed the frame returned (or a delay
// fault's stall ended); HTTP/2: the request's END_STREAM was read — to the
// moment its outcome is journalled, just before the binary error response
// or the HTTP/2 response is handed to the writer. It covers parsing,
// validation, faults, device state and the wait for the journal's lock;
// not the network, nor the delay of a delay fault. Every journalled
// notification is observed once, so the histogram's count equals the
// notifications accepted plus rejected.
//
// GET /metrics is exempt from the admin API's Host and Origin checks, so
// that a Prometheus in another container can scrape it by a service name;
// it serves read-only counts, never tokens or payloads. With
// AdminConfig.Token set it wants the bearer token like every route but
// /healthz.

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// metricsPath is the route of the Prometheus metrics.
const metricsPath = "/metrics"

// metricsRoutes are the routes of metrics.go, added by Handler.
func (a *admin) metricsRoutes() []adminRoute {
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.s.Collector())
	if a.s.cfg.Admin.ProcessMetrics {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return []adminRoute{
		{"GET /metrics", func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Cache-Control", "no-store")
			h.ServeHTTP(w, r)
			return nil
		}},
	}
}

// metricsExempt reports whether r is spared the Host and Origin checks: a
// read of the metrics.
func metricsExempt(r *http.Request) bool {
	return r.URL.Path == metricsPath && (r.Method == http.MethodGet || r.Method == http.MethodHead)
}

// fire counts one firing of f; fs.mu must be held.
func (fs *faultSet) fire(f *installed) {
	f.fired++
	if fs.firedBy == nil {
		fs.firedBy = make(map[string]uint64)
	}
	fs.firedBy[f.kind]++
}

// firedByKind copies the firings by action name.
func (fs *faultSet) firedByKind() (map[string]uint64, int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make(map[string]uint64, len(fs.firedBy))
	for k, n := range fs.firedBy {
		out[k] = n
	}
	return out, len(fs.list)
}

// Collector returns a Prometheus collector of the server's metrics, the
// ones GET /metrics serves (without the Go and process metrics of
// AdminConfig.ProcessMetrics), for a registry of one's own: every metric
// is named mockapns_*, so register the collectors of two servers in
// different registries, or wrap one with prometheus.WrapRegistererWith
// and a label. Each call returns a new collector; collecting reads the
// server's counters, so it costs the ingest path nothing.
func (s *Server) Collector() prometheus.Collector { return &collector{s: s} }

type collector struct{ s *Server }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("mockapns_"+name, help, labels, nil)
}

// The metrics' descriptions, shared by every collector.
var (
	mNotifications = desc("notifications_total",
		"Notifications judged (journalled), by protocol, outcome (accepted or rejected), status (binary: the status code, 0 accepted; http2: the HTTP status) and reason (binary: the status name; http2: the reason answered, empty when accepted).",
		"protocol", "outcome", "status", "reason")
	mDiscarded = desc("binary_frames_discarded_total",
		"Whole binary frames read after a bad one or cut by a fault, never judged.")
	mGoAways        = desc("http2_goaways_total", "HTTP/2 GOAWAY frames sent.")
	mStreamsRefused = desc("http2_streams_refused_total",
		"HTTP/2 streams beyond MAX_CONCURRENT_STREAMS reset with REFUSED_STREAM (rst_stream faults not counted).")
	mStreamsPeak = desc("http2_streams_peak",
		"The most HTTP/2 streams one connection had open at once since start or reset.")
	mPings = desc("http2_pings_total", "HTTP/2 PING frames received (acknowledgements not counted).")
	mOpen  = desc("connections_open",
		"Connections open now whose TLS handshake succeeded, by service (gateway, feedback, http2).", "service")
	mConns = desc("connections_total",
		"Connections whose TLS handshake succeeded, by service (gateway, feedback, http2).", "service")
	mHandshakes = desc("handshakes_failed_total", "Failed TLS handshakes, every service.")
	mRefused    = desc("connections_refused_total",
		"Connections closed as soon as accepted because the connection limit (MaxConns) was reached, every service.")
	mFaultsFired = desc("faults_fired_total",
		"Fault firings by kind (the fault's JSON action name), including faults removed since.", "kind")
	mFaults        = desc("faults_installed", "Faults installed now.")
	mFeedbackQueue = desc("feedback_queue_length", "Feedback tuples queued for the next feedback connection.")
	mFeedbackMax   = desc("feedback_queue_capacity", "The bound of the feedback queue (FeedbackMax).")
	mFeedbackSent  = desc("feedback_tuples_served_total", "Feedback tuples written in full to feedback readers.")
	mJournal       = desc("journal_entries", "Notifications in the journal now.")
	mJournalCap    = desc("journal_capacity", "The most notifications the journal keeps (JournalSize).")
	mDropped       = desc("journal_dropped_total", "Journal entries overwritten by newer ones once the journal was full.")
	mFileErrors    = desc("journal_file_errors_total", "Failed writes to the journal file.")
	mLatency       = desc("ingest_latency_seconds",
		"Time from having a notification whole (binary: the read that completed its frame; http2: its END_STREAM read) to its outcome journalled, just before the answer is handed to the writer. Excludes the network and delay faults.",
		"protocol")
)

var allDescs = []*prometheus.Desc{mNotifications, mDiscarded, mGoAways, mStreamsRefused, mStreamsPeak, mPings, mOpen, mConns, mHandshakes, mRefused,
	mFaultsFired, mFaults, mFeedbackQueue, mFeedbackMax, mFeedbackSent, mJournal, mJournalCap, mDropped, mFileErrors, mLatency}

// Describe sends the description of every metric.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect reads the counters: those of the journal and Stats at once,
// under the journal's lock, so that the notification counts agree.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	v := s.journal.view()
	st := v.stats
	counter := func(d *prometheus.Desc, n uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), labels...)
	}
	gauge := func(d *prometheus.Desc, n int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(n), labels...)
	}
	for code, n := range v.binStatus {
		if n == 0 {
			continue
		}
		outcome, reason := "rejected", wire.Status(code).String()
		if code == 0 {
			outcome, reason = "accepted", ""
		}
		counter(mNotifications, n, apns.Binary.String(), outcome, strconv.Itoa(code), reason)
	}
	for o, n := range v.h2 {
		outcome := "rejected"
		if o.status == 200 {
			outcome = "accepted"
		}
		counter(mNotifications, n, apns.HTTP2.String(), outcome, strconv.Itoa(o.status), string(o.reason))
	}
	for _, p := range []apns.Protocol{apns.Binary, apns.HTTP2} {
		h := &v.latency[p]
		ch <- prometheus.MustNewConstHistogram(mLatency, h.count, h.sum.Seconds(), h.cumulative(), p.String())
	}
	counter(mDiscarded, st.Discarded)
	counter(mGoAways, st.HTTP2.GoAways)
	counter(mStreamsRefused, st.HTTP2.StreamsRefused)
	gauge(mStreamsPeak, int64(st.HTTP2.StreamsPeak))
	counter(mPings, st.HTTP2.Pings)
	gauge(mOpen, st.ConnectionsOpen, "gateway")
	gauge(mOpen, s.stats.feedbackOpen.Load(), "feedback")
	gauge(mOpen, st.HTTP2.ConnectionsOpen, "http2")
	counter(mConns, st.ConnectionsTotal, "gateway")
	counter(mConns, st.FeedbackConnections, "feedback")
	counter(mConns, st.HTTP2.ConnectionsTotal, "http2")
	counter(mHandshakes, st.HandshakesFailed)
	counter(mRefused, st.ConnectionsRefused)
	fired, installed := s.faults.firedByKind()
	for kind, n := range fired {
		counter(mFaultsFired, n, kind)
	}
	gauge(mFaults, int64(installed))
	s.fbMu.Lock()
	queued := len(s.fbQueue)
	s.fbMu.Unlock()
	gauge(mFeedbackQueue, int64(queued))
	gauge(mFeedbackMax, int64(s.feedbackMax()))
	counter(mFeedbackSent, st.FeedbackServed)
	gauge(mJournal, int64(v.entries))
	gauge(mJournalCap, int64(v.capacity))
	counter(mDropped, v.dropped)
	counter(mFileErrors, st.JournalFileErrors)
}
