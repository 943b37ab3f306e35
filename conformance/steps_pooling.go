package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

func (w *world) registerPoolingSteps(sc stepRegistrar) {
	sc.Step(`^the client sends (\d+) notifications? with the second certificate$`, w.sendsWithSecondCert)
	sc.Step(`^the client sends (\d+) notifications? to the second server$`, w.sendsToSecondServer)
	sc.Step(`^the client starts sending (\d+) notifications? to the second server$`, w.startsSendingToSecondServer)
	sc.Step(`^the send to the second server finishes$`, w.asyncSendFinishes)
	sc.Step(`^the client closes connections idle for longer than (\d+)ms$`, w.clientOutdates)
	sc.Step(`^the client reports (\d+) connections? closed$`, w.reportsClosed)
	sc.Step(`^the client shuts down$`, w.clientShutsDown)
	sc.Step(`^the send is refused$`, w.sendRefused)
	sc.Step(`^(\d+) senders each send (\d+) notifications at the same time$`, w.concurrentSenders)
}

func (w *world) sendsWithSecondCert(ctx context.Context, n int) error {
	if w.second == nil {
		return errors.New("no second certificate: add \"Given a second client certificate from the same authority\"")
	}
	b := w.batch(w.allocate(n, 0))
	b.CertPEM, b.KeyPEM = w.second.CertPEM, w.second.KeyPEM
	return w.send(ctx, b)
}

func (w *world) secondBatch(n int) (Batch, error) {
	s, err := w.server(1)
	if err != nil {
		return Batch{}, err
	}
	b := w.batch(w.allocate(n, 1))
	b.Gateway = s.GatewayAddr()
	return b, nil
}

func (w *world) sendsToSecondServer(ctx context.Context, n int) error {
	b, err := w.secondBatch(n)
	if err != nil {
		return err
	}
	return w.send(ctx, b)
}

func (w *world) startsSendingToSecondServer(ctx context.Context, n int) error {
	if w.async != nil {
		return errors.New("a send is already running in the background")
	}
	b, err := w.secondBatch(n)
	if err != nil {
		return err
	}
	if err := w.installPayloadFaults(); err != nil {
		return err
	}
	w.async = make(chan asyncSend, 1)
	sctx := context.WithoutCancel(ctx)
	go func(ch chan<- asyncSend) {
		cctx, cancel := ctxFor(sctx, w.suite.sendTimeout())
		defer cancel()
		out, err := w.client.Send(cctx, b)
		ch <- asyncSend{out: out, err: err}
	}(w.async)
	return nil
}

func (w *world) asyncSendFinishes(ctx context.Context) error {
	if w.async == nil {
		return errors.New("no send is running in the background")
	}
	cctx, cancel := ctxFor(ctx, w.suite.sendTimeout())
	defer cancel()
	select {
	case r := <-w.async:
		w.async = nil
		w.recordSend(r.out, r.err)
		if r.err != nil {
			return fmt.Errorf("the background send failed: %w", r.err)
		}
		return nil
	case <-cctx.Done():
		return fmt.Errorf("the background send did not finish within %v", w.suite.sendTimeout())
	}
}

func (w *world) clientOutdates(ctx context.Context, ms int) error {
	n, err := w.client.Outdate(ctx, time.Duration(ms)*time.Millisecond)
	if err != nil {
		return fmt.Errorf("closing outdated connections: %w", err)
	}
	w.outdated = append(w.outdated, n)
	return nil
}

func (w *world) reportsClosed(n int) error {
	if len(w.outdated) == 0 {
		return errors.New("the client was not asked to close outdated connections")
	}
	if got := w.outdated[len(w.outdated)-1]; got != n {
		return fmt.Errorf("the client closed %d outdated connections, want %d", got, n)
	}
	return nil
}

func (w *world) clientShutsDown(ctx context.Context) error {
	cctx, cancel := ctxFor(ctx, w.suite.settleTimeout())
	defer cancel()
	if err := w.client.Shutdown(cctx); err != nil {
		return fmt.Errorf("shutting the client down: %w", err)
	}
	return nil
}

// sendRefused checks that the last send was refused: an error, or an
// outcome without a single delivered token.
func (w *world) sendRefused() error {
	r, ok := w.lastSend()
	if !ok {
		return errors.New("the client sent nothing")
	}
	if r.err != nil || len(r.out.Errors) > 0 {
		return nil
	}
	return fmt.Errorf("want the send refused; it reported %s", describeOutcome(r.out))
}

func (w *world) concurrentSenders(ctx context.Context, senders, n int) error {
	batches := make([]Batch, senders)
	for i := range batches {
		batches[i] = w.batch(w.allocate(n, 0))
	}
	if err := w.installPayloadFaults(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := ctxFor(ctx, w.suite.sendTimeout())
			defer cancel()
			out, err := w.client.Send(cctx, b)
			w.recordSend(out, err)
		}()
	}
	wg.Wait()
	return nil
}
