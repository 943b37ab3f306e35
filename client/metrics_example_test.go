package client_test

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// promMetrics wires client.Metrics to Prometheus: a counter per count, a
// gauge for what is in flight and a histogram of round trips, each
// labelled by protocol.
type promMetrics struct {
	sent, accepted, retried, uncertain, unsent *prometheus.CounterVec
	failed                                     *prometheus.CounterVec
	inFlight                                   *prometheus.GaugeVec
	latency                                    *prometheus.HistogramVec
}

func newPromMetrics(reg prometheus.Registerer) *promMetrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "apns_notifications_" + name + "_total", Help: help},
			append([]string{"protocol"}, labels...))
		reg.MustRegister(c)
		return c
	}
	m := &promMetrics{
		sent:      counter("sent", "Notifications written."),
		accepted:  counter("accepted", "Notifications accepted."),
		retried:   counter("retried", "Notifications to send again."),
		uncertain: counter("uncertain", "Notifications to send again that may have been delivered."),
		unsent:    counter("unsent", "Notifications a stream gave up on."),
		failed:    counter("failed", "Notifications refused for good.", "status", "reason"),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "apns_notifications_in_flight",
			Help: "Notifications handed to the client, not yet settled."}, []string{"protocol"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "apns_round_trip_seconds",
			Help: "HTTP/2 request or binary batch round trips.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)},
			[]string{"protocol"}),
	}
	reg.MustRegister(m.inFlight, m.latency)
	return m
}

func (m *promMetrics) Sent(p string, n int)     { m.sent.WithLabelValues(p).Add(float64(n)) }
func (m *promMetrics) Accepted(p string, n int) { m.accepted.WithLabelValues(p).Add(float64(n)) }
func (m *promMetrics) Failed(p, status, reason string, n int) {
	m.failed.WithLabelValues(p, status, reason).Add(float64(n))
}
func (m *promMetrics) Retried(p string, n int)   { m.retried.WithLabelValues(p).Add(float64(n)) }
func (m *promMetrics) Uncertain(p string, n int) { m.uncertain.WithLabelValues(p).Add(float64(n)) }
func (m *promMetrics) Unsent(p string, n int)    { m.unsent.WithLabelValues(p).Add(float64(n)) }
func (m *promMetrics) InFlight(p string, d int)  { m.inFlight.WithLabelValues(p).Add(float64(d)) }
func (m *promMetrics) Latency(p string, d time.Duration) {
	m.latency.WithLabelValues(p).Observe(d.Seconds())
}

// Count a session's notifications with Prometheus: wire Config.Metrics to
// counters, a gauge and a histogram (an OpenTelemetry meter takes the same
// few lines), then serve the registry with promhttp.
func ExampleMetrics() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()
	bad := must(apns.ParseToken(exampleToken(3)))
	must(srv.AddFault(mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: bad}}))

	reg := prometheus.NewRegistry()
	m := newPromMetrics(reg)
	cert := must(client.NewCertificate(srv.PKI().Client.TLS))
	sess := must(client.NewSession(client.Config{RootCAs: srv.RootCAs(), ErrorWait: time.Second, Metrics: m}))
	defer sess.Shutdown(context.Background())

	ctx := context.Background()
	must(sess.Send(ctx, srv.GatewayAddr(), cert, &client.Message{
		Tokens: []string{exampleToken(1), exampleToken(2), exampleToken(3)}, Alert: "Hello"}))
	fmt.Println("sent", testutil.ToFloat64(m.sent.WithLabelValues("binary")))
	fmt.Println("accepted", testutil.ToFloat64(m.accepted.WithLabelValues("binary")))
	fmt.Println("failed", testutil.ToFloat64(m.failed.WithLabelValues("binary", "8", "invalid token")))
	fmt.Println("in flight", testutil.ToFloat64(m.inFlight.WithLabelValues("binary")))
	fmt.Println("round trips", testutil.CollectAndCount(m.latency))
	// Output:
	// sent 3
	// accepted 2
	// failed 1
	// in flight 0
	// round trips 1
}
