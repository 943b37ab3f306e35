package mockapns_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// lockedBuffer is a bytes.Buffer safe for the writer goroutine and the spec.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// failingWriter fails every write.
type failingWriter struct{}

var errDiskFull = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

var _ = Describe("Journal file", func() {
	It("has every entry, also those the ring dropped, as JSON lines, then the stats line", func() {
		var file lockedBuffer
		srv, err := mockapns.Start(mockapns.Config{JournalSize: 2, JournalFile: &file})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(srv.Close)
		conn := dial(srv, srv.GatewayAddr())
		send(conn, concat(framed(1, token(1), payload), framed(2, token(2), payload), framed(3, token(3), payload),
			framed(4, token(4), payload), framed(5, token(5), payload)))
		Eventually(func() uint64 { return srv.Stats().Accepted }).Should(BeEquivalentTo(5))
		Expect(srv.Notifications(mockapns.Filter{})).To(HaveLen(2))
		Expect(srv.Shutdown(context.Background())).To(Succeed())

		lines := file.lines()
		Expect(lines).To(HaveLen(6))
		for i, l := range lines[:5] {
			var e struct {
				Seq     uint64          `json:"seq"`
				ID      uint32          `json:"id"`
				Token   string          `json:"token"`
				Payload json.RawMessage `json:"payload"`
			}
			Expect(json.Unmarshal([]byte(l), &e)).To(Succeed())
			Expect(e.Seq).To(BeEquivalentTo(i + 1))
			Expect(e.ID).To(BeEquivalentTo(i + 1))
			Expect(e.Token).To(Equal(fmt.Sprintf("%x", token(byte(i+1)))))
			Expect(string(e.Payload)).To(Equal(payload))
		}
		// The same JSON as the API's entries.
		want, err := json.Marshal(srv.Notifications(mockapns.Filter{})[1])
		Expect(err).NotTo(HaveOccurred())
		Expect(lines[4]).To(Equal(string(want)))
		var last struct {
			Stats mockapns.Stats `json:"stats"`
		}
		Expect(json.Unmarshal([]byte(lines[5]), &last)).To(Succeed())
		Expect(last.Stats.Accepted).To(BeEquivalentTo(5))
		Expect(last.Stats.JournalFileErrors).To(BeZero())
	})

	It("writes a payload that is not JSON, or has spaces, as the API does", func() {
		var file lockedBuffer
		srv, err := mockapns.Start(mockapns.Config{JournalFile: &file, NoValidation: true})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(srv.Close)
		conn := dial(srv, srv.GatewayAddr())
		// Repeats and changes of payload and of read, for the writer's
		// caches of the previous payload and time.
		send(conn, concat(framed(1, token(1), `not json "quoted"`), framed(2, token(2), `{ "aps" : { "alert" : "a" } }`), framed(3, token(3), ""),
			framed(4, token(4), `{ "aps" : { "alert" : "a" } }`), framed(5, token(5), `{ "aps" : { "alert" : "a" } }`), framed(6, token(6), `not json "quoted"`),
			framed(7, token(7), `{"aps":{"alert":"a"}}`), framed(8, token(8), `{"aps":{"alert":"a"`)))
		Eventually(func() uint64 { return srv.Stats().Accepted }).Should(BeEquivalentTo(8))
		send(conn, concat(framed(9, token(9), `{"aps":{"alert":"a"`), framed(10, token(1), `[1, 2]`)))
		Eventually(func() uint64 { return srv.Stats().Accepted }).Should(BeEquivalentTo(10))
		srv.Close()
		lines := file.lines()
		Expect(lines).To(HaveLen(11))
		es := srv.Notifications(mockapns.Filter{})
		Expect(es[8].ReceivedAt).NotTo(Equal(es[7].ReceivedAt), "a second read")
		for i, e := range srv.Notifications(mockapns.Filter{}) {
			want, err := json.Marshal(e)
			Expect(err).NotTo(HaveOccurred())
			Expect(lines[i]).To(Equal(string(want)))
		}
	})

	It("writes refused, command-0 and -1 and HTTP/2 entries, between binary ones, as the API does", func() {
		var file lockedBuffer
		srv, err := mockapns.Start(mockapns.Config{JournalFile: &file})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(srv.Close)
		// A frame without priority or expiry items, and one refused (an
		// empty token: status 2) after two accepted ones of the same read.
		bare := wire.Notification{Command: wire.CommandFramed, ID: 4, Present: wire.HasIdentifier, Token: token(4), Payload: []byte(payload)}
		b, err := bare.MarshalBinary()
		Expect(err).NotTo(HaveOccurred())
		push(srv, enhanced(1, token(1), payload), b, framed(5, nil, payload))
		srv.JournalH2(mockapns.H2Request{Conn: 3, At: time.Date(2026, 12, 1, 12, 0, 0, 5, time.UTC), Token: token(8),
			Payload: []byte(`{"aps":{}}`), APNsID: []byte("00000000-0000-0000-0000-000000000001"), Topic: []byte("com.example.app"),
			HTTPStatus: 410, Reason: apns.ReasonUnregistered, Auth: mockapns.AuthCertificate})
		push(srv, simple(token(6), payload))
		push(srv, framed(7, token(7), payload))
		srv.Close()
		es := srv.Notifications(mockapns.Filter{})
		Expect(es).To(HaveLen(6))
		lines := file.lines()
		Expect(lines).To(HaveLen(len(es) + 1))
		for i, e := range es {
			want, err := json.Marshal(e)
			Expect(err).NotTo(HaveOccurred())
			Expect(lines[i]).To(Equal(string(want)))
		}
	})

	It("counts a write error, keeps ingesting, and still closes", func() {
		srv, err := mockapns.Start(mockapns.Config{JournalFile: failingWriter{}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(srv.Close)
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(1, token(1), payload))
		Eventually(func() uint64 { return srv.Stats().JournalFileErrors }).ShouldNot(BeZero())
		send(conn, framed(2, token(1), payload))
		Eventually(func() uint64 { return srv.Stats().Accepted }).Should(BeEquivalentTo(2))
		srv.Close()
		Expect(srv.Stats().JournalFileErrors).To(BeNumerically(">=", 2))
	})
})
