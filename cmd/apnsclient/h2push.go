package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
)

// Defaults of push -http2 where the binary push's flag default means
// something else.
const (
	h2DefaultBatch = 500 // tokens per batch in the -v log
)

// h2Client opens the HTTP/2 client the flags describe: token
// authentication with -p8, or a client certificate (-cert/-key or -p12),
// verified against -ca or the system roots. Its errors name the flag
// concerned.
func (o *pushOptions) h2Client(log io.Writer) (*client.HTTP2Client, error) {
	c := &o.conn
	cfg := client.HTTP2Config{ConnectTimeout: c.timeout, Connections: o.parallel}
	if o.set["window"] {
		cfg.MaxInFlight = o.window
	}
	if o.set["max-attempts"] {
		cfg.Retry.MaxAttempts = o.maxAttempts
	}
	switch {
	case c.p8File != "":
		s, err := client.LoadTokenSigner(c.p8File, c.keyID, c.teamID, client.TokenOptions{})
		if err != nil {
			return nil, fmt.Errorf("-p8: %w", err)
		}
		cfg.Signer = s
	case c.p12File != "":
		data, err := os.ReadFile(c.p12File)
		if err != nil {
			return nil, fmt.Errorf("-p12: %w", err)
		}
		if cfg.Certificate, err = client.ParsePKCS12(data, c.p12Password); err != nil {
			return nil, fmt.Errorf("-p12 %s: %w", c.p12File, err)
		}
	default:
		cert, err := client.LoadPEMFiles(c.certFile, c.keyFile, []byte(c.passphrase))
		if err != nil {
			return nil, c.keyHint(err)
		}
		cfg.Certificate = cert
	}
	pool, err := c.rootCAs()
	if err != nil {
		return nil, err
	}
	cfg.RootCAs = pool
	if c.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return client.NewHTTP2Client(c.addr, cfg)
}

// h2Message is the notification of push -http2: the content of the flags
// and the request headers.
func (o *pushOptions) h2Message() (*client.Message, error) {
	m, err := o.message()
	if err != nil {
		return nil, err
	}
	m.Topic, m.CollapseID, m.PushType = o.topic, o.collapseID, o.pushType
	if m.PushType == "" {
		m.PushType = defaultPushType(m)
	}
	return m, nil
}

// defaultPushType is the apns-push-type sent without -push-type:
// "background" for a payload whose aps dictionary only asks for a
// background update (content-available, no alert, badge or sound), "alert"
// otherwise.
func defaultPushType(m *client.Message) string {
	b, err := m.PayloadJSON()
	if err != nil {
		return "alert"
	}
	var p struct {
		APS map[string]json.RawMessage `json:"aps"`
	}
	if json.Unmarshal(b, &p) != nil {
		return "alert"
	}
	_, bg := p.APS["content-available"]
	for _, k := range []string{"alert", "badge", "sound"} {
		if _, ok := p.APS[k]; ok {
			bg = false
		}
	}
	if bg {
		return "background"
	}
	return "alert"
}

// pushHTTP2 sends the notification to every token over the HTTP/2
// provider API, on an HTTP2Client.Stream, and prints the summary. The
// tokens are read as they are pushed, so that memory holds only the
// requests in flight (-window); the first one goes alone, so that a server
// that cannot be reached or refuses the credentials stops the command
// after one request.
func (e *env) pushHTTP2(ctx context.Context, o *pushOptions) int {
	tmpl, src, code := e.pushInputs(o, o.h2Message)
	if src == nil {
		return code
	}
	out := e.pushOutput(o)
	logw := out.logw
	hc, err := o.h2Client(logw)
	if errors.Is(err, client.ErrBadConfig) {
		return e.usageFail("push", usagef("%w", err))
	}
	if err != nil {
		return e.fail("push", err)
	}
	batch := o.batch
	if !o.batchSet {
		batch = h2DefaultBatch
	}
	var logf func(format string, args ...any)
	if o.conn.verbose {
		logf = func(format string, args ...any) { fmt.Fprintf(logw, "apnsclient push: "+format+"\n", args...) }
	}
	var c counters
	tally := &streamTally{c: &c, settle: h2Settle(batch, logf)}
	st, err := hc.Stream(tmpl, client.StreamOptions{
		MaxAttempts: 1, // a request without an answer is failed, not resent
		OnOutcome:   tally.outcome,
	})
	if err != nil {
		_ = hc.Close()
		return e.fail("push", err)
	}
	start := time.Now()
	r := &streamRun{src: src, tally: tally, progress: out.progress, errw: out.errw, firstAlone: true}
	s, bar, stop := r.run(ctx, st, start)
	_ = hc.Close()
	return e.endPush(s, time.Since(start), bar, stop, o)
}

// credentialsRefusedError is a refusal that concerns the credentials, not
// the token: every other request would get it too, so the push stops.
type credentialsRefusedError struct {
	reason apns.Reason
	status int
}

func (e *credentialsRefusedError) Error() string {
	hint := "(is the client certificate one the server accepts, for its environment?)"
	switch e.reason {
	case apns.ReasonInvalidProviderToken, apns.ReasonMissingProviderToken, apns.ReasonUnrelatedKeyIDInToken,
		apns.ReasonBadEnvironmentKeyIDInToken, apns.ReasonExpiredProviderToken:
		hint = "(is -p8 a key the server trusts, with its -key-id and -team-id, for the server's environment, and is the clock right?)"
	}
	return fmt.Sprintf("the server refused the credentials: HTTP %d %s %s; stopped", e.status, string(e.reason), hint)
}

// credentialReasons are the refusals that stop a push: no request with the
// same credentials can succeed.
var credentialReasons = map[apns.Reason]bool{
	apns.ReasonInvalidProviderToken:       true,
	apns.ReasonMissingProviderToken:       true,
	apns.ReasonExpiredProviderToken:       true,
	apns.ReasonUnrelatedKeyIDInToken:      true,
	apns.ReasonBadEnvironmentKeyIDInToken: true,
	apns.ReasonBadCertificate:             true,
	apns.ReasonBadCertificateEnvironment:  true,
}

// h2Settle is settle for HTTP/2: a refusal is failed with its HTTP status
// and reason (a credential refusal stops the push), a request without an
// answer is failed with status 0, unless the push stopped or the client
// could not connect: then the token is left unsettled. logf, when set,
// logs each failure with its batch, the tokens' places in the list cut
// into batches of batch.
func h2Settle(batch int, logf func(format string, args ...any)) func(*streamTally, client.Delivery) *failure {
	return func(t *streamTally, d client.Delivery) *failure {
		index := d.Tag.(int)/max(batch, 1) + 1
		if d.Kind == client.Refused {
			f := h2Failure(d)
			if logf != nil {
				logf("batch %d: HTTP %d %s for token %s", index, f.Status, f.Reason, f.Token)
			}
			if r, ok := d.Outcome.(apns.Reason); ok && credentialReasons[r] {
				t.stopWith(&credentialsRefusedError{reason: r, status: f.Status})
			}
			return &f
		}
		if d.Uncertain {
			t.uncertain++
		} else { // counted written by the stream, never written
			t.unsent += d.Attempts
			t.unsentResent += max(d.Attempts-1, 0)
		}
		cause := d.Err
		var re *client.RequestError
		if errors.As(cause, &re) {
			cause = re.Err
		}
		var ga *client.GoAwayError
		switch {
		case errors.Is(cause, client.ErrConnect) || errors.As(cause, &ga) || errors.Is(cause, client.ErrClosed):
			t.stopWith(cause)
			return nil
		case t.stop != nil || errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded):
			return nil
		}
		tok := strings.ToLower(d.Token)
		if logf != nil {
			logf("batch %d: no response for token %s: %v", index, tok, cause)
		}
		return &failure{Token: tok, Reason: "no response: " + cause.Error()}
	}
}

// h2Failure is the summary entry of a refusal: the HTTP status and Apple's
// reason, with the time of a 410's timestamp.
func h2Failure(d client.Delivery) failure {
	out := failure{Token: strings.ToLower(d.Token)}
	if d.Response != nil {
		out.Status = d.Response.HTTPStatus
	}
	if r, ok := d.Outcome.(apns.Reason); ok {
		out.Reason = string(r)
	} else if d.Outcome != nil {
		out.Reason = d.Outcome.Error()
	}
	if !d.Timestamp.IsZero() {
		ts := d.Timestamp.UTC()
		out.Timestamp = &ts
	}
	return out
}
