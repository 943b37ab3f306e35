package mockapns_test

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// Regression specs from the correctness review of the gateway, the faults
// and the journal.
var _ = Describe("Review regressions", func() {
	var srv *mockapns.Server

	BeforeEach(func() {
		srv = startServer(mockapns.Config{})
	})

	It("Disconnect after bytes cuts a connection that has read exactly that many bytes", func() {
		// The client sends exactly AfterBytes and then waits: the
		// connection has read AfterBytes bytes, so it is cut (it used to
		// stay open until one more byte arrived).
		one := framed(1, token(1), payload)
		two := framed(2, token(1), payload)
		addFault(srv, mockapns.Disconnect{AfterBytes: int64(len(one) + len(two))})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(one, two))
		expectClosedWith(conn, nil)
		Expect(ids(srv.Notifications(mockapns.Filter{}))).To(Equal([]uint32{1, 2}))
		Expect(srv.Faults()[0].Fired).To(Equal(1))
		Eventually(func() int64 { return srv.Stats().ConnectionsOpen }).Should(BeZero())
		Expect(srv.Stats().Discarded).To(BeZero())
	})

	It("counts the frames after a bad one as discarded when a cut falls after the bad one in the same read", func() {
		good := framed(1, token(1), payload)
		bad := framed(2, token(2)[:31], payload) // wrong token size: status 5
		f := len(good)
		addFault(srv, mockapns.Disconnect{AfterBytes: int64(2*f - 1 + f/2)}) // inside frame 3
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(good, bad, framed(3, token(3), payload), framed(4, token(4), payload)))
		Expect(conn.CloseWrite()).To(Succeed())
		expectClosedWith(conn, response(wire.StatusInvalidTokenSize, 2))
		Eventually(func() int64 { return srv.Stats().ConnectionsOpen }).Should(BeZero())
		st := srv.Stats()
		Expect(st.Accepted).To(BeEquivalentTo(1))
		Expect(st.Rejected).To(BeEquivalentTo(1))
		Expect(st.Discarded).To(BeEquivalentTo(2), "frames 3 and 4 arrived whole after the bad one")
		Expect(ids(srv.Notifications(mockapns.Filter{}))).To(Equal([]uint32{1, 2}))
	})

	It("Faults reports the token as added, whatever the caller does with its slices", func() {
		tok := token(9)
		addFault(srv, mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: tokenOf(tok)}})
		tok[0] = 0 // the caller reuses its slice
		listed := srv.Faults()[0].Fault.(mockapns.Reject).When.Token.Bytes()
		Expect(listed).To(Equal(token(9)))
		listed[1] = 0 // and scribbles on what it was given
		Expect(srv.Faults()[0].Fault.(mockapns.Reject).When.Token.Bytes()).To(Equal(token(9)))
	})

	It("counts a journalled notification in Stats by the time it is visible in the journal", func() {
		type seen struct{ counted, journalled int }
		at := make(chan seen, 16)
		srv.SetJournalHook(func() {
			at <- seen{int(srv.Stats().Accepted), len(srv.Notifications(mockapns.Filter{Status: mockapns.Accepted}))}
		})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(1, token(1), payload))
		var got seen
		Eventually(at).Should(Receive(&got))
		Expect(got).To(Equal(seen{counted: 1, journalled: 1}))
	})

	It("keeps Stats and the journal in agreement when a Reset falls inside an ingest", func() {
		var once sync.Once
		srv.SetJournalHook(func() { once.Do(srv.Reset) })
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(1, token(1), payload))
		Expect(conn.CloseWrite()).To(Succeed())
		expectClosedWith(conn, nil)
		Eventually(func() int64 { return srv.Stats().ConnectionsOpen }).Should(BeZero())
		Expect(srv.Stats().Accepted).To(BeEquivalentTo(len(srv.Notifications(mockapns.Filter{Status: mockapns.Accepted}))))
	})

	It("fires a once-only fault on exactly one of many concurrent connections", func() {
		addFault(srv, mockapns.Reject{Status: wire.StatusProcessingError, When: mockapns.Trigger{Nth: 3}})
		const conns = 8
		answers := make(chan []byte, conns)
		for i := range conns {
			conn := dial(srv, srv.GatewayAddr())
			go func() {
				msg := concat(framed(uint32(10*i+1), token(1), payload), framed(uint32(10*i+2), token(1), payload))
				if _, err := conn.Write(msg); err != nil {
					answers <- nil
					return
				}
				_ = conn.CloseWrite()
				b, _ := io.ReadAll(conn)
				answers <- b
			}()
		}
		var got [][]byte
		for range conns {
			var b []byte
			Eventually(answers, ioTimeout).Should(Receive(&b))
			if len(b) > 0 {
				got = append(got, b)
			}
		}
		Expect(got).To(HaveLen(1))
		Expect(got[0][:2]).To(Equal([]byte{8, byte(wire.StatusProcessingError)}))
		Expect(srv.Faults()[0].Fired).To(Equal(1))
		st := srv.Stats()
		Expect(st.Rejected).To(BeEquivalentTo(1))
		Expect(st.Accepted + st.Rejected + st.Discarded).To(BeEquivalentTo(2 * conns))
	})

	It("ends a Delay stall on Close, leaving no connection open and no goroutine behind", func() {
		before := runtime.NumGoroutine()
		events := make(chan mockapns.ConnEvent, 16)
		s, err := mockapns.Start(mockapns.Config{OnConn: func(e mockapns.ConnEvent) { events <- e }})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(s.Close)
		_, err = s.AddFault(mockapns.Delay{Duration: time.Hour})
		Expect(err).NotTo(HaveOccurred())
		conn := dial(s, s.GatewayAddr())
		send(conn, framed(1, token(1), payload))
		Eventually(func() int { return s.Faults()[0].Fired }).Should(Equal(1))
		// A second client stuck before its TLS handshake.
		raw, err := net.Dial("tcp", s.GatewayAddr())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = raw.Close() })
		Eventually(func() int64 { return s.Stats().ConnectionsOpen }).Should(BeEquivalentTo(1))
		s.Close()
		expectClosedWith(conn, nil)
		Expect(s.Stats().ConnectionsOpen).To(BeZero())
		Expect(s.Stats().Accepted).To(BeZero())
		var closed []string
		for len(events) > 0 {
			if e := <-events; e.Kind == mockapns.ConnClosed {
				closed = append(closed, e.Reason)
			}
		}
		Expect(closed).To(Equal([]string{"server closed"}))
		_ = conn.Close()
		_ = raw.Close()
		Eventually(runtime.NumGoroutine).Should(BeNumerically("<=", before))
	})

	It("Shutdown with a stalled client ends when its context does", func() {
		s := startServer(mockapns.Config{})
		conn := dial(s, s.GatewayAddr())
		send(conn, framed(1, token(1), payload)[:10]) // half a frame, then silence
		Eventually(func() int64 { return s.Stats().ConnectionsOpen }).Should(BeEquivalentTo(1))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Shutdown(ctx) }()
		Consistently(done, 50*time.Millisecond).ShouldNot(Receive())
		cancel()
		var err error
		Eventually(done).Should(Receive(&err))
		Expect(errors.Is(err, context.Canceled)).To(BeTrue())
		expectClosedWith(conn, response(wire.StatusShutdown, 0))
		Expect(s.Stats().ConnectionsOpen).To(BeZero())
	})

	It("WaitNotifications applies Limit to the answer, not to the count it waits for", func() {
		conn := dial(srv, srv.GatewayAddr())
		type result struct {
			es  []mockapns.Entry
			err error
		}
		done := make(chan result, 1)
		ctx := ctxTimeout()
		go func() {
			es, err := srv.WaitNotifications(ctx, mockapns.Filter{Token: tokenOf(token(2)), Status: mockapns.Accepted, Limit: 1}, 2)
			done <- result{es, err}
		}()
		send(conn, framed(1, token(2), payload), framed(2, token(1), payload))
		Consistently(done, 50*time.Millisecond).ShouldNot(Receive())
		send(conn, framed(3, token(2), payload))
		var r result
		Eventually(done).Should(Receive(&r))
		Expect(r.err).NotTo(HaveOccurred())
		Expect(ids(r.es)).To(Equal([]uint32{1}))
	})

	It("repeats its probability faults after a Reset, as after a fresh start with the same seed", func() {
		s := startServer(mockapns.Config{Seed: 42})
		// run sends one notification per connection and reports which
		// were rejected.
		run := func() []bool {
			GinkgoHelper()
			_, err := s.AddFault(mockapns.Reject{Status: wire.StatusProcessingError,
				When: mockapns.Trigger{Probability: 0.5, Times: mockapns.Always}})
			Expect(err).NotTo(HaveOccurred())
			var out []bool
			for i := range 16 {
				conn := dial(s, s.GatewayAddr())
				send(conn, framed(uint32(i+1), token(1), payload))
				Expect(conn.CloseWrite()).To(Succeed())
				got, err := readToEnd(conn)
				if err != nil {
					Expect(isClosedErr(err)).To(BeTrue())
				}
				out = append(out, len(got) > 0)
			}
			return out
		}
		first := run()
		Expect(first).To(ContainElement(true))
		Expect(first).To(ContainElement(false))
		s.Reset()
		Expect(run()).To(Equal(first))
	})

	It("cuts at the earliest position when several after-bytes faults apply to one read", func() {
		f := len(framed(1, token(1), payload))
		late := addFault(srv, mockapns.Disconnect{AfterBytes: int64(3*f + f/2)})
		early := addFault(srv, mockapns.Disconnect{AfterBytes: int64(f + f/2)})
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(framed(1, token(1), payload), framed(2, token(1), payload), framed(3, token(1), payload),
			framed(4, token(1), payload), framed(5, token(1), payload)))
		expectClosedWith(conn, nil)
		Expect(ids(srv.Notifications(mockapns.Filter{}))).To(Equal([]uint32{1}))
		fired := map[int]int{}
		for _, fi := range srv.Faults() {
			fired[fi.ID] = fi.Fired
		}
		Expect(fired).To(Equal(map[int]int{late: 0, early: 1}))
		Eventually(func() uint64 { return srv.Stats().Discarded }).Should(BeEquivalentTo(4))
	})

	DescribeTable("counts exactly the whole frames after a bad one when a cut falls after it in the same read",
		func(cutAfterBad int) {
			good := framed(1, token(1), payload)
			bad := framed(2, token(2)[:31], payload) // wrong token size: status 5
			addFault(srv, mockapns.Disconnect{AfterBytes: int64(len(good) + len(bad) + cutAfterBad)})
			conn := dial(srv, srv.GatewayAddr())
			send(conn, concat(good, bad, framed(3, token(3), payload), framed(4, token(4), payload)))
			Expect(conn.CloseWrite()).To(Succeed())
			expectClosedWith(conn, response(wire.StatusInvalidTokenSize, 2))
			Eventually(func() int64 { return srv.Stats().ConnectionsOpen }).Should(BeZero())
			st := srv.Stats()
			Expect([]uint64{st.Accepted, st.Rejected, st.Discarded}).To(Equal([]uint64{1, 1, 2}))
		},
		Entry("cut right after the bad frame", 0),
		Entry("cut one byte into the next frame", 1),
		Entry("cut right after the next frame", len(framed(3, token(3), payload))),
	)
})
