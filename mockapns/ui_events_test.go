package mockapns_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/internal/leakcheck"
	"github.com/apnskit/apnskit/mockapns"
)

// sseEvent is one Server-Sent Event read from a stream.
type sseEvent struct {
	name string
	id   string
	data string
}

// streamUpdate is the data of an "update" event.
type streamUpdate struct {
	Seq     uint64           `json:"seq"`
	Reset   bool             `json:"reset"`
	Entries []mockapns.Entry `json:"entries"`
	Matched int              `json:"matched"`
	Skipped int              `json:"skipped"`
	Lost    uint64           `json:"lost"`
	Journal struct {
		Entries int `json:"entries"`
		Size    int `json:"size"`
	} `json:"journal"`
	Stats mockapns.Stats `json:"stats"`
}

// sseStream is an open GET /api/v1/events: its events arrive on events,
// which is closed when the stream ends.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent
	cancel context.CancelFunc
}

// openEvents opens the event stream at base+"/api/v1/events?"+query.
func openEvents(base, query string, hdr ...string) *sseStream {
	GinkgoHelper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/events?"+query, nil)
	Expect(err).NotTo(HaveOccurred())
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	s := &sseStream{resp: resp, events: make(chan sseEvent, 1024), cancel: cancel}
	DeferCleanup(s.close)
	if resp.StatusCode != http.StatusOK {
		close(s.events)
		return s
	}
	Expect(resp.Header.Get("Content-Type")).To(Equal("text/event-stream"))
	go readSSE(resp.Body, s.events)
	return s
}

func (s *sseStream) close() {
	s.cancel()
	_ = s.resp.Body.Close()
}

// readSSE parses events from r onto out until r ends, then closes out.
func readSSE(r io.Reader, out chan<- sseEvent) {
	defer close(out)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var ev sseEvent
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(data) > 0 {
				ev.data = strings.Join(data, "\n")
				out <- ev
			}
			ev, data = sseEvent{}, nil
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		}
	}
}

// next returns the next event called name, skipping others.
func (s *sseStream) next(name string) sseEvent {
	GinkgoHelper()
	for {
		var ev sseEvent
		Eventually(s.events).WithTimeout(ioTimeout).Should(Receive(&ev), "waiting for a %q event", name)
		if ev.name == name {
			return ev
		}
	}
}

// update returns the next update.
func (s *sseStream) update() streamUpdate {
	GinkgoHelper()
	var u streamUpdate
	Expect(json.Unmarshal([]byte(s.next("update").data), &u)).To(Succeed())
	return u
}

// journalH2 journals one HTTP/2 request to token(b) answered status/reason.
func journalH2(srv *mockapns.Server, b byte, status int, reason apns.Reason) {
	srv.JournalH2(mockapns.H2Request{Conn: 1, At: time.Now(), Token: token(b),
		Payload: []byte(`{"aps":{"alert":"hi"}}`), APNsID: []byte("123e4567-e89b-12d3-a456-426614174000"),
		Topic: []byte(h2Topic), PushType: []byte("alert"), HTTPStatus: status, Reason: reason})
}

var _ = Describe("The event stream (GET /api/v1/events)", func() {
	var (
		srv *mockapns.Server
		ts  *httptest.Server
	)
	BeforeEach(func() {
		srv = startServer(mockapns.Config{Admin: mockapns.AdminConfig{MaxStreams: 2}})
		ts = httptest.NewServer(srv.Handler())
		DeferCleanup(ts.Close)
	})

	It("starts with the newest entries of the journal, then sends each new one, newest first", func() {
		for b := byte(1); b <= 3; b++ {
			journalH2(srv, b, 200, "")
		}
		s := openEvents(ts.URL, "limit=2")
		first := s.update()
		Expect(first.Reset).To(BeTrue())
		Expect(first.Entries).To(HaveLen(2))
		Expect(first.Entries[0].Seq).To(BeEquivalentTo(3))
		Expect(first.Entries[1].Seq).To(BeEquivalentTo(2))
		Expect(first.Matched).To(Equal(3))
		Expect(first.Skipped).To(Equal(1))
		Expect(first.Journal.Entries).To(Equal(3))
		Expect(first.Journal.Size).To(Equal(mockapns.DefaultJournalSize))
		Expect(first.Stats.Accepted).To(BeEquivalentTo(3))

		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(7, token(9), payload))
		u := s.update()
		Expect(u.Reset).To(BeFalse())
		Expect(u.Entries).To(HaveLen(1))
		Expect(u.Entries[0].Protocol).To(Equal(apns.Binary))
		Expect(u.Entries[0].ID).To(BeEquivalentTo(7))
		Expect(u.Entries[0].Token).To(Equal(token(9)))
		Expect(u.Seq).To(BeEquivalentTo(4))
		Expect(u.Skipped).To(BeZero())
	})

	It("coalesces a flood into a few bounded updates that account for every entry", func() {
		s := openEvents(ts.URL, "limit=50")
		Expect(s.update().Reset).To(BeTrue())
		const n = 20000
		for i := range n {
			journalH2(srv, byte(i), 200, "")
		}
		seen, updates := 0, 0
		for seen < n {
			u := s.update()
			updates++
			Expect(u.Reset).To(BeFalse())
			Expect(len(u.Entries)).To(BeNumerically("<=", 50))
			Expect(u.Skipped).To(Equal(u.Matched - len(u.Entries)))
			Expect(u.Lost).To(BeZero())
			for i := 1; i < len(u.Entries); i++ {
				Expect(u.Entries[i-1].Seq).To(BeNumerically(">", u.Entries[i].Seq), "newest first")
			}
			seen += u.Matched
		}
		Expect(seen).To(Equal(n))
		// Each update but the last waits for the one before it by the
		// coalescing interval; 20,000 journal appends take far less than
		// the 5 s that many updates would need at 4 a second.
		Expect(updates).To(BeNumerically("<", 20))
	})

	It("reports entries the journal dropped before an update as lost", func() {
		small := startServer(mockapns.Config{JournalSize: 10})
		sts := httptest.NewServer(small.Handler())
		DeferCleanup(sts.Close)
		s := openEvents(sts.URL, "")
		Expect(s.update().Reset).To(BeTrue())
		for i := range 25 {
			journalH2(small, byte(i), 200, "")
		}
		total := uint64(0)
		for total < 25 {
			u := s.update()
			total += uint64(u.Matched) + u.Lost
			Expect(u.Journal.Entries).To(BeNumerically("<=", 10))
		}
		Expect(total).To(BeEquivalentTo(25))
	})

	DescribeTable("filters like the list, and by status number or reason",
		func(query string, want []byte) {
			journalH2(srv, 1, 200, "")
			journalH2(srv, 2, 410, apns.ReasonUnregistered)
			journalH2(srv, 3, 400, apns.ReasonBadDeviceToken)
			journalH2(srv, 1, 400, apns.ReasonBadTopic)
			conn := dial(srv, srv.GatewayAddr())
			send(conn, framed(1, token(4), payload))
			Eventually(func() uint64 { return srv.Stats().Accepted }).Should(BeEquivalentTo(2))
			u := openEvents(ts.URL, query).update()
			var got []byte
			for _, e := range u.Entries {
				got = append(got, e.Token[0])
			}
			Expect(got).To(Equal(want))
			Expect(u.Matched).To(Equal(len(want)))
		},
		Entry("token", "token="+hex.EncodeToString(token(1)), []byte{1, 1}),
		Entry("accepted", "status=accepted", []byte{4, 1}),
		Entry("rejected", "status=rejected", []byte{1, 3, 2}),
		Entry("a reason", "status=BadDeviceToken", []byte{3}),
		Entry("an HTTP status", "status=410", []byte{2}),
		Entry("a protocol", "protocol=binary", []byte{4}),
		Entry("token and status", "token="+hex.EncodeToString(token(1))+"&status=rejected", []byte{1}),
	)

	It("starts over with reset when the journal is emptied", func() {
		journalH2(srv, 1, 200, "")
		s := openEvents(ts.URL, "")
		Expect(s.update().Entries).To(HaveLen(1))
		srv.ClearNotifications()
		u := s.update()
		Expect(u.Reset).To(BeTrue())
		Expect(u.Entries).To(BeEmpty())
		journalH2(srv, 2, 200, "")
		u = s.update()
		Expect(u.Reset).To(BeFalse())
		Expect(u.Entries).To(HaveLen(1))
		Expect(u.Entries[0].Token).To(Equal(token(2)))
	})

	It("sends the counters in a stats event when a connection opens without a notification", func() {
		s := openEvents(ts.URL, "")
		s.update()
		_ = dial(srv, srv.GatewayAddr())
		Eventually(func() int64 {
			var st mockapns.Stats
			Expect(json.Unmarshal([]byte(s.next("stats").data), &st)).To(Succeed())
			return st.ConnectionsOpen
		}).WithTimeout(ioTimeout).Should(BeEquivalentTo(1))
	})

	DescribeTable("refuses a bad query with 400 naming the parameter",
		func(query, want string) {
			expectAPIError(callWith(ts, "GET", "/api/v1/events?"+query, "", nil), http.StatusBadRequest, want)
		},
		Entry("unknown", "wait=1", `unknown query parameter "wait"`),
		Entry("limit 0", "limit=0", `"limit"`),
		Entry("limit above the bound", "limit=201", "1 to 200"),
		Entry("bad token", "token=xyz", `"token"`),
		Entry("bad status", "status=no-such", `"status"`),
		Entry("bad protocol", "protocol=spdy", `"protocol"`),
		Entry("repeated", "limit=1&limit=2", "2 times"),
	)

	It("answers 429 with Retry-After beyond AdminConfig.MaxStreams, and serves again once one closed", func() {
		a, b := openEvents(ts.URL, ""), openEvents(ts.URL, "")
		a.update()
		b.update()
		third := callWith(ts, "GET", "/api/v1/events", "", nil)
		expectAPIError(third, http.StatusTooManyRequests, "2 event streams")
		Expect(third.header.Get("Retry-After")).To(Equal("1"))
		a.close()
		Eventually(func() int {
			c := openEvents(ts.URL, "")
			defer c.close()
			return c.resp.StatusCode
		}).WithTimeout(ioTimeout).Should(Equal(http.StatusOK))
	})

	It("wants the bearer token when one is configured", func() {
		guarded := startServer(mockapns.Config{Admin: mockapns.AdminConfig{Token: "s3cret"}})
		gts := httptest.NewServer(guarded.Handler())
		DeferCleanup(gts.Close)
		Expect(openEvents(gts.URL, "").resp.StatusCode).To(Equal(http.StatusUnauthorized))
		s := openEvents(gts.URL, "", "Authorization", "Bearer s3cret")
		Expect(s.resp.StatusCode).To(Equal(http.StatusOK))
		Expect(s.update().Reset).To(BeTrue())
	})

	It("ends with a closed event when the server closes, leaving no goroutine behind", func() {
		leakcheck.ExpectNone(func() {
			own, err := mockapns.Start(mockapns.Config{})
			Expect(err).NotTo(HaveOccurred())
			ots := httptest.NewServer(own.Handler())
			s := openEvents(ots.URL, "")
			s.update()
			own.Close()
			ev := s.next("closed")
			Expect(ev.data).To(MatchJSON(`{"reason":"server closed"}`))
			Eventually(s.events).WithTimeout(ioTimeout).Should(BeClosed())
			s.close()
			ots.Close()
		})
	})
})
