package client_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Send against the mock", func() {
	const n = 1000

	type faultCase struct {
		fault      func(pos int) mockapns.Fault
		failStatus wire.Status // token refused for good (0: none)
		exactlyOne bool        // the protocol told what was processed
	}
	reject := func(st wire.Status) func(int) mockapns.Fault {
		return func(pos int) mockapns.Fault { return mockapns.Reject{Status: st, When: mockapns.Trigger{Nth: pos}} }
	}
	cases := map[string]faultCase{
		"invalid token (8)":      {fault: reject(8), failStatus: 8, exactlyOne: true},
		"invalid token size (5)": {fault: reject(5), failStatus: 5, exactlyOne: true},
		"missing token (2)":      {fault: reject(2), failStatus: 2, exactlyOne: true},
		"processing error (1)":   {fault: reject(1), exactlyOne: true},
		"shutdown (10)": {fault: func(pos int) mockapns.Fault {
			return mockapns.Shutdown{When: mockapns.Trigger{Nth: pos}}
		}, exactlyOne: true},
		"silent disconnect": {fault: func(pos int) mockapns.Fault {
			return mockapns.Disconnect{When: mockapns.Trigger{Nth: pos}}
		}},
	}
	for name, fc := range cases {
		for _, pos := range []int{1, 500, 1000} {
			for _, confirm := range []bool{false, true} {
				mode := "error window"
				if confirm {
					mode = "confirm by close"
				}
				It("loses nothing after "+name+" at position "+itoa(pos)+" ("+mode+")", func(ctx SpecContext) {
					// The error window must cover the mock's answer even on a loaded
					// machine: an answer ends the wait at once, only clean rounds wait it out.
					e := newEnv(client.Config{ErrorWait: time.Second, ConfirmByClose: confirm}, mockapns.Config{})
					_, err := e.srv.AddFault(fc.fault(pos))
					Expect(err).NotTo(HaveOccurred())
					all := tokens(1, n)
					rs := e.sendAll(ctx, &client.Message{Tokens: all, Alert: "hello"})
					if fc.failStatus != 0 {
						e.waitAccepted(ctx, n-1)
					} else {
						e.waitAccepted(ctx, n)
					}

					counts := e.acceptedCounts()
					failed := failures(rs)
					unc := uncertain(rs)
					bad := all[pos-1]
					if fc.failStatus != 0 {
						Expect(failed).To(HaveLen(1))
						Expect(failed).To(HaveKeyWithValue(bad, HaveField("Status()", fc.failStatus)))
						Expect(counts).NotTo(HaveKey(bad))
					} else {
						Expect(failed).To(BeEmpty())
					}
					for _, t := range all {
						if fc.failStatus != 0 && t == bad {
							continue
						}
						if fc.exactlyOne {
							Expect(counts[t]).To(Equal(1), "token %s", t)
							Expect(unc).To(BeEmpty())
						} else {
							Expect(counts[t]).To(BeNumerically(">=", 1), "token %s", t)
							if counts[t] > 1 {
								Expect(unc).To(HaveKey(t), "duplicate of a token never reported uncertain")
							}
						}
					}
					Expect(rs[0].Sent).To(BeNumerically(">=", pos))
					if confirm {
						Expect(rs[len(rs)-1].Errors).To(BeEmpty()) // the last round was confirmed
					}
				}, SpecTimeout(60*time.Second))
			}
		}
	}

	It("uses identifiers that are unique, never 0, across the wrap", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 50 * time.Millisecond}, mockapns.Config{})
		client.SetLastID(e.sess, 0xfffffffc)
		r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens(1, 6), Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(Equal(6))
		entries, err := e.srv.WaitNotifications(ctx, mockapns.Filter{Status: mockapns.Accepted}, 6)
		Expect(err).NotTo(HaveOccurred())
		var ids []uint32
		for _, en := range entries {
			ids = append(ids, en.ID)
		}
		Expect(ids).To(Equal([]uint32{0xfffffffd, 0xfffffffe, 0xffffffff, 1, 2, 3}))
	})

	It("sends the message's items: payload, expiry, priority", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 50 * time.Millisecond}, mockapns.Config{})
		at := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
		m := &client.Message{Tokens: tokens(7, 1), Alert: "hi", Badge: 3, Expiry: client.ExpireAt(at), Priority: 5}
		_, err := e.sess.Send(ctx, e.addr, e.cert, m)
		Expect(err).NotTo(HaveOccurred())
		entries, err := e.srv.WaitNotifications(ctx, mockapns.Filter{}, 1)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(entries[0].Payload)).To(Equal(`{"aps":{"alert":"hi","badge":3}}`))
		Expect(entries[0].Expiry).To(Equal(uint32(at.Unix())))
		Expect(entries[0].Priority).To(Equal(apns.PriorityConserve))
		Expect(entries[0].Command).To(Equal(wire.CommandFramed))
	})

	It("reports message-level errors for every remaining token without retrying", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 5 * time.Second}, mockapns.Config{})
		all := tokens(1, 50)
		long := make([]byte, 3000)
		for i := range long {
			long[i] = 'x'
		}
		rs := e.sendAll(ctx, &client.Message{Tokens: all, Alert: string(long)})
		Expect(rs).To(HaveLen(1))
		Expect(rs[0].NeedsRetry()).To(BeFalse())
		Expect(rs[0].Failed).To(HaveLen(50))
		Expect(rs[0].Failed[49].Status()).To(Equal(wire.StatusInvalidPayloadSize))
		Expect(rs[0].Errors).To(ContainElement(MatchError(wire.StatusInvalidPayloadSize)))
	})

	It("loses nothing when a delay outlasts the error window", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 20 * time.Millisecond}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.Delay{Duration: 300 * time.Millisecond, When: mockapns.Trigger{Nth: 1}})
		Expect(err).NotTo(HaveOccurred())
		all := tokens(1, 200)
		r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: all, Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.NeedsRetry()).To(BeFalse())
		_, err = e.srv.WaitNotifications(ctx, mockapns.Filter{Status: mockapns.Accepted}, 200)
		Expect(err).NotTo(HaveOccurred())
		counts := e.acceptedCounts()
		for _, t := range all {
			Expect(counts[t]).To(Equal(1))
		}
	})

	It("reports a rejection that arrives after the window on the next Send, never drops it", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 20 * time.Millisecond, PoolSize: 1}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.Delay{Duration: 300 * time.Millisecond, When: mockapns.Trigger{Nth: 1}})
		Expect(err).NotTo(HaveOccurred())
		_, err = e.srv.AddFault(mockapns.Reject{Status: 8, When: mockapns.Trigger{Nth: 100}})
		Expect(err).NotTo(HaveOccurred())
		first := tokens(1, 200)
		r1, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: first, Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r1.Failed).To(BeEmpty()) // not known yet
		Expect(r1.NeedsRetry()).To(BeFalse())
		Eventually(func() uint64 { return e.srv.Stats().Rejected }).WithContext(ctx).Should(Equal(uint64(1)))

		second := tokens(1001, 10)
		rs := e.sendAll(ctx, &client.Message{Tokens: second, Alert: "other"})
		e.waitAccepted(ctx, len(first)+len(second)-1)
		rejected := e.srv.Notifications(mockapns.Filter{Status: mockapns.Rejected})
		Expect(rejected).To(HaveLen(1))
		bad := hex.EncodeToString(rejected[0].Token)
		Expect(first).To(ContainElement(bad))
		failed := failures(rs)
		Expect(failed).To(HaveLen(1))
		Expect(failed).To(HaveKeyWithValue(bad, client.Failure{Token: bad, Outcome: wire.Status(8), ID: rejected[0].ID, Late: true}))
		counts := e.acceptedCounts()
		for i, t := range append(append([]string{}, first...), second...) {
			if t == bad {
				Expect(counts).NotTo(HaveKey(t))
				continue
			}
			Expect(counts[t]).To(Equal(1), "token %d", i)
		}
	})

	It("stops at ctx cancellation and returns every unsent token in Retry", func() {
		e := newEnv(client.Config{}, mockapns.Config{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		all := tokens(1, 10)
		r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: all, Alert: "x"})
		if err != nil { // cancelled before the connection was up
			Expect(err).To(MatchError(context.Canceled))
			return
		}
		Expect(r.Retry().Tokens).To(Equal(all))
		Expect(r.Errors).To(ContainElement(MatchError(context.Canceled)))
	})
})

var _ = Describe("Session pool", func() {
	It("reuses one cached connection for many Sends", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 20 * time.Millisecond}, mockapns.Config{})
		for i := range 3 {
			r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens(i*10, 10), Alert: "x"})
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Accepted).To(Equal(10))
		}
		Eventually(func() uint64 { return e.srv.Stats().ConnectionsTotal }).WithContext(ctx).Should(Equal(uint64(1)))
		e.waitAccepted(ctx, 30)
		Expect(e.srv.Stats().ConnectionsTotal).To(Equal(uint64(1)))
		Expect(e.sess.Stats()).To(Equal(client.PoolStats{Open: 1, Idle: 1, Dials: 1, Keys: 1}))
	})

	It("Outdate closes connections idle longer than d", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 20 * time.Millisecond}, mockapns.Config{})
		_, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens(1, 5), Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(e.sess.Outdate(time.Hour)).To(Equal(0))
		Eventually(func() int64 { return e.srv.Stats().ConnectionsOpen }).WithContext(ctx).Should(Equal(int64(1)))
		Expect(e.sess.Outdate(0)).To(Equal(1))
		Expect(e.sess.Stats().Idle).To(BeZero())
		Eventually(func() int64 { return e.srv.Stats().ConnectionsOpen }).WithContext(ctx).Should(BeZero())
		Eventually(func() int { return e.sess.Stats().Open }).WithContext(ctx).Should(BeZero()) // retired in the background
	})

	It("replaces an idle connection the server closed, and the next batch is fully accepted", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 20 * time.Millisecond}, mockapns.Config{})
		_, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens(1, 5), Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		e.srv.CloseClientConnections()
		Eventually(func() int64 { return e.srv.Stats().ConnectionsOpen }).WithContext(ctx).Should(BeZero())
		next := tokens(100, 300)
		rs := e.sendAll(ctx, &client.Message{Tokens: next, Alert: "x"})
		e.waitAccepted(ctx, 5+len(next))
		counts := e.acceptedCounts()
		unc := uncertain(rs)
		for _, t := range next {
			Expect(counts[t]).To(BeNumerically(">=", 1))
			if counts[t] > 1 {
				Expect(unc).To(HaveKey(t))
			}
		}
		Expect(e.srv.Stats().ConnectionsTotal).To(BeNumerically(">=", 2))
	})

	It("is safe for concurrent senders and never exceeds PoolSize per key", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 10 * time.Millisecond, PoolSize: 2}, mockapns.Config{})
		const workers, rounds, per = 8, 5, 50
		errs := make(chan error, workers*rounds)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for r := range rounds {
					res, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens((w*rounds+r)*per, per), Alert: "x"})
					if err == nil && res.NeedsRetry() {
						err = errors.New("unexpected retry")
					}
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			Expect(err).NotTo(HaveOccurred())
		}
		e.waitAccepted(ctx, workers*rounds*per)
		Expect(e.srv.Stats().Accepted).To(Equal(uint64(workers * rounds * per)))
		Expect(e.srv.Stats().ConnectionsTotal).To(BeNumerically("<=", 2))
		Expect(e.sess.Stats().Open).To(BeNumerically("<=", 2))
	})

	It("keys connections on the certificate", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 10 * time.Millisecond}, mockapns.Config{})
		pair, err := e.srv.PKI().IssueClient(certs.ClientOptions{BundleID: "com.example.other"})
		Expect(err).NotTo(HaveOccurred())
		other, err := client.ParsePEM(pair.CertPEM, pair.KeyPEM, nil)
		Expect(err).NotTo(HaveOccurred())
		for _, c := range []*client.Certificate{e.cert, other, e.cert, other} {
			_, err := e.sess.Send(ctx, e.addr, c, &client.Message{Tokens: tokens(1, 2), Alert: "x"})
			Expect(err).NotTo(HaveOccurred())
		}
		Eventually(func() uint64 { return e.srv.Stats().ConnectionsTotal }).WithContext(ctx).Should(Equal(uint64(2)))
		Expect(e.sess.Stats()).To(HaveField("Dials", uint64(2)))
		Expect(e.sess.Stats().Keys).To(Equal(2))
	})

	It("refuses work after Shutdown and closes its connections", func(ctx SpecContext) {
		e := newEnv(client.Config{ErrorWait: 10 * time.Millisecond}, mockapns.Config{})
		_, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens(1, 2), Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(e.sess.Shutdown(ctx)).To(Succeed())
		Expect(e.sess.Shutdown(ctx)).To(Succeed())
		_, err = e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens(1, 2), Alert: "x"})
		Expect(err).To(MatchError(client.ErrClosed))
		for _, err := range e.sess.Feedback(ctx, e.srv.FeedbackAddr(), e.cert) {
			Expect(err).To(MatchError(client.ErrClosed))
		}
		Eventually(func() int64 { return e.srv.Stats().ConnectionsOpen }).WithContext(ctx).Should(BeZero())
		Expect(e.sess.Late()).To(BeEmpty())
	})

	It("reports connection failures as ErrConnect, before anything is sent", func(ctx SpecContext) {
		e := newEnv(client.Config{}, mockapns.Config{})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		refused := ln.Addr().String()
		Expect(ln.Close()).To(Succeed())
		_, err = e.sess.Send(ctx, refused, e.cert, &client.Message{Tokens: tokens(1, 1), Alert: "x"})
		Expect(err).To(MatchError(client.ErrConnect))

		stranger, err := certs.New(certs.Options{})
		Expect(err).NotTo(HaveOccurred())
		wrongCA, err := client.NewSession(client.Config{RootCAs: stranger.CertPool()})
		Expect(err).NotTo(HaveOccurred())
		_, err = wrongCA.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens(1, 1), Alert: "x"})
		Expect(err).To(MatchError(client.ErrConnect))
		Expect(wrongCA.Stats().Open).To(BeZero())
		Expect(e.srv.Stats().Accepted).To(BeZero())
	})

	It("refuses bad input before connecting", func(ctx SpecContext) {
		e := newEnv(client.Config{}, mockapns.Config{})
		_, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: []string{"xyz1"}})
		Expect(err).To(MatchError(client.ErrBadToken))
		_, err = e.sess.Send(ctx, "nohost", e.cert, &client.Message{Tokens: tokens(1, 1)})
		Expect(err).To(MatchError(client.ErrBadAddress))
		_, err = e.sess.Send(ctx, e.addr, nil, &client.Message{Tokens: tokens(1, 1)})
		Expect(err).To(MatchError(client.ErrNoCertificate))
		Expect(e.srv.Stats().ConnectionsTotal).To(BeZero())
		_, err = client.NewSession(client.Config{ErrorWait: -1})
		Expect(err).To(MatchError(client.ErrBadConfig))
	})

	It("dials through Config.DialContext", func(ctx SpecContext) {
		var dialled []string
		var mu sync.Mutex
		e := newEnv(client.Config{ErrorWait: 10 * time.Millisecond, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialled = append(dialled, addr)
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}, mockapns.Config{})
		_, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens(1, 1), Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		mu.Lock()
		defer mu.Unlock()
		Expect(dialled).To(Equal([]string{e.addr}))
	})
})

var _ = Describe("Feedback", func() {
	It("yields every queued tuple with its time", func(ctx SpecContext) {
		e := newEnv(client.Config{}, mockapns.Config{})
		t0 := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
		var want []client.FeedbackTuple
		for i, tok := range tokens(1, 3) {
			raw, _ := hex.DecodeString(tok)
			at := t0.Add(time.Duration(i) * time.Minute)
			e.srv.QueueFeedback(wire.FeedbackTuple{Time: at, Token: raw})
			want = append(want, client.FeedbackTuple{Token: tok, Time: at})
		}
		var got []client.FeedbackTuple
		for t, err := range e.sess.Feedback(ctx, e.srv.FeedbackAddr(), e.cert) {
			Expect(err).NotTo(HaveOccurred())
			got = append(got, t)
		}
		Expect(got).To(Equal(want))
	})

	It("yields the connection failure as an error", func(ctx SpecContext) {
		e := newEnv(client.Config{}, mockapns.Config{})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		addr := ln.Addr().String()
		Expect(ln.Close()).To(Succeed())
		var errs []error
		for _, err := range e.sess.Feedback(ctx, addr, e.cert) {
			errs = append(errs, err)
		}
		Expect(errs).To(HaveLen(1))
		Expect(errs[0]).To(MatchError(client.ErrConnect))
	})

	It("ends quietly with the whole tuples when the stream is cut mid-tuple", func(ctx SpecContext) {
		e := newEnv(client.Config{}, mockapns.Config{})
		for _, tok := range tokens(1, 3) {
			raw, _ := hex.DecodeString(tok)
			e.srv.QueueFeedback(wire.FeedbackTuple{Time: time.Unix(1700000000, 0), Token: raw})
		}
		_, err := e.srv.AddFault(mockapns.FeedbackCut{AfterBytes: 38*2 + 10})
		Expect(err).NotTo(HaveOccurred())
		var got []string
		for t, err := range e.sess.Feedback(ctx, e.srv.FeedbackAddr(), e.cert) {
			Expect(err).NotTo(HaveOccurred())
			got = append(got, t.Token)
		}
		Expect(got).To(Equal(tokens(1, 2)))
	})

	It("stops when the caller breaks out", func(ctx SpecContext) {
		e := newEnv(client.Config{}, mockapns.Config{})
		for _, tok := range tokens(1, 3) {
			raw, _ := hex.DecodeString(tok)
			e.srv.QueueFeedback(wire.FeedbackTuple{Time: time.Unix(1700000000, 0), Token: raw})
		}
		n := 0
		for _, err := range e.sess.Feedback(ctx, client.FeedbackSandbox[:0]+e.srv.FeedbackAddr(), e.cert) {
			Expect(err).NotTo(HaveOccurred())
			n++
			break
		}
		Expect(n).To(Equal(1))
	})
})

func itoa(i int) string {
	return string(rune('0'+i/1000%10)) + string(rune('0'+i/100%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}

var _ = Describe("ConfirmByClose", func() {
	It("confirms each batch by an orderly close, one connection per Send", func(ctx SpecContext) {
		e := newEnv(client.Config{ConfirmByClose: true, ErrorWait: time.Hour}, mockapns.Config{})
		for i := range 3 {
			r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens(i*100, 100), Alert: "x"})
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Accepted).To(Equal(100))
			Expect(r.NeedsRetry()).To(BeFalse())
			Expect(r.Errors).To(BeEmpty())
		}
		// confirmed means processed: no waiting for the mock
		Expect(e.srv.Stats().Accepted).To(Equal(uint64(300)))
		Expect(e.srv.Stats().ConnectionsTotal).To(Equal(uint64(3)))
		Expect(e.sess.Stats().Open).To(BeZero())
	})

	It("tells a close without close_notify from a confirmation", func(ctx SpecContext) {
		e := newEnv(client.Config{ConfirmByClose: true, ErrorWait: time.Hour}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.Disconnect{When: mockapns.Trigger{Nth: 50}})
		Expect(err).NotTo(HaveOccurred())
		all := tokens(1, 100)
		r, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: all, Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Errors).To(ContainElement(MatchError(client.ErrConnectionLost)))
		Expect(r.Retry().Tokens).To(Equal(all))
		Expect(r.Uncertain).To(Equal(all[:r.Sent]))
	})
})
