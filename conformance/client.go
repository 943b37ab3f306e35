package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"
)

// Client is what a client under test must do for the scenarios to drive it.
// An adapter wraps a real client library behind it: [NewLocal] wraps ours,
// [NewExternal] talks to any program that speaks the line protocol of
// conformance/README.md.
//
// The scenarios call the methods of one Client from one goroutine, except
// the @concurrent ones, which call Send from several goroutines at once (only
// for clients that declare [CapConcurrent]).
type Client interface {
	// Capabilities lists what the client can do beyond the required core:
	// scenarios tagged with a capability the client lacks are skipped and
	// reported as such.
	Capabilities() Capabilities

	// Configure points the client at a gateway and feedback service with the
	// given credentials. It may be called again to replace them; connections
	// made with the old configuration may then be closed.
	Configure(ctx context.Context, ep Endpoint) error

	// Send sends one batch and follows the client's retries to the end:
	// after an error response or a dropped connection it sends what must be
	// sent again, until nothing is left (or the client gives up). It reports
	// the aggregate Outcome of every attempt. The error is for a batch that
	// could not be attempted at all (closed client, bad configuration);
	// problems during the attempts belong in the Outcome.
	Send(ctx context.Context, b Batch) (Outcome, error)

	// Feedback connects to the feedback service once and returns the tuples
	// it read. A connection that ends in the middle of a tuple ends the read
	// quietly with the tuples read so far; a connection that cannot be made
	// is an error.
	Feedback(ctx context.Context) ([]FeedbackTuple, error)

	// Outdate closes the pooled connections that have been idle for longer
	// than idle and reports how many it closed; busy connections stay open.
	// Clients without [CapOutdate] return ErrUnsupported.
	Outdate(ctx context.Context, idle time.Duration) (int, error)

	// Shutdown closes the idle pooled connections and makes every later Send
	// fail. Clients without [CapShutdown] return ErrUnsupported.
	Shutdown(ctx context.Context) error

	// Close releases everything the client holds. It is called once at the
	// end of every scenario.
	Close(ctx context.Context) error
}

// ErrUnsupported is returned by a Client for an operation it does not
// support.
var ErrUnsupported = errors.New("conformance: operation not supported by the client")

// Capability is an optional ability of a client. Scenarios tagged @name need
// the capability name.
type Capability string

// Capabilities a client may declare. Each is also the tag (with a leading @)
// of the scenarios that need it.
const (
	// CapCommand0 : the client can send the simple format (command 0).
	CapCommand0 Capability = "command0"
	// CapCommand1 : the client can send the enhanced format (command 1).
	CapCommand1 Capability = "command1"
	// CapReuse : the client keeps a connection open between sends and
	// reuses it, and replaces one the server closed.
	CapReuse Capability = "reuse"
	// CapPools : the client keeps one set of connections per gateway address
	// and client certificate (scenarios that need it also need
	// CapOverrides).
	CapPools Capability = "pools"
	// CapOutdate : the client closes, on demand, the connections idle for
	// longer than a given time (Client.Outdate), and only those.
	CapOutdate Capability = "outdate"
	// CapShutdown : the client shuts down on demand (Client.Shutdown): it
	// closes its connections and refuses every later send.
	CapShutdown Capability = "shutdown"
	// CapOverrides : the client accepts a gateway address and a client
	// certificate per batch (Batch.Gateway, Batch.CertPEM).
	CapOverrides Capability = "overrides"
	// CapPooling is the capabilities of version 1 of the protocol bundled:
	// declaring it declares CapReuse, CapPools, CapOutdate, CapShutdown
	// and CapOverrides.
	CapPooling Capability = "pooling"
	// CapFeedback : the client reads the feedback service.
	CapFeedback Capability = "feedback"
	// CapConcurrent : Send may be called from several goroutines at once.
	CapConcurrent Capability = "concurrent"
	// CapHTTP2 : the client sends over Apple's HTTP/2 provider API when
	// the Endpoint names an HTTP/2 address (Endpoint.HTTP2), and reports
	// each refusal's reason (Outcome.Reasons).
	CapHTTP2 Capability = "http2"
	// CapClock : the client takes the time of its provider tokens (their
	// iat, and when to replace them) from the kit's clock
	// (Endpoint.Clock), which the scenarios advance by minutes without
	// waiting them ("Given 35 minutes pass"); the mock runs on the same
	// clock. Over the line protocol (version 3) the kit tells the adapter
	// the time with a clock request ([OpClock]).
	CapClock Capability = "clock"
	// CapKeepAlive : the client sends an HTTP/2 PING on a connection that
	// has been quiet for Endpoint.KeepAlive (keepalive_ms on the line),
	// which keeps it from the server's idle timeout.
	CapKeepAlive Capability = "keepalive"
)

// Capabilities is the set of capabilities a client declares.
type Capabilities []Capability

// pooling is what CapPooling stands for.
var pooling = Capabilities{CapReuse, CapPools, CapOutdate, CapShutdown, CapOverrides}

// Has reports whether c holds the capability; CapPooling holds the five
// it bundles.
func (c Capabilities) Has(cap Capability) bool {
	if slices.Contains(c, cap) {
		return true
	}
	return slices.Contains(pooling, cap) && slices.Contains(c, CapPooling)
}

// Endpoint is where the client sends and what it authenticates with. Every
// certificate and key is PEM text in memory.
type Endpoint struct {
	Gateway  string // gateway address, HOST:PORT
	Feedback string // feedback service address, HOST:PORT
	// CAPEM holds the certificate(s) of the authority the client must trust
	// for the server's certificate (and nothing else: no system roots).
	CAPEM []byte
	// CertPEM is the client certificate. KeyPEM is its private key; when
	// KeyPEM is empty the key is in CertPEM, after the certificate.
	CertPEM, KeyPEM []byte
	// ErrorWait is how long the client waits after its last write for a late
	// error response before it considers a batch done (0: the client's
	// default). The scenarios use a short one to run fast.
	ErrorWait time.Duration

	// HTTP2, when not empty, is the HTTP/2 provider API's address,
	// HOST:PORT: the client sends every batch there, over HTTP/2, instead
	// of to Gateway (clients with [CapHTTP2] only).
	HTTP2 string
	// AuthKeyPEM, KeyID and TeamID, when AuthKeyPEM is not empty, are the
	// provider-token signing key (the .p8 file's text), its key ID and the
	// team ID: the HTTP/2 client authenticates with JSON web tokens rather
	// than with CertPEM.
	AuthKeyPEM    []byte
	KeyID, TeamID string

	// Clock, when not nil, is the kit's clock: a client with [CapClock]
	// dates its provider tokens (and decides when to replace them) by it.
	// The mock server runs on the same clock, give or take the skew a
	// scenario sets, so that an hour passes for both in no time. It is
	// not a member of configure: an [External] client tells its adapter
	// the time with clock requests, and [Serve] makes the Clock of the
	// client it serves from them.
	Clock func() time.Time `json:"-"`
	// KeepAlive, when not 0, is how long an HTTP/2 connection may stay
	// quiet (nothing received) before a client with [CapKeepAlive] sends
	// it a PING.
	KeepAlive time.Duration
}

// Batch is one message sent to several device tokens.
type Batch struct {
	Tokens   []string        // device tokens, hex
	Payload  json.RawMessage // the JSON payload, sent as is
	Priority int             // 10 or 5; 0 means the client's default (absent)
	Expiry   time.Time       // zero means no expiry (0 on the wire)
	// Command, when not nil, is the binary command to use: 0, 1 or 2; nil
	// means the client's usual one. A client that cannot write the command
	// asked for returns ErrUnsupported; scenarios that need command 0 or 1
	// are tagged @command0 or @command1, for clients that declare them.
	Command *int
	// Gateway, when not empty, overrides the configured gateway address for
	// this batch (clients with [CapOverrides] only).
	Gateway string
	// CertPEM and KeyPEM, when CertPEM is not empty, override the configured
	// client certificate for this batch (clients with [CapOverrides] only).
	CertPEM, KeyPEM []byte

	// HTTP/2 only: the apns-topic, apns-push-type and apns-collapse-id
	// headers of the notifications ("" means the client's default, or
	// none).
	Topic, PushType, CollapseID string
}

// TokenStatus is a token the gateway refused, with the status it answered.
type TokenStatus struct {
	Token  string `json:"token"`
	Status int    `json:"status"`
}

// Outcome is what a client reports about one Send, over all its attempts.
type Outcome struct {
	// Failed lists the tokens reported as failed, with the status of the
	// error response; for a status that condemns the whole message (an
	// invalid payload size, 7), every token not delivered is listed with it.
	Failed []TokenStatus `json:"failed"`
	// Statuses lists the statuses of error responses not tied to a failed
	// token: processing errors (1), shutdowns (10), message-level statuses
	// (7, 4 ...), unknown (255). The order is the order they arrived.
	Statuses []int `json:"statuses"`
	// Errors describes the other problems met on the way (I/O, TLS,
	// giving up), one line each.
	Errors []string `json:"errors"`
	// Retried lists the tokens sent in a later attempt of the same send,
	// once per attempt that carried them.
	Retried []string `json:"retried"`
	// Uncertain lists the tokens resent without knowing whether the first
	// copy had been delivered (after a connection dropped without a word):
	// the only tokens that may be delivered twice.
	Uncertain []string `json:"uncertain"`
	// Unsent lists the tokens the client gave up on: neither known to be
	// delivered nor reported failed.
	Unsent []string `json:"unsent"`
	// Attempts is the number of attempts the send took (1 when nothing went
	// wrong).
	Attempts int `json:"attempts"`
	// Reasons lists, on HTTP/2, each refused token with the reason, the
	// HTTP status and, for 410, the timestamp APNs answered (the last
	// answer, when the token was retried).
	Reasons []TokenReason `json:"reasons,omitempty"`
}

// TokenReason is a token the HTTP/2 provider API refused: with a
// response (HTTPStatus is its status), or, HTTPStatus 0, with the GOAWAY
// that ended its connection unprocessed for a reason that retrying does
// not cure (BadCertificateEnvironment, ...).
type TokenReason struct {
	Token      string `json:"token"`
	Reason     string `json:"reason"`
	HTTPStatus int    `json:"http_status"`
	// Timestamp is when APNs last knew the token valid (410 only); zero
	// otherwise.
	Timestamp time.Time `json:"timestamp,omitzero"`
	// APNsID is the apns-id header of the refusal, when the client knows
	// it ("" otherwise).
	APNsID string `json:"apns_id,omitempty"`
}

// FeedbackTuple is one record read from the feedback service.
type FeedbackTuple struct {
	Token string    `json:"token"` // hex
	Time  time.Time `json:"time"`
}
