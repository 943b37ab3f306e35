package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/wire"
)

// tokenSource hands every token of the list to each, in order, as it is
// read; total is how many there are, -1 when unknown until the end (stdin).
type tokenSource struct {
	total int
	scan  func(each func(string) error) error
}

// tokenSource opens the tokens of -token or -tokens. A file is read twice
// (a check of every line, then the push), so that a bad line stops the
// command before anything is sent and nothing but the tokens in flight is
// held; stdin is read once, and a bad line there stops the push where it
// is.
func (e *env) tokenSource(o *pushOptions) (*tokenSource, error) {
	switch o.tokensFile {
	case "":
		return &tokenSource{total: len(o.tokens), scan: func(each func(string) error) error {
			for _, t := range o.tokens {
				if err := each(t); err != nil {
					return err
				}
			}
			return nil
		}}, nil
	case "-":
		return e.spoolStdin()
	}
	return fileSource(o.tokensFile)
}

// spoolStdin checks the list on stdin line by line as it copies its tokens
// to a temporary file, which the push then reads: a bad line stops the
// command before anything is sent, without holding the list in memory.
func (e *env) spoolStdin() (*tokenSource, error) {
	f, err := os.CreateTemp("", "apnsclient-tokens-*")
	if err != nil {
		return nil, err
	}
	name := f.Name()
	_ = os.Remove(name) // the open file stays readable
	bw := bufio.NewWriter(f)
	n, err := scanTokens(e.stdin, "stdin", func(t string) error {
		_, err := bw.WriteString(t + "\n")
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &tokenSource{total: n, scan: func(each func(string) error) error {
		defer f.Close()
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err := scanTokens(f, "stdin", each)
		return err
	}}, nil
}

// fileSource reads the list of the file name twice: a check of every line,
// then the push.
func fileSource(name string) (*tokenSource, error) {
	open := func(each func(string) error) (int, error) {
		f, err := os.Open(name)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		return scanTokens(f, name, each)
	}
	n, err := open(nil)
	if err != nil {
		return nil, err
	}
	return &tokenSource{total: n, scan: func(each func(string) error) error {
		_, err := open(each)
		return err
	}}, nil
}

// streamConfirmation is the client's confirmation for -confirm.
func (m confirmMode) streamConfirmation() client.Confirmation {
	switch m {
	case confirmErrorWait:
		return client.ConfirmErrorWait
	case confirmClose:
		return client.ConfirmByClose
	}
	return client.ConfirmSentinel
}

// streamTally collects a stream's outcomes for the summary. settle, the
// protocol's part, turns a notification that was not delivered into its
// summary entry (nil: left unsettled, the push stopped before it was
// settled); it runs with mu held and may add to the adjustments or ask the
// push to stop.
type streamTally struct {
	c      *counters
	settle func(t *streamTally, d client.Delivery) *failure

	stopped atomic.Bool // stop was set
	mu      sync.Mutex
	stop    error // why the outcomes ask the push to stop
	// accepted and failed are the summary's; failed carries the tags (the
	// tokens' places in the list) to be sorted by.
	accepted int
	failed   []indexedFailure
	// unsent are the requests never written and counted written by the
	// stream; uncertain, the notifications the push could not settle that
	// may have been delivered (HTTP/2 only).
	unsent, unsentResent, uncertain int
}

type indexedFailure struct {
	index int
	f     failure
}

func (t *streamTally) outcome(d client.Delivery) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d.Kind == client.Delivered {
		t.c.done.Add(1)
		t.accepted++
		return
	}
	f := t.settle(t, d)
	if f == nil {
		return
	}
	t.c.done.Add(1)
	t.c.failed.Add(1)
	t.failed = append(t.failed, indexedFailure{d.Tag.(int), *f})
}

// stopWith asks the push to stop with err (the first cause wins); mu held.
func (t *streamTally) stopWith(err error) {
	if t.stop == nil {
		t.stop = err
		t.stopped.Store(true)
	}
}

// binarySettle is settle for the binary gateway: a refusal is failed with
// its status (logged by logf, when set, with the stretch of its
// connection), a notification given up is failed, anything else is left
// unsettled.
func binarySettle(maxAttempts int, logf func(format string, args ...any), stretch *int) func(*streamTally, client.Delivery) *failure {
	return func(_ *streamTally, d client.Delivery) *failure {
		switch {
		case d.Kind == client.Refused:
			f := statusFailure(d.Token, binaryStatusOf(d))
			if logf != nil {
				logf("batch %d: error response status %d (%s) for token %s", *stretch+1, f.Status, f.Reason, f.Token)
			}
			return &f
		case errors.Is(d.Err, client.ErrGaveUp):
			return &failure{Token: d.Token, Reason: fmt.Sprintf("gave up after %d attempts", maxAttempts)}
		}
		return nil
	}
}

func binaryStatusOf(d client.Delivery) wire.Status {
	st, _ := d.Outcome.(wire.Status)
	return st
}

// streamRun is what a push on a client.Stream needs besides the stream:
// the tokens, the progress line and whether the first token goes alone.
type streamRun struct {
	src        *tokenSource
	tally      *streamTally
	progress   bool
	errw       *syncWriter
	firstAlone bool // the first token is pushed and flushed before the others
}

// pushGroup is how many tokens run hands the stream at once.
const pushGroup = 256

// run pushes every token of the list on st, in order, its place in the
// list as its tag, and closes st. With firstAlone the first token's
// outcome is awaited before the second is read, so that a server that
// cannot be reached or refuses the credentials costs one request. It
// returns the summary (without the timing fields), the progress line to
// stop and the error that stopped the push, if any.
func (r *streamRun) run(ctx context.Context, st *client.Stream, start time.Time) (summary, *progressPrinter, error) {
	tally := r.tally
	c := tally.c
	var bar *progressPrinter
	if r.progress {
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		bar = startProgress(r.errw, tick.C, func() string {
			s := st.Stats()
			c.sent.Store(s.Written)
			c.retried.Store(s.Resent)
			total := r.src.total
			if total < 0 {
				total = int(s.Pushed)
			}
			return progressLine(c, total, time.Since(start))
		})
	}
	// Tokens go to the stream in groups (PushMany), each with its place
	// in the list as its tag.
	group := make([]string, 0, pushGroup)
	tags := make([]any, 0, pushGroup)
	i := 0
	flush := func() error {
		_, err := st.PushMany(ctx, group, tags)
		group, tags = group[:0], tags[:0]
		return err
	}
	stop := r.src.scan(func(t string) error {
		if tally.stopped.Load() {
			return errStopped
		}
		group, tags = append(group, t), append(tags, i)
		i++
		if i == 1 && r.firstAlone {
			if err := flush(); err != nil {
				return err
			}
			return st.Flush(ctx)
		}
		if len(group) < pushGroup {
			return nil
		}
		return flush()
	})
	if stop == nil && len(group) > 0 && !tally.stopped.Load() {
		stop = flush()
	}
	if stop != nil && ctx.Err() != nil {
		stop = errInterrupted
	}
	closeCtx := ctx
	if stop != nil || tally.stopped.Load() {
		var cancel context.CancelFunc
		closeCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), shutdownGraceStopped)
		defer cancel()
	}
	if err := st.Close(closeCtx); err != nil && stop == nil {
		stop = err
		if ctx.Err() != nil {
			stop = errInterrupted
		}
	}
	ss := st.Stats()
	tally.mu.Lock()
	defer tally.mu.Unlock()
	if tally.stop != nil && (stop == nil || errors.Is(stop, errStopped) || errors.Is(stop, client.ErrStreamClosed)) {
		stop = tally.stop
	}
	slices.SortStableFunc(tally.failed, func(a, b indexedFailure) int { return a.index - b.index })
	s := summary{Sent: int(ss.Written) - tally.unsent, Accepted: tally.accepted, Retried: int(ss.Resent) - tally.unsentResent,
		Uncertain: int(ss.Uncertain) + tally.uncertain}
	for _, f := range tally.failed {
		s.Failed = append(s.Failed, f.f)
	}
	return s, bar, stop
}

// pushStream sends the notification to every token on a client.Stream:
// the tokens are read as they are pushed, at most the in-flight windows of
// the connections are held, and the summary is the one push prints.
func (e *env) pushStream(ctx context.Context, o *pushOptions) int {
	tmpl, src, code := e.pushInputs(o, o.message)
	if src == nil {
		return code
	}
	out, code := e.pushSession(o)
	if out == nil {
		return code
	}
	logw, ep, sess := out.logw, out.ep, out.sess
	var c counters
	logf := func(format string, args ...any) {
		if o.conn.verbose {
			fmt.Fprintf(logw, "apnsclient push: "+format+"\n", args...)
		}
	}
	stretch := 0
	var refusalLog func(format string, args ...any)
	if o.conn.verbose {
		refusalLog = logf
	}
	tally := &streamTally{c: &c, settle: binarySettle(o.maxAttempts, refusalLog, &stretch)}
	opt := client.StreamOptions{
		Connections: o.parallel,
		Window:      o.window,
		Confirm:     o.confirm.streamConfirmation(),
		MaxAttempts: o.maxAttempts,
		OnOutcome:   tally.outcome,
		OnResend: func(n, uncertain int) {
			stretch++
			logf("batch %d: resending %d notifications (%d uncertain)", stretch, n, uncertain)
		},
		OnError: func(err error) { logf("%v", err) },
	}
	if o.batchSet {
		opt.CheckpointEvery = o.batch
	}
	st, err := sess.Stream(ep.addr, ep.cert, tmpl, opt)
	if err != nil {
		return e.fail("push", err)
	}
	start := time.Now()
	r := &streamRun{src: src, tally: tally, progress: out.progress, errw: out.errw}
	s, bar, stop := r.run(ctx, st, start)
	shutdown(ctx, sess, shutdownGraceStopped)
	return e.endPush(s, time.Since(start), bar, stop, o)
}
