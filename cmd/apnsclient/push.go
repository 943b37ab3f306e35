package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/wire"
)

// Bounds on how long the session may take to close its connections when a
// command ends: normally, and after an interrupt or a connection error (when
// nothing more will be sent, so only late failures could still be learnt).
const (
	shutdownGrace        = 5 * time.Second
	shutdownGraceStopped = time.Second
)

// message builds the notification content from the flags.
func (o *pushOptions) message() (*client.Message, error) {
	m := &client.Message{Sound: o.sound, Priority: o.priority.item()}
	if o.payload != nil {
		if err := m.SetPayload(o.payload); err != nil {
			return nil, err
		}
	}
	if o.hasAlert {
		m.Alert = o.alert
	}
	if o.hasBadge {
		m.Badge = o.badge
	}
	if o.expiry > 0 {
		m.Expiry = client.ExpireAfter(o.expiry)
	}
	return m, nil
}

// pushSetup is what both ways of pushing start from: whether progress is
// shown, stderr (errw) and the log writer beside the progress line (logw),
// the endpoint and the session.
type pushSetup struct {
	progress bool
	errw     *syncWriter
	logw     io.Writer
	ep       *endpoint
	sess     *client.Session
}

// pushOutput is the output part of a pushSetup: whether progress is
// shown, stderr and the log writer beside the progress line.
func (e *env) pushOutput(o *pushOptions) *pushSetup {
	s := &pushSetup{progress: o.progress == progressAlways || o.progress == progressAuto && isTerminal(e.stderr)}
	s.errw = &syncWriter{w: e.stderr}
	s.logw = s.errw
	if s.progress {
		s.logw = lineClearer{s.errw}
	}
	return s
}

// pushSession opens the endpoint and the session of a push. On failure it
// returns nil and the exit status, the error already reported.
func (e *env) pushSession(o *pushOptions) (*pushSetup, int) {
	s := e.pushOutput(o)
	ep, err := o.conn.endpoint(s.logw)
	if err != nil {
		return nil, e.fail("push", err)
	}
	ep.cfg.PoolSize = o.parallel
	ep.cfg.ErrorWait = o.errorWait
	sess, err := client.NewSession(ep.cfg)
	if errors.Is(err, client.ErrBadConfig) {
		return nil, e.usageFail("push", usagef("%w", err))
	}
	if err != nil {
		return nil, e.fail("push", err)
	}
	s.ep, s.sess = ep, sess
	return s, 0
}

// push sends the notification to every token, batch by batch, and prints
// the summary.
func (e *env) push(ctx context.Context, o *pushOptions) int {
	tmpl, src, code := e.pushInputs(o, o.message)
	if src == nil {
		return code
	}
	out, code := e.pushSession(o)
	if out == nil {
		return code
	}
	showProgress, errw, logw, ep, sess := out.progress, out.errw, out.logw, out.ep, out.sess

	p := &pusher{
		send:        sendWith(sess, ep, tmpl),
		batch:       o.batch,
		parallel:    o.parallel,
		maxAttempts: o.maxAttempts,
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
			return progressLine(&p.c, src.total, time.Since(start))
		})
	}
	err := p.runScan(ctx, src.scan)
	err = followLate(ctx, p, sess, ep, tmpl, o.maxAttempts, err)
	s := p.summary()
	return e.endPush(s, time.Since(start), bar, err, o)
}

// followLate shuts the session down and takes in the error responses that
// arrived after their Send had returned and could not be reported by a later
// one (client.Session.Late): their failures count, and their resends are sent
// on a new session, at most maxAttempts times over. It returns the error that
// stopped the push, if any.
func followLate(ctx context.Context, p *pusher, sess *client.Session, ep *endpoint, tmpl *client.Message, maxAttempts int, stop error) error {
	for attempt := 0; ; attempt++ {
		grace := shutdownGrace
		if stop != nil {
			grace = shutdownGraceStopped
		}
		shutdown(ctx, sess, grace)
		lates := sess.Late()
		if len(lates) == 0 {
			return stop
		}
		sess = nil
		if stop == nil && attempt >= maxAttempts {
			stop = errLateLoop
		}
		if stop == nil {
			var err error
			if sess, err = client.NewSession(ep.cfg); err != nil {
				stop = err
			} else {
				p.send = sendWith(sess, ep, tmpl)
			}
		}
		for _, l := range lates {
			if err := p.late(ctx, resultRound(l), stop); stop == nil {
				stop = err
			}
		}
		if sess == nil {
			return stop
		}
	}
}

// errLateLoop: late error responses kept coming after -max-attempts rounds.
var errLateLoop = errors.New("late error responses kept coming; giving up")

// sendWith returns the sendFunc of a session: a job without a message is
// sent with the template, a resend with the message the client returned
// (same content, same absolute expiry).
func sendWith(sess *client.Session, ep *endpoint, tmpl *client.Message) sendFunc {
	return func(ctx context.Context, j job) (round, error) {
		m := j.msg
		if m == nil {
			c := *tmpl
			c.Tokens = j.tokens
			m = &c
		}
		res, err := sess.Send(ctx, ep.addr, ep.cert, m)
		if err != nil {
			return round{}, err
		}
		return resultRound(res), nil
	}
}

// resultRound turns the client's Result into a round.
func resultRound(res *client.Result) round {
	r := round{sent: res.Sent, errs: res.Errors}
	for _, f := range res.Failed {
		r.failed = append(r.failed, statusFailure(strings.ToLower(f.Token), f.Status()))
	}
	uncertain := make(map[string]int, len(res.Uncertain))
	for _, t := range res.Uncertain {
		uncertain[t]++
	}
	for _, rm := range res.Retries() {
		j := job{tokens: rm.Tokens, msg: rm}
		for _, t := range rm.Tokens {
			if uncertain[t] > 0 {
				uncertain[t]--
				j.uncertain++
			}
		}
		r.retry = append(r.retry, j)
	}
	for _, e := range res.Errors {
		var st wire.Status
		if errors.As(e, &st) {
			r.status = st
		}
	}
	return r
}

// explain adds a hint to errors a user can fix.
func explain(err error, c connOptions) error {
	if errors.Is(err, client.ErrFeedbackSilent) {
		return fmt.Errorf("%w (is -addr the feedback service, port 2196, rather than the gateway?)", err)
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) && c.caFile == "" {
		return fmt.Errorf("%w (the server's certificate is not signed by a system CA: give its CA with -ca)", err)
	}
	return err
}

// shutdown closes the session's connections, waiting at most grace for busy
// ones, even when ctx is cancelled.
func shutdown(ctx context.Context, sess *client.Session, grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	_ = sess.Shutdown(ctx)
}

// pushInputs builds the push's message with build, checks it, and opens
// the token list. On failure it has said why, and returns a nil source
// with the exit code.
func (e *env) pushInputs(o *pushOptions, build func() (*client.Message, error)) (*client.Message, *tokenSource, int) {
	tmpl, err := build()
	if err == nil {
		check := *tmpl
		check.Tokens = []string{"00"}
		err = check.Validate()
	}
	if err != nil {
		return nil, nil, e.usageFail("push", usagef("%v", err))
	}
	src, err := e.tokenSource(o)
	if err != nil {
		return nil, nil, e.fail("push", err)
	}
	return tmpl, src, 0
}

// endPush stops the progress line, prints the summary s of a push that ran
// for elapsed and returns its exit status: stop (or a failed write of the
// summary) is reported as the push's error.
func (e *env) endPush(s summary, elapsed time.Duration, bar *progressPrinter, stop error, o *pushOptions) int {
	s.finish(elapsed)
	if bar != nil {
		bar.Stop()
	}
	if werr := s.write(e.stdout); werr != nil && stop == nil {
		stop = werr
	}
	if stop != nil {
		return e.fail("push", explain(stop, o.conn))
	}
	return s.exitCode()
}
