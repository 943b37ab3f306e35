package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/net/http2/hpack"

	"github.com/apnskit/apnskit/apns"
)

// Response is one HTTP/2 response, as [Result.Responses] lists them.
type Response struct {
	Token      string // the token as given in Message.Tokens
	HTTPStatus int    // 200 when accepted
	APNsID     string // the apns-id header
	UniqueID   string // the apns-unique-id header (development environment only)
	Attempts   int    // requests made for this token, this one included
}

// ResponseError is the outcome of a response that cannot be read: a body
// that is not {"reason": ...} JSON, truncated, or longer than APNs ever
// answers. It matches ErrMalformedResponse with errors.Is, and its
// Disposition follows the HTTP status (Retry for 429 and 5xx, DropMessage
// otherwise).
type ResponseError struct {
	HTTPStatus int
	Err        error // what was wrong
}

// Error reads "apns: malformed response: HTTP 400: ...".
func (e *ResponseError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %v", ErrMalformedResponse, e.HTTPStatus, e.Err)
}

// Unwrap returns ErrMalformedResponse and the cause.
func (e *ResponseError) Unwrap() []error { return []error{ErrMalformedResponse, e.Err} }

// Disposition is Retry for 429 and 5xx, DropMessage otherwise.
func (e *ResponseError) Disposition() apns.Disposition {
	if e.HTTPStatus == http.StatusTooManyRequests || e.HTTPStatus >= 500 {
		return apns.Retry
	}
	return apns.DropMessage
}

// RequestError is a request to one token that got no response: a
// connection that failed or was lost, a timeout (ErrRequestTimeout), ctx
// ending. Result.Errors holds them; the token is in Result.Retry().
type RequestError struct {
	Token string
	Err   error
}

// Error names the token and the cause.
func (e *RequestError) Error() string { return "apns: request to " + e.Token + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *RequestError) Unwrap() error { return e.Err }

// h2Prepared is what every request of a message shares.
type h2Prepared struct {
	payload []byte
	header  []hpack.HeaderField // apns-* headers and content-type, without authorization
	tokens  []apns.Token
}

func (c *HTTP2Client) prepare(m *Message) (*h2Prepared, Message, error) {
	base := *m
	base.Tokens = nil
	if len(m.Tokens) == 0 {
		return nil, base, ErrNoTokens
	}
	if err := m.checkPayloadFields(); err != nil {
		return nil, base, err
	}
	if m.Priority < 0 || m.Priority > 255 {
		return nil, base, fmt.Errorf("%w: priority %d", ErrBadField, m.Priority)
	}
	payload, err := m.payloadJSON()
	if err != nil {
		return nil, base, err
	}
	p := &h2Prepared{payload: payload, tokens: make([]apns.Token, len(m.Tokens))}
	for i, s := range m.Tokens {
		t, err := apns.ParseToken(s)
		if err != nil {
			return nil, base, &TokenError{Index: i, Token: s, Err: err}
		}
		p.tokens[i] = t
	}
	set := func(k, v string) {
		if v != "" {
			p.header = append(p.header, hpack.HeaderField{Name: k, Value: v})
		}
	}
	set("apns-push-type", m.PushType)
	set("apns-topic", m.Topic)
	set("apns-id", m.APNsID)
	set("apns-collapse-id", m.CollapseID)
	if m.Priority != 0 {
		set("apns-priority", strconv.Itoa(m.Priority))
	}
	if !m.Expiry.IsZero() {
		e, err := m.Expiry.resolve(c.cfg.Clock())
		if err != nil {
			return nil, base, err
		}
		set("apns-expiration", strconv.FormatUint(uint64(e), 10))
		if m.Expiry.At.IsZero() {
			base.Expiry = ExpireAt(time.Unix(int64(e), 0).UTC())
		}
	}
	set("content-type", "application/json")
	return p, base, nil
}

// h2Outcome is the final state of one token.
type h2Outcome struct {
	resp      *Response
	failure   *Failure
	err       error // no response: the request error
	uncertain bool  // err after the request was written
	sent      bool  // at least one request written
}

// Send sends m to each of its tokens, at most MaxInFlight requests at a
// time, following the retry policy, and returns when every token has its
// final outcome:
//   - accepted: counted in Accepted, listed in Responses;
//   - refused for good (a reason that is never retried, or a retryable one
//     after MaxAttempts): in Failed, with the reason, HTTP status,
//     410 timestamp and response IDs, and in Responses;
//   - no response (connection failure or loss, ErrRequestTimeout, ctx
//     ended): a *RequestError in Errors and the token in Retry(); also in
//     Uncertain when the request had been written, since APNs may have
//     delivered it. These are not retried by Send itself.
//
// Send's own error is for a message that cannot be sent at all
// (ErrNoTokens, ErrBadToken, ErrBadPayload, ...); nothing was sent then.
func (c *HTTP2Client) Send(ctx context.Context, m *Message) (*Result, error) {
	p, base, err := c.prepare(m)
	if err != nil {
		return nil, err
	}
	s := &h2Send{c: c, p: p, m: m, outs: make([]h2Outcome, len(p.tokens)), reqs: make([]h2Request, len(p.tokens)),
		done: make(chan *h2Request, len(p.tokens)), retry: make(chan int, len(p.tokens)),
		state: make([]h2TokenState, len(p.tokens))}
	mt := c.cfg.Metrics
	if mt != nil {
		mt.InFlight(metricsHTTP2, len(p.tokens))
	}
	s.run(ctx)
	r := c.result(m, base, s.outs)
	if mt != nil {
		reportResult(mt, metricsHTTP2, r)
		mt.InFlight(metricsHTTP2, -len(p.tokens))
	}
	return r, nil
}

// h2Send is one Send in progress. Its requests go to the pool without a
// goroutine each: the pool answers on done, and the loop in run decides,
// one answer at a time, what comes next.
type h2Send struct {
	c     *HTTP2Client
	p     *h2Prepared
	m     *Message
	outs  []h2Outcome
	reqs  []h2Request
	done  chan *h2Request
	retry chan int // tokens whose back-off ended

	next    int // the next token to start
	open    int // tokens started and not final (each holds a slot of c.sem)
	state   []h2TokenState
	backing map[int]*time.Timer
}

// h2TokenState is where a token of a Send is.
type h2TokenState uint8

const (
	h2NotStarted h2TokenState = iota
	h2InFlight
	h2BackingOff
	h2Final
)

// run sends every token and returns when each has its final outcome, or
// ctx ended.
func (s *h2Send) run(ctx context.Context) {
	for s.next < len(s.reqs) || s.open > 0 {
		var sem chan struct{}
		if s.next < len(s.reqs) {
			sem = s.c.sem
		}
		select {
		case sem <- struct{}{}:
			s.open++
			i := s.next
			s.next++
			s.attempt(i)
		case r := <-s.done:
			s.answer(r)
		case i := <-s.retry:
			if s.state[i] == h2BackingOff {
				delete(s.backing, i)
				s.outs[i].failure = nil
				s.attempt(i)
			}
		case <-ctx.Done():
			s.abandon(ctx.Err())
			return
		}
	}
}

// attempt submits the next request for token i.
func (s *h2Send) attempt(i int) {
	r := &s.reqs[i]
	if r.done == nil {
		*r = h2Request{path: "/3/device/" + s.p.tokens[i].String(), header: s.p.header, body: s.p.payload, done: s.done, idx: i}
	}
	r.attempts++
	s.state[i] = h2InFlight
	if s.c.cfg.Metrics != nil {
		r.start = time.Now()
	}
	if err := s.c.authorize(r); err != nil {
		s.final(i, h2Outcome{err: &RequestError{Token: s.m.Tokens[i], Err: err}, sent: s.outs[i].sent})
		return
	}
	s.c.pool.start(r)
}

// authorize gives r the signer's current provider token (token auth).
func (c *HTTP2Client) authorize(r *h2Request) error {
	signer := c.cfg.Signer
	if signer == nil {
		return nil
	}
	jwt, err := signer.Token()
	if err != nil {
		return err
	}
	if jwt != r.jwt {
		r.jwt, r.auth = jwt, "bearer "+jwt
	}
	return nil
}

// final records token i's outcome and frees its slot.
func (s *h2Send) final(i int, o h2Outcome) {
	s.outs[i] = o
	s.state[i] = h2Final
	s.open--
	<-s.c.sem
}

// answer handles the end of one request: the outcome, or the next
// attempt after a back-off.
func (s *h2Send) answer(r *h2Request) {
	i, given := r.idx, s.m.Tokens[r.idx]
	out := s.outs[i]
	wrote := r.wrote.Load()
	if mt := s.c.cfg.Metrics; mt != nil && wrote {
		mt.Latency(metricsHTTP2, time.Since(r.start))
	}
	out.sent = out.sent || wrote
	if r.err != nil {
		// An earlier attempt's refusal was not the final answer: the
		// token has none, and goes back to the caller to retry.
		out.resp = nil
		out.err = &RequestError{Token: given, Err: r.err}
		out.uncertain = wrote
		s.final(i, out)
		return
	}
	resp, f, again := s.c.judge(r, given)
	out.resp, out.failure = resp, f
	if !again {
		s.final(i, out)
		return
	}
	s.outs[i] = out // the refusal stands if ctx ends during the back-off
	s.state[i] = h2BackingOff
	if s.backing == nil {
		s.backing = map[int]*time.Timer{}
	}
	s.backing[i] = time.AfterFunc(s.c.backoff(r.attempts), func() { s.retry <- i })
}

// judge reads the response r got for the token given: the Response, the
// Failure when it is a refusal (nil for 200), and whether the refusal is
// to be retried (its disposition is Retry and attempts remain). An
// ExpiredProviderToken refusal renews the signer's token.
func (c *HTTP2Client) judge(r *h2Request, given string) (*Response, *Failure, bool) {
	resp := &Response{Token: given, HTTPStatus: r.status, APNsID: r.apnsID, UniqueID: r.uniqueID, Attempts: r.attempts}
	var o apns.Outcome
	switch {
	case r.status == http.StatusOK:
		return resp, nil, false
	case r.bodyCut:
		o = &ResponseError{HTTPStatus: r.status, Err: errors.New("truncated body: stream reset by the server")}
	default:
		o = parseResponse(r.status, r.respBody)
	}
	f := &Failure{Token: given, Outcome: o, HTTPStatus: resp.HTTPStatus, APNsID: resp.APNsID, UniqueID: resp.UniqueID}
	if tr, ok := o.(timedReason); ok {
		f.Outcome, f.Timestamp = tr.Reason, tr.at
	}
	if f.Outcome == apns.ReasonExpiredProviderToken && c.cfg.Signer != nil {
		c.cfg.Signer.renew(r.jwt)
	}
	// The attempts that got no response (a Stream resends them itself,
	// bounded by StreamOptions.MaxAttempts) do not use up the retries of
	// a refusal: those count the requests the server answered.
	return resp, f, o.Disposition() == apns.Retry && r.attempts-r.unheard < c.cfg.Retry.MaxAttempts
}

// abandon ends every open token when ctx ended: requests in flight are
// withdrawn (the error, uncertain once written), answers that arrived
// meanwhile still count, a token in back-off keeps its last refusal, and
// tokens not started get the error too.
func (s *h2Send) abandon(err error) {
	for i := range s.next {
		if s.state[i] == h2InFlight {
			s.reqs[i].cancel()
		}
	}
drain:
	for {
		select {
		case r := <-s.done:
			if s.state[r.idx] == h2InFlight {
				s.answer(r)
			}
		default:
			break drain
		}
	}
	for i := range s.next {
		switch s.state[i] {
		case h2BackingOff:
			s.backing[i].Stop()
			s.final(i, s.outs[i])
		case h2InFlight:
			o := s.outs[i]
			w := s.reqs[i].wrote.Load()
			s.final(i, h2Outcome{err: &RequestError{Token: s.m.Tokens[i], Err: err}, uncertain: w, sent: o.sent || w})
		}
	}
	for i := s.next; i < len(s.outs); i++ {
		s.outs[i].err = &RequestError{Token: s.m.Tokens[i], Err: err}
	}
}

// timedReason carries a reason's timestamp out of parseResponse.
type timedReason struct {
	apns.Reason
	at time.Time
}

// parseResponse reads the body of a refusal: {"reason": "...",
// "timestamp": milliseconds} (the timestamp with 410 only).
func parseResponse(status int, body []byte) apns.Outcome {
	if len(body) > maxResponseBody {
		return &ResponseError{HTTPStatus: status, Err: fmt.Errorf("body longer than %d bytes", maxResponseBody)}
	}
	var v struct {
		Reason    *string      `json:"reason"`
		Timestamp *json.Number `json:"timestamp"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return &ResponseError{HTTPStatus: status, Err: err}
	}
	if v.Reason == nil || *v.Reason == "" {
		return &ResponseError{HTTPStatus: status, Err: errors.New(`no "reason" member`)}
	}
	r := apns.Reason(*v.Reason)
	if v.Timestamp == nil {
		return r
	}
	ms, err := v.Timestamp.Int64()
	if err != nil {
		return &ResponseError{HTTPStatus: status, Err: fmt.Errorf("timestamp %s: %w", *v.Timestamp, err)}
	}
	return timedReason{Reason: r, at: time.UnixMilli(ms).UTC()}
}

// result assembles the Result of a Send from the tokens' outcomes, in
// token order.
func (c *HTTP2Client) result(m *Message, base Message, outs []h2Outcome) *Result {
	r := &Result{cur: &batch{retryBase: base, tokens: m.Tokens}}
	for i, o := range outs {
		if o.sent {
			r.Sent++
		}
		if o.resp != nil {
			r.Responses = append(r.Responses, *o.resp)
		}
		switch {
		case o.failure != nil:
			r.Failed = append(r.Failed, *o.failure)
		case o.resp != nil:
			r.Accepted++
		default:
			r.Errors = append(r.Errors, o.err)
			r.retryTokens = append(r.retryTokens, m.Tokens[i])
			if o.uncertain {
				r.Uncertain = append(r.Uncertain, m.Tokens[i])
			}
		}
	}
	return r
}
