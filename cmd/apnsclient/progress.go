package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// progressInterval is how often the progress line is redrawn.
const progressInterval = 250 * time.Millisecond

// counters are the running totals of a push, updated by the senders and
// read by the progress line.
type counters struct {
	sent     atomic.Int64 // notifications written, resends included
	done     atomic.Int64 // notifications of the list settled: accepted or failed
	failed   atomic.Int64 // notifications failed
	retried  atomic.Int64 // notifications written again
	attempts atomic.Int64 // Send calls
}

// progressLine renders one state of a push for a terminal: how much of the
// list is settled, what was written, and the rate so far.
func progressLine(c *counters, total int, elapsed time.Duration) string {
	done := c.done.Load()
	pct := 0.0
	if total > 0 {
		pct = float64(done) * 100 / float64(total)
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(c.sent.Load()) / elapsed.Seconds()
	}
	return fmt.Sprintf("%d/%d done (%.0f%%), sent %d, failed %d, retried %d, %.0f/s",
		done, total, pct, c.sent.Load(), c.failed.Load(), c.retried.Load(), rate)
}

// progressPrinter redraws a status line on a terminal at each tick, with a
// carriage return and an erase-to-end-of-line, until it is stopped; then it
// draws the final state and ends the line.
type progressPrinter struct {
	stop chan struct{}
	done chan struct{}
}

// startProgress draws render() on w at every tick until Stop.
func startProgress(w io.Writer, ticks <-chan time.Time, render func() string) *progressPrinter {
	p := &progressPrinter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-ticks:
				fmt.Fprintf(w, "\r%s\x1b[K", render())
			case <-p.stop:
				fmt.Fprintf(w, "\r%s\x1b[K\n", render())
				return
			}
		}
	}()
	return p
}

// Stop draws the final line and returns once nothing more will be written.
// It may be called once.
func (p *progressPrinter) Stop() {
	close(p.stop)
	<-p.done
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// lineClearer erases the progress line before each write, so that log lines
// written while it is drawn start at the left margin; the next tick draws
// the progress line again below them.
type lineClearer struct{ w io.Writer }

func (c lineClearer) Write(p []byte) (int, error) {
	if _, err := c.w.Write(append([]byte("\r\x1b[K"), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// syncWriter serializes the writes of the progress line, the command's log
// lines and the client's logger to one stream.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
