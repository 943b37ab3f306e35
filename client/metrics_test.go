package client_test

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// totals are the counts of one protocol, as the client reports them.
type totals struct {
	Sent, Accepted, Retried, Uncertain, Unsent int
	Failed                                     map[string]int // "status reason"
}

// recorder is a client.Metrics that adds everything up, by protocol.
type recorder struct {
	mu        sync.Mutex
	by        map[string]*totals
	inFlight  map[string]int
	latencies map[string]int
	negative  []string // calls with n < 0 (never wanted)
}

func newRecorder() *recorder {
	return &recorder{by: map[string]*totals{}, inFlight: map[string]int{}, latencies: map[string]int{}}
}

func (r *recorder) t(p string, n int, what string) *totals {
	if n < 0 {
		r.negative = append(r.negative, what)
	}
	t := r.by[p]
	if t == nil {
		t = &totals{Failed: map[string]int{}}
		r.by[p] = t
	}
	return t
}

func (r *recorder) Sent(p string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t(p, n, "sent").Sent += n
}

func (r *recorder) Accepted(p string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t(p, n, "accepted").Accepted += n
}

func (r *recorder) Failed(p, status, reason string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t(p, n, "failed").Failed[status+" "+reason] += n
}

func (r *recorder) Retried(p string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t(p, n, "retried").Retried += n
}

func (r *recorder) Uncertain(p string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t(p, n, "uncertain").Uncertain += n
}

func (r *recorder) Unsent(p string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t(p, n, "unsent").Unsent += n
}

func (r *recorder) InFlight(p string, delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight[p] += delta
	if r.inFlight[p] < 0 {
		r.negative = append(r.negative, "in flight below 0")
	}
}

func (r *recorder) Latency(p string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d < 0 {
		r.negative = append(r.negative, "latency")
	}
	r.latencies[p]++
}

// of returns a copy of protocol p's totals.
func (r *recorder) of(p string) totals {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := totals{Failed: map[string]int{}}
	if x := r.by[p]; x != nil {
		t = *x
		t.Failed = map[string]int{}
		for k, v := range x.Failed {
			t.Failed[k] = v
		}
	}
	return t
}

// failedKey is the recorder's key of a refusal.
func failedKey(o apns.Outcome, httpStatus int) string {
	if s, ok := o.(wire.Status); ok {
		return strconv.Itoa(int(s)) + " " + s.String()
	}
	if r, ok := o.(apns.Reason); ok {
		return strconv.Itoa(httpStatus) + " " + string(r)
	}
	return strconv.Itoa(httpStatus) + " other"
}

// resultTotals adds up what the Results say.
func resultTotals(rs []*client.Result) totals {
	t := totals{Failed: map[string]int{}}
	for _, r := range rs {
		t.Sent += r.Sent
		t.Accepted += r.Accepted
		for _, f := range r.Failed {
			t.Failed[failedKey(f.Outcome, f.HTTPStatus)]++
		}
		for _, m := range r.Retries() {
			t.Retried += len(m.Tokens)
		}
		t.Uncertain += len(r.Uncertain)
	}
	return t
}

// deliveryTotals adds up a stream's deliveries and its stats.
func deliveryTotals(ds []client.Delivery, stats client.StreamStats) totals {
	t := totals{Failed: map[string]int{}, Sent: int(stats.Written), Retried: int(stats.Resent), Uncertain: int(stats.Uncertain)}
	for _, d := range ds {
		switch d.Kind {
		case client.Delivered:
			t.Accepted++
		case client.Refused:
			hs := 0
			if d.Response != nil {
				hs = d.Response.HTTPStatus
			}
			t.Failed[failedKey(d.Outcome, hs)]++
		default:
			t.Unsent++
		}
	}
	return t
}

var _ = Describe("Metrics (Config.Metrics)", func() {
	var (
		e   *env
		rec *recorder
		h2  string
	)

	BeforeEach(func() {
		rec = newRecorder()
		e = newEnv(client.Config{ErrorWait: 300 * time.Millisecond, Metrics: rec,
			HTTP2: client.HTTP2Config{Retry: fastRetry, RequestTimeout: 5 * time.Second}}, mockapns.Config{})
		h2 = "https://" + e.srv.HTTP2Addr()
	})

	AfterEach(func() {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		Expect(rec.negative).To(BeEmpty())
		for p, n := range rec.inFlight {
			Expect(n).To(BeZero(), "%s in flight after everything settled", p)
		}
	})

	// rounds follows every retry of m to addr and returns the Results.
	rounds := func(ctx context.Context, addr string, m *client.Message) []*client.Result {
		GinkgoHelper()
		var rs []*client.Result
		for rd, err := range client.Rounds(ctx, e.sess, addr, e.cert, m, client.RetryPolicy{MaxAttempts: 20}) {
			Expect(err).NotTo(HaveOccurred())
			rs = append(rs, rd.Result)
		}
		return rs
	}

	It("counts binary Sends (Rounds) with a token error, a message error, a disconnect: exactly the Results", func(ctx SpecContext) {
		toks := tokens(1, 60)
		for _, f := range []mockapns.Fault{
			mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: apns.MustParseToken(toks[9]), Protocol: apns.Binary}},
			mockapns.Disconnect{When: mockapns.Trigger{Nth: 30, Protocol: apns.Binary}},
		} {
			_, err := e.srv.AddFault(f)
			Expect(err).NotTo(HaveOccurred())
		}
		rs := rounds(ctx, e.addr, &client.Message{Tokens: toks, Alert: "x"})
		// A message-level refusal: every token fails with status 7.
		_, err := e.srv.AddFault(mockapns.Reject{Status: wire.StatusInvalidPayloadSize, When: mockapns.Trigger{Protocol: apns.Binary}})
		Expect(err).NotTo(HaveOccurred())
		rs = append(rs, rounds(ctx, e.addr, &client.Message{Tokens: tokens(100, 3), Alert: "y"})...)

		want := resultTotals(rs)
		Expect(want.Failed).To(HaveKeyWithValue("8 invalid token", 1))
		Expect(want.Failed).To(HaveKeyWithValue("7 invalid payload size", 3))
		Expect(want.Retried).To(BeNumerically(">", 0))
		Expect(want.Uncertain).To(BeNumerically(">", 0), "the disconnect left written tokens uncertain")
		Expect(cmp.Diff(want, rec.of("binary"))).To(BeEmpty())
		Expect(rec.latencies["binary"]).To(Equal(len(rs)), "one round trip per Send")
		Expect(rec.of("http2").Sent).To(BeZero())
	})

	It("counts a late error response when Late hands its Result out, once", func(ctx SpecContext) {
		e.lateRejection(time.Second) // answered after the 300 ms error window
		all := tokens(1, 20)
		r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: all, Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Failed).To(BeEmpty()) // presumed: the answer is late
		Expect(e.sess.Shutdown(ctx)).To(Succeed())
		before := rec.of("binary")
		Expect(cmp.Diff(resultTotals([]*client.Result{r}), before)).To(BeEmpty())
		late := e.sess.Late()
		e.expectLateRejection(late, all)
		want := resultTotals([]*client.Result{r})
		lt := resultTotals(late)
		want.Sent += lt.Sent
		want.Accepted += lt.Accepted
		want.Retried += lt.Retried
		want.Uncertain += lt.Uncertain
		for k, v := range lt.Failed {
			want.Failed[k] += v
		}
		Expect(want.Failed).To(HaveKeyWithValue("8 invalid token", 1))
		Expect(cmp.Diff(want, rec.of("binary"))).To(BeEmpty())
		Expect(e.sess.Late()).To(BeEmpty())
		Expect(cmp.Diff(want, rec.of("binary"))).To(BeEmpty(), "handed out once, counted once")
	}, SpecTimeout(time.Minute))

	It("counts HTTP/2 Sends (Rounds, SendAll) with refusals, HTTP/2 retries and a disconnect: exactly the Results", func(ctx SpecContext) {
		toks := tokens(1, 40)
		for _, f := range []mockapns.Fault{
			mockapns.Reject{Reason: apns.ReasonBadDeviceToken, When: mockapns.Trigger{Token: apns.MustParseToken(toks[3])}},
			mockapns.Reject{Reason: apns.ReasonTooManyRequests, When: mockapns.Trigger{Token: apns.MustParseToken(toks[5])}}, // retried by the client
			mockapns.Disconnect{When: mockapns.Trigger{Nth: 20, Protocol: apns.HTTP2}},
		} {
			_, err := e.srv.AddFault(f)
			Expect(err).NotTo(HaveOccurred())
		}
		rs := rounds(ctx, h2, &client.Message{Tokens: toks, Alert: "x", Topic: h2Topic})
		want := resultTotals(rs)
		Expect(want.Failed).To(HaveKeyWithValue("400 BadDeviceToken", 1))
		Expect(want.Accepted).To(Equal(39))
		Expect(cmp.Diff(want, rec.of("http2"))).To(BeEmpty())
		Expect(rec.latencies["http2"]).To(BeNumerically(">=", 41), "one per request written: 40 tokens and the TooManyRequests retry")

		sum, err := e.sess.SendAll(ctx, h2, e.cert, &client.Message{Tokens: tokens(200, 5), Alert: "y", Topic: h2Topic}, 3)
		Expect(err).NotTo(HaveOccurred())
		Expect(rec.of("http2").Accepted).To(Equal(want.Accepted + sum.Accepted))
		Expect(rec.of("http2").Sent).To(Equal(want.Sent + sum.Sent))
		Expect(rec.of("binary").Sent).To(BeZero())
	})

	It("counts binary and HTTP/2 Streams with refusals, resends and uncertain resends: exactly the Deliveries and StreamStats", func(ctx SpecContext) {
		for _, p := range []struct {
			name, addr string
			faults     []mockapns.Fault
			topic      string
		}{
			{"binary", e.addr, []mockapns.Fault{
				mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Nth: 50, Protocol: apns.Binary}},
				mockapns.Disconnect{When: mockapns.Trigger{Nth: 120, Protocol: apns.Binary}},
			}, ""},
			{"http2", h2, []mockapns.Fault{
				mockapns.Reject{Reason: apns.ReasonBadDeviceToken, When: mockapns.Trigger{Nth: 50, Protocol: apns.HTTP2}},
				mockapns.Disconnect{When: mockapns.Trigger{Nth: 120, Protocol: apns.HTTP2}},
			}, h2Topic},
		} {
			for _, f := range p.faults {
				_, err := e.srv.AddFault(f)
				Expect(err).NotTo(HaveOccurred())
			}
			var mu sync.Mutex
			var ds []client.Delivery
			st, err := e.sess.Stream(p.addr, e.cert, &client.Message{Alert: "s", Topic: p.topic}, client.StreamOptions{
				OnOutcome: func(d client.Delivery) { mu.Lock(); ds = append(ds, d); mu.Unlock() }})
			Expect(err).NotTo(HaveOccurred())
			toks := tokens(1000, 300)
			for i, t := range toks {
				Expect(st.Push(ctx, t, i)).To(Succeed())
			}
			Expect(st.Close(ctx)).To(Succeed())
			mu.Lock()
			Expect(ds).To(HaveLen(len(toks)))
			want := deliveryTotals(ds, st.Stats())
			mu.Unlock()
			Expect(want.Failed).NotTo(BeEmpty(), p.name)
			Expect(want.Retried).To(BeNumerically(">", 0), "%s: %+v %+v", p.name, want, st.Stats())
			Expect(cmp.Diff(want, rec.of(p.name))).To(BeEmpty(), p.name)
			Expect(rec.latencies[p.name]).To(BeNumerically(">", 0), p.name)
			e.srv.ClearFaults()
		}
	})
})
