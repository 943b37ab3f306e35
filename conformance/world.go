package conformance

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
)

// Bounds of the waits in steps. They only bound how long a broken client
// can stall a scenario: no step waits for a fixed time.
const (
	DefaultSettleTimeout = 15 * time.Second // for the gateway to settle, counters to reach a value, the client to close
	DefaultSendTimeout   = 60 * time.Second // for one Send (or feedback read), retries included
	pollEvery            = 5 * time.Millisecond
)

// defaultPayload is the payload of the scenarios' notifications unless a
// step sets another: 25 bytes.
const defaultPayload = `{"aps":{"alert":"hello"}}`

// world is the state of one scenario: the mock server(s), the client under
// test, what was sent where and what the client reported.
type world struct {
	suite *Suite
	name  string
	uri   string
	tags  []string

	pickleID string

	client     Client
	caps       Capabilities
	level      Level
	skipReason string
	warning    error // why a SHOULD scenario was not met, when not strict
	closed     bool  // the client was closed (to settle the gateway)

	clock   kitClock           // the time of the mock and of a client with CapClock
	servers []*mockapns.Server // [0] the gateway of the scenario, [1] the second one
	ep      Endpoint
	second  *certs.Pair // the second client certificate, once made

	// the notifications' shared content
	payload  []byte
	priority int
	expiry   time.Time
	command  *int

	// the HTTP/2 headers of the notifications
	topic, pushType, collapseID string
	keepAlive                   time.Duration // Endpoint.KeepAlive

	payloadFault *payloadFault // the payload judged bad from a token on, if any

	nextToken int    // number of the last token handed out
	sent      []sent // every token sent, in order

	mu       sync.Mutex
	outcomes []Outcome
	sendErrs []error // one per send; nil when the send could be attempted
	mention  map[string]bool

	feedback []feedbackRead
	outdated []int
	async    chan asyncSend
}

// sent is one token the scenario sent and the server it went to.
type sent struct {
	token  string
	server int
}

type feedbackRead struct {
	tuples []FeedbackTuple
	err    error
}

type asyncSend struct {
	out Outcome
	err error
}

// tokenHex is token number n of length size bytes, in hex: a fixed pattern
// ending with n, so that a token is recognisable in a journal or a log.
func tokenHex(n, size int) string {
	b := make([]byte, size)
	for i := range b {
		b[i] = 0xa0 | byte(i%16)
	}
	var num [4]byte
	binary.BigEndian.PutUint32(num[:], uint32(n))
	if size >= 4 {
		copy(b[size-4:], num[:])
	} else {
		copy(b, num[4-size:])
	}
	return hex.EncodeToString(b)
}

// describe names a token for messages: "token 5" for the fifth token sent,
// else its hex.
func (w *world) describe(tok string) string {
	for i, s := range w.sent {
		if s.token == tok {
			return fmt.Sprintf("token %d", i+1)
		}
	}
	return "token " + tok
}

func (w *world) describeAll(toks []string) string {
	if len(toks) == 0 {
		return "none"
	}
	nums := make([]int, 0, len(toks))
	var other []string
	for _, t := range toks {
		if n := w.indexOf(t); n > 0 {
			nums = append(nums, n)
		} else {
			other = append(other, t)
		}
	}
	slices.Sort(nums)
	parts := compactRanges(nums)
	parts = append(parts, other...)
	return strings.Join(parts, ", ")
}

// indexOf returns the 1-based number of a sent token, or 0.
func (w *world) indexOf(tok string) int {
	for i, s := range w.sent {
		if s.token == tok {
			return i + 1
		}
	}
	return 0
}

// compactRanges renders sorted numbers as "1 to 3, 5, 7 to 9".
func compactRanges(nums []int) []string {
	var out []string
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] <= nums[j]+1 {
			j++
		}
		if j > i {
			out = append(out, fmt.Sprintf("%d to %d", nums[i], nums[j]))
		} else {
			out = append(out, fmt.Sprint(nums[i]))
		}
		i = j + 1
	}
	return out
}

// server returns the scenario's i-th mock server.
func (w *world) server(i int) (*mockapns.Server, error) {
	if i >= len(w.servers) {
		if i == 0 {
			return nil, errors.New("no mock APNs server: the scenario must start with \"Given a mock APNs server\"")
		}
		return nil, errors.New("no second mock APNs server: add \"Given a second mock APNs server sharing the same certificates\"")
	}
	return w.servers[i], nil
}

// token returns the hex token of the n-th sent notification.
func (w *world) token(n int) (string, error) {
	if n < 1 {
		return "", fmt.Errorf("token %d: tokens are numbered from 1", n)
	}
	if n <= len(w.sent) {
		return w.sent[n-1].token, nil
	}
	// A token named before it is sent (faults are set up first).
	return tokenHex(n, 32), nil
}

func (w *world) tokenBytes(n int) (apns.Token, error) {
	t, err := w.token(n)
	if err != nil {
		return apns.Token{}, err
	}
	return apns.ParseToken(t)
}

// allocate hands out the next n tokens for server srv.
func (w *world) allocate(n, srv int) []string {
	toks := make([]string, n)
	for i := range toks {
		w.nextToken++
		toks[i] = tokenHex(w.nextToken, 32)
		w.sent = append(w.sent, sent{token: toks[i], server: srv})
	}
	return toks
}

// batch builds a batch of toks with the scenario's content.
func (w *world) batch(toks []string) Batch {
	p := w.payload
	if p == nil {
		p = []byte(defaultPayload)
	}
	return Batch{Tokens: toks, Payload: p, Priority: w.priority, Expiry: w.expiry, Command: w.command,
		Topic: w.topic, PushType: w.pushType, CollapseID: w.collapseID}
}

// tokensOf lists the tokens sent to server srv, in order.
func (w *world) tokensOf(srv int) []string {
	var out []string
	for _, s := range w.sent {
		if s.server == srv {
			out = append(out, s.token)
		}
	}
	return out
}

func (w *world) recordSend(out Outcome, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.outcomes = append(w.outcomes, out)
	w.sendErrs = append(w.sendErrs, err)
}

// merged returns the union of every outcome of the scenario.
func (w *world) merged() Outcome {
	w.mu.Lock()
	defer w.mu.Unlock()
	var m Outcome
	for _, o := range w.outcomes {
		m.Failed = append(m.Failed, o.Failed...)
		m.Statuses = append(m.Statuses, o.Statuses...)
		m.Errors = append(m.Errors, o.Errors...)
		m.Retried = append(m.Retried, o.Retried...)
		m.Uncertain = append(m.Uncertain, o.Uncertain...)
		m.Unsent = append(m.Unsent, o.Unsent...)
		m.Attempts += o.Attempts
		m.Reasons = append(m.Reasons, o.Reasons...)
	}
	return m
}

// ctxFor bounds a step's wait.
func ctxFor(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

// poll calls cond until it returns true or ctx ends; it never sleeps a fixed
// time to synchronise, it only re-checks.
func poll(ctx context.Context, cond func() bool) bool {
	if cond() {
		return true
	}
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return cond()
		case <-t.C:
			if cond() {
				return true
			}
		}
	}
}

// settle makes the gateway's journal final: it closes the client (once) and
// waits until every gateway connection has ended, so that every frame the
// client wrote has been judged. Steps that read the journal call it; steps
// that need the client must come before them.
func (w *world) settle(ctx context.Context) error {
	if !w.closed {
		if w.async != nil {
			select {
			case r := <-w.async:
				w.recordSend(r.out, r.err)
			case <-ctx.Done():
			}
			w.async = nil
		}
		w.closed = true
		cctx, cancel := ctxFor(ctx, w.suite.settleTimeout())
		err := w.client.Close(cctx)
		cancel()
		if err != nil {
			return fmt.Errorf("closing the client to settle the gateway: %w", err)
		}
	}
	cctx, cancel := ctxFor(ctx, w.suite.settleTimeout())
	defer cancel()
	for i, s := range w.servers {
		if !poll(cctx, func() bool { return s.Stats().ConnectionsOpen == 0 }) {
			return fmt.Errorf("gateway %d still has %d open connection(s) %v after the client was closed",
				i+1, s.Stats().ConnectionsOpen, w.suite.settleTimeout())
		}
	}
	return nil
}

// close ends the scenario: the client, then the servers.
func (w *world) close(ctx context.Context) error {
	var err error
	if w.client != nil && !w.closed {
		w.closed = true
		cctx, cancel := ctxFor(context.WithoutCancel(ctx), w.suite.settleTimeout())
		err = w.client.Close(cctx)
		cancel()
		if err != nil {
			err = fmt.Errorf("closing the client: %w", err)
		}
	}
	if w.async != nil {
		// A send still running: it ends now that the client is closed.
		select {
		case <-w.async:
		case <-time.After(w.suite.settleTimeout()):
		}
	}
	for _, s := range w.servers {
		s.Close()
	}
	return err
}
