package mockapns

// The admin API: JSON over HTTP.
//
//	GET    /healthz                   200 {"status":"ok"} while serving, 503 once closed
//	GET    /api/v1/notifications      journal entries, oldest first (a JSON array)
//	           ?token=HEX             only notifications to this token
//	           ?status=accepted|rejected
//	           ?protocol=binary|http2 only notifications of this protocol
//	           ?limit=N               at most N entries (the oldest N that match), N ≥ 1
//	           ?wait=N&timeout=D      block until at least N entries match (D: Go duration,
//	                                  default 5s, at most 1m); see "Waiting" below
//	           ?format=json|jsonl|csv the answer's form: a JSON array (default), or JSON
//	                                  lines or CSV streamed as an attachment (journal_export.go)
//	DELETE /api/v1/notifications      empty the journal                        → 204
//	GET    /api/v1/stats              the counters (Stats)
//	GET    /api/v1/faults             [{"id":1,"fired":0,"fault":{...}}, ...]
//	POST   /api/v1/faults             body: one fault (ParseFault form)         → 201 {"id","fired","fault"}
//	DELETE /api/v1/faults             remove every fault                       → 204
//	DELETE /api/v1/faults/{id}        remove one fault                         → 204, 404 if unknown
//	POST   /api/v1/feedback           body: [{"token":"HEX","time":"RFC3339"}] → 200 {"queued","pending"}
//	POST   /api/v1/reset              journal, faults, feedback queue, counters → 204
//	GET/POST/DELETE /api/v1/keys, /api/v1/devices: see h2_auth_admin.go
//	GET    /api/v1/openapi.json       this API as an OpenAPI 3 document (OpenAPI)
//	GET    /metrics                   Prometheus metrics (text format): see metrics.go
//	GET    /, /ui/{file}, /api/v1/events, /api/v1/fault-kinds: the web page, see ui.go
//
// Every answer with a body is application/json. Every error is
// {"error":"message naming the problem"} with a 4xx/5xx status: 400 for a
// bad body or query (bad JSON, unknown member, bad hex, bad RFC 3339 time,
// bad or unknown query parameter), 413 for a body over 1 MiB, 404 for an
// unknown path, 405 (with Allow) for a method a path does not serve, 403
// for a foreign Host or Origin, 401 without the bearer token, 415 for a
// mutation that is not application/json (admin_guard.go), 429 beyond
// AdminConfig.MaxWaits waits at once. A refused request changes nothing.
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
	"slices"
	"strconv"
	"strings"
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
	// MaxWaitTimeout is the longest ?timeout accepted: an http.Server
	// serving the admin API wants a WriteTimeout above it.
	MaxWaitTimeout = time.Minute
)

// Handler returns the admin API of the server: health, journal, counters,
// faults, feedback queue, provider-token keys, device state and reset, as
// JSON; and, at GET /, a web page over them, fed by an event stream (GET
// /api/v1/events; see ui.go). Every route, parameter and JSON shape is in the OpenAPI 3 document
// that [OpenAPI] returns and the handler serves at GET
// /api/v1/openapi.json, and in cmd/mockapns/README.md in this repository.
// Serve it with an http.Server of your own, or httptest.NewServer in
// tests. Each call returns a new, independent handler over the same server
// state.
func (s *Server) Handler() http.Handler {
	a := &admin{s: s, mux: http.NewServeMux(), guard: newGuard(s.cfg.Admin), waits: s.adminWaitSlots(),
		streams: s.adminStreamSlots()}
	for _, r := range []struct {
		pattern string
		h       func(http.ResponseWriter, *http.Request) error
	}{
		{"GET /healthz", a.healthz},
		{"GET /api/v1/notifications", a.listNotifications},
		{"DELETE /api/v1/notifications", a.clearNotifications},
		{"GET /api/v1/stats", a.stats},
		{"GET /api/v1/faults", a.listFaults},
		{"POST /api/v1/faults", a.addFault},
		{"DELETE /api/v1/faults", a.clearFaults},
		{"DELETE /api/v1/faults/{id}", a.removeFault},
		{"POST /api/v1/feedback", a.queueFeedback},
		{"POST /api/v1/reset", a.reset},
		{"GET /api/v1/openapi.json", a.openAPI}, // openapi.go
	} {
		a.mux.Handle(r.pattern, a.adapt(r.h))
	}
	for _, r := range a.authRoutes() { // keys and devices: h2_auth_admin.go
		a.mux.Handle(r.pattern, a.adapt(r.h))
	}
	for _, r := range a.metricsRoutes() { // GET /metrics: metrics.go
		a.mux.Handle(r.pattern, a.adapt(r.h))
	}
	for _, r := range a.uiRoutes() { // the web page and its event stream: ui.go
		a.mux.Handle(r.pattern, a.adapt(r.h))
	}
	return a
}

// admin serves the admin API of one Server.
type admin struct {
	s       *Server
	mux     *http.ServeMux
	guard   guard         // admin_guard.go
	waits   chan struct{} // one token per ?wait request being served, the server's (shared by its handlers)
	streams chan struct{} // one token per event stream open, the server's (ui_events.go)
}

// adapt turns a handler that returns an error into an http.Handler: the
// error, if any, is answered by writeError.
func (a *admin) adapt(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// ServeHTTP routes the request; the mux's own 404 and 405 answers (plain
// text) are rewritten as JSON errors.
func (a *admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := a.guard.check(r); err != nil { // Host, Origin, token: admin_guard.go
		a.writeError(w, r, err)
		return
	}
	if h, pattern := a.mux.Handler(r); pattern == "" {
		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status < 400 { // a redirect (path cleaning): pass it on
			copyHeader(w.Header(), rec.header)
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body.Bytes())
			return
		}
		a.writeError(w, r, &routeError{method: r.Method, path: r.URL.Path, allow: rec.header.Get("Allow")})
		return
	}
	if err := checkMediaType(r); err != nil {
		a.writeError(w, r, err)
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

// The errors of the admin API's handlers. writeError answers each with
// its status (errorStatus) and a JSON body.

// requestError is a bad request: a query parameter, a body or a path
// value that cannot be used. What names the part at fault, or is empty.
type requestError struct {
	what string // `query parameter "limit"`, "fault id", "[2].token", …
	err  error
}

func (e *requestError) Error() string {
	if e.what == "" {
		return e.err.Error()
	}
	return e.what + ": " + e.err.Error()
}

func (e *requestError) Unwrap() error { return e.err }

func badRequest(what, format string, args ...any) error {
	return &requestError{what: what, err: fmt.Errorf(format, args...)}
}

// notFoundError is a request for something that does not exist.
type notFoundError struct{ what string }

func (e *notFoundError) Error() string { return "no " + e.what }

// routeError is a method or path the admin API does not serve; allow
// lists the methods the path serves, if any.
type routeError struct{ method, path, allow string }

func (e *routeError) Error() string {
	if e.allow != "" {
		return fmt.Sprintf("method %s not allowed on %s (allowed: %s)", e.method, e.path, e.allow)
	}
	return fmt.Sprintf("no such endpoint: %s %s", e.method, e.path)
}

// waitError is a ?wait=N that ended before N entries matched: by its
// timeout, or because the server closed.
type waitError struct {
	closed bool
	body   waitFailure
}

func (e *waitError) Error() string { return e.body.Error }

// errorStatus maps an error to the status of its answer.
func errorStatus(err error) int {
	var (
		tooBig   *http.MaxBytesError
		route    *routeError
		wait     *waitError
		request  *requestError
		notFound *notFoundError
		denied   *forbiddenError
		noToken  *unauthorizedError
		media    *mediaTypeError
		tooMany  *tooManyWaitsError
		streams  *tooManyStreamsError
	)
	switch {
	case errors.As(err, &denied):
		return http.StatusForbidden
	case errors.As(err, &noToken):
		return http.StatusUnauthorized
	case errors.As(err, &media):
		return http.StatusUnsupportedMediaType
	case errors.As(err, &tooMany), errors.As(err, &streams):
		return http.StatusTooManyRequests
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &route) && route.allow != "":
		return http.StatusMethodNotAllowed
	case errors.As(err, &route), errors.As(err, &notFound):
		return http.StatusNotFound
	case errors.As(err, &wait) && wait.closed:
		return http.StatusServiceUnavailable
	case errors.As(err, &wait):
		return http.StatusGatewayTimeout
	case errors.As(err, &request), errors.Is(err, ErrBadFault):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON form of every error answer but a wait's.
type errorBody struct {
	Error string `json:"error"`
}

// writeError answers err with its status and JSON body, and logs it at
// debug level.
func (a *admin) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := errorStatus(err)
	var body any = errorBody{Error: err.Error()}
	var (
		tooBig  *http.MaxBytesError
		route   *routeError
		wait    *waitError
		noToken *unauthorizedError
		media   *mediaTypeError
		tooMany *tooManyWaitsError
		streams *tooManyStreamsError
	)
	switch {
	case errors.As(err, &noToken):
		challenge := `Bearer realm="mockapns admin"`
		if noToken.given {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	case errors.As(err, &media):
		w.Header().Set("Accept-Post", "application/json")
	case errors.As(err, &tooMany), errors.As(err, &streams):
		w.Header().Set("Retry-After", "1")
	case errors.As(err, &tooBig):
		body = errorBody{Error: fmt.Sprintf("request body larger than %d bytes", tooBig.Limit)}
	case errors.As(err, &route) && route.allow != "":
		w.Header().Set("Allow", route.allow)
	case errors.As(err, &wait):
		body = wait.body
	}
	a.log().Debug("admin: request refused", "method", r.Method, "path", r.URL.Path, "status", status, "error", err.Error())
	writeJSON(w, status, body)
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

// noContent answers 204.
func noContent(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// readBody reads the request body, at most maxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, err
		}
		return nil, badRequest("reading request body", "%w", err)
	}
	return data, nil
}

func (a *admin) healthz(w http.ResponseWriter, r *http.Request) error {
	if a.closed() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "closed"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// notificationQuery is the parsed query of GET /api/v1/notifications.
type notificationQuery struct {
	filter  Filter
	wait    int
	hasWait bool
	timeout time.Duration
	format  string // "" or formatJSON: the array; formatJSONL, formatCSV: journal_export.go
}

// queryParam is one query parameter of GET /api/v1/notifications: parse
// sets it in q from its (single) value; the error says what is wrong.
type queryParam struct {
	name  string
	parse func(v string, q *notificationQuery) error
}

// notificationParams are the query parameters of GET
// /api/v1/notifications, parsed in this order.
var notificationParams = []queryParam{
	{"token", func(v string, q *notificationQuery) (err error) {
		q.filter.Token, err = apns.ParseToken(v)
		return err
	}},
	{"status", func(v string, q *notificationQuery) error {
		switch v {
		case "accepted":
			q.filter.Status = Accepted
		case "rejected":
			q.filter.Status = Rejected
		default:
			return fmt.Errorf("want accepted or rejected, got %q", v)
		}
		return nil
	}},
	{"protocol", func(v string, q *notificationQuery) error {
		if err := q.filter.Protocol.UnmarshalText([]byte(v)); err != nil {
			return fmt.Errorf("want binary or http2, got %q", v)
		}
		return nil
	}},
	{"limit", func(v string, q *notificationQuery) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("want a whole number ≥ 1, got %q", v)
		}
		q.filter.Limit = n
		return nil
	}},
	{"wait", func(v string, q *notificationQuery) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("want a whole number ≥ 0, got %q", v)
		}
		q.wait, q.hasWait = n, true
		return nil
	}},
	{"timeout", func(v string, q *notificationQuery) error {
		if !q.hasWait {
			return errors.New(`needs "wait"`)
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > MaxWaitTimeout {
			return fmt.Errorf("want a duration such as 5s, above 0 and at most %v, got %q", MaxWaitTimeout, v)
		}
		q.timeout = d
		return nil
	}},
	{"format", parseFormat}, // journal_export.go
}

// parseNotificationQuery reads and checks the query parameters; the error
// names the parameter.
func parseNotificationQuery(raw string) (notificationQuery, error) {
	nq := notificationQuery{timeout: defaultWaitTimeout}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nq, badRequest("bad query string", "%w", err)
	}
	names := make([]string, len(notificationParams))
	for i, p := range notificationParams {
		names[i] = p.name
	}
	for name, vals := range q {
		switch {
		case !slices.Contains(names, name):
			return nq, badRequest("", "unknown query parameter %q (known: %s)", name, strings.Join(names, ", "))
		case len(vals) != 1:
			return nq, badRequest("", "query parameter %q given %d times", name, len(vals))
		}
	}
	for _, p := range notificationParams {
		if v, ok := q[p.name]; ok {
			if err := p.parse(v[0], &nq); err != nil {
				return nq, &requestError{what: fmt.Sprintf("query parameter %q", p.name), err: err}
			}
		}
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

func (a *admin) listNotifications(w http.ResponseWriter, r *http.Request) error {
	nq, err := parseNotificationQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	if nq.format == formatJSONL || nq.format == formatCSV {
		return a.exportNotifications(w, r, nq)
	}
	if nq.wait == 0 {
		writeJSON(w, http.StatusOK, a.s.Notifications(nq.filter))
		return nil
	}
	select {
	case a.waits <- struct{}{}:
		defer func() { <-a.waits }()
	default:
		return &tooManyWaitsError{limit: cap(a.waits)}
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
		return nil
	}
	if r.Context().Err() != nil {
		return nil // the client went away; nobody reads the answer
	}
	return a.waitFailed(nq, entries)
}

// waitFailed describes a wait that ended before enough entries matched.
func (a *admin) waitFailed(nq notificationQuery, entries []Entry) error {
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
	e := &waitError{closed: a.closed(), body: waitFailure{Wanted: nq.wait, Matched: matched, Notifications: entries}}
	if e.closed {
		e.body.Error = fmt.Sprintf("server closed while waiting for %d notifications (%d matched)", nq.wait, matched)
	} else {
		e.body.Error = fmt.Sprintf("timeout after %v waiting for %d notifications (%d matched)", nq.timeout, nq.wait, matched)
	}
	return e
}

func (a *admin) clearNotifications(w http.ResponseWriter, r *http.Request) error {
	a.s.ClearNotifications()
	noContent(w)
	return nil
}

func (a *admin) stats(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, a.s.Stats())
	return nil
}

// faultView is the JSON form of an installed fault.
type faultView struct {
	ID    int             `json:"id"`
	Fired int             `json:"fired"`
	Fault json.RawMessage `json:"fault"`
}

// viewOf renders an installed fault. A fault installed from Go is valid,
// so it has a JSON form: an error here is the server's (500).
func viewOf(fi FaultInfo) (faultView, error) {
	data, err := MarshalFault(fi.Fault)
	if err != nil {
		return faultView{}, fmt.Errorf("fault %d has no JSON form: %s", fi.ID, err.Error())
	}
	return faultView{ID: fi.ID, Fired: fi.Fired, Fault: data}, nil
}

func (a *admin) listFaults(w http.ResponseWriter, r *http.Request) error {
	infos := a.s.Faults()
	out := make([]faultView, 0, len(infos))
	for _, fi := range infos {
		v, err := viewOf(fi)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *admin) addFault(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	f, err := ParseFault(data)
	if err != nil {
		return err
	}
	id, err := a.s.AddFault(f)
	if err != nil {
		return err
	}
	fired := 0
	for _, fi := range a.s.Faults() {
		if fi.ID == id {
			fired = fi.Fired
		}
	}
	v, err := viewOf(FaultInfo{ID: id, Fault: f, Fired: fired})
	if err != nil {
		return err
	}
	a.log().Info("admin: fault added", "id", id, "fault", string(v.Fault))
	w.Header().Set("Location", "/api/v1/faults/"+strconv.Itoa(id))
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (a *admin) clearFaults(w http.ResponseWriter, r *http.Request) error {
	a.s.ClearFaults()
	a.log().Info("admin: faults cleared")
	noContent(w)
	return nil
}

func (a *admin) removeFault(w http.ResponseWriter, r *http.Request) error {
	raw := r.PathValue("id")
	id, err := strconv.Atoi(raw)
	if err != nil || id < 1 {
		return badRequest("fault id", "want a whole number ≥ 1, got %q", raw)
	}
	if !a.s.RemoveFault(id) {
		return &notFoundError{what: fmt.Sprintf("fault with id %d", id)}
	}
	a.log().Info("admin: fault removed", "id", id)
	noContent(w)
	return nil
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

// feedbackShape is the form POST /api/v1/feedback wants, for messages.
const feedbackShape = `[{"token":"HEX","time":"RFC3339"}]`

// parseFeedback decodes the body of POST /api/v1/feedback strictly.
// Fractional seconds are dropped: the wire carries whole UNIX seconds.
func parseFeedback(data []byte) ([]wire.FeedbackTuple, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var items []feedbackItem
	if err := dec.Decode(&items); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, badRequest("", "empty body, want a JSON array %s", feedbackShape)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return nil, badRequest("", "want a JSON array %s, got a JSON %s", feedbackShape, te.Value)
			}
			return nil, badRequest("", "field %q: want a string, got a JSON %s", te.Field, te.Value)
		}
		return nil, badRequest("", "bad JSON: %s (want %s)", jsonReason(err), feedbackShape)
	}
	if items == nil {
		return nil, badRequest("", "want a JSON array %s, got null", feedbackShape)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badRequest("", "bad JSON: more than one value in the body")
	}
	tuples := make([]wire.FeedbackTuple, 0, len(items))
	for i, it := range items {
		tu, err := it.tuple()
		if err != nil {
			return nil, &requestError{what: fmt.Sprintf("[%d].%s", i, err.what), err: err.err}
		}
		tuples = append(tuples, tu)
	}
	return tuples, nil
}

// tuple checks one item; the error's what is the member at fault.
func (it feedbackItem) tuple() (wire.FeedbackTuple, *requestError) {
	tok, err := apns.ParseToken(it.Token)
	if err != nil {
		return wire.FeedbackTuple{}, &requestError{what: "token", err: err}
	}
	if it.Time == "" {
		return wire.FeedbackTuple{}, &requestError{what: "time", err: errors.New("required, an RFC 3339 time such as 2026-01-02T15:04:05Z")}
	}
	t, err := time.Parse(time.RFC3339, it.Time)
	if err != nil {
		return wire.FeedbackTuple{}, &requestError{what: "time", err: fmt.Errorf("not an RFC 3339 time such as 2026-01-02T15:04:05Z: %q", it.Time)}
	}
	if sec := t.Unix(); sec < 0 || sec > math.MaxUint32 {
		return wire.FeedbackTuple{}, &requestError{what: "time", err: fmt.Errorf("%s is outside 1970–2106 (the wire carries 32-bit UNIX seconds)", it.Time)}
	}
	return wire.FeedbackTuple{Time: t.Truncate(time.Second).UTC(), Token: tok.Bytes()}, nil
}

func (a *admin) queueFeedback(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	tuples, err := parseFeedback(data)
	if err != nil {
		return err
	}
	if err := a.s.QueueFeedback(tuples...); err != nil {
		return &requestError{err: err} // nothing queued
	}
	a.log().Info("admin: feedback queued", "tuples", len(tuples))
	writeJSON(w, http.StatusOK, feedbackQueued{Queued: len(tuples), Pending: len(a.s.PendingFeedback())})
	return nil
}

func (a *admin) reset(w http.ResponseWriter, r *http.Request) error {
	a.s.Reset()
	a.log().Info("admin: reset")
	noContent(w)
	return nil
}
