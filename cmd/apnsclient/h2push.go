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
	"sync"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
)

// Defaults of push -http2 where the binary push's flag default means
// something else.
const (
	h2DefaultBatch = 500 // tokens per HTTP2Client.Send
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
// provider API and prints the summary. The tokens are read as they are
// sent, batch by batch; the first one goes alone, so that a server that
// cannot be reached or refuses the credentials stops the command after one
// request.
func (e *env) pushHTTP2(ctx context.Context, o *pushOptions) int {
	tmpl, src, code := e.pushInputs(o, o.h2Message)
	if src == nil {
		return code
	}
	showProgress := o.progress == progressAlways || o.progress == progressAuto && isTerminal(e.stderr)
	errw := &syncWriter{w: e.stderr}
	var logw io.Writer = errw
	if showProgress {
		logw = lineClearer{errw}
	}
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
	p := &h2Pusher{
		send: func(ctx context.Context, tokens []string) (*client.Result, error) {
			m := *tmpl
			m.Tokens = tokens
			return hc.Send(ctx, &m)
		},
		batch: batch,
		sends: h2Sends(batch, o.window, o.set["window"]),
	}
	if o.conn.verbose {
		p.log = logw
	}
	start := time.Now()
	var bar *progressPrinter
	if showProgress {
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		bar = startProgress(errw, tick.C, func() string {
			total := src.total
			if total < 0 {
				total = p.totalSoFar()
			}
			return progressLine(&p.c, total, time.Since(start))
		})
	}
	err = p.run(ctx, src.scan)
	_ = hc.Close()
	s := p.summary()
	return e.endPush(s, time.Since(start), bar, err, o)
}

// h2Sends is how many Sends run at once: enough batches that the client's
// requests in flight (MaxInFlight) stay full while one batch waits for its
// last answers, twice over.
func h2Sends(batch, window int, windowSet bool) int {
	inFlight := client.DefaultMaxInFlight
	if windowSet {
		inFlight = window
	}
	n := (2*inFlight + batch - 1) / batch
	return max(n, 2) + 1
}

// h2Pusher sends a token list over HTTP/2, batch by batch, several
// batches at once; the client's retry policy settles each token, so every
// token is counted once, when its batch returns.
type h2Pusher struct {
	send  func(ctx context.Context, tokens []string) (*client.Result, error)
	batch int // tokens per Send
	sends int // Sends at once
	log   io.Writer
	c     counters

	mu       sync.Mutex
	total    int
	sum      summary
	failed   [][]failure // per batch, so the output follows the list's order
	unsettle int         // tokens neither accepted nor failed when the push stopped
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

// run sends the tokens scan hands over, cut into batches as they are read
// (the first token alone), so that memory holds only the batches in
// flight. It returns the error that stopped it early, if any: a connection
// error, a credential refusal, the scan's own error, or errInterrupted when
// ctx was cancelled.
func (p *h2Pusher) run(ctx context.Context, scan func(each func(string) error) error) error {
	return pumpBatches(ctx, scan, p.batch, p.sends, true, p, p.sendBatch)
}

// addBatch files a batch of n tokens just read and returns its index.
func (p *h2Pusher) addBatch(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total += n
	p.failed = append(p.failed, nil)
	return len(p.failed) - 1
}

func (p *h2Pusher) totalSoFar() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// settle records failures and tokens left unsettled by batch index.
func (p *h2Pusher) settle(index, unsettled int, failed []failure) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unsettle += unsettled
	p.failed[index] = append(p.failed[index], failed...)
}

// summary returns the totals so far, without the timing fields.
func (p *h2Pusher) summary() summary {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.sum
	s.Failed = nil
	for _, f := range p.failed {
		s.Failed = append(s.Failed, f...)
	}
	s.Accepted = p.total - p.unsettle - len(s.Failed)
	return s
}

// sendBatch sends one batch and files each token's outcome: accepted,
// refused (failed with the HTTP status and the reason), or without an
// answer. A token without an answer is failed with status 0 (and counted
// uncertain when its request was written), unless the push stopped
// meanwhile or the client could not connect: then it is left unsettled.
// It returns the error that must stop the push: a connection error or a
// credential refusal.
func (p *h2Pusher) sendBatch(ctx context.Context, index int, tokens []string) error {
	res, err := p.send(ctx, tokens)
	p.c.attempts.Add(1)
	if err != nil {
		p.settle(index, len(tokens), nil)
		return err
	}
	retried := 0
	for _, r := range res.Responses {
		retried += max(r.Attempts-1, 0)
	}
	var stop error
	failed := make([]failure, 0, len(res.Failed)+len(res.Errors))
	for _, f := range res.Failed {
		ff := h2Failure(f)
		failed = append(failed, ff)
		p.logf("batch %d: HTTP %d %s for token %s", index+1, ff.Status, ff.Reason, ff.Token)
		if r, ok := f.Outcome.(apns.Reason); ok && credentialReasons[r] && stop == nil {
			stop = &credentialsRefusedError{reason: r, status: f.HTTPStatus}
		}
	}
	uncertain := make(map[string]int, len(res.Uncertain))
	for _, t := range res.Uncertain {
		uncertain[t]++
	}
	nUncertain, unsettled := 0, 0
	for _, e := range res.Errors {
		var re *client.RequestError
		tok := ""
		if errors.As(e, &re) {
			tok = re.Token
		}
		if uncertain[tok] > 0 {
			uncertain[tok]--
			nUncertain++
		}
		switch {
		case ctx.Err() != nil:
			unsettled++
		case errors.Is(e, client.ErrConnect):
			unsettled++
			if stop == nil {
				stop = e
				if re != nil {
					stop = re.Err // the token adds nothing to a connection error
				}
			}
		default:
			cause := e
			if re != nil {
				cause = re.Err
			}
			failed = append(failed, failure{Token: strings.ToLower(tok), Reason: "no response: " + cause.Error()})
			p.logf("batch %d: no response for token %s: %v", index+1, strings.ToLower(tok), cause)
		}
	}
	if len(res.Failed) > 0 && len(res.Errors) > 0 {
		failed = inListOrder(tokens, failed)
	}
	sent := res.Sent + retried
	p.c.sent.Add(int64(sent))
	p.c.retried.Add(int64(retried))
	p.c.failed.Add(int64(len(failed)))
	p.c.done.Add(int64(len(tokens) - unsettled))
	p.mu.Lock()
	p.sum.Sent += sent
	p.sum.Retried += retried
	p.sum.Uncertain += nUncertain
	p.mu.Unlock()
	p.settle(index, unsettled, failed)
	return stop
}

// h2Failure is the summary entry of a refusal: the HTTP status and Apple's
// reason, with the time of a 410's timestamp.
func h2Failure(f client.Failure) failure {
	out := failure{Token: strings.ToLower(f.Token), Status: f.HTTPStatus}
	if r, ok := f.Outcome.(apns.Reason); ok {
		out.Reason = string(r)
	} else {
		out.Reason = f.Outcome.Error()
	}
	if !f.Timestamp.IsZero() {
		ts := f.Timestamp.UTC()
		out.Timestamp = &ts
	}
	return out
}

// inListOrder sorts the failures of one batch by their tokens' places in
// tokens (a token listed twice has two places, taken in turn).
func inListOrder(tokens []string, failed []failure) []failure {
	byToken := make(map[string][]failure, len(failed))
	for _, f := range failed {
		byToken[f.Token] = append(byToken[f.Token], f)
	}
	out := make([]failure, 0, len(failed))
	for _, t := range tokens {
		t = strings.ToLower(t)
		if q := byToken[t]; len(q) > 0 {
			out = append(out, q[0])
			byToken[t] = q[1:]
		}
	}
	return out
}

func (p *h2Pusher) logf(format string, args ...any) {
	if p.log == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.log, "apnsclient push: "+format+"\n", args...)
}
