package client

import (
	"strconv"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// Metrics receives a client's counts as its notifications are written and
// settled, to be wired to Prometheus, OpenTelemetry or anything else:
// Config.Metrics for a Session (Send, Rounds, SendAll, Stream, both
// protocols) and HTTP2Config.Metrics for an HTTP2Client used on its own.
// nil turns it off and costs one branch where a count is settled.
//
// Labels are plain strings: protocol is "binary" or "http2"; a refusal's
// status is the binary status code ("8") or the HTTP status ("400"), its
// reason Apple's name of the binary status ("invalid token") or the
// HTTP/2 reason ("BadDeviceToken"; for a response that could not be read,
// "MalformedResponse"). Counts come in batches where the client settles
// them in batches: one call per Send, per chunk of a Stream, and, on
// HTTP/2, per request. The methods are called from the client's
// goroutines, concurrently: they must be safe for concurrent use and
// quick, and must not call the client.
//
// The totals equal what the client reports: for Send (and so Rounds and
// SendAll, which are made of Sends) and Session.Late, the sums of Result.Sent,
// Result.Accepted, Result.Failed (by status and reason), the tokens of
// Result.Retries and Result.Uncertain; for a Stream, its StreamStats
// (Written, Delivered, Refused by outcome, Unsent, Resent, Uncertain),
// but for one case: when a gateway refuses a binary Stream's certificate
// after its first writes, StreamStats.Written takes those writes back
// (nothing was processed) while Sent, which never goes down, keeps them.
type Metrics interface {
	// Sent counts n notifications written: for Send as Result.Sent
	// (each token once per Send, however many requests HTTP/2's own
	// retries made for it); for a Stream each write, resends included
	// (StreamStats.Written).
	Sent(protocol string, n int)
	// Accepted counts n notifications accepted: confirmed, or presumed
	// so (binary: no error response within the error window), as
	// Result.Accepted and Delivered deliveries.
	Accepted(protocol string, n int)
	// Failed counts n notifications refused for good with that status
	// and reason (Result.Failed, Refused deliveries).
	Failed(protocol, status, reason string, n int)
	// Retried counts n notifications to be sent again: for Send the
	// tokens of Result.Retries (which Rounds and SendAll send again,
	// counted in Sent once more); for a Stream those it wrote again
	// (StreamStats.Resent).
	Retried(protocol string, n int)
	// Uncertain counts n of the retried notifications whose earlier copy
	// may have been delivered (Result.Uncertain, StreamStats.Uncertain).
	Uncertain(protocol string, n int)
	// Unsent counts n notifications a Stream gave up on (Unsent
	// deliveries); Send hands such tokens back in Retries instead.
	Unsent(protocol string, n int)
	// InFlight moves by delta the gauge of notifications handed to the
	// client (a Send's tokens, a Stream's pushes) and not yet settled.
	InFlight(protocol string, delta int)
	// Latency observes one round trip. HTTP/2: one request, from its
	// submission to the end of its response (each attempt). Binary: a
	// Send, from its first write to its settlement (the error window
	// passed, or the close or error response that ended it); for a
	// Stream a chunk of up to 1,024 notifications, from its write to its
	// settlement (its window confirmed by sentinel, close or error
	// window, or the end of its connection).
	Latency(protocol string, d time.Duration)
}

// The protocol labels of Metrics.
const (
	metricsBinary = "binary"
	metricsHTTP2  = "http2"
)

// statusLabels are the decimal codes 0–599, so that labelling a refusal
// does not allocate.
var statusLabels = func() []string {
	out := make([]string, 600)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

// failureLabels returns the status and reason labels of a refusal.
func failureLabels(o apns.Outcome, httpStatus int) (status, reason string) {
	switch v := o.(type) {
	case wire.Status:
		return statusLabels[v], v.String()
	case apns.Reason:
		return statusLabel(httpStatus), string(v)
	case *ResponseError:
		return statusLabel(v.HTTPStatus), "MalformedResponse"
	}
	return statusLabel(httpStatus), "Unknown"
}

// reportResult counts a Send's Result.
func reportResult(m Metrics, protocol string, r *Result) {
	m.Sent(protocol, r.Sent)
	m.Accepted(protocol, r.Accepted)
	for i := range r.Failed {
		f := &r.Failed[i]
		status, reason := failureLabels(f.Outcome, f.HTTPStatus)
		m.Failed(protocol, status, reason, 1)
	}
	retried := len(r.retryTokens)
	if r.cur == nil {
		retried = 0 // Retry() is nil without a current batch
	}
	for _, o := range r.otherRetries {
		retried += len(o.Tokens)
	}
	if retried > 0 {
		m.Retried(protocol, retried)
	}
	if len(r.Uncertain) > 0 {
		m.Uncertain(protocol, len(r.Uncertain))
	}
}

// reportDeliveries counts a Stream's settled notifications; del, ref and
// uns are the Delivered, Refused and Unsent among ds.
func reportDeliveries(m Metrics, protocol string, ds []Delivery, del, uns int) {
	if del > 0 {
		m.Accepted(protocol, del)
	}
	if uns > 0 {
		m.Unsent(protocol, uns)
	}
	for i := range ds {
		if d := &ds[i]; d.Kind == Refused {
			hs := 0
			if d.Response != nil {
				hs = d.Response.HTTPStatus
			}
			status, reason := failureLabels(d.Outcome, hs)
			m.Failed(protocol, status, reason, 1)
		}
	}
	m.InFlight(protocol, -len(ds))
}

// streamProtocol is the Metrics label of st's protocol.
func (st *Stream) protocolLabel() string {
	if st.h2 != nil {
		return metricsHTTP2
	}
	return metricsBinary
}
