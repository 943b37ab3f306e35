package mockapns

// The admin API: JSON over HTTP, the routes of DESIGN.md "Admin API".
//
//	GET    /healthz                   200 {"status":"ok"} while serving, 503 once closed
//	GET    /api/v1/notifications      journal entries, oldest first (a JSON array)
//	           ?token=HEX             only notifications to this token
//	           ?status=accepted|rejected
//	           ?protocol=binary|http2 only notifications of this protocol
//	           ?limit=N               at most N entries (the oldest N that match), N ≥ 1
//	           ?wait=N&timeout=D      block until at least N entries match (D: Go duration,
//	                                  default 5s, at most 10m); see "Waiting" below
//	DELETE /api/v1/notifications      empty the journal                        → 204
//	GET    /api/v1/stats              the counters (Stats)
//	GET    /api/v1/faults             [{"id":1,"fired":0,"fault":{...}}, ...]
//	POST   /api/v1/faults             body: one fault (ParseFault form)         → 201 {"id","fired","fault"}
//	DELETE /api/v1/faults             remove every fault                       → 204
//	DELETE /api/v1/faults/{id}        remove one fault                         → 204, 404 if unknown
//	POST   /api/v1/feedback           body: [{"token":"HEX","time":"RFC3339"}] → 200 {"queued","pending"}
//	POST   /api/v1/reset              journal, faults, feedback queue, counters → 204
//
// Every answer with a body is application/json. Every error is
// {"error":"message naming the problem"} with a 4xx/5xx status: 400 for a
// bad body or query (bad JSON, unknown member, bad hex, bad RFC 3339 time,
// bad or unknown query parameter), 413 for a body over 1 MiB, 404 for an
// unknown path, 405 (with Allow) for a method a path does not serve. A
// refused request changes nothing.
//
// Waiting: with ?wait=N the request blocks until N entries match the
// filters (token, status; limit only trims the answer). When the timeout
// passes first, the answer is 504 Gateway Timeout with
// {"error":"...","wanted":N,"matched":M,"notifications":[...what matched...]},
// so that a script using curl -f fails loudly while a program can still see
// what arrived. If the server closes while a request waits, the answer is
// 503 with the same members.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// Admin API bounds.
const (
	// maxBodyBytes is the largest request body the admin API reads.
	maxBodyBytes = 1 << 20
	// defaultWaitTimeout is how long ?wait=N blocks without ?timeout.
	defaultWaitTimeout = 5 * time.Second
	// maxWaitTimeout is the longest ?timeout accepted.
	maxWaitTimeout = 10 * time.Minute
)

// Handler returns the admin API of the server (see DESIGN.md "Admin API"
// and the comment at the top of admin.go): health, journal, counters,
// faults, feedback queue and reset, as JSON. Serve it with an http.Server
// of your own, or httptest.NewServer in tests. Each call returns a new,
// independent handler over the same server state.
func (s *Server) Handler() http.Handler {
	a := &admin{s: s, mux: http.NewServeMux()}
	a.mux.HandleFunc("GET /healthz", a.healthz)
	a.mux.HandleFunc("GET /api/v1/notifications", a.listNotifications)
	a.mux.HandleFunc("DELETE /api/v1/notifications", a.clearNotifications)
	a.mux.HandleFunc("GET /api/v1/stats", a.stats)
	a.mux.HandleFunc("GET /api/v1/faults", a.listFaults)
	a.mux.HandleFunc("POST /api/v1/faults", a.addFault)
	a.mux.HandleFunc("DELETE /api/v1/faults", a.clearFaults)
	a.mux.HandleFunc("DELETE /api/v1/faults/{id}", a.removeFault)
	a.mux.HandleFunc("POST /api/v1/feedback", a.queueFeedback)
	a.mux.HandleFunc("POST /api/v1/reset", a.reset)
	return a
}

// admin serves the admin API of one Server.
type admin struct {
	s   *Server
	mux *http.ServeMux
}

// ServeHTTP routes the request; the mux's own 404 and 405 answers (plain
// text) are rewritten as JSON errors.
func (a *admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, pattern := a.mux.Handler(r); pattern == "" {
		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status < 400 { // a redirect (path cleaning): pass it on
			copyHeader(w.Header(), rec.header)
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body.Bytes())
			return
		}
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
			a.fail(w, r, rec.status, "method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow)
			return
		}
		a.fail(w, r, rec.status, "no such endpoint: %s %s", r.Method, r.URL.Path)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// recorder captures the answer of the mux's fallback handlers.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// log returns the server's logger (a Server built by hand has none).
func (a *admin) log() *slog.Logger {
	if a.s.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.s.log
}

func (a *admin) closed() bool {
	return a.s.ctx != nil && a.s.ctx.Err() != nil
}

// errorBody is the JSON form of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

// writeJSON answers v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		data, _ = json.Marshal(errorBody{Error: "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// fail answers a JSON error and logs it at debug level.
func (a *admin) fail(w http.ResponseWriter, r *http.Request, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	a.log().Debug("admin: request refused", "method", r.Method, "path", r.URL.Path, "status", status, "error", msg)
	writeJSON(w, status, errorBody{Error: msg})
}

// noContent answers 204.
func noContent(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// readBody reads the request body, at most maxBodyBytes. On failure it has
// answered the request and returns false.
func (a *admin) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.fail(w, r, http.StatusRequestEntityTooLarge, "request body larger than %d bytes", tooBig.Limit)
			return nil, false
		}
		a.fail(w, r, http.StatusBadRequest, "reading request body: %v", err)
		return nil, false
	}
	return data, true
}

func (a *admin) healthz(w http.ResponseWriter, r *http.Request) {
	if a.closed() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "closed"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// notificationQuery is the parsed query of GET /api/v1/notifications.
type notificationQuery struct {
	filter  Filter
	wait    int
	timeout time.Duration
}

// parseNotificationQuery reads and checks the query parameters; the error
// names the parameter.
func parseNotificationQuery(q url.Values) (notificationQuery, error) {
	nq := notificationQuery{timeout: defaultWaitTimeout}
	for name, vals := range q {
		switch name {
		case "token", "status", "protocol", "limit", "wait", "timeout":
		default:
			return nq, fmt.Errorf("unknown query parameter %q (known: token, status, protocol, limit, wait, timeout)", name)
		}
		if len(vals) != 1 {
			return nq, fmt.Errorf("query parameter %q given %d times", name, len(vals))
		}
	}
	if v, ok := q["token"]; ok {
		tok, err := apns.ParseToken(v[0])
		if err != nil {
			return nq, fmt.Errorf("query parameter \"token\": %w", err)
		}
		nq.filter.Token = tok
	}
	if v, ok := q["protocol"]; ok {
		if err := nq.filter.Protocol.UnmarshalText([]byte(v[0])); err != nil {
			return nq, fmt.Errorf("query parameter \"protocol\": want binary or http2, got %q", v[0])
		}
	}
	if v, ok := q["status"]; ok {
		switch v[0] {
		case "accepted":
			nq.filter.Status = Accepted
		case "rejected":
			nq.filter.Status = Rejected
		default:
			return nq, fmt.Errorf("query parameter \"status\": want accepted or rejected, got %q", v[0])
		}
	}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			return nq, fmt.Errorf("query parameter \"limit\": want a whole number ≥ 1, got %q", v[0])
		}
		nq.filter.Limit = n
	}
	if v, ok := q["wait"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 {
			return nq, fmt.Errorf("query parameter \"wait\": want a whole number ≥ 0, got %q", v[0])
		}
		nq.wait = n
	}
	if v, ok := q["timeout"]; ok {
		if _, hasWait := q["wait"]; !hasWait {
			return nq, errors.New("query parameter \"timeout\" needs \"wait\"")
		}
		d, err := time.ParseDuration(v[0])
		if err != nil || d <= 0 || d > maxWaitTimeout {
			return nq, fmt.Errorf("query parameter \"timeout\": want a duration such as 5s, above 0 and at most %v, got %q", maxWaitTimeout, v[0])
		}
		nq.timeout = d
	}
	return nq, nil
}

// waitFailure is the body of a wait that ended before enough entries
// matched.
type waitFailure struct {
	Error         string  `json:"error"`
	Wanted        int     `json:"wanted"`
	Matched       int     `json:"matched"`
	Notifications []Entry `json:"notifications"`
}

func (a *admin) listNotifications(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, "bad query string: %v", err)
		return
	}
	nq, err := parseNotificationQuery(q)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, "%v", err)
		return
	}
	if nq.wait == 0 {
		writeJSON(w, http.StatusOK, a.s.Notifications(nq.filter))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), nq.timeout)
	defer cancel()
	if a.s.ctx != nil { // stop waiting when the server closes
		stop := context.AfterFunc(a.s.ctx, cancel)
		defer stop()
	}
	entries, err := a.s.WaitNotifications(ctx, nq.filter, nq.wait)
	if err == nil {
		writeJSON(w, http.StatusOK, entries)
		return
	}
	if entries == nil {
		entries = []Entry{}
	}
	// Count what matched, ignoring the limit, for the message.
	matched := len(entries)
	if nq.filter.Limit > 0 {
		all := nq.filter
		all.Limit = 0
		matched = len(a.s.Notifications(all))
	}
	body := waitFailure{Wanted: nq.wait, Matched: matched, Notifications: entries}
	switch {
	case r.Context().Err() != nil:
		return // the client went away; nobody reads the answer
	case a.closed():
		body.Error = fmt.Sprintf("server closed while waiting for %d notifications (%d matched)", nq.wait, matched)
		a.log().Debug("admin: wait ended by close", "wanted", nq.wait, "matched", matched)
		writeJSON(w, http.StatusServiceUnavailable, body)
	default:
		body.Error = fmt.Sprintf("timeout after %v waiting for %d notifications (%d matched)", nq.timeout, nq.wait, matched)
		a.log().Debug("admin: wait timed out", "wanted", nq.wait, "matched", matched)
		writeJSON(w, http.StatusGatewayTimeout, body)
	}
}

func (a *admin) clearNotifications(w http.ResponseWriter, r *http.Request) {
	a.s.ClearNotifications()
	noContent(w)
}

func (a *admin) stats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.s.Stats())
}

// faultView is the JSON form of an installed fault.
type faultView struct {
	ID    int             `json:"id"`
	Fired int             `json:"fired"`
	Fault json.RawMessage `json:"fault"`
}

func viewOf(fi FaultInfo) (faultView, error) {
	data, err := MarshalFault(fi.Fault)
	if err != nil {
		return faultView{}, fmt.Errorf("fault %d: %w", fi.ID, err)
	}
	return faultView{ID: fi.ID, Fired: fi.Fired, Fault: data}, nil
}

func (a *admin) listFaults(w http.ResponseWriter, r *http.Request) {
	infos := a.s.Faults()
	out := make([]faultView, 0, len(infos))
	for _, fi := range infos {
		v, err := viewOf(fi)
		if err != nil { // only a fault installed from Go that JSON cannot express
			a.fail(w, r, http.StatusInternalServerError, "%v", err)
			return
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *admin) addFault(w http.ResponseWriter, r *http.Request) {
	data, ok := a.readBody(w, r)
	if !ok {
		return
	}
	f, err := ParseFault(data)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, "%v", err)
		return
	}
	id, err := a.s.AddFault(f)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, "%v", err)
		return
	}
	fired := 0
	for _, fi := range a.s.Faults() {
		if fi.ID == id {
			fired = fi.Fired
		}
	}
	v, err := viewOf(FaultInfo{ID: id, Fault: f, Fired: fired})
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, "%v", err)
		return
	}
	a.log().Info("admin: fault added", "id", id, "fault", string(v.Fault))
	w.Header().Set("Location", "/api/v1/faults/"+strconv.Itoa(id))
	writeJSON(w, http.StatusCreated, v)
}

func (a *admin) clearFaults(w http.ResponseWriter, r *http.Request) {
	a.s.ClearFaults()
	a.log().Info("admin: faults cleared")
	noContent(w)
}

func (a *admin) removeFault(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	id, err := strconv.Atoi(raw)
	if err != nil || id < 1 {
		a.fail(w, r, http.StatusBadRequest, "fault id: want a whole number ≥ 1, got %q", raw)
		return
	}
	if !a.s.RemoveFault(id) {
		a.fail(w, r, http.StatusNotFound, "no fault with id %d", id)
		return
	}
	a.log().Info("admin: fault removed", "id", id)
	noContent(w)
}

// feedbackItem is one tuple of POST /api/v1/feedback.
type feedbackItem struct {
	Token string `json:"token"`
	Time  string `json:"time"`
}

// feedbackQueued is the answer of POST /api/v1/feedback.
type feedbackQueued struct {
	Queued  int `json:"queued"`  // tuples added by this request
	Pending int `json:"pending"` // tuples now waiting for the next feedback read
}

// parseFeedback decodes the body of POST /api/v1/feedback strictly.
// Fractional seconds are dropped: the wire carries whole UNIX seconds.
func parseFeedback(data []byte) ([]wire.FeedbackTuple, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var items []feedbackItem
	if err := dec.Decode(&items); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty body, want a JSON array [{\"token\":\"HEX\",\"time\":\"RFC3339\"}]")
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return nil, fmt.Errorf("want a JSON array [{\"token\":\"HEX\",\"time\":\"RFC3339\"}], got a JSON %s", te.Value)
			}
			return nil, fmt.Errorf("field %q: want a string, got a JSON %s", te.Field, te.Value)
		}
		return nil, fmt.Errorf("bad JSON: %s (want [{\"token\":\"HEX\",\"time\":\"RFC3339\"}])", jsonReason(err))
	}
	if items == nil {
		return nil, errors.New("want a JSON array [{\"token\":\"HEX\",\"time\":\"RFC3339\"}], got null")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("bad JSON: more than one value in the body")
	}
	tuples := make([]wire.FeedbackTuple, 0, len(items))
	for i, it := range items {
		tok, err := apns.ParseToken(it.Token)
		if err != nil {
			return nil, fmt.Errorf("[%d].token: %w", i, err)
		}
		if it.Time == "" {
			return nil, fmt.Errorf("[%d].time: required, an RFC 3339 time such as 2026-01-02T15:04:05Z", i)
		}
		t, err := time.Parse(time.RFC3339, it.Time)
		if err != nil {
			return nil, fmt.Errorf("[%d].time: not an RFC 3339 time such as 2026-01-02T15:04:05Z: %q", i, it.Time)
		}
		if sec := t.Unix(); sec < 0 || sec > math.MaxUint32 {
			return nil, fmt.Errorf("[%d].time: %s is outside 1970–2106 (the wire carries 32-bit UNIX seconds)", i, it.Time)
		}
		tuples = append(tuples, wire.FeedbackTuple{Time: t.Truncate(time.Second).UTC(), Token: tok.Bytes()})
	}
	return tuples, nil
}

func (a *admin) queueFeedback(w http.ResponseWriter, r *http.Request) {
	data, ok := a.readBody(w, r)
	if !ok {
		return
	}
	tuples, err := parseFeedback(data)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, "%v", err)
		return
	}
	a.s.QueueFeedback(tuples...)
	a.log().Info("admin: feedback queued", "tuples", len(tuples))
	writeJSON(w, http.StatusOK, feedbackQueued{Queued: len(tuples), Pending: len(a.s.PendingFeedback())})
}

func (a *admin) reset(w http.ResponseWriter, r *http.Request) {
	a.s.Reset()
	a.log().Info("admin: reset")
	noContent(w)
}
