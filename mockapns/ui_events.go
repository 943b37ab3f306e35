package mockapns

// The admin API's event stream, which the web page reads:
//
//	GET /api/v1/events                text/event-stream of the journal's news
//	        ?token=HEX                only notifications to this token
//	        ?status=accepted|rejected|N|REASON
//	                                  N (1 to 999): entries with that status (a binary
//	                                  status such as 8, or an HTTP status such as 410);
//	                                  REASON: HTTP/2 entries refused with that reason
//	        ?protocol=binary|http2    only notifications of this protocol
//	        ?limit=N                  at most N entries per update (1 to 200, default 100)
//
// The stream is Server-Sent Events. Its first event is an "update" with
// "reset":true holding the newest entries that match; each later
// "update" holds the entries appended since the one before, newest first.
// Updates are coalesced: at most one per eventInterval (4 a second),
// however fast notifications arrive, each with at most limit entries and
// the count of those it leaves out ("skipped", and "lost" for entries the
// journal dropped before the update was built). A "stats" event carries
// the counters when they changed without a new entry (connections opening
// and closing), at most once a second; a comment line keeps a quiet
// stream alive every eventPing. When the server closes, the stream sends a
// "closed" event and ends.
//
// While no stream is open the journal pays nothing for this. An open
// stream is one wait of the journal (journal.register with seq set): the
// first append after an update wakes it, and nothing else costs until the
// stream has sent its next update and waits again.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apnskit/apnskit/apns"
)

// DefaultAdminMaxStreams is the number of GET /api/v1/events streams one
// admin handler serves at once when AdminConfig.MaxStreams is 0; one more
// is answered 429.
const DefaultAdminMaxStreams = 16

// Bounds of the event stream.
const (
	// eventInterval is the least time between two updates.
	eventInterval = 250 * time.Millisecond
	// eventStatsEvery is how often the counters are compared with those
	// last sent, for a "stats" event.
	eventStatsEvery = time.Second
	// eventPing is the longest a stream stays silent: then it writes a
	// comment line.
	eventPing = 15 * time.Second
	// eventWriteTimeout bounds each write: a reader that does not read
	// for that long loses its stream.
	eventWriteTimeout = 10 * time.Second
	// eventRetry is the reconnection delay the stream suggests (ms).
	eventRetry = 2000
	// EventMaxEntries is the most entries one update carries (?limit).
	EventMaxEntries = 200
	// eventDefaultEntries is the entries per update without ?limit.
	eventDefaultEntries = 100
)

// eventQuery is the parsed query of GET /api/v1/events.
type eventQuery struct {
	filter Filter      // token, protocol; Status for accepted or rejected
	status int         // when not 0: only entries with this Status
	reason apns.Reason // when not "": only HTTP/2 entries with this reason
	limit  int
}

// plain reports whether the query selects every entry.
func (q *eventQuery) plain() bool {
	return q.filter == (Filter{}) && q.status == 0 && q.reason == ""
}

func (q *eventQuery) match(r *record) bool {
	if !q.filter.match(r) {
		return false
	}
	switch {
	case q.status != 0:
		return int(r.status) == q.status
	case q.reason != "":
		return r.protocol == apns.HTTP2 && r.h2.reason == q.reason
	}
	return true
}

// eventParams are the query parameters of GET /api/v1/events.
var eventParams = []string{"token", "status", "protocol", "limit"}

// parseEventQuery reads and checks the query; the error names the
// parameter.
func parseEventQuery(raw string) (eventQuery, error) {
	eq := eventQuery{limit: eventDefaultEntries}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return eq, badRequest("bad query string", "%w", err)
	}
	for name, vals := range q {
		switch {
		case !slices.Contains(eventParams, name):
			return eq, badRequest("", "unknown query parameter %q (known: %s)", name, strings.Join(eventParams, ", "))
		case len(vals) != 1:
			return eq, badRequest("", "query parameter %q given %d times", name, len(vals))
		}
	}
	param := func(name string, err error) error {
		return &requestError{what: fmt.Sprintf("query parameter %q", name), err: err}
	}
	if v, ok := q["token"]; ok {
		if eq.filter.Token, err = apns.ParseToken(v[0]); err != nil {
			return eq, param("token", err)
		}
	}
	if v, ok := q["status"]; ok {
		if err := eq.parseStatus(v[0]); err != nil {
			return eq, param("status", err)
		}
	}
	if v, ok := q["protocol"]; ok {
		if err := eq.filter.Protocol.UnmarshalText([]byte(v[0])); err != nil {
			return eq, param("protocol", fmt.Errorf("want binary or http2, got %q", v[0]))
		}
	}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > EventMaxEntries {
			return eq, param("limit", fmt.Errorf("want a whole number from 1 to %d, got %q", EventMaxEntries, v[0]))
		}
		eq.limit = n
	}
	return eq, nil
}

func (q *eventQuery) parseStatus(v string) error {
	switch v {
	case "accepted":
		q.filter.Status = Accepted
		return nil
	case "rejected":
		q.filter.Status = Rejected
		return nil
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 || n > 999 {
			return fmt.Errorf("want a status from 1 to 999, got %d", n)
		}
		q.status = n
		return nil
	}
	if err := checkFaultReason(apns.Reason(v)); err != nil {
		return fmt.Errorf("want accepted, rejected, a status number or an HTTP/2 reason such as BadDeviceToken, got %q", v)
	}
	q.reason = apns.Reason(v)
	return nil
}

// eventUpdate is the data of an "update" event.
type eventUpdate struct {
	// Seq is the sequence number of the newest entry in the journal.
	Seq uint64 `json:"seq"`
	// Reset says that the entries are the newest of the whole journal:
	// the first update of a stream, or the first after the journal was
	// emptied (DELETE /api/v1/notifications, POST /api/v1/reset).
	Reset bool `json:"reset"`
	// Entries are the matching entries appended since the last update
	// (with Reset: in the journal), newest first, at most limit.
	Entries []Entry `json:"entries"`
	// Matched counts the matching entries appended since the last update
	// (with Reset: in the journal); Skipped is Matched - len(Entries).
	Matched int `json:"matched"`
	Skipped int `json:"skipped"`
	// Lost counts the entries appended since the last update that the
	// journal dropped before this update was built, matching or not.
	Lost    uint64      `json:"lost"`
	Journal journalSize `json:"journal"`
	Stats   Stats       `json:"stats"`
}

// journalSize is the journal's fill.
type journalSize struct {
	Entries int `json:"entries"` // entries held now
	Size    int `json:"size"`    // the most it holds (Config.JournalSize)
}

// eventClosed is the data of a "closed" event.
type eventClosed struct {
	Reason string `json:"reason"`
}

// newest builds the update of the entries matching q appended after seq
// last (every entry when reset), newest first; j.mu must be held.
func (j *journal) newest(q *eventQuery, last uint64, reset bool) eventUpdate {
	u := eventUpdate{Seq: j.seq, Reset: reset, Entries: []Entry{},
		Journal: journalSize{Entries: len(j.ring), Size: j.size}}
	n := len(j.ring)
	fresh := n
	if !reset {
		appended := j.seq - last
		if appended > uint64(n) {
			u.Lost = appended - uint64(n)
		} else {
			fresh = int(appended)
		}
	}
	for i := range fresh {
		k := j.head + n - 1 - i
		if k >= n {
			k -= n
		}
		r := &j.ring[k]
		if !q.match(r) {
			continue
		}
		u.Matched++
		if len(u.Entries) < q.limit {
			u.Entries = append(u.Entries, r.entry())
		} else if q.plain() {
			u.Matched = fresh // every record matches: no need to look at them
			break
		}
	}
	u.Skipped = u.Matched - len(u.Entries)
	return u
}

// eventStream is one open GET /api/v1/events.
type eventStream struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	sent time.Time // last write
}

// write writes one event (name "" writes data as a comment) and flushes.
func (es *eventStream) write(name string, id uint64, data []byte) error {
	if err := es.rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	var b []byte
	if name == "" {
		b = append(append(append(b, ": "...), data...), "\n\n"...)
	} else {
		b = append(append(append(b, "event: "...), name...), '\n')
		if id != 0 {
			b = append(strconv.AppendUint(append(b, "id: "...), id, 10), '\n')
		}
		b = append(append(append(b, "data: "...), data...), "\n\n"...)
	}
	if _, err := es.w.Write(b); err != nil {
		return err
	}
	es.sent = time.Now()
	return es.rc.Flush()
}

func (es *eventStream) writeJSON(name string, id uint64, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return es.write(name, id, data)
}

func (a *admin) events(w http.ResponseWriter, r *http.Request) error {
	q, err := parseEventQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	select {
	case a.streams <- struct{}{}:
		defer func() { <-a.streams }()
	default:
		return &tooManyStreamsError{limit: cap(a.streams)}
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if a.s.ctx != nil { // end the stream when the server closes
		stop := context.AfterFunc(a.s.ctx, cancel)
		defer stop()
	}
	es := &eventStream{w: w, rc: http.NewResponseController(w)}
	// The stream outlives any read deadline of the server (ReadTimeout):
	// clear it, as each write sets its own write deadline.
	_ = es.rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := es.write("", 0, []byte("mockapns events")); err != nil {
		return nil // the reader went away
	}
	if err := es.write("", 0, fmt.Appendf(nil, "\nretry: %d", eventRetry)); err != nil {
		return nil
	}
	a.stream(ctx, es, &q)
	if a.closed() {
		_ = es.writeJSON("closed", 0, eventClosed{Reason: "server closed"})
	}
	return nil
}

// stream sends the updates of one stream until ctx ends or a write fails.
func (a *admin) stream(ctx context.Context, es *eventStream, q *eventQuery) {
	j := a.s.journal
	var (
		last    uint64
		gen     uint64
		started bool
		stats   Stats
		lastUp  time.Time
	)
	tick := time.NewTicker(eventStatsEvery)
	defer tick.Stop()
	w := &waiter{seq: true}
	var pause *time.Timer
	defer func() {
		if pause != nil {
			pause.Stop()
		}
	}()
	for {
		// Wait for the next record, unless one came (or the journal was
		// emptied) since the last update.
		j.mu.Lock()
		w.n = int(last) + 1
		due := !started || j.gen != gen || !j.register(w)
		j.mu.Unlock()
		if !due {
			select {
			case <-ctx.Done():
				j.mu.Lock()
				j.unregister(w)
				j.mu.Unlock()
				return
			case <-w.woken:
				due = true
			case <-tick.C:
				j.mu.Lock()
				j.unregister(w)
				j.mu.Unlock()
			}
		}
		if !due {
			if st := a.s.Stats(); st != stats {
				stats = st
				if es.writeJSON("stats", 0, st) != nil {
					return
				}
			} else if time.Since(es.sent) >= eventPing {
				if es.write("", 0, []byte("ping")) != nil {
					return
				}
			}
			continue
		}
		// Coalesce: at most one update per eventInterval.
		if d := eventInterval - time.Since(lastUp); started && d > 0 {
			if pause == nil {
				pause = time.NewTimer(d)
			} else {
				pause.Reset(d)
			}
			select {
			case <-ctx.Done():
				return
			case <-pause.C:
			}
		}
		j.mu.Lock()
		reset := !started || j.gen != gen
		u := j.newest(q, last, reset)
		last, gen = j.seq, j.gen
		j.mu.Unlock()
		started, lastUp = true, time.Now()
		u.Stats = a.s.Stats()
		stats = u.Stats
		if es.writeJSON("update", u.Seq, u) != nil {
			return
		}
	}
}

// tooManyStreamsError is a GET /api/v1/events beyond
// AdminConfig.MaxStreams (429).
type tooManyStreamsError struct{ limit int }

func (e *tooManyStreamsError) Error() string {
	return fmt.Sprintf("%d event streams are already open, the most this server serves at once; close one (a browser tab) or retry later", e.limit)
}
