package mockapns_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// ignoreTime leaves out what a spec cannot predict.
var ignoreTime = cmp.Options{cmpopts.IgnoreFields(mockapns.Entry{}, "ReceivedAt"), cmpOpts}

// ids returns the identifiers of entries.
func ids(es []mockapns.Entry) []uint32 {
	out := make([]uint32, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

var _ = Describe("Gateway", func() {
	var srv *mockapns.Server

	BeforeEach(func() {
		srv = startServer(mockapns.Config{})
	})

	It("accepts commands 0, 1 and 2 in silence and answers the first bad one", func() {
		conn := dial(srv, srv.GatewayAddr())
		send(conn, simple(token(1), payload), enhanced(7, token(2), payload), framed(9, token(3), payload),
			enhanced(11, nil, payload))
		expectClosedWith(conn, response(wire.StatusMissingToken, 11))

		got := srv.Notifications(mockapns.Filter{})
		want := []mockapns.Entry{
			{Seq: 1, Conn: 1, Protocol: apns.Binary, Command: wire.CommandSimple, Token: token(1), Payload: []byte(payload)},
			{Seq: 2, Conn: 1, Protocol: apns.Binary, Command: wire.CommandEnhanced, ID: 7, Expiry: 1600000000, Token: token(2), Payload: []byte(payload)},
			{Seq: 3, Conn: 1, Protocol: apns.Binary, Command: wire.CommandFramed, ID: 9, Expiry: 1600000000, Priority: apns.NewPriority(10), Token: token(3), Payload: []byte(payload)},
			{Seq: 4, Conn: 1, Protocol: apns.Binary, Command: wire.CommandEnhanced, ID: 11, Expiry: 1600000000, Token: []byte{}, Payload: []byte(payload), Status: int(wire.StatusMissingToken)},
		}
		Expect(cmp.Diff(want, got, ignoreTime)).To(BeEmpty())
		for _, e := range got {
			Expect(e.ReceivedAt).NotTo(BeZero())
		}
		st := srv.Stats()
		Expect(st.Accepted).To(BeEquivalentTo(3))
		Expect(st.Rejected).To(BeEquivalentTo(1))
		Expect(st.ConnectionsTotal).To(BeEquivalentTo(1))
	})

	It("writes nothing for accepted notifications, even across many reads", func() {
		conn := dial(srv, srv.GatewayAddr())
		for i := range 200 {
			send(conn, framed(uint32(i+1), token(byte(i)), payload))
		}
		// The only bytes that ever arrive are the answer to the bad frame.
		send(conn, framed(1000, token(1), ""))
		expectClosedWith(conn, response(wire.StatusMissingPayload, 1000))
		Expect(srv.Stats().Accepted).To(BeEquivalentTo(200))
	})

	It("reassembles frames written one byte at a time", func() {
		conn := dial(srv, srv.GatewayAddr())
		stream := concat(framed(1, token(1), payload), enhanced(2, token(2), payload), simple(token(3), payload))
		for i := range stream {
			send(conn, stream[i:i+1])
		}
		got, err := srv.WaitNotifications(ctxTimeout(), mockapns.Filter{}, 3)
		Expect(err).NotTo(HaveOccurred())
		Expect(ids(got)).To(Equal([]uint32{1, 2, 0}))
		Expect(got[2].Token).To(Equal(token(3)))
	})

	It("splits frames packed into one write", func() {
		conn := dial(srv, srv.GatewayAddr())
		var stream []byte
		for i := range 50 {
			stream = append(stream, framed(uint32(i), token(byte(i)), payload)...)
		}
		send(conn, stream)
		got, err := srv.WaitNotifications(ctxTimeout(), mockapns.Filter{}, 50)
		Expect(err).NotTo(HaveOccurred())
		for i, e := range got {
			Expect(e.ID).To(BeEquivalentTo(i))
			Expect(e.Token).To(Equal(token(byte(i))))
		}
	})

	It("treats identifiers as opaque: 0 and repeats are accepted", func() {
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(0, token(1), payload), framed(0, token(2), payload), framed(5, token(3), payload), framed(5, token(4), payload))
		Expect(conn.CloseWrite()).To(Succeed())
		expectClosedWith(conn, nil)
		Expect(ids(srv.Notifications(mockapns.Filter{Status: mockapns.Accepted}))).To(Equal([]uint32{0, 0, 5, 5}))
	})

	It("judges everything received when the client half-closes, then closes", func() {
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(1, token(1), payload), framed(2, token(2), payload), framed(3, token(3), payload))
		Expect(conn.CloseWrite()).To(Succeed())
		expectClosedWith(conn, nil)
		// The close confirms the batch: everything is journalled already.
		Expect(srv.Stats().Accepted).To(BeEquivalentTo(3))
		Expect(ids(srv.Notifications(mockapns.Filter{}))).To(Equal([]uint32{1, 2, 3}))
	})

	It("answers an error still due when the client half-closes", func() {
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(framed(1, token(1), payload), framed(2, token(2)[:31], payload)))
		Expect(conn.CloseWrite()).To(Succeed())
		expectClosedWith(conn, response(wire.StatusInvalidTokenSize, 2))
	})

	DescribeTable("Apple's validation",
		func(frame []byte, status wire.Status, id uint32) {
			conn := dial(srv, srv.GatewayAddr())
			send(conn, concat(framed(100, token(1), payload), frame))
			expectClosedWith(conn, response(status, id))
			rej := srv.Notifications(mockapns.Filter{Status: mockapns.Rejected})
			Expect(rej).To(HaveLen(1))
			Expect(rej[0].Status).To(Equal(int(status)))
			Expect(rej[0].ID).To(Equal(id))
			Expect(srv.Stats().Accepted).To(BeEquivalentTo(1))
		},
		Entry("empty token: 2", framed(3, nil, payload), wire.StatusMissingToken, uint32(3)),
		Entry("short token: 5", framed(4, token(1)[:31], payload), wire.StatusInvalidTokenSize, uint32(4)),
		Entry("long token: 5", framed(5, append(token(1), 0), payload), wire.StatusInvalidTokenSize, uint32(5)),
		Entry("empty payload: 4", framed(6, token(1), ""), wire.StatusMissingPayload, uint32(6)),
		Entry("payload over 2048: 7", framed(7, token(1), `"`+string(make([]byte, 2048))+`"`), wire.StatusInvalidPayloadSize, uint32(7)),
		Entry("command 1 payload over 2048: 7", enhanced(8, token(1), string(make([]byte, 2049))), wire.StatusInvalidPayloadSize, uint32(8)),
		Entry("unknown command: 128, id 0", []byte{7, 0, 0, 0, 0, 0}, wire.StatusProtocolError, uint32(0)),
		Entry("unknown item: 128 naming the id", withItem(framed(9, token(1), payload), 9, []byte{1}), wire.StatusProtocolError, uint32(9)),
		Entry("repeated item: 128 naming the id", withItem(framed(10, token(1), payload), wire.ItemPriority, []byte{5}), wire.StatusProtocolError, uint32(10)),
		Entry("bad priority: 255", withPriority(framed(11, token(1), payload), 7), wire.StatusUnknown, uint32(11)),
		Entry("frame length of 4 GB: 128", []byte{2, 0xff, 0xff, 0xff, 0xff, 1, 2, 3}, wire.StatusProtocolError, uint32(0)),
	)

	It("accepts what parses when validation is off", func() {
		lax := startServer(mockapns.Config{NoValidation: true})
		conn := dial(lax, lax.GatewayAddr())
		send(conn, framed(1, nil, ""), framed(2, token(1)[:8], payload))
		Expect(conn.CloseWrite()).To(Succeed())
		expectClosedWith(conn, nil)
		Expect(lax.Stats().Accepted).To(BeEquivalentTo(2))
	})

	It("reads frames larger than its read buffer", func() {
		lax := startServer(mockapns.Config{NoValidation: true})
		conn := dial(lax, lax.GatewayAddr())
		bigTok := bytes.Repeat([]byte{7}, 65535)
		bigPayload := `"` + strings.Repeat("p", 65533) + `"`
		send(conn, concat(enhanced(1, bigTok, bigPayload), framed(2, bigTok, bigPayload), framed(3, token(1), payload)))
		Expect(conn.CloseWrite()).To(Succeed())
		expectClosedWith(conn, nil)
		es := lax.Notifications(mockapns.Filter{})
		Expect(ids(es)).To(Equal([]uint32{1, 2, 3}))
		Expect(es[0].Token).To(Equal(bigTok))
		Expect(es[1].Payload).To(Equal([]byte(bigPayload)))
	})

	It("closes without a response on a bad command-0 notification", func() {
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(simple(token(1), payload), simple(nil, payload), simple(token(2), payload)))
		expectClosedWith(conn, nil)
		es := srv.Notifications(mockapns.Filter{})
		Expect(es).To(HaveLen(2))
		Expect(es[1].Command).To(Equal(wire.CommandSimple))
		Expect(es[1].Status).To(Equal(int(wire.StatusMissingToken)))
		Eventually(func() uint64 { return srv.Stats().Discarded }).Should(BeEquivalentTo(1))
	})

	It("discards every frame after the bad one, including those written after the answer", func() {
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(framed(1, token(1), payload), framed(2, nil, payload), framed(3, token(3), payload), framed(4, token(4), payload)))
		resp := make([]byte, wire.ErrorResponseSize)
		_, err := io.ReadFull(conn, resp)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp).To(Equal(response(wire.StatusMissingToken, 2)))
		// The gateway keeps reading (so the answer is not destroyed by a
		// reset) and discards what comes.
		send(conn, framed(5, token(5), payload), framed(6, token(6), payload), framed(7, token(7), payload))
		Expect(conn.CloseWrite()).To(Succeed())
		expectClosedWith(conn, nil)
		Eventually(func() int64 { return srv.Stats().ConnectionsOpen }).Should(BeZero())
		st := srv.Stats()
		Expect(st.Discarded).To(BeEquivalentTo(5))
		Expect(st.Accepted).To(BeEquivalentTo(1))
		Expect(ids(srv.Notifications(mockapns.Filter{}))).To(Equal([]uint32{1, 2}))
	})

	It("survives garbage without disturbing other connections", func() {
		good := dial(srv, srv.GatewayAddr())
		send(good, framed(1, token(1), payload))
		for _, junk := range [][]byte{
			{0xde, 0xad, 0xbe, 0xef},
			{2, 0, 0, 0, 3, 1, 0, 9}, // item runs past its frame
			{2, 0, 1, 0, 0},          // a frame length, then nothing
			[]byte("GET / HTTP/1.1\r\n\r\n"),
		} {
			bad := dial(srv, srv.GatewayAddr())
			send(bad, junk)
			Expect(bad.CloseWrite()).To(Succeed())
			got, _ := readToEnd(bad)
			if len(got) > 0 {
				Expect(got).To(HaveLen(wire.ErrorResponseSize))
				Expect(got[0]).To(BeEquivalentTo(wire.CommandErrorResponse))
				Expect(got[1]).To(BeEquivalentTo(wire.StatusProtocolError))
			}
		}
		send(good, framed(2, token(2), payload))
		Expect(good.CloseWrite()).To(Succeed())
		expectClosedWith(good, nil)
		Expect(ids(srv.Notifications(mockapns.Filter{Status: mockapns.Accepted}))).To(Equal([]uint32{1, 2}))
	})

	It("serves many connections at once", func() {
		const conns, each = 8, 100
		var wg sync.WaitGroup
		errs := make(chan error, conns)
		cfg := srv.ClientTLSConfig()
		for c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, err := tls.Dial("tcp", srv.GatewayAddr(), cfg)
				if err != nil {
					errs <- err
					return
				}
				defer conn.Close()
				for i := range each {
					if _, err := conn.Write(framed(uint32(c*each+i), token(byte(c)), payload)); err != nil {
						errs <- err
						return
					}
				}
				if err := conn.CloseWrite(); err != nil {
					errs <- err
					return
				}
				if _, err := readToEnd(conn); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(srv.Stats().Accepted).To(BeEquivalentTo(conns * each))
		Expect(srv.Stats().ConnectionsTotal).To(BeEquivalentTo(conns))
		for c := range conns {
			Expect(srv.Notifications(mockapns.Filter{Token: tokenOf(token(byte(c)))})).To(HaveLen(each))
		}
	})

	Describe("TLS", func() {
		It("refuses a client without a certificate, and one from another CA", func() {
			good := dial(srv, srv.GatewayAddr())

			noCert := &tls.Config{RootCAs: srv.RootCAs(), MinVersion: tls.VersionTLS12}
			other, err := certs.New(certs.Options{})
			Expect(err).NotTo(HaveOccurred())
			foreign := &tls.Config{RootCAs: srv.RootCAs(), Certificates: []tls.Certificate{other.Client.TLS}, MinVersion: tls.VersionTLS12}

			for i, cfg := range []*tls.Config{noCert, foreign} {
				conn, err := tls.Dial("tcp", srv.GatewayAddr(), cfg)
				if err == nil {
					// With TLS 1.3 the client learns of the refusal on its
					// first read.
					Expect(conn.SetDeadline(time.Now().Add(ioTimeout))).To(Succeed())
					_, err = conn.Read(make([]byte, 1))
					conn.Close()
				}
				Expect(err).To(HaveOccurred())
				Eventually(func() uint64 { return srv.Stats().HandshakesFailed }).Should(BeEquivalentTo(i + 1))
			}
			// The feedback service refuses too.
			conn, err := tls.Dial("tcp", srv.FeedbackAddr(), foreign)
			if err == nil {
				_ = conn.SetDeadline(time.Now().Add(ioTimeout))
				_, err = conn.Read(make([]byte, 1))
				conn.Close()
			}
			Expect(err).To(HaveOccurred())
			Eventually(func() uint64 { return srv.Stats().HandshakesFailed }).Should(BeEquivalentTo(3))

			send(good, framed(1, token(1), payload))
			Expect(good.CloseWrite()).To(Succeed())
			expectClosedWith(good, nil)
			Expect(srv.Stats().Accepted).To(BeEquivalentTo(1))
			Expect(srv.Stats().ConnectionsTotal).To(BeEquivalentTo(1))
		})
	})

	Describe("lifecycle", func() {
		It("closes idempotently, concurrently, with connections open", func() {
			s := startServer(mockapns.Config{})
			conn := dial(s, s.GatewayAddr())
			send(conn, framed(1, token(1), payload))
			Eventually(func() uint64 { return s.Stats().Accepted }).Should(BeEquivalentTo(1))
			var wg sync.WaitGroup
			for range 3 {
				wg.Add(1)
				go func() { defer wg.Done(); s.Close() }()
			}
			wg.Wait()
			s.Close()
			_, err := readToEnd(conn)
			if err != nil {
				Expect(isClosedErr(err)).To(BeTrue())
			}
			Expect(s.Stats().ConnectionsOpen).To(BeZero())
			_, err = tls.Dial("tcp", s.GatewayAddr(), s.ClientTLSConfig())
			Expect(err).To(HaveOccurred())
		})

		It("cuts open connections on demand", func() {
			conn := dial(srv, srv.GatewayAddr())
			send(conn, framed(1, token(1), payload))
			Eventually(func() uint64 { return srv.Stats().Accepted }).Should(BeEquivalentTo(1))
			srv.CloseClientConnections()
			expectClosedWith(conn, nil)
			Eventually(func() int64 { return srv.Stats().ConnectionsOpen }).Should(BeZero())
			// The server still serves.
			again := dial(srv, srv.GatewayAddr())
			send(again, framed(2, token(1), payload))
			Expect(again.CloseWrite()).To(Succeed())
			expectClosedWith(again, nil)
			Expect(srv.Stats().Accepted).To(BeEquivalentTo(2))
		})

		It("shuts down gracefully: status 10 names the last notification accepted, after the frames read are judged", func() {
			s := startServer(mockapns.Config{})
			conn := dial(s, s.GatewayAddr())
			send(conn, concat(framed(1, token(1), payload), framed(2, token(1), payload), framed(3, token(1), payload)))
			Eventually(func() uint64 { return s.Stats().Accepted }).Should(BeEquivalentTo(3))
			done := make(chan error, 1)
			go func() { done <- s.Shutdown(context.Background()) }()
			got := make([]byte, wire.ErrorResponseSize)
			_, err := io.ReadFull(conn, got)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(response(wire.StatusShutdown, 3)))
			// What the client sends after the answer is counted, never
			// journalled.
			send(conn, framed(4, token(1), payload))
			Eventually(func() uint64 { return s.Stats().Discarded }).Should(BeEquivalentTo(1))
			Expect(conn.Close()).To(Succeed())
			Eventually(done).Should(Receive(BeNil()))
			Expect(s.Stats().Accepted).To(BeEquivalentTo(3))
			Expect(s.Notifications(mockapns.Filter{})).To(HaveLen(3))
		})

		It("judges at shutdown the frames of a read in progress, then names the last of them", func() {
			s := startServer(mockapns.Config{})
			conn := dial(s, s.GatewayAddr())
			// One write carries the frames with the shutdown racing it:
			// whatever was read is judged, and the answer names the last
			// accepted, so journal and answer agree.
			var frames [][]byte
			for id := uint32(1); id <= 500; id++ {
				frames = append(frames, framed(id, token(1), payload))
			}
			send(conn, concat(frames...))
			Expect(s.Shutdown(context.Background())).To(Succeed())
			got, _ := readToEnd(conn)
			Expect(got).To(HaveLen(wire.ErrorResponseSize))
			Expect(got[1]).To(BeEquivalentTo(wire.StatusShutdown))
			last := binary.BigEndian.Uint32(got[2:])
			Expect(s.Stats().Accepted).To(BeEquivalentTo(last))
			// Every frame read is accepted or counted as discarded.
			Expect(s.Stats().Accepted + s.Stats().Discarded).To(BeEquivalentTo(500))
		})

		It("forces the close when the shutdown context ends", func() {
			s := startServer(mockapns.Config{})
			conn := dial(s, s.GatewayAddr())
			send(conn, framed(1, token(1), payload))
			Eventually(func() uint64 { return s.Stats().Accepted }).Should(BeEquivalentTo(1))
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := s.Shutdown(ctx)
			Expect(errors.Is(err, context.Canceled)).To(BeTrue())
			// The status 10 answer may or may not beat the forced close.
			got, _ := readToEnd(conn)
			Expect(got).To(Or(BeEmpty(), Equal(response(wire.StatusShutdown, 1))))
		})
	})
})

// withItem appends an item to a command-2 frame and fixes its length.
func withItem(frame []byte, id uint8, data []byte) []byte {
	out := append([]byte{}, frame...)
	out = append(out, id, byte(len(data)>>8), byte(len(data)))
	out = append(out, data...)
	binary.BigEndian.PutUint32(out[1:], uint32(len(out)-5))
	return out
}

// withPriority rewrites the priority item of a frame made by framed.
func withPriority(frame []byte, p byte) []byte {
	out := append([]byte{}, frame...)
	out[len(out)-1] = p
	return out
}

// ctxTimeout returns a context that ends with the spec or after ioTimeout.
func ctxTimeout() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	DeferCleanup(cancel)
	return ctx
}
