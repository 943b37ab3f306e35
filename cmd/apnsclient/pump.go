package main

import (
	"context"
	"errors"
	"sync"
)

// batchBook is where a push files the batches it reads and settles the
// ones it stops before sending.
type batchBook interface {
	addBatch(n int) int
	settle(index, unsettled int, failed []failure)
}

// pumpBatches cuts the tokens scan hands over into batches of size as they
// are read, files each in book, and runs send on them from workers
// goroutines, so that memory holds only the batches in flight. A send
// error stops the pump: batches read later are settled unsent. It returns
// the cause that stopped it (see stopCause), if any.
func pumpBatches(ctx context.Context, scan func(each func(string) error) error, size, workers int,
	book batchBook, send func(ctx context.Context, index int, tokens []string) error) error {
	type work struct {
		index  int
		tokens []string
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan work)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for w := range next {
				if err := send(ctx, w.index, w.tokens); err != nil {
					cancel(err)
				}
			}
		})
	}
	batch := make([]string, 0, min(size, 1024))
	flush := func() error {
		w := work{index: book.addBatch(len(batch)), tokens: batch}
		batch = make([]string, 0, cap(batch))
		if ctx.Err() != nil {
			book.settle(w.index, len(w.tokens), nil)
			return errStopped
		}
		select {
		case next <- w:
			return nil
		case <-ctx.Done():
			book.settle(w.index, len(w.tokens), nil)
			return errStopped
		}
	}
	err := scan(func(t string) error {
		batch = append(batch, t)
		if len(batch) < size {
			return nil
		}
		return flush()
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil && !errors.Is(err, errStopped) {
		cancel(err)
	}
	close(next)
	wg.Wait()
	return stopCause(ctx)
}
