package mockapns_test

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// exportHeader is the documented header row of format=csv.
var exportHeader = []string{"seq", "received_at", "protocol", "conn", "identifier", "token", "topic",
	"push_type", "priority", "expiration", "collapse_id", "status", "reason", "payload"}

// wantRow is the CSV row the documentation gives for e.
func wantRow(e mockapns.Entry) []string {
	prio := ""
	if v, ok := e.Priority.Value(); ok {
		prio = fmt.Sprint(v)
	}
	id, exp := e.APNsID, ""
	if e.Protocol == apns.Binary {
		id, exp = fmt.Sprint(e.ID), fmt.Sprint(e.Expiry)
	} else if e.Expiration != nil {
		exp = fmt.Sprint(*e.Expiration)
	}
	return []string{fmt.Sprint(e.Seq), e.ReceivedAt.Format(time.RFC3339Nano), e.Protocol.String(), fmt.Sprint(e.Conn), id,
		hex.EncodeToString(e.Token), e.Topic, e.PushType, prio, exp, e.CollapseID, fmt.Sprint(e.Status), string(e.Reason), string(e.Payload)}
}

// listRaw is the list's answer for query, each entry's JSON as written.
func listRaw(ts *httptest.Server, query string) []json.RawMessage {
	GinkgoHelper()
	var raw []json.RawMessage
	expectJSON(call(ts, http.MethodGet, "/api/v1/notifications"+query, ""), http.StatusOK, &raw)
	return raw
}

// exportJSONL fetches format=jsonl with query and splits it into lines,
// checking the headers.
func exportJSONL(ts *httptest.Server, query string) [][]byte {
	GinkgoHelper()
	a := call(ts, http.MethodGet, "/api/v1/notifications?format=jsonl"+query, "")
	Expect(a.status).To(Equal(http.StatusOK), "body: %s", a.body)
	Expect(a.header.Get("Content-Type")).To(Equal("application/x-ndjson"))
	Expect(a.header.Get("Content-Disposition")).To(Equal(`attachment; filename="mockapns-notifications.jsonl"`))
	lines := bytes.SplitAfter(a.body, []byte("\n"))
	Expect(lines[len(lines)-1]).To(BeEmpty(), "every line ends in a newline")
	return lines[:len(lines)-1]
}

// exportCSV fetches format=csv with query and parses it, checking the
// headers and the header row.
func exportCSV(ts *httptest.Server, query string) [][]string {
	GinkgoHelper()
	a := call(ts, http.MethodGet, "/api/v1/notifications?format=csv"+query, "")
	Expect(a.status).To(Equal(http.StatusOK), "body: %s", a.body)
	Expect(a.header.Get("Content-Type")).To(Equal("text/csv; charset=utf-8"))
	Expect(a.header.Get("Content-Disposition")).To(Equal(`attachment; filename="mockapns-notifications.csv"`))
	rows, err := csv.NewReader(bytes.NewReader(a.body)).ReadAll()
	Expect(err).NotTo(HaveOccurred(), "body: %s", a.body)
	Expect(rows).NotTo(BeEmpty())
	Expect(rows[0]).To(Equal(exportHeader))
	return rows[1:]
}

var _ = Describe("Journal export (GET /api/v1/notifications?format=jsonl|csv)", func() {
	var (
		srv *mockapns.Server
		ts  *httptest.Server
	)

	BeforeEach(func() {
		srv = startServer(mockapns.Config{})
		ts = httptest.NewServer(srv.Handler())
		DeferCleanup(ts.Close)
	})

	// mixedJournal journals binary notifications (accepted, refused, a
	// payload with commas, quotes and a newline) and HTTP/2 requests with
	// every header, accepted and refused.
	mixedJournal := func() {
		GinkgoHelper()
		conn := dial(srv, srv.GatewayAddr())
		send(conn, framed(1, token(1), payload), framed(2, token(2), `{"aps":{"alert":"a, \"b\"\nc"}}`), enhanced(3, token(1), payload))
		waitEntries(srv, 3)
		bad := dial(srv, srv.GatewayAddr())
		send(bad, badTokenSize(4))
		expectClosedWith(bad, response(wire.StatusInvalidTokenSize, 4))
		c := srv.HTTP2Client()
		DeferCleanup(closeClient, c)
		auth := bearer(srv)
		status, _, body := h2Post(c, srv, h2Hex(1), payload, "authorization", auth, "apns-topic", h2Topic,
			"apns-collapse-id", "c,1", "apns-expiration", "1700000000", "apns-priority", "5", "apns-push-type", "alert")
		Expect(status).To(Equal(http.StatusOK), body)
		status, _, _ = h2Post(c, srv, "abcd", payload, "authorization", auth, "apns-topic", h2Topic)
		Expect(status).To(Equal(http.StatusBadRequest))
		waitEntries(srv, 6)
	}

	It("writes each entry as the list's JSON object, one per line, and as a CSV row", func() {
		mixedJournal()
		list := listRaw(ts, "")
		Expect(list).To(HaveLen(6))
		lines := exportJSONL(ts, "")
		Expect(lines).To(HaveLen(len(list)))
		for i, l := range lines {
			Expect(string(bytes.TrimSuffix(l, []byte("\n")))).To(Equal(string(list[i])), "line %d", i)
		}
		// Decoded, the lines are the journal.
		dec := json.NewDecoder(bytes.NewReader(bytes.Join(lines, nil)))
		var got []mockapns.Entry
		for {
			var e mockapns.Entry
			if err := dec.Decode(&e); errors.Is(err, io.EOF) {
				break
			} else {
				Expect(err).NotTo(HaveOccurred())
			}
			got = append(got, e)
		}
		entries := srv.Notifications(mockapns.Filter{})
		Expect(cmp.Diff(entries, got, cmpOpts)).To(BeEmpty())

		rows := exportCSV(ts, "")
		want := make([][]string, len(entries))
		for i, e := range entries {
			want[i] = wantRow(e)
		}
		Expect(cmp.Diff(want, rows)).To(BeEmpty())
		Expect(rows[1][13]).To(Equal("{\"aps\":{\"alert\":\"a, \\\"b\\\"\\nc\"}}"))
		Expect(rows[4][6:11]).To(Equal([]string{h2Topic, "alert", "5", "1700000000", "c,1"}))
		Expect(rows[5][11:13]).To(Equal([]string{"400", "BadDeviceToken"}))
	})

	It("applies the list's filters", func() {
		mixedJournal()
		for _, q := range []string{"&protocol=http2", "&status=rejected", "&token=" + hex.EncodeToString(token(1)),
			"&protocol=binary&status=accepted&limit=2", "&limit=1", "&token=" + hex.EncodeToString(token(7))} {
			list := listRaw(ts, "?"+q[1:])
			lines := exportJSONL(ts, q)
			Expect(lines).To(HaveLen(len(list)), q)
			for i := range lines {
				Expect(string(bytes.TrimSpace(lines[i]))).To(Equal(string(list[i])), q)
			}
			rows := exportCSV(ts, q)
			Expect(rows).To(HaveLen(len(list)), q)
			for i := range rows {
				var e mockapns.Entry
				Expect(json.Unmarshal(list[i], &e)).To(Succeed())
				Expect(rows[i]).To(Equal(wantRow(e)), q)
			}
		}
	})

	It("streams a journal longer than its chunks, in order, honouring limit", func() {
		const n = 1000
		for i := range n {
			srv.JournalH2(mockapns.H2Request{Conn: 1, At: time.Unix(1700000000, int64(i)), Token: token(byte(i % 3)),
				Payload: []byte(payload), APNsID: []byte(fmt.Sprintf("id-%d", i)), HTTPStatus: 200})
		}
		rows := exportCSV(ts, "")
		Expect(rows).To(HaveLen(n))
		for i, r := range rows {
			Expect(r[0]).To(Equal(strconv.Itoa(i + 1)))
			Expect(r[4]).To(Equal(fmt.Sprintf("id-%d", i)))
		}
		Expect(exportJSONL(ts, "&limit=300")).To(HaveLen(300))
		tok := "&token=" + hex.EncodeToString(token(2))
		rows = exportCSV(ts, tok+"&limit=200")
		Expect(rows).To(HaveLen(200))
		Expect(rows[199][0]).To(Equal(strconv.Itoa(3 * 200))) // seq 3, 6, …, 600
		Expect(exportCSV(ts, tok)).To(HaveLen(n / 3))
	})

	It("writes an empty journal as the header row alone, and no lines", func() {
		Expect(exportCSV(ts, "")).To(BeEmpty())
		Expect(exportJSONL(ts, "")).To(BeEmpty())
	})

	It("refuses an unknown format, and a format other than json with wait, changing nothing", func() {
		mixedJournal()
		before := stateOf(srv)
		expectAPIError(call(ts, http.MethodGet, "/api/v1/notifications?format=xml", ""), http.StatusBadRequest,
			`"format"`, "json, jsonl or csv", `"xml"`)
		expectAPIError(call(ts, http.MethodGet, "/api/v1/notifications?format=csv&wait=1", ""), http.StatusBadRequest,
			`"format"`, "wait")
		expectAPIError(call(ts, http.MethodGet, "/api/v1/notifications?format=csv&format=jsonl", ""), http.StatusBadRequest,
			`"format"`, "2 times")
		Expect(stateOf(srv)).To(Equal(before))
		// format=json is the list.
		Expect(listRaw(ts, "?format=json")).To(Equal(listRaw(ts, "")))
	})
})
