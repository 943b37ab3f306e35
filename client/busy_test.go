package client_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("A busy pool", func() {
	It("makes further Sends wait for a free connection within ctx, and Shutdown wait for the busy one", func(ctx SpecContext) {
		// The busy Send blocks in its writes (the gateway stalls) or, should
		// everything fit in the socket buffers, in an hour-long error window.
		e := newEnv(client.Config{PoolSize: 1, ErrorWait: time.Hour}, mockapns.Config{})
		_, err := e.srv.AddFault(mockapns.Delay{Duration: time.Minute, When: mockapns.Trigger{Nth: 1}})
		Expect(err).NotTo(HaveOccurred())

		busyCtx, cancelBusy := context.WithCancel(ctx)
		defer cancelBusy()
		type outcome struct {
			r   *client.Result
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			r, err := e.sess.Send(busyCtx, e.addr, e.cert, &client.Message{Tokens: tokens(1, 100_000), Alert: "x"})
			done <- outcome{r, err}
		}()
		Eventually(func() client.PoolStats { return e.sess.Stats() }).WithContext(ctx).
			Should(And(HaveField("Open", 1), HaveField("Idle", 0)))

		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err = e.sess.Send(short, e.addr, e.cert, &client.Message{Tokens: tokens(1, 1), Alert: "y"})
		Expect(err).To(MatchError(context.DeadlineExceeded))

		sctx, scancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer scancel()
		Expect(e.sess.Shutdown(sctx)).To(MatchError(context.DeadlineExceeded))
		_, err = e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens(1, 1), Alert: "z"})
		Expect(err).To(MatchError(client.ErrClosed))

		cancelBusy()
		var got outcome
		Eventually(done).WithContext(ctx).Should(Receive(&got))
		Expect(got.err).NotTo(HaveOccurred())
		retry := 0
		if m := got.r.Retry(); m != nil {
			retry = len(m.Tokens)
		}
		Expect(got.r.Accepted + retry).To(Equal(100_000))
		Expect(e.sess.Shutdown(ctx)).To(Succeed())
		Expect(e.sess.Stats().Open).To(BeZero())
	})
})

var _ = Describe("Logging", func() {
	It("goes to Config.Logger, with the connection number", func(ctx SpecContext) {
		var buf bytes.Buffer
		var mu sync.Mutex
		h := slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug})
		e := newEnv(client.Config{Logger: slog.New(h), ErrorWait: 10 * time.Millisecond}, mockapns.Config{})
		_, err := e.sess.Send(ctx, e.addr, e.cert, &client.Message{Tokens: tokens(1, 1), Alert: "x"})
		Expect(err).NotTo(HaveOccurred())
		mu.Lock()
		defer mu.Unlock()
		Expect(buf.String()).To(And(ContainSubstring("connection opened"), ContainSubstring("conn=1")))
	})
})

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
