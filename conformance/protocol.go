package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// The line protocol between the suite and an external client adapter (see
// conformance/README.md): one JSON Request per line on the adapter's stdin,
// one JSON Response per line on its stdout, matched by ID.

// Operations of the line protocol.
const (
	OpHello     = "hello"     // protocol, kit → protocol, name, version, capabilities
	OpConfigure = "configure" // gateway, feedback, ca_pem, cert_pem, key_pem, error_wait_ms
	OpSend      = "send"      // tokens, payload, payload_text, payload_base64, priority, expiry, command, gateway, cert_pem, key_pem → outcome
	OpFeedback  = "feedback"  // → tuples
	OpOutdate   = "outdate"   // idle_ms → closed
	OpShutdown  = "shutdown"  //
	OpClose     = "close"     // last request; the adapter answers, then exits
)

// Request is one line sent to an external adapter. Only the fields of its
// Op are set.
type Request struct {
	ID int64  `json:"id"`
	Op string `json:"op"`

	// hello: the protocol version the suite speaks, and the kit's version
	Protocol int    `json:"protocol,omitempty"`
	Kit      string `json:"kit,omitempty"`

	// configure; gateway, cert_pem and key_pem are also per-batch
	// overrides in send
	Gateway     string `json:"gateway,omitempty"`
	Feedback    string `json:"feedback,omitempty"`
	CAPEM       string `json:"ca_pem,omitempty"`
	CertPEM     string `json:"cert_pem,omitempty"`
	KeyPEM      string `json:"key_pem,omitempty"`
	ErrorWaitMS int64  `json:"error_wait_ms,omitempty"`

	// send
	Tokens  []string        `json:"tokens,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	// PayloadText is the payload's exact bytes as a string, and
	// PayloadBase64 the same bytes in standard base64: for clients that
	// take raw bytes, so that they can send them unchanged.
	PayloadText   string `json:"payload_text,omitempty"`
	PayloadBase64 string `json:"payload_base64,omitempty"`
	Priority      int    `json:"priority,omitempty"`
	Expiry        int64  `json:"expiry,omitempty"` // UNIX seconds; 0: none
	Command       *int   `json:"command,omitempty"`

	// outdate
	IdleMS int64 `json:"idle_ms,omitempty"`
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
		var req Request
		if err := json.Unmarshal(line, &req); err != nil {
			reply(Response{Error: fmt.Sprintf("bad request: %v", err)})
			continue
		}
		if req.Op == OpClose {
			inflight.Wait()
			resp := Response{ID: req.ID, OK: true}
			if err := c.Close(ctx); err != nil {
				resp.OK, resp.Error = false, err.Error()
			}
			reply(resp)
			return werr
		}
		if concurrent && req.Op != OpConfigure && req.Op != OpHello {
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				reply(handle(ctx, name, c, req))
			}()
			continue
		}
		inflight.Wait()
		reply(handle(ctx, name, c, req))
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

// handle runs one request on c.
func handle(ctx context.Context, name string, c Client, req Request) Response {
	resp := Response{ID: req.ID, OK: true}
	var err error
	switch req.Op {
	case OpHello:
		// Version 2 of the line protocol carries no HTTP/2 endpoint: a
		// client's http2 capability is not announced over it.
		resp.Protocol, resp.Name, resp.Capabilities = ProtocolVersion, name, withoutHTTP2(c.Capabilities())
		if id, ok := c.(Identified); ok {
			_, resp.Version = id.Identity()
		}
	case OpConfigure:
		err = c.Configure(ctx, Endpoint{
			Gateway: req.Gateway, Feedback: req.Feedback,
			CAPEM: []byte(req.CAPEM), CertPEM: []byte(req.CertPEM), KeyPEM: []byte(req.KeyPEM),
			ErrorWait: time.Duration(req.ErrorWaitMS) * time.Millisecond,
		})
	case OpSend:
		payload := []byte(req.Payload)
		if req.PayloadBase64 != "" {
			if payload, err = base64.StdEncoding.DecodeString(req.PayloadBase64); err != nil {
				err = fmt.Errorf("payload_base64: %w", err)
				break
			}
		}
		b := Batch{Tokens: req.Tokens, Payload: payload, Priority: req.Priority, Command: req.Command,
			Gateway: req.Gateway, CertPEM: []byte(req.CertPEM), KeyPEM: []byte(req.KeyPEM)}
		if req.Expiry != 0 {
			b.Expiry = time.Unix(req.Expiry, 0).UTC()
		}
		var out Outcome
		out, err = c.Send(ctx, b)
		if err == nil {
			out = out.normalized()
			resp.Outcome = &out
		}
	case OpFeedback:
		resp.Tuples, err = c.Feedback(ctx)
	case OpOutdate:
		resp.Closed, err = c.Outdate(ctx, time.Duration(req.IdleMS)*time.Millisecond)
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

// withoutHTTP2 is caps less CapHTTP2, which the line protocol cannot
// exercise yet (its configure request has no HTTP/2 address nor auth key).
func withoutHTTP2(caps Capabilities) Capabilities {
	return slices.DeleteFunc(slices.Clone(caps), func(c Capability) bool { return c == CapHTTP2 })
}
