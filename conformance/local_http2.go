package conformance

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
)

// HTTP/2 retry pauses of the Local adapter: short, so that the scenarios
// that refuse with 429 or 503 run fast; they still double between tries.
const (
	localHTTP2BaseDelay = 5 * time.Millisecond
	localHTTP2MaxDelay  = 40 * time.Millisecond
)

// newHTTP2 makes the HTTP/2 client of ep: provider tokens when ep has an
// auth key, else the client certificate; its tokens are dated by
// ep.Clock and its quiet connections pinged after ep.KeepAlive.
func (l *Local) newHTTP2(ep Endpoint, pool *x509.CertPool, cert *client.Certificate) (*client.HTTP2Client, error) {
	cfg := client.HTTP2Config{
		RootCAs:     pool,
		Logger:      l.opts.Logger,
		Retry:       client.HTTP2Retry{MaxAttempts: l.h2Attempts, BaseDelay: localHTTP2BaseDelay, MaxDelay: localHTTP2MaxDelay},
		Clock:       ep.Clock,
		IdleTimeout: ep.KeepAlive,
	}
	if len(ep.AuthKeyPEM) > 0 {
		clock := ep.Clock
		if l.h2Clock != nil {
			if clock == nil {
				clock = time.Now
			}
			clock = l.h2Clock(clock)
		}
		signer, err := client.NewTokenSigner(ep.AuthKeyPEM, ep.KeyID, ep.TeamID, client.TokenOptions{Clock: clock})
		if err != nil {
			return nil, fmt.Errorf("conformance: the auth key: %w", err)
		}
		cfg.Signer = signer
	} else {
		if cert == nil {
			return nil, errors.New("conformance: HTTP/2 needs an auth key or a client certificate")
		}
		cfg.Certificate = cert
	}
	return client.NewHTTP2Client(ep.HTTP2, cfg)
}

func (l *Local) http2() *client.HTTP2Client {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h2
}

// sendHTTP2 sends b over the HTTP/2 client, whose own retry policy
// follows each token to its final answer.
func (l *Local) sendHTTP2(ctx context.Context, b Batch) (Outcome, error) {
	h2 := l.http2()
	if b.Command != nil {
		return Outcome{}, fmt.Errorf("command %d over HTTP/2: %w", *b.Command, ErrUnsupported)
	}
	m := &client.Message{Tokens: b.Tokens, Payload: b.Payload, Priority: b.Priority,
		Topic: b.Topic, PushType: b.PushType, CollapseID: b.CollapseID}
	if !b.Expiry.IsZero() {
		m.Expiry = client.ExpireAt(b.Expiry)
	}
	res, err := h2.Send(ctx, m)
	if err != nil {
		return Outcome{}, err
	}
	var out Outcome
	if l.resendH2 != nil {
		if again := l.resendH2(res); len(again) > 0 {
			c := *m
			c.Tokens = again
			res2, err := h2.Send(ctx, &c)
			if err != nil {
				return Outcome{}, err
			}
			out.Retried = append(out.Retried, again...)
			foldHTTP2(&out, res2)
		}
	}
	foldHTTP2(&out, res)
	return out, nil
}

// foldHTTP2 adds what res tells to out.
func foldHTTP2(out *Outcome, res *client.Result) {
	for _, r := range res.Responses {
		for range r.Attempts - 1 {
			out.Retried = append(out.Retried, r.Token)
		}
		out.Attempts = max(out.Attempts, r.Attempts)
	}
	for _, f := range res.Failed {
		out.Failed = append(out.Failed, TokenStatus{Token: f.Token, Status: f.HTTPStatus})
		reason := f.Outcome.Error()
		var r apns.Reason
		if errors.As(f.Outcome, &r) {
			reason = string(r)
		}
		out.Reasons = append(out.Reasons, TokenReason{Token: f.Token, Reason: reason, HTTPStatus: f.HTTPStatus, Timestamp: f.Timestamp, APNsID: f.APNsID})
	}
	refused := map[string]bool{} // refused by the connection, for good
	for _, e := range res.Errors {
		out.Errors = append(out.Errors, e.Error())
		if tok, reason, ok := connectionRefusal(e); ok {
			refused[tok] = true
			out.Failed = append(out.Failed, TokenStatus{Token: tok})
			out.Reasons = append(out.Reasons, TokenReason{Token: tok, Reason: string(reason)})
		}
	}
	out.Uncertain = append(out.Uncertain, res.Uncertain...)
	if rm := res.Retry(); rm != nil {
		for _, t := range rm.Tokens {
			if !refused[t] {
				out.Unsent = append(out.Unsent, t)
			}
		}
	}
	out.Attempts = max(out.Attempts, 1)
}

// connectionRefusal reports the token of a request that a GOAWAY turned
// away for good (a reason not to retry, such as
// BadCertificateEnvironment), with the reason: it was never processed and
// sending it again on that connection's credentials cannot succeed.
func connectionRefusal(err error) (string, apns.Reason, bool) {
	var re *client.RequestError
	var ga *client.GoAwayError
	if !errors.As(err, &re) || !errors.As(err, &ga) || ga.Reason == "" || ga.Reason.Disposition() == apns.Retry {
		return "", "", false
	}
	return re.Token, ga.Reason, true
}
