package main

import (
	"bufio"
	"context"
	"time"

	"github.com/apnskit/apnskit/client"
)

// feedback reads the feedback service and prints one "TOKEN_HEX
// RFC3339_TIME" line per tuple.
func (e *env) feedback(ctx context.Context, o *feedbackOptions) int {
	ep, err := o.conn.endpoint(e.stderr)
	if err != nil {
		return e.fail("feedback", err)
	}
	ep.cfg.ReadTimeout = o.conn.timeout // a server that stays silent is not a feedback service
	sess, err := client.NewSession(ep.cfg)
	if err != nil {
		return e.fail("feedback", err)
	}
	defer shutdown(ctx, sess, shutdownGraceStopped)
	w := bufio.NewWriter(e.stdout)
	for t, err := range sess.Feedback(ctx, ep.addr, ep.cert) {
		if err != nil {
			w.Flush()
			return e.fail("feedback", explain(err, o.conn))
		}
		w.WriteString(t.Token)
		w.WriteByte(' ')
		w.WriteString(t.Time.UTC().Format(time.RFC3339))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return e.fail("feedback", err)
	}
	if ctx.Err() != nil {
		return e.fail("feedback", errInterrupted)
	}
	return exitOK
}
