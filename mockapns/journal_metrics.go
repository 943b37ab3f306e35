package mockapns

import (
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// ingestBuckets are the upper bounds, in seconds, of the buckets of the
// ingest latency histogram (mockapns_ingest_latency_seconds): from 1 µs,
// where a judgement on an idle server lands, to 10 s.
var ingestBuckets = []float64{
	1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
	1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// ingestBounds are ingestBuckets as durations.
var ingestBounds = func() []time.Duration {
	out := make([]time.Duration, len(ingestBuckets))
	for i, b := range ingestBuckets {
		out[i] = time.Duration(b * float64(time.Second))
	}
	return out
}()

// latencyHist is a histogram of ingest latencies, guarded by the
// journal's lock: counts[i] counts the latencies in bucket i (not
// cumulative), the last one those above every bound.
type latencyHist struct {
	counts [23]uint64 // len(ingestBuckets) + 1
	count  uint64
	sum    time.Duration
}

// add counts n notifications judged d after they were read whole.
func (h *latencyHist) add(d time.Duration, n int) {
	// The first bound at least d, by halving: five comparisons.
	i, j := 0, len(ingestBounds)
	for i < j {
		if k := int(uint(i+j) >> 1); d > ingestBounds[k] {
			i = k + 1
		} else {
			j = k
		}
	}
	h.counts[i] += uint64(n)
	h.count += uint64(n)
	h.sum += d * time.Duration(n)
}

// cumulative returns the counts as Prometheus wants them: by upper bound,
// each counting every latency at most that bound.
func (h *latencyHist) cumulative() map[float64]uint64 {
	out := make(map[float64]uint64, len(ingestBuckets))
	var c uint64
	for i, b := range ingestBuckets {
		c += h.counts[i]
		out[b] = c
	}
	return out
}

// h2Outcome is the answer to an HTTP/2 request, as the metrics label it.
type h2Outcome struct {
	status int
	reason apns.Reason
}

// journalMetrics are the counts that only the metrics read, kept by the
// journal under its lock as it appends: a few additions per append (per
// read's batch on the binary side), no atomics, nothing the ingest path
// waits for. Reset zeroes them with the counters of Stats.
type journalMetrics struct {
	binStatus  [256]uint64          // binary notifications journalled, by status (0: accepted)
	h2Accepted uint64               // HTTP/2 requests answered 200
	h2         map[h2Outcome]uint64 // the other HTTP/2 requests journalled, by answer
	latency    [apns.HTTP2 + 1]latencyHist
	dropped    uint64 // entries the full ring overwrote
}

// binary counts n binary notifications judged with status, d after the
// read that completed them.
func (m *journalMetrics) binary(d time.Duration, status wire.Status, n int) {
	m.binStatus[status] += uint64(n)
	m.latency[apns.Binary].add(d, n)
}

// http2 counts one HTTP/2 request answered httpStatus (200 accepts) with
// reason, d after its END_STREAM was read.
func (m *journalMetrics) http2(d time.Duration, httpStatus int, reason apns.Reason) {
	m.latency[apns.HTTP2].add(d, 1)
	if httpStatus == 200 {
		m.h2Accepted++ // the common case: no map look-up
		return
	}
	if m.h2 == nil {
		m.h2 = make(map[h2Outcome]uint64)
	}
	m.h2[h2Outcome{status: httpStatus, reason: reason}]++
}

func (m *journalMetrics) reset() {
	clear(m.h2)
	h2 := m.h2
	*m = journalMetrics{h2: h2}
}

// journalView is what the metrics read from the journal at once.
type journalView struct {
	binStatus [256]uint64
	h2        map[h2Outcome]uint64
	latency   [apns.HTTP2 + 1]latencyHist
	dropped   uint64
	entries   int
	capacity  int
	stats     Stats // read under the same lock, so the totals agree
}

// view copies the metrics' counts and the counters of Stats under the
// journal's lock.
func (j *journal) view() journalView {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := journalView{binStatus: j.m.binStatus, latency: j.m.latency, dropped: j.m.dropped,
		entries: len(j.ring), capacity: j.size, stats: j.stats.snapshot(),
		h2: make(map[h2Outcome]uint64, len(j.m.h2)+1)}
	for k, n := range j.m.h2 {
		v.h2[k] = n
	}
	if j.m.h2Accepted > 0 {
		v.h2[h2Outcome{status: 200}] = j.m.h2Accepted
	}
	return v
}
