package conformance

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/internal/retry"
	"github.com/apnskit/apnskit/wire"
)

// DefaultMaxAttempts is the give-up rule of one Send of the Local adapter:
// the retries of a Send are given up after that many Sends in a row that
// settled nothing (client.RetryPolicy). The scenarios need at most six
// Sends in all.
const DefaultMaxAttempts = 16

// LocalOptions shape a Local adapter. The zero value is usable.
type LocalOptions struct {
	// MaxAttempts is the give-up rule of one Send (client.RetryPolicy):
	// after that many Sends in a row that settled nothing, their retries
	// are reported as Unsent; 0 means DefaultMaxAttempts.
	MaxAttempts int
	// PoolSize is client.Config.PoolSize (0: the client's default).
	PoolSize int
	// Logger is given to the client session; nil means none.
	Logger *slog.Logger
	// ConfirmByClose is client.Config.ConfirmByClose: every Send ends by
	// closing its connection and waiting for the gateway's verdict instead
	// of the error-wait window. Connections are not reused then, so the
	// adapter does not declare CapReuse, CapPools nor CapOutdate.
	ConfirmByClose bool
}

// ErrNotConfigured is returned by a Local adapter used before Configure.
var ErrNotConfigured = errors.New("conformance: client not configured")

// Local is the Client adapter for our own client library (package client).
// It keeps one client.Session; Configure replaces it.
type Local struct {
	opts LocalOptions

	mu   sync.Mutex
	sess *client.Session
	ep   Endpoint
	cert *client.Certificate
	late []*client.Result    // late results collected by Outdate and Shutdown
	h2   *client.HTTP2Client // the HTTP/2 client, when the endpoint names an HTTP/2 address

	// mutate, when set (tests only), edits each attempt before it is
	// folded into the outcome, to model a broken client.
	mutate func(*attempt)
	// resendH2, when set (tests only), names the tokens of an HTTP/2
	// result that a broken client sends once more.
	resendH2 func(*client.Result) []string
	// h2Attempts, when not 0 (tests only), replaces the HTTP/2 client's
	// MaxAttempts.
	h2Attempts int
	// h2Clock, when set (tests only), makes the provider-token signer's
	// clock from the endpoint's.
	h2Clock func(func() time.Time) func() time.Time
	// h2Dial, when set (tests only), stands between the HTTP/2 client and
	// the endpoint: it returns the endpoint to configure the client with
	// and what to close with it.
	h2Dial func(Endpoint) (Endpoint, io.Closer, error)
	h2Stop io.Closer
}

var _ Client = (*Local)(nil)

// NewLocal returns an adapter for our client, not configured yet.
func NewLocal(opts LocalOptions) *Local {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	return &Local{opts: opts}
}

// Capabilities: our client pools connections per address and certificate
// (unless ConfirmByClose, which opens one per send), takes per-batch
// overrides, closes idle connections on demand, shuts down, reads feedback
// and is safe for concurrent Sends; it writes command 2 only. Over HTTP/2
// it dates its provider tokens by Endpoint.Clock and pings quiet
// connections.
func (l *Local) Capabilities() Capabilities {
	if l.opts.ConfirmByClose {
		return Capabilities{CapShutdown, CapOverrides, CapFeedback, CapConcurrent, CapHTTP2, CapClock, CapKeepAlive}
	}
	return Capabilities{CapReuse, CapPools, CapOutdate, CapShutdown, CapOverrides, CapFeedback, CapConcurrent, CapHTTP2, CapClock, CapKeepAlive}
}

// Identity: apnskit's client, at the kit's version (they ship together).
func (l *Local) Identity() (name, version string) { return "apnskit", KitVersion }

// Configure makes a new session for ep; the previous one, if any, is shut
// down.
func (l *Local) Configure(ctx context.Context, ep Endpoint) error {
	var stop io.Closer
	if ep.HTTP2 != "" && l.h2Dial != nil {
		var err error
		if ep, stop, err = l.h2Dial(ep); err != nil {
			return err
		}
	}
	configured := false
	defer func() {
		if !configured && stop != nil {
			stop.Close()
		}
	}()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ep.CAPEM) {
		return errors.New("conformance: no certificate in the CA PEM")
	}
	var cert *client.Certificate
	if ep.HTTP2 == "" || len(ep.CertPEM) > 0 {
		var err error
		if cert, err = parseCert(ep.CertPEM, ep.KeyPEM); err != nil {
			return err
		}
	}
	var h2 *client.HTTP2Client
	if ep.HTTP2 != "" {
		var err error
		if h2, err = l.newHTTP2(ep, pool, cert); err != nil {
			return err
		}
	}
	sess, err := client.NewSession(client.Config{
		RootCAs:        pool,
		ErrorWait:      ep.ErrorWait,
		PoolSize:       l.opts.PoolSize,
		Logger:         l.opts.Logger,
		ConfirmByClose: l.opts.ConfirmByClose,
	})
	if err != nil {
		if h2 != nil {
			h2.Close()
		}
		return err
	}
	l.mu.Lock()
	old, oldH2, oldStop := l.sess, l.h2, l.h2Stop
	l.sess, l.ep, l.cert, l.h2, l.h2Stop = sess, ep, cert, h2, stop
	l.mu.Unlock()
	configured = true
	if oldH2 != nil {
		oldH2.Close()
	}
	if oldStop != nil {
		oldStop.Close()
	}
	if old != nil {
		return old.Shutdown(ctx)
	}
	return nil
}

func parseCert(certPEM, keyPEM []byte) (*client.Certificate, error) {
	if len(keyPEM) == 0 {
		keyPEM = nil
	}
	return client.ParsePEM(certPEM, keyPEM, nil)
}

func (l *Local) session() (*client.Session, Endpoint, *client.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sess == nil {
		return nil, Endpoint{}, nil, ErrNotConfigured
	}
	return l.sess, l.ep, l.cert, nil
}

// attempt is one Send of the session, in the adapter's terms: what it
// reported and what must be sent next.
type attempt struct {
	Msg       *client.Message // the message of the attempt
	Tokens    []string        // the tokens of the attempt, in order
	Sent      int             // notifications written (client.Result.Sent)
	Failed    []TokenStatus
	Statuses  []int
	Errors    []string
	Uncertain []string
	Retries   []*client.Message // to send next
}

func newAttempt(m *client.Message, res *client.Result) *attempt {
	a := &attempt{Msg: m, Tokens: m.Tokens, Sent: res.Sent, Uncertain: res.Uncertain, Retries: res.Retries()}
	for _, f := range res.Failed {
		a.Failed = append(a.Failed, TokenStatus{Token: f.Token, Status: int(f.Status())})
	}
	for _, err := range res.Errors {
		var se *client.StatusError
		if errors.As(err, &se) {
			a.Statuses = append(a.Statuses, int(se.Status()))
		} else {
			a.Errors = append(a.Errors, err.Error())
		}
	}
	return a
}

func (o *Outcome) add(a *attempt) {
	o.Failed = append(o.Failed, a.Failed...)
	o.Statuses = append(o.Statuses, a.Statuses...)
	o.Errors = append(o.Errors, a.Errors...)
	o.Uncertain = append(o.Uncertain, a.Uncertain...)
}

// Send sends b and follows every retry the session asks for, with the
// client's retry loop, until none is left or its give-up rule (MaxAttempts)
// is met.
func (l *Local) Send(ctx context.Context, b Batch) (Outcome, error) {
	sess, ep, cert, err := l.session()
	if err != nil {
		return Outcome{}, err
	}
	if l.http2() != nil {
		return l.sendHTTP2(ctx, b)
	}
	if b.Command != nil && *b.Command != int(wire.CommandFramed) {
		return Outcome{}, fmt.Errorf("command %d: %w", *b.Command, ErrUnsupported)
	}
	addr := ep.Gateway
	if b.Gateway != "" {
		addr = b.Gateway
	}
	if len(b.CertPEM) > 0 {
		if cert, err = parseCert(b.CertPEM, b.KeyPEM); err != nil {
			return Outcome{}, err
		}
	}
	m := &client.Message{Tokens: b.Tokens, Payload: b.Payload, Priority: b.Priority}
	if !b.Expiry.IsZero() {
		m.Expiry = client.ExpireAt(b.Expiry)
	}

	var out Outcome
	queue := append([]*client.Message{m}, l.takeLate(&out)...)
	send := func(ctx context.Context, msg *client.Message) (*attempt, retry.Step[*client.Message], error) {
		res, err := sess.Send(ctx, addr, cert, msg)
		if err != nil {
			return nil, retry.Step[*client.Message]{}, err
		}
		return l.step(msg, res)
	}
	gaveUp := false
	for rd, err := range retry.Run(ctx, queue, retry.Policy{MaxAttempts: l.opts.MaxAttempts}, send) {
		out.Unsent = append(out.Unsent, tokensOf(rd.Unsent)...)
		if !rd.Sent { // ctx ended
			out.Errors = append(out.Errors, err.Error())
			break
		}
		if rd.Job != m {
			out.Retried = append(out.Retried, rd.Job.Tokens...)
		}
		out.Attempts++
		if err != nil {
			if rd.N == 1 {
				return out, err
			}
			out.Errors = append(out.Errors, err.Error())
			break
		}
		out.add(rd.Result)
		if rd.GaveUp != nil {
			gaveUp = true
			out.Unsent = append(out.Unsent, tokensOf(rd.GaveUp)...)
		}
	}
	if gaveUp {
		out.Errors = append(out.Errors, fmt.Sprintf("gave up after %d attempts", l.opts.MaxAttempts))
	}
	return out, nil
}

// tokensOf lists the tokens of ms.
func tokensOf(ms []*client.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Tokens...)
	}
	return out
}

// takeLate folds the late results of earlier sends, found by Outdate or
// Shutdown, into out and returns what they ask to send again: the Send
// that takes them reports (and follows) them.
func (l *Local) takeLate(out *Outcome) []*client.Message {
	l.mu.Lock()
	late := l.late
	l.late = nil
	l.mu.Unlock()
	var again []*client.Message
	for _, res := range late {
		a := l.edit(&client.Message{}, res)
		out.add(a)
		again = append(again, a.Retries...)
	}
	return again
}

// step is the attempt of msg that res reports, as the retry loop needs it.
func (l *Local) step(msg *client.Message, res *client.Result) (*attempt, retry.Step[*client.Message], error) {
	a := l.edit(msg, res)
	st := retry.Step[*client.Message]{Retry: a.Retries, Carried: len(msg.Tokens), Failed: len(a.Failed)}
	for _, rm := range a.Retries {
		st.Again += len(rm.Tokens)
	}
	return a, st, nil
}

func (l *Local) edit(m *client.Message, res *client.Result) *attempt {
	a := newAttempt(m, res)
	if l.mutate != nil {
		l.mutate(a)
	}
	return a
}

// Feedback reads the feedback service once.
func (l *Local) Feedback(ctx context.Context) ([]FeedbackTuple, error) {
	sess, ep, cert, err := l.session()
	if err != nil {
		return nil, err
	}
	var out []FeedbackTuple
	for t, err := range sess.Feedback(ctx, ep.Feedback, cert) {
		if err != nil {
			return out, err
		}
		out = append(out, FeedbackTuple{Token: t.Token, Time: t.Time})
	}
	return out, nil
}

// Outdate closes the connections idle for longer than idle.
func (l *Local) Outdate(_ context.Context, idle time.Duration) (int, error) {
	sess, _, _, err := l.session()
	if err != nil {
		return 0, err
	}
	n := sess.CloseIdle(idle)
	l.keepLate(sess)
	return n, nil
}

// Shutdown shuts the session down: later Sends fail with client.ErrClosed.
func (l *Local) Shutdown(ctx context.Context) error {
	sess, _, _, err := l.session()
	if err != nil {
		return err
	}
	err = sess.Shutdown(ctx)
	l.keepLate(sess)
	return err
}

func (l *Local) keepLate(sess *client.Session) {
	if late := sess.Late(); len(late) > 0 {
		l.mu.Lock()
		l.late = append(l.late, late...)
		l.mu.Unlock()
	}
}

// ErrLateAtClose is returned by Local.Close when the session learnt of
// error responses that no Send reported: they arrived after the error-wait
// window of the last Send on their connection. Nothing can resend what they
// name any more; a longer error wait avoids it.
var ErrLateAtClose = errors.New("conformance: error responses learnt only at close")

// Close shuts the session down, waiting for its connections to close. It
// fails with ErrLateAtClose if error responses arrived that no Send could
// report.
func (l *Local) Close(ctx context.Context) error {
	l.mu.Lock()
	sess, h2, stop := l.sess, l.h2, l.h2Stop
	l.h2, l.h2Stop = nil, nil
	l.mu.Unlock()
	if h2 != nil {
		h2.Close()
	}
	if stop != nil {
		stop.Close()
	}
	if sess == nil {
		return nil
	}
	err := sess.Shutdown(ctx)
	l.keepLate(sess)
	l.mu.Lock()
	late := l.late
	l.late = nil
	l.mu.Unlock()
	if len(late) > 0 && err == nil {
		var what []string
		for _, res := range late {
			for _, f := range res.Failed {
				what = append(what, fmt.Sprintf("token %s refused with status %d", f.Token, f.Status()))
			}
			for _, e := range res.Errors {
				what = append(what, e.Error())
			}
		}
		err = fmt.Errorf("%w (raise the error wait): %s", ErrLateAtClose, strings.Join(what, "; "))
	}
	return err
}
