package mockapns_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// answer is one HTTP response, read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// call makes one request to the admin API and reads the answer. A request
// with a body, and every POST, says Content-Type: application/json.
func call(ts *httptest.Server, method, path, body string) answer {
	GinkgoHelper()
	return callWith(ts, method, path, body, nil)
}

// callWith is call with extra headers (a value "" removes a header).
func callWith(ts *httptest.Server, method, path, body string, header map[string]string) answer {
	GinkgoHelper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	Expect(err).NotTo(HaveOccurred())
	if body != "" || method == http.MethodPost || method == http.MethodPut {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return answer{status: resp.StatusCode, header: resp.Header, body: data}
}

// expectJSON asserts the status and a JSON body, and decodes it into v
// (strictly) unless v is nil.
func expectJSON(a answer, status int, v any) {
	GinkgoHelper()
	Expect(a.status).To(Equal(status), "body: %s", a.body)
	Expect(a.header.Get("Content-Type")).To(Equal("application/json"))
	if v != nil {
		dec := json.NewDecoder(bytes.NewReader(a.body))
		dec.DisallowUnknownFields()
		Expect(dec.Decode(v)).To(Succeed(), "body: %s", a.body)
	}
}

// expectAPIError asserts a JSON error answer whose message mentions each
// of words, and returns the message.
func expectAPIError(a answer, status int, words ...string) string {
	GinkgoHelper()
	Expect(a.status).To(Equal(status), "body: %s", a.body)
	Expect(a.header.Get("Content-Type")).To(Equal("application/json"))
	var e struct {
		Error string `json:"error"`
	}
	Expect(json.Unmarshal(a.body, &e)).To(Succeed(), "body: %s", a.body)
	Expect(e.Error).NotTo(BeEmpty())
	for _, w := range words {
		Expect(e.Error).To(ContainSubstring(w))
	}
	return e.Error
}

// state is everything the admin API can change, for proving that a
// refused request changed nothing.
type state struct {
	Stats         mockapns.Stats
	Notifications []mockapns.Entry
	Faults        []mockapns.FaultInfo
	Feedback      []wire.FeedbackTuple
}

func stateOf(srv *mockapns.Server) state {
	return state{srv.Stats(), srv.Notifications(mockapns.Filter{}), srv.Faults(), srv.PendingFeedback()}
}

// waitEntries blocks (bounded) until the journal holds n entries.
func waitEntries(srv *mockapns.Server, n int) []mockapns.Entry {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	es, err := srv.WaitNotifications(ctx, mockapns.Filter{}, n)
	Expect(err).NotTo(HaveOccurred())
	return es
}

// getAsync starts a GET in a goroutine (which asserts nothing) and
// delivers the answer, or the error, on the channel.
func getAsync(ts *httptest.Server, path string) <-chan asyncAnswer {
	done := make(chan asyncAnswer, 1)
	go func() {
		resp, err := ts.Client().Get(ts.URL + path)
		if err != nil {
			done <- asyncAnswer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		done <- asyncAnswer{answer: answer{status: resp.StatusCode, header: resp.Header, body: body}, err: err}
	}()
	return done
}

type asyncAnswer struct {
	answer
	err error
}

// badTokenSize encodes a command-2 notification with a 31-byte token, which
// the gateway refuses with status 5.
func badTokenSize(id uint32) []byte { return framed(id, token(9)[:31], payload) }

var _ = Describe("Admin API", func() {
	var (
		srv *mockapns.Server
		ts  *httptest.Server
	)

	BeforeEach(func() {
		srv = startServer(mockapns.Config{})
		ts = httptest.NewServer(srv.Handler())
		DeferCleanup(ts.Close) // runs before srv.Close
	})

	// journalOfFour sends three accepted notifications (tokens 1, 2, 1) on
	// one connection and one refused with status 5 on another.
	journalOfFour := func() {
		GinkgoHelper()
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(1, token(1), payload), framed(2, token(2), payload), framed(3, token(1), payload))
		waitEntries(srv, 3)
		bad := dial(srv, srv.GatewayAddr())
		send(bad, badTokenSize(4))
		expectClosedWith(bad, response(wire.StatusInvalidTokenSize, 4))
		waitEntries(srv, 4)
	}

	Describe("GET /healthz", func() {
		It("answers 200 while serving and 503 once closed", func() {
			var h map[string]string
			expectJSON(call(ts, "GET", "/healthz", ""), http.StatusOK, &h)
			Expect(h).To(Equal(map[string]string{"status": "ok"}))

			srv.Close()
			expectJSON(call(ts, "GET", "/healthz", ""), http.StatusServiceUnavailable, &h)
			Expect(h).To(Equal(map[string]string{"status": "closed"}))
		})
	})

	Describe("cross-origin guard", func() {
		It("refuses a foreign Origin with 403 and adds no fault", func() {
			req, err := http.NewRequest("POST", ts.URL+"/api/v1/faults", strings.NewReader(`{"type":"drop"}`))
			Expect(err).NotTo(HaveOccurred())
			req.Header.Set("Origin", "http://evil.example")
			req.Header.Set("Content-Type", "text/plain")
			resp, err := ts.Client().Do(req)
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusForbidden))
			var faults []map[string]any
			expectJSON(call(ts, "GET", "/api/v1/faults", ""), http.StatusOK, &faults)
			Expect(faults).To(BeEmpty())
		})
	})

	Describe("routing", func() {
		It("answers an unknown path with a JSON 404", func() {
			expectAPIError(call(ts, "GET", "/api/v1/nope", ""), http.StatusNotFound, "/api/v1/nope")
			expectAPIError(call(ts, "GET", "/nope", ""), http.StatusNotFound) // "/" is the web page: ui_test.go
		})

		It("answers a wrong method with a JSON 405 and Allow", func() {
			a := call(ts, "PUT", "/api/v1/stats", "{}")
			expectAPIError(a, http.StatusMethodNotAllowed, "PUT")
			Expect(a.header.Get("Allow")).To(ContainSubstring("GET"))

			a = call(ts, "GET", "/api/v1/reset", "")
			expectAPIError(a, http.StatusMethodNotAllowed)
			Expect(a.header.Get("Allow")).To(ContainSubstring("POST"))
		})
	})

	Describe("GET /api/v1/notifications", func() {
		It("answers an empty array for an empty journal", func() {
			a := call(ts, "GET", "/api/v1/notifications", "")
			expectJSON(a, http.StatusOK, nil)
			Expect(a.body).To(MatchJSON(`[]`))
		})

		It("lists the journal oldest first, in the contract's JSON form", func() {
			journalOfFour()
			var got []mockapns.Entry
			expectJSON(call(ts, "GET", "/api/v1/notifications", ""), http.StatusOK, &got)
			Expect(cmp.Diff(srv.Notifications(mockapns.Filter{}), got, cmpOpts)).To(BeEmpty())
			Expect(ids(got)).To(Equal([]uint32{1, 2, 3, 4}))

			var raw []map[string]any
			Expect(json.Unmarshal(call(ts, "GET", "/api/v1/notifications", "").body, &raw)).To(Succeed())
			Expect(raw[0]).To(HaveLen(11))
			Expect(raw[0]).To(HaveKeyWithValue("protocol", "binary"))
			Expect(raw[0]).To(HaveKeyWithValue("token", hex.EncodeToString(token(1))))
			Expect(raw[0]).To(HaveKeyWithValue("payload", map[string]any{"aps": map[string]any{"alert": "Hi"}}))
			Expect(raw[0]).To(HaveKeyWithValue("status", BeEquivalentTo(0)))
			Expect(raw[0]).To(HaveKeyWithValue("command", BeEquivalentTo(2)))
			Expect(raw[0]).To(HaveKey("received_at"))
			Expect(raw[3]).To(HaveKeyWithValue("status", BeEquivalentTo(5)))
		})

		DescribeTable("filters",
			func(query string, want []uint32) {
				journalOfFour()
				var got []mockapns.Entry
				expectJSON(call(ts, "GET", "/api/v1/notifications?"+query, ""), http.StatusOK, &got)
				Expect(ids(got)).To(Equal(want))
			},
			Entry("by token", "token="+hex.EncodeToString(token(1)), []uint32{1, 3}),
			Entry("by token in upper case", "token="+strings.ToUpper(hex.EncodeToString(token(2))), []uint32{2}),
			Entry("accepted", "status=accepted", []uint32{1, 2, 3}),
			Entry("rejected", "status=rejected", []uint32{4}),
			Entry("limit keeps the oldest", "limit=2", []uint32{1, 2}),
			Entry("all together", "token="+hex.EncodeToString(token(1))+"&status=accepted&limit=1", []uint32{1}),
			Entry("wait=0 does not wait", "wait=0&status=rejected", []uint32{4}),
			Entry("wait already satisfied", "wait=3&timeout=1m&status=accepted", []uint32{1, 2, 3}),
		)

		It("waits until a notification sent over TLS arrives", func() {
			done := getAsync(ts, "/api/v1/notifications?wait=2&timeout=1m&token="+hex.EncodeToString(token(7)))

			conn := dial(srv, srv.GatewayAddr())
			send(conn, framed(1, token(7), payload), framed(2, token(8), payload)) // only one matches
			waitEntries(srv, 2)
			Consistently(done, 100*time.Millisecond).ShouldNot(Receive())

			send(conn, framed(3, token(7), payload))
			var r asyncAnswer
			Eventually(done, ioTimeout).Should(Receive(&r))
			Expect(r.err).NotTo(HaveOccurred())
			Expect(r.status).To(Equal(http.StatusOK), "body: %s", r.body)
			var got []mockapns.Entry
			Expect(json.Unmarshal(r.body, &got)).To(Succeed())
			Expect(ids(got)).To(Equal([]uint32{1, 3}))
		})

		It("answers 504 with what matched when the wait times out", func() {
			conn := dial(srv, srv.GatewayAddr())
			send(conn, framed(1, token(1), payload))
			waitEntries(srv, 1)

			a := call(ts, "GET", "/api/v1/notifications?wait=2&timeout=20ms", "")
			var body struct {
				Error         string           `json:"error"`
				Wanted        int              `json:"wanted"`
				Matched       int              `json:"matched"`
				Notifications []mockapns.Entry `json:"notifications"`
			}
			expectJSON(a, http.StatusGatewayTimeout, &body)
			Expect(body.Error).To(ContainSubstring("timeout"))
			Expect(body.Wanted).To(Equal(2))
			Expect(body.Matched).To(Equal(1))
			Expect(ids(body.Notifications)).To(Equal([]uint32{1}))
		})

		It("answers 503 when the server closes during a wait", func() {
			done := getAsync(ts, "/api/v1/notifications?wait=1&timeout=1m")
			Consistently(done, 50*time.Millisecond).ShouldNot(Receive())
			srv.Close()
			var r asyncAnswer
			Eventually(done, ioTimeout).Should(Receive(&r))
			Expect(r.err).NotTo(HaveOccurred())
			expectAPIError(r.answer, http.StatusServiceUnavailable, "closed")
		})

		DescribeTable("refuses bad query values with 400, naming the parameter",
			func(query, word string) {
				journalOfFour()
				before := stateOf(srv)
				expectAPIError(call(ts, "GET", "/api/v1/notifications?"+query, ""), http.StatusBadRequest, word)
				Expect(cmp.Diff(before, stateOf(srv), cmpOpts)).To(BeEmpty())
			},
			Entry("negative limit", "limit=-1", "limit"),
			Entry("zero limit", "limit=0", "limit"),
			Entry("limit not a number", "limit=ten", "limit"),
			Entry("wait not a number", "wait=x", "wait"),
			Entry("negative wait", "wait=-1", "wait"),
			Entry("bogus timeout", "wait=1&timeout=bogus", "timeout"),
			Entry("timeout without unit", "wait=1&timeout=5", "timeout"),
			Entry("zero timeout", "wait=1&timeout=0s", "timeout"),
			Entry("huge timeout", "wait=1&timeout=24h", "timeout"),
			Entry("timeout over a minute", "wait=1&timeout=61s", "timeout"),
			Entry("timeout without wait", "timeout=5s", "timeout"),
			Entry("unknown status", "status=maybe", "status"),
			Entry("token not hex", "token=zz", "token"),
			Entry("token of odd length", "token=abc", "token"),
			Entry("empty token", "token=", "token"),
			Entry("unknown parameter", "stauts=accepted", "stauts"),
			Entry("repeated parameter", "limit=1&limit=2", "limit"),
			Entry("broken escape", "token=%zz", "query"),
		)
	})

	Describe("DELETE /api/v1/notifications", func() {
		It("empties the journal and keeps the counters", func() {
			journalOfFour()
			statsBefore := srv.Stats()
			a := call(ts, "DELETE", "/api/v1/notifications", "")
			Expect(a.status).To(Equal(http.StatusNoContent))
			Expect(srv.Notifications(mockapns.Filter{})).To(BeEmpty())
			Expect(srv.Stats()).To(Equal(statsBefore))
			Expect(call(ts, "GET", "/api/v1/notifications", "").body).To(MatchJSON(`[]`))
		})
	})

	Describe("GET /api/v1/stats", func() {
		It("answers the counters under their contract names", func() {
			journalOfFour()
			var got mockapns.Stats
			expectJSON(call(ts, "GET", "/api/v1/stats", ""), http.StatusOK, &got)
			Expect(got).To(Equal(srv.Stats()))
			Expect(got.Accepted).To(BeEquivalentTo(3))
			Expect(got.Rejected).To(BeEquivalentTo(1))

			var raw map[string]any
			Expect(json.Unmarshal(call(ts, "GET", "/api/v1/stats", "").body, &raw)).To(Succeed())
			for _, k := range []string{"connections_total", "connections_open", "handshakes_failed",
				"accepted", "rejected", "discarded", "feedback_served"} {
				Expect(raw).To(HaveKey(k))
			}
		})
	})

	Describe("/api/v1/faults", func() {
		type view struct {
			ID    int             `json:"id"`
			Fired int             `json:"fired"`
			Fault json.RawMessage `json:"fault"`
		}

		It("adds every documented example, lists them and removes them", func() {
			for i, ex := range designExamples {
				a := call(ts, "POST", "/api/v1/faults", ex.json)
				var v view
				expectJSON(a, http.StatusCreated, &v)
				Expect(v.ID).To(Equal(i + 1))
				Expect(v.Fired).To(Equal(0))
				Expect(a.header.Get("Location")).To(Equal(fmt.Sprintf("/api/v1/faults/%d", v.ID)))
				canonical, err := mockapns.MarshalFault(ex.want)
				Expect(err).NotTo(HaveOccurred())
				Expect(v.Fault).To(MatchJSON(canonical))
			}

			var list []view
			expectJSON(call(ts, "GET", "/api/v1/faults", ""), http.StatusOK, &list)
			infos := srv.Faults()
			Expect(list).To(HaveLen(len(designExamples)))
			for i, v := range list {
				Expect(v.ID).To(Equal(infos[i].ID))
				f, err := mockapns.ParseFault(v.Fault)
				Expect(err).NotTo(HaveOccurred())
				Expect(cmp.Diff(designExamples[i].want, f, cmpOpts)).To(BeEmpty())
				Expect(cmp.Diff(infos[i].Fault, f, cmpOpts)).To(BeEmpty())
			}

			Expect(call(ts, "DELETE", "/api/v1/faults/2", "").status).To(Equal(http.StatusNoContent))
			expectAPIError(call(ts, "DELETE", "/api/v1/faults/2", ""), http.StatusNotFound, "2")
			expectAPIError(call(ts, "DELETE", "/api/v1/faults/two", ""), http.StatusBadRequest, "two")
			Expect(srv.Faults()).To(HaveLen(len(designExamples) - 1))

			Expect(call(ts, "DELETE", "/api/v1/faults", "").status).To(Equal(http.StatusNoContent))
			Expect(srv.Faults()).To(BeEmpty())
			Expect(call(ts, "GET", "/api/v1/faults", "").body).To(MatchJSON(`[]`))
		})

		It("installs a fault that the gateway applies, and counts its firing", func() {
			body := `{"action":"reject","status":8,"token":"` + hex.EncodeToString(token(5)) + `"}`
			expectJSON(call(ts, "POST", "/api/v1/faults", body), http.StatusCreated, nil)

			conn := dial(srv, srv.GatewayAddr())
			send(conn, framed(1, token(4), payload), framed(2, token(5), payload), framed(3, token(4), payload))
			expectClosedWith(conn, response(wire.StatusInvalidToken, 2))

			var list []view
			expectJSON(call(ts, "GET", "/api/v1/faults", ""), http.StatusOK, &list)
			Expect(list).To(HaveLen(1))
			Expect(list[0].Fired).To(Equal(1))
			Expect(list[0].Fault).To(MatchJSON(body))
		})

		DescribeTable("refuses a bad fault with 400 naming the field, changing nothing",
			func(body, word string) {
				expectJSON(call(ts, "POST", "/api/v1/faults", `{"action":"shutdown","nth":3}`), http.StatusCreated, nil)
				before := stateOf(srv)
				expectAPIError(call(ts, "POST", "/api/v1/faults", body), http.StatusBadRequest, word)
				Expect(cmp.Diff(before, stateOf(srv), cmpOpts)).To(BeEmpty())
			},
			Entry("no body", "", "empty"),
			Entry("not JSON", "reject", "JSON"),
			Entry("unknown field", `{"action":"reject","status":8,"bogus":1}`, `"bogus"`),
			Entry("reject without status", `{"action":"reject"}`, `"status"`),
			Entry("bad hex token", `{"action":"reject","status":8,"token":"xyz"}`, `"token"`),
			Entry("status as a string", `{"action":"reject","status":"8"}`, `"status"`),
			Entry("bad delay", `{"action":"delay","delay":"soon"}`, `"delay"`),
			Entry("unknown action", `{"action":"explode"}`, `"action"`),
			Entry("two faults at once", `{"action":"shutdown"}{"action":"shutdown"}`, "more than one"),
		)

		It("refuses a body over 1 MiB with 413, changing nothing", func() {
			before := stateOf(srv)
			huge := `{"action":"shutdown","nth":1` + strings.Repeat(" ", 1<<20) + `}`
			expectAPIError(call(ts, "POST", "/api/v1/faults", huge), http.StatusRequestEntityTooLarge, "larger")
			Expect(cmp.Diff(before, stateOf(srv), cmpOpts)).To(BeEmpty())
		})
	})

	Describe("POST /api/v1/feedback", func() {
		It("queues tuples that the next feedback read serves", func() {
			body := `[{"token":"0A0B0c","time":"2026-01-02T15:04:05Z"},
			          {"token":"` + hex.EncodeToString(token(3)) + `","time":"2026-01-02T16:04:05.75+01:00"}]`
			var q struct {
				Queued  int `json:"queued"`
				Pending int `json:"pending"`
			}
			expectJSON(call(ts, "POST", "/api/v1/feedback", body), http.StatusOK, &q)
			Expect(q.Queued).To(Equal(2))
			Expect(q.Pending).To(Equal(2))

			at := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
			want := []wire.FeedbackTuple{{Time: at, Token: []byte{0x0a, 0x0b, 0x0c}}, {Time: at, Token: token(3)}}
			Expect(cmp.Diff(want, srv.PendingFeedback(), cmpOpts)).To(BeEmpty())

			expectJSON(call(ts, "POST", "/api/v1/feedback", `[]`), http.StatusOK, &q)
			Expect(q).To(Equal(struct {
				Queued  int `json:"queued"`
				Pending int `json:"pending"`
			}{0, 2}))

			conn := dial(srv, srv.FeedbackAddr())
			fr := wire.NewFeedbackReader(conn)
			var got []wire.FeedbackTuple
			for {
				t, err := fr.Next()
				if err == io.EOF {
					break
				}
				Expect(err).NotTo(HaveOccurred())
				got = append(got, t)
			}
			Expect(cmp.Diff(want, got, cmpOpts)).To(BeEmpty())
			Expect(srv.PendingFeedback()).To(BeEmpty())
		})

		DescribeTable("refuses a bad body with 400, leaving the queue as it was",
			func(body, word string) {
				expectJSON(call(ts, "POST", "/api/v1/feedback", `[{"token":"ff","time":"2026-01-01T00:00:00Z"}]`), http.StatusOK, nil)
				before := stateOf(srv)
				expectAPIError(call(ts, "POST", "/api/v1/feedback", body), http.StatusBadRequest, word)
				Expect(cmp.Diff(before, stateOf(srv), cmpOpts)).To(BeEmpty())
			},
			Entry("no body", "", "empty"),
			Entry("not JSON", "tokens", "JSON"),
			Entry("null", "null", "null"),
			Entry("an object", `{"token":"ab","time":"2026-01-01T00:00:00Z"}`, "array"),
			Entry("unknown field", `[{"token":"ab","time":"2026-01-01T00:00:00Z","device":"x"}]`, "device"),
			Entry("bad hex in the second tuple", `[{"token":"ab","time":"2026-01-01T00:00:00Z"},{"token":"xy","time":"2026-01-01T00:00:00Z"}]`, "[1].token"),
			Entry("missing token", `[{"time":"2026-01-01T00:00:00Z"}]`, "[0].token"),
			Entry("missing time", `[{"token":"ab"}]`, "[0].time"),
			Entry("bad RFC 3339", `[{"token":"ab","time":"yesterday"}]`, "[0].time"),
			Entry("date without time", `[{"token":"ab","time":"2026-01-01"}]`, "[0].time"),
			Entry("time before 1970", `[{"token":"ab","time":"1969-12-31T23:59:59Z"}]`, "1970"),
			Entry("time after 2106", `[{"token":"ab","time":"2107-01-01T00:00:00Z"}]`, "2106"),
			Entry("token as a number", `[{"token":12,"time":"2026-01-01T00:00:00Z"}]`, "token"),
			Entry("two values", `[] []`, "more than one"),
		)

		It("refuses a body over 1 MiB with 413, leaving the queue as it was", func() {
			before := stateOf(srv)
			item := `{"token":"ab","time":"2026-01-01T00:00:00Z"},`
			huge := "[" + strings.Repeat(item, (1<<20)/len(item)+1) + `{"token":"ab","time":"2026-01-01T00:00:00Z"}]`
			expectAPIError(call(ts, "POST", "/api/v1/feedback", huge), http.StatusRequestEntityTooLarge, "larger")
			Expect(cmp.Diff(before, stateOf(srv), cmpOpts)).To(BeEmpty())
		})
	})

	Describe("POST /api/v1/reset", func() {
		It("empties journal, faults, feedback queue and counters", func() {
			journalOfFour()
			expectJSON(call(ts, "POST", "/api/v1/faults", `{"action":"shutdown","nth":9}`), http.StatusCreated, nil)
			expectJSON(call(ts, "POST", "/api/v1/feedback", `[{"token":"ab","time":"2026-01-01T00:00:00Z"}]`), http.StatusOK, nil)
			Expect(srv.Stats().Accepted).To(BeEquivalentTo(3))

			Expect(call(ts, "POST", "/api/v1/reset", "").status).To(Equal(http.StatusNoContent))

			Expect(call(ts, "GET", "/api/v1/notifications", "").body).To(MatchJSON(`[]`))
			Expect(call(ts, "GET", "/api/v1/faults", "").body).To(MatchJSON(`[]`))
			Expect(srv.PendingFeedback()).To(BeEmpty())
			var st mockapns.Stats
			expectJSON(call(ts, "GET", "/api/v1/stats", ""), http.StatusOK, &st)
			st.ConnectionsOpen = 0 // a gauge of connections that still exist
			Expect(st).To(Equal(mockapns.Stats{}))
		})
	})
})

// ExampleServer_Handler drives the admin API over HTTP: install a fault,
// list the faults, read the counters.
func ExampleServer_Handler() {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()
	api := httptest.NewServer(srv.Handler())
	defer api.Close()

	resp, err := http.Post(api.URL+"/api/v1/faults", "application/json",
		strings.NewReader(`{"action": "shutdown", "nth": 100}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.StatusCode, " ", string(body))

	resp, err = http.Get(api.URL + "/api/v1/faults")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.StatusCode, " ", string(body))

	resp, err = http.Get(api.URL + "/api/v1/notifications?limit=-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.StatusCode, " ", string(body))
	// Output:
	// 201 {"id":1,"fired":0,"fault":{"action":"shutdown","nth":100}}
	// 200 [{"id":1,"fired":0,"fault":{"action":"shutdown","nth":100}}]
	// 400 {"error":"query parameter \"limit\": want a whole number ≥ 1, got \"-1\""}
}
