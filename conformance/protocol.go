package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The line protocol between the suite and an external client adapter (see
// conformance/README.md): one JSON Request per line on the adapter's stdin,
// one JSON Response per line on its stdout, matched by ID.

// Operations of the line protocol. The members of each request are in
// protocol_members.go.
const (
	OpHello     = "hello"     // the versions, the client's name and its capabilities
	OpConfigure = "configure" // the Endpoint
	OpSend      = "send"      // one Batch → its Outcome
	OpFeedback  = "feedback"  // → tuples
	OpOutdate   = "outdate"   // idle_ms → closed
	OpShutdown  = "shutdown"  //
	OpClose     = "close"     // last request; the adapter answers, then exits
	OpClock     = "clock"     // now: the kit's time (version 3, CapClock)
)

// negotiated is the version two sides speak when one speaks mine and the
// other theirs (0: version 1, which did not say).
func negotiated(mine, theirs int) int {
	return max(1, min(mine, theirs))
}

// capabilitySince is the protocol version from which a capability can be
// exercised over the line; the others can from version 1.
var capabilitySince = map[Capability]int{CapHTTP2: 3, CapKeepAlive: 3, CapClock: 3}

// capabilitiesAt is caps less what protocol version cannot exercise.
func capabilitiesAt(caps Capabilities, version int) Capabilities {
	return slices.DeleteFunc(slices.Clone(caps), func(c Capability) bool { return capabilitySince[c] > version })
}

// Response is one line an external adapter writes back.
type Response struct {
	ID int64 `json:"id"`
	OK bool  `json:"ok"`
	// Error describes why OK is false.
	Error string `json:"error,omitempty"`
	// Unsupported is true when the adapter does not support the operation.
	Unsupported bool `json:"unsupported,omitempty"`

	// hello: the protocol version the adapter speaks (absent: 1), the
	// client's name and version
	Protocol     int          `json:"protocol,omitempty"`
	Name         string       `json:"name,omitempty"`
	Version      string       `json:"version,omitempty"`
	Capabilities []Capability `json:"capabilities,omitempty"`
	// send
	Outcome *Outcome `json:"outcome,omitempty"`
	// feedback (absent: no tuple)
	Tuples []FeedbackTuple `json:"tuples,omitempty"`
	// outdate
	Closed int `json:"closed,omitempty"`
}

// MaxLine bounds one line of the protocol (a batch of 3000 tokens is about
// 200 KB).
const MaxLine = 64 << 20

// Serve answers the line protocol on r and w with c, until a close request
// (after which it closes c and returns nil), the end of r (it closes c and
// returns nil), or ctx ends. It is the whole of an adapter written in Go:
// see conformance/cmd/apnskit-adapter. When c declares CapConcurrent,
// requests run concurrently (hello and configure wait for the running ones);
// otherwise one at a time.
//
// Serve speaks [ProtocolVersion] and, with a suite that speaks an earlier
// one (its hello says which), that one: it announces only the capabilities
// that version can exercise and refuses the members it does not have. A
// request that breaks the protocol's rules is answered "ok": false with
// the reason ([ErrProtocol]) and never reaches c.
//
// When c declares CapClock, Serve keeps the time the suite's clock
// requests give and configures c with it ([Endpoint.Clock]): the wall clock
// moved by the lead of the last request's now on it (none before the
// first). A clock request is answered at once, between the sends in
// flight, and to a client without CapClock unsupported.
func Serve(ctx context.Context, name string, r io.Reader, w io.Writer, c Client) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		wmu      sync.Mutex
		inflight sync.WaitGroup
		werr     error
	)
	reply := func(resp Response) {
		line, err := json.Marshal(resp)
		if err != nil {
			line, _ = json.Marshal(Response{ID: resp.ID, Error: err.Error()})
		}
		wmu.Lock()
		defer wmu.Unlock()
		if _, err := w.Write(append(line, '\n')); err != nil && werr == nil {
			werr = err
		}
	}
	concurrent := c.Capabilities().Has(CapConcurrent)
	var clock *serveClock
	if c.Capabilities().Has(CapClock) {
		clock = &serveClock{}
	}
	// The version spoken (until a hello says otherwise, Serve's own) and
	// the transport of the configuration in force, which sends name.
	version, transport := ProtocolVersion, Transport("")
	for {
		line, err := readLine(br)
		if errors.Is(err, io.EOF) {
			inflight.Wait()
			return c.Close(ctx)
		}
		if err != nil {
			inflight.Wait()
			_ = c.Close(ctx)
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		req, err := DecodeRequest(line, version)
		if err == nil && req.Op == OpSend && req.Transport != "" && transport != "" && req.Transport != transport {
			err = fmt.Errorf("%w: send: transport %q, but the client is configured for %q", ErrProtocol, req.Transport, transport)
		}
		if err != nil {
			reply(Response{ID: req.ID, Error: err.Error()})
			continue
		}
		switch req.Op {
		case OpClose:
			inflight.Wait()
			resp := Response{ID: req.ID, OK: true}
			if err := c.Close(ctx); err != nil {
				resp.OK, resp.Error = false, err.Error()
			}
			reply(resp)
			return werr
		case OpHello:
			version = negotiated(ProtocolVersion, req.Protocol)
		case OpClock:
			reply(handle(ctx, name, c, req, version, clock))
			continue
		}
		if concurrent && req.Op != OpConfigure && req.Op != OpHello {
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				reply(handle(ctx, name, c, req, version, clock))
			}()
			continue
		}
		inflight.Wait()
		resp := handle(ctx, name, c, req, version, clock)
		if req.Op == OpConfigure && resp.OK {
			transport = transportOf(req.Endpoint)
		}
		reply(resp)
	}
}

// readLine reads one line of any length up to MaxLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxLine {
			return nil, fmt.Errorf("conformance: protocol line longer than %d bytes", MaxLine)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return line, nil
		default:
			return nil, err
		}
	}
}

// serveClock is the time Serve gives a client with CapClock: the wall
// clock and a lead, set by the clock requests.
type serveClock struct{ lead atomic.Int64 }

// now is the time by the suite's clock.
func (c *serveClock) now() time.Time { return time.Now().Add(time.Duration(c.lead.Load())) }

// set makes t the time now.
func (c *serveClock) set(t time.Time) { c.lead.Store(int64(time.Until(t))) }

// handle runs one request on c, at protocol version; clock is the time of
// a client with CapClock (nil without).
func handle(ctx context.Context, name string, c Client, req Request, version int, clock *serveClock) Response {
	resp := Response{ID: req.ID, OK: true}
	var err error
	switch req.Op {
	case OpHello:
		resp.Protocol, resp.Name, resp.Capabilities = ProtocolVersion, name, capabilitiesAt(c.Capabilities(), version)
		if id, ok := c.(Identified); ok {
			_, resp.Version = id.Identity()
		}
	case OpConfigure:
		if clock != nil {
			req.Endpoint.Clock = clock.now
		}
		err = c.Configure(ctx, req.Endpoint)
	case OpClock:
		if since := opSpecs[OpClock].since; version < since {
			err = fmt.Errorf("clock is an operation of protocol %d, and this exchange speaks %d: %w", since, version, ErrUnsupported)
			break
		}
		if clock == nil {
			err = fmt.Errorf("clock: the client does not declare the capability %q: %w", CapClock, ErrUnsupported)
			break
		}
		clock.set(req.Now)
	case OpSend:
		var out Outcome
		out, err = c.Send(ctx, req.Batch)
		if err == nil {
			out = out.normalized()
			resp.Outcome = &out
		}
	case OpFeedback:
		resp.Tuples, err = c.Feedback(ctx)
	case OpOutdate:
		resp.Closed, err = c.Outdate(ctx, req.Idle)
	case OpShutdown:
		err = c.Shutdown(ctx)
	default:
		err = fmt.Errorf("unknown op %q: %w", req.Op, ErrUnsupported)
	}
	if err != nil {
		resp.OK, resp.Error = false, err.Error()
		resp.Unsupported = errors.Is(err, ErrUnsupported)
	}
	return resp
}

// normalized replaces nil lists with empty ones, so that the JSON form has
// [] rather than null.
func (o Outcome) normalized() Outcome {
	for _, p := range []*[]string{&o.Errors, &o.Retried, &o.Uncertain, &o.Unsent} {
		if *p == nil {
			*p = []string{}
		}
	}
	if o.Failed == nil {
		o.Failed = []TokenStatus{}
	}
	if o.Statuses == nil {
		o.Statuses = []int{}
	}
	return o
}
