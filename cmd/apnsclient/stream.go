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

// streamTally collects a stream's outcomes for the summary.
type streamTally struct {
	c           *counters
	maxAttempts int
	logf        func(format string, args ...any) // -v: log each refusal
	stretch     *int                             // connection stretches that ended with resends
	mu          sync.Mutex
	accepted    int
	failed      []indexedFailure
}

type indexedFailure struct {
	index int
	f     failure
}

func (t *streamTally) outcome(d client.Delivery) {
	t.c.done.Add(1)
	switch d.Kind {
	case client.Delivered:
		t.accepted++
	case client.Refused:
		t.c.failed.Add(1)
		f := statusFailure(d.Token, binaryStatusOf(d))
		t.failed = append(t.failed, indexedFailure{d.Tag.(int), f})
		if t.logf != nil {
			t.logf("batch %d: error response status %d (%s) for token %s", *t.stretch+1, f.Status, f.Reason, f.Token)
		}
	default:
		if !errors.Is(d.Err, client.ErrGaveUp) {
			t.c.done.Add(-1) // stopped before it was settled
			return
		}
		t.c.failed.Add(1)
		t.failed = append(t.failed, indexedFailure{d.Tag.(int), failure{Token: d.Token, Reason: fmt.Sprintf("gave up after %d attempts", t.maxAttempts)}})
	}
}

func binaryStatusOf(d client.Delivery) wire.Status {
	st, _ := d.Outcome.(wire.Status)
	return st
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
	showProgress, errw, logw, ep, sess := out.progress, out.errw, out.logw, out.ep, out.sess
	var c counters
	tally := &streamTally{c: &c, maxAttempts: o.maxAttempts}
	logf := func(format string, args ...any) {
		if o.conn.verbose {
			fmt.Fprintf(logw, "apnsclient push: "+format+"\n", args...)
		}
	}
	stretch := 0
	if o.conn.verbose {
		tally.logf, tally.stretch = logf, &stretch
	}
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
	var bar *progressPrinter
	if showProgress {
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		bar = startProgress(errw, tick.C, func() string {
			s := st.Stats()
			c.sent.Store(s.Written)
			c.retried.Store(s.Resent)
			total := src.total
			if total < 0 {
				total = int(s.Pushed)
			}
			return progressLine(&c, total, time.Since(start))
		})
	}
	i := 0
	stop := src.scan(func(t string) error {
		err := st.Push(ctx, t, i)
		i++
		return err
	})
	if stop != nil && ctx.Err() != nil {
		stop = errInterrupted
	}
	closeCtx := ctx
	if stop != nil {
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
	shutdown(ctx, sess, shutdownGraceStopped)
	ss := st.Stats()
	tally.mu.Lock()
	slices.SortStableFunc(tally.failed, func(a, b indexedFailure) int { return a.index - b.index })
	s := summary{Sent: int(ss.Written), Accepted: tally.accepted, Retried: int(ss.Resent), Uncertain: int(ss.Uncertain)}
	for _, f := range tally.failed {
		s.Failed = append(s.Failed, f.f)
	}
	tally.mu.Unlock()
	return e.endPush(s, time.Since(start), bar, stop, o)
}
