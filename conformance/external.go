package conformance

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrAdapter is wrapped by the errors of an External client whose adapter
// process misbehaved: it exited, wrote a line that is not a response, or
// answered a request that was never made.
var ErrAdapter = errors.New("conformance: external adapter failed")

// External is a Client that runs a command speaking the line protocol of
// conformance/README.md on its stdin and stdout. One External is one
// process; the suite starts one per scenario.
type External struct {
	name     string
	version  string
	protocol int          // the version the adapter speaks
	speaks   int          // the version both speak: the lower of the two
	declared Capabilities // as its hello said
	caps     Capabilities // declared, less what speaks cannot exercise
	cmd      *exec.Cmd

	wmu    sync.Mutex // one line at a time on stdin
	stdin  io.WriteCloser
	serial sync.Mutex // one request at a time, for adapters without CapConcurrent

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan answer
	// transport is the API of the configuration in force, which each
	// send names.
	transport Transport
	// clock is the kit's clock of the configuration in force
	// (Endpoint.Clock), which an adapter with CapClock is told.
	clock   func() time.Time
	gaveUp  map[int64]bool // requests whose caller stopped waiting
	dead    error          // set once the reader stopped
	done    chan struct{}  // closed when the reader stopped
	exited  chan struct{}  // closed when the process was reaped
	waitErr error
	stderr  *tailBuffer

	clockMu   sync.Mutex    // one clock request at a time
	clockTold bool          // whether the adapter was told the time
	clockLead time.Duration // the lead on the wall clock it was last told
}

var _ Client = (*External)(nil)

// StartExternal starts argv (program and arguments) and greets it with a
// hello request, which settles the protocol version of the exchange (the
// lower of the adapter's and ProtocolVersion: see Speaks) and so the
// capabilities it can exercise. The process lives until Close. Its stderr
// is kept (the last few kilobytes) for the errors of a failing adapter.
func StartExternal(ctx context.Context, argv []string) (*External, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("%w: empty command", ErrAdapter)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	e := &External{
		speaks: ProtocolVersion,
		cmd:    cmd, stdin: stdin, pending: map[int64]chan answer{}, gaveUp: map[int64]bool{},
		done: make(chan struct{}), exited: make(chan struct{}), stderr: &tailBuffer{max: 8 << 10},
	}
	cmd.Stderr = e.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: starting %q: %w", ErrAdapter, argv, err)
	}
	go e.read(stdout)
	go func() {
		// Wait closes stdout: reap the process only once its output has
		// been read to the end.
		<-e.done
		e.waitErr = cmd.Wait()
		close(e.exited)
	}()
	resp, err := e.call(ctx, Request{Op: OpHello, Protocol: ProtocolVersion, Kit: KitVersion})
	if err != nil {
		e.kill()
		return nil, err
	}
	e.name, e.version, e.declared, e.protocol = resp.Name, resp.Version, resp.Capabilities, max(1, resp.Protocol)
	e.speaks = negotiated(ProtocolVersion, e.protocol)
	e.caps = capabilitiesAt(e.declared, e.speaks)
	return e, nil
}

// SplitCommand splits a command line on spaces (no shell quoting) for
// StartExternal.
func SplitCommand(line string) []string { return strings.Fields(line) }

// Name returns the name the adapter gave in its hello response.
func (e *External) Name() string { return e.name }

// Identity returns the name and version the adapter gave in its hello
// response.
func (e *External) Identity() (name, version string) { return e.name, e.version }

// Protocol returns the protocol version the adapter speaks (1 when its
// hello response did not say).
func (e *External) Protocol() int { return e.protocol }

// Speaks returns the protocol version of the exchange: the lower of the
// adapter's and [ProtocolVersion].
func (e *External) Speaks() int { return e.speaks }

// answer is a response and the line it was read from.
type answer struct {
	resp Response
	line []byte
}

// missingCapability says why a capability the suite needs is missing,
// when the version spoken is the reason (see Suite).
func (e *External) missingCapability(c Capability) string {
	since := capabilitySince[c]
	if since <= e.speaks {
		return ""
	}
	if e.declared.Has(c) {
		return fmt.Sprintf("the adapter declares the capability %q but speaks protocol %d, which cannot carry it (protocol %d can)", c, e.protocol, since)
	}
	return fmt.Sprintf("the client does not declare the capability %q, and its adapter speaks protocol %d (the capability needs protocol %d)", c, e.protocol, since)
}

// read dispatches the adapter's responses until its stdout ends.
func (e *External) read(stdout io.Reader) {
	br := bufio.NewReaderSize(stdout, 64<<10)
	var fail error
	for {
		line, err := readLine(br)
		if err != nil {
			fail = fmt.Errorf("%w: its output ended (%v)", ErrAdapter, err)
			break
		}
		if strings.TrimSpace(string(line)) == "" {
			continue
		}
		var resp Response
		if err := json.Unmarshal(line, &resp); err != nil {
			fail = fmt.Errorf("%w: a line that is not a response: %.200q: %v", ErrAdapter, line, err)
			break
		}
		e.mu.Lock()
		ch, ok := e.pending[resp.ID]
		delete(e.pending, resp.ID)
		late := e.gaveUp[resp.ID]
		delete(e.gaveUp, resp.ID)
		e.mu.Unlock()
		if late {
			continue
		}
		if !ok {
			fail = fmt.Errorf("%w: a response to request %d, which is not pending: %.200q", ErrAdapter, resp.ID, line)
			break
		}
		ch <- answer{resp: resp, line: line}
	}
	_, _ = io.Copy(io.Discard, stdout)
	e.mu.Lock()
	e.dead = fail
	for id, ch := range e.pending {
		close(ch)
		delete(e.pending, id)
	}
	e.mu.Unlock()
	close(e.done)
}

// call sends a request and waits for its response.
func (e *External) call(ctx context.Context, req Request) (Response, error) {
	if !e.caps.Has(CapConcurrent) {
		e.serial.Lock()
		defer e.serial.Unlock()
	}
	ch := make(chan answer, 1)
	e.mu.Lock()
	if e.dead != nil {
		err := e.dead
		e.mu.Unlock()
		return Response{}, e.deadErr(ctx, err)
	}
	e.nextID++
	req.ID = e.nextID
	e.pending[req.ID] = ch
	e.mu.Unlock()

	line, err := req.Encode(e.speaks)
	if err != nil {
		e.mu.Lock()
		delete(e.pending, req.ID)
		e.mu.Unlock()
		return Response{}, err
	}
	e.wmu.Lock()
	_, err = e.stdin.Write(append(line, '\n'))
	e.wmu.Unlock()
	if err != nil {
		return Response{}, e.withStderr(fmt.Errorf("%w: writing the %s request: %w", ErrAdapter, req.Op, err))
	}
	select {
	case a, ok := <-ch:
		if !ok {
			e.mu.Lock()
			err := e.dead
			e.mu.Unlock()
			return Response{}, e.deadErr(ctx, err)
		}
		resp := a.resp
		if err := checkResponse(req.Op, a.line, e.speaks); err != nil {
			return Response{}, fmt.Errorf("%w: %w: the %s response: %w", ErrAdapter, ErrProtocol, req.Op, err)
		}
		if !resp.OK {
			if resp.Unsupported {
				return resp, fmt.Errorf("%s: %s: %w", req.Op, resp.Error, ErrUnsupported)
			}
			return resp, fmt.Errorf("%s: %s", req.Op, resp.Error)
		}
		return resp, nil
	case <-ctx.Done():
		e.mu.Lock()
		if _, ok := e.pending[req.ID]; ok {
			delete(e.pending, req.ID)
			e.gaveUp[req.ID] = true
		}
		e.mu.Unlock()
		return Response{}, fmt.Errorf("waiting for the adapter's answer to %s: %w", req.Op, ctx.Err())
	}
}

// deadErr returns err, the reason the adapter's output ended, with its
// stderr. The process's stderr is copied until it exits, so wait for that
// first (a little, and no longer than ctx): an adapter that prints why it
// gives up and exits must have its words in the error.
func (e *External) deadErr(ctx context.Context, err error) error {
	t := time.NewTimer(exitGrace)
	defer t.Stop()
	select {
	case <-e.exited:
	case <-t.C:
	case <-ctx.Done():
	}
	return e.withStderr(err)
}

// exitGrace bounds how long deadErr waits for an adapter whose output
// ended to exit.
const exitGrace = 2 * time.Second

func (e *External) withStderr(err error) error {
	if tail := strings.TrimSpace(e.stderr.String()); tail != "" {
		return fmt.Errorf("%w; adapter stderr: %s", err, tail)
	}
	return err
}

// Capabilities returns what the adapter declared in its hello response.
func (e *External) Capabilities() Capabilities { return e.caps }

// Configure sends a configure request. Its Clock does not cross the line
// itself: an adapter with CapClock is told its time by a clock request
// before the first send that follows, and before each send that follows
// a move of it (see Send).
func (e *External) Configure(ctx context.Context, ep Endpoint) error {
	if _, err := e.call(ctx, Request{Op: OpConfigure, Endpoint: ep}); err != nil {
		return err
	}
	e.mu.Lock()
	e.transport, e.clock = transportOf(ep), ep.Clock
	e.mu.Unlock()
	e.clockMu.Lock()
	e.clockTold = false // a new client may start from its own clock
	e.clockMu.Unlock()
	return nil
}

// clockSlack is how far the kit's clock may drift from the time an
// adapter was last told before it is told again: more than the wall
// clock's own jitter, less than the second a provider token counts in.
const clockSlack = 50 * time.Millisecond

// tellClock sends a clock request to an adapter with CapClock when the
// configuration has a clock and the adapter has not been told its time
// since the configure, or the clock has moved (a scenario let minutes
// pass) since it was.
func (e *External) tellClock(ctx context.Context) error {
	e.mu.Lock()
	clock := e.clock
	e.mu.Unlock()
	if clock == nil || !e.caps.Has(CapClock) {
		return nil
	}
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	now := clock()
	lead := time.Until(now)
	if e.clockTold && (lead-e.clockLead).Abs() < clockSlack {
		return nil
	}
	if _, err := e.call(ctx, Request{Op: OpClock, Now: now}); err != nil {
		return err
	}
	e.clockTold, e.clockLead = true, lead
	return nil
}

// Send sends a send request, after a clock request if the adapter's time
// must be set (CapClock).
func (e *External) Send(ctx context.Context, b Batch) (Outcome, error) {
	if err := e.tellClock(ctx); err != nil {
		return Outcome{}, err
	}
	req := Request{Op: OpSend, Batch: b}
	if e.speaks >= 3 {
		e.mu.Lock()
		req.Transport = e.transport
		e.mu.Unlock()
	}
	resp, err := e.call(ctx, req)
	if err != nil {
		return Outcome{}, err
	}
	if resp.Outcome == nil {
		return Outcome{}, fmt.Errorf("%w: a send response without an outcome", ErrAdapter)
	}
	return *resp.Outcome, nil
}

// Feedback sends a feedback request. The tuples of a failed read are
// returned with its error.
func (e *External) Feedback(ctx context.Context) ([]FeedbackTuple, error) {
	resp, err := e.call(ctx, Request{Op: OpFeedback})
	return resp.Tuples, err
}

// Outdate sends an outdate request.
func (e *External) Outdate(ctx context.Context, idle time.Duration) (int, error) {
	resp, err := e.call(ctx, Request{Op: OpOutdate, Idle: idle})
	return resp.Closed, err
}

// Shutdown sends a shutdown request.
func (e *External) Shutdown(ctx context.Context) error {
	_, err := e.call(ctx, Request{Op: OpShutdown})
	return err
}

// Close sends a close request, closes the adapter's stdin and waits for it
// to exit; if it does not exit before ctx ends, it is killed.
func (e *External) Close(ctx context.Context) error {
	_, err := e.call(ctx, Request{Op: OpClose})
	_ = e.stdin.Close()
	select {
	case <-e.exited:
	case <-ctx.Done():
		e.kill()
		if err == nil {
			err = fmt.Errorf("%w: it did not exit after close: %w", ErrAdapter, ctx.Err())
		}
	}
	if err == nil && e.waitErr != nil {
		err = e.withStderr(fmt.Errorf("%w: %w", ErrAdapter, e.waitErr))
	}
	return err
}

func (e *External) kill() {
	_ = e.stdin.Close()
	if e.cmd.Process != nil {
		_ = e.cmd.Process.Kill()
	}
	<-e.exited
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// CheckExternal starts argv, greets it and closes it: whether the adapter
// runs at all, so that a suite can stop at once, with one error, when it
// does not. Relative paths in argv resolve against the working directory
// of this process (for go test, the package's folder, conformance/); the
// error names those that do not exist there.
func CheckExternal(ctx context.Context, argv []string) error {
	e, err := StartExternal(ctx, argv)
	if err == nil {
		err = e.Close(ctx)
	}
	if err == nil {
		return nil
	}
	wd, _ := os.Getwd()
	for _, a := range argv {
		if filepath.IsAbs(a) || strings.HasPrefix(a, "-") || !strings.ContainsAny(a, `/.`) {
			continue
		}
		if _, serr := os.Stat(a); serr != nil {
			err = fmt.Errorf("%w (the relative path %q is resolved from %s, go test's working directory: give it as an absolute path, such as \"$PWD/%s\" from where you ran go test)", err, a, wd, a)
			break
		}
	}
	return err
}
