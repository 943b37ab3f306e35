package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"time"

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
	header  http.Header // apns-* headers without authorization
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
	p := &h2Prepared{payload: payload, header: http.Header{}, tokens: make([]apns.Token, len(m.Tokens))}
	for i, s := range m.Tokens {
		t, err := apns.ParseToken(s)
		if err != nil {
			return nil, base, &TokenError{Index: i, Token: s, Err: err}
		}
		p.tokens[i] = t
	}
	set := func(k, v string) {
		if v != "" {
			p.header[k] = []string{v}
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
	p.header["content-type"] = []string{"application/json"}
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
	outs := make([]h2Outcome, len(p.tokens))
	var wg sync.WaitGroup
	for i := range p.tokens {
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			for j := i; j < len(outs); j++ {
				outs[j].err = &RequestError{Token: m.Tokens[j], Err: ctx.Err()}
			}
			wg.Wait()
			return c.result(m, base, outs), nil
		}
		wg.Go(func() {
			defer func() { <-c.sem }()
			outs[i] = c.sendToken(ctx, p, m.Tokens[i], p.tokens[i])
		})
	}
	wg.Wait()
	return c.result(m, base, outs), nil
}

// sendToken runs the attempts for one token.
func (c *HTTP2Client) sendToken(ctx context.Context, p *h2Prepared, given string, tok apns.Token) h2Outcome {
	var out h2Outcome
	for attempt := 1; ; attempt++ {
		var jwt string
		resp, o, wrote, err := c.roundTrip(ctx, p, tok, &jwt)
		out.sent = out.sent || wrote
		if err != nil {
			// An earlier attempt's refusal was not the final answer: the
			// token has none, and goes back to the caller to retry.
			out.resp = nil
			out.err = &RequestError{Token: given, Err: err}
			out.uncertain = wrote
			return out
		}
		resp.Token, resp.Attempts = given, attempt
		out.resp = resp
		if o == nil {
			return out
		}
		f := Failure{Token: given, Outcome: o, HTTPStatus: resp.HTTPStatus, APNsID: resp.APNsID, UniqueID: resp.UniqueID}
		if r, ok := o.(timedReason); ok {
			f.Outcome, f.Timestamp = r.Reason, r.at
		}
		out.failure = &f
		if f.Outcome == apns.ReasonExpiredProviderToken && c.cfg.Signer != nil {
			c.cfg.Signer.renew(jwt)
		}
		if o.Disposition() != apns.Retry || attempt >= c.cfg.Retry.MaxAttempts {
			return out
		}
		if err := sleep(ctx, c.backoff(attempt)); err != nil {
			// The refusal stands as the outcome; the caller's ctx ended
			// before the next attempt.
			return out
		}
		out.failure = nil
	}
}

// timedReason carries a reason's timestamp out of parseResponse.
type timedReason struct {
	apns.Reason
	at time.Time
}

// roundTrip makes one request, storing the provider token it carried in
// *jwtUsed. It returns the response, the refusal (nil when accepted),
// whether the request was written, or the error of a request that got no
// response.
func (c *HTTP2Client) roundTrip(ctx context.Context, p *h2Prepared, tok apns.Token, jwtUsed *string) (*Response, apns.Outcome, bool, error) {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	var wrote bool
	var mu sync.Mutex
	rctx = httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{WroteHeaders: func() {
		mu.Lock()
		wrote = true
		mu.Unlock()
	}})
	wasWritten := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return wrote
	}
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.base+tok.String(), bytes.NewReader(p.payload))
	if err != nil {
		return nil, nil, false, err
	}
	for k, v := range p.header {
		req.Header[k] = v
	}
	if c.cfg.Signer != nil {
		jwt, err := c.cfg.Signer.Token()
		if err != nil {
			return nil, nil, false, err
		}
		req.Header["authorization"] = []string{"bearer " + jwt}
		*jwtUsed = jwt
	}
	res, err := c.tr.RoundTrip(req)
	if err != nil {
		return nil, nil, wasWritten(), c.requestErr(ctx, rctx, err)
	}
	defer res.Body.Close()
	resp := &Response{HTTPStatus: res.StatusCode, APNsID: res.Header.Get("apns-id"), UniqueID: res.Header.Get("apns-unique-id")}
	if res.StatusCode == http.StatusOK {
		_, _ = io.CopyN(io.Discard, res.Body, maxDrainedSuccessBytes)
		return resp, nil, true, nil
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBody+1))
	if err != nil {
		if rctx.Err() != nil {
			return nil, nil, true, c.requestErr(ctx, rctx, err)
		}
		return resp, &ResponseError{HTTPStatus: res.StatusCode, Err: fmt.Errorf("truncated body: %w", err)}, true, nil
	}
	return resp, parseResponse(res.StatusCode, body), true, nil
}

// requestErr wraps the error of a request whose per-request deadline
// passed with ErrRequestTimeout; the caller's own ctx ending is kept as is.
func (c *HTTP2Client) requestErr(ctx, rctx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(rctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w after %v: %w", ErrRequestTimeout, c.cfg.RequestTimeout, err)
	}
	return err
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
