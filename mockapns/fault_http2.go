package mockapns

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/apnskit/apnskit/apns"
)

// http2Only is the protocol set of the HTTP/2 provider API's faults.
var http2Only = protos(apns.HTTP2)

// faultMaxStreamID is the largest HTTP/2 stream identifier (31 bits).
const faultMaxStreamID = math.MaxInt32

// GoAway answers the triggering HTTP/2 request's connection with a GOAWAY
// frame whose debug data is {"reason": Reason}, then closes it, as Apple
// does before maintenance ("Shutdown") or on a stream-limit violation.
// The GOAWAY names LastStreamID as the last stream processed when
// HasLastStreamID, else the last stream the mock processed; streams above
// it are never journalled as accepted.
//
// JSON: "reason" (required), "last_stream_id" (0 to 2^31-1) and the
// trigger members.
type GoAway struct {
	Reason          apns.Reason
	LastStreamID    uint32
	HasLastStreamID bool
	When            Trigger
}

func (f GoAway) spec() faultSpec { return &f }
func (*GoAway) action() string   { return "goaway" }
func (f *GoAway) fault() Fault   { return *f }

func (f *GoAway) members() []member {
	last := intMember("last_stream_id", &f.LastStreamID, 0, faultMaxStreamID, "0 to 2147483647",
		func() bool { return f.HasLastStreamID })
	decode := last.decode
	last.decode = func(raw json.RawMessage) error {
		f.HasLastStreamID = true
		return decode(raw)
	}
	return append([]member{reasonMember(&f.Reason, true), last}, triggerMembers(&f.When)...)
}

func (f *GoAway) check() error {
	if err := checkFaultReason(f.Reason); err != nil {
		return specErr("reason", "%s", err)
	}
	if f.LastStreamID > faultMaxStreamID {
		return specErr("last_stream_id", "must be 0 to 2147483647, got %d", f.LastStreamID)
	}
	if f.LastStreamID != 0 && !f.HasLastStreamID {
		return specErr("last_stream_id", "set without HasLastStreamID")
	}
	return checkTrigger(f.When, f.action(), http2Only)
}

func (f *GoAway) rule() rule {
	reason, last, has := f.Reason, f.LastStreamID, f.HasLastStreamID
	return rule{hook: hookRequest, protocols: http2Only, when: f.When, decides: true,
		fire: func(a *faultAction) {
			a.kind, a.reason, a.lastStreamID, a.hasLastStreamID = actGoAway, reason, last, has
		}}
}

// MaxStreams lowers the triggering request's connection's
// MAX_CONCURRENT_STREAMS to Streams with a SETTINGS frame, as Apple does
// after some refusals, and, when RestoreAfter > 0, announces the
// configured limit again after that many successful requests on the
// connection. The request itself is processed normally.
//
// JSON: "streams" (required, 1 to 2^31-1), "restore_after" (at least 1)
// and the trigger members.
type MaxStreams struct {
	Streams      uint32
	RestoreAfter int
	When         Trigger
}

func (f MaxStreams) spec() faultSpec { return &f }
func (*MaxStreams) action() string   { return "max_streams" }
func (f *MaxStreams) fault() Fault   { return *f }

func (f *MaxStreams) members() []member {
	streams := intMember("streams", &f.Streams, 1, faultMaxStreamID, "1 to 2147483647", nil)
	streams.required = true
	return append([]member{streams,
		intMember("restore_after", &f.RestoreAfter, 1, FaultMaxCount, fmt.Sprintf("1 to %d", FaultMaxCount), nil),
	}, triggerMembers(&f.When)...)
}

func (f *MaxStreams) check() error {
	switch {
	case f.Streams < 1 || f.Streams > faultMaxStreamID:
		return specErr("streams", "must be 1 to 2147483647, got %d", f.Streams)
	case f.RestoreAfter < 0 || f.RestoreAfter > FaultMaxCount:
		return specErr("restore_after", "must be 1 to %d (or 0: never), got %d", FaultMaxCount, f.RestoreAfter)
	}
	return checkTrigger(f.When, f.action(), http2Only)
}

func (f *MaxStreams) rule() rule {
	n, restore := f.Streams, f.RestoreAfter
	return rule{hook: hookRequest, protocols: http2Only, when: f.When,
		fire: func(a *faultAction) { a.hasMaxStreams, a.maxStreams, a.restoreAfter = true, n, restore }}
}

// RstStream resets the triggering HTTP/2 request's stream with
// RST_STREAM instead of answering it; the connection stays open.
//
// JSON: the trigger members.
type RstStream struct {
	When Trigger
}

func (f RstStream) spec() faultSpec    { return &f }
func (*RstStream) action() string      { return "rst_stream" }
func (f *RstStream) fault() Fault      { return *f }
func (f *RstStream) members() []member { return triggerMembers(&f.When) }
func (f *RstStream) check() error      { return checkTrigger(f.When, f.action(), http2Only) }

func (f *RstStream) rule() rule {
	return rule{hook: hookRequest, protocols: http2Only, when: f.When, decides: true,
		fire: func(a *faultAction) { a.kind = actRstStream }}
}

// IdleTimeout ends HTTP/2 connections that stay idle (no stream open and
// no frame read) for After: the connection gets a GOAWAY NO_ERROR naming
// the last stream the client opened, with debug data
// {"reason":"IdleTimeout"}, and closes. Times counts the connections
// closed so (the zero Count: one). A connection is timed from the last
// frame it read or the last of its streams answered, whichever is later;
// a connection idle when the fault is added is timed from its next frame.
// When several idle timeouts apply, the shortest closes the connection.
//
// JSON: "after" (required, a Go duration such as "2s"), "times" and
// "protocol" (only "http2").
type IdleTimeout struct {
	After    time.Duration
	Times    Count
	Protocol apns.Protocol
}

func (f IdleTimeout) spec() faultSpec { return &f }
func (*IdleTimeout) action() string   { return "idle_timeout" }
func (f *IdleTimeout) fault() Fault   { return *f }

func (f *IdleTimeout) members() []member {
	return []member{durationMember("after", &f.After, true), timesMember(&f.Times), protocolMember(&f.Protocol)}
}

func (f *IdleTimeout) check() error {
	if err := checkFaultDuration("after", f.After); err != nil {
		return err
	}
	if err := checkTimes(f.Times); err != nil {
		return err
	}
	return checkProtocol(f.Protocol, f.action(), http2Only)
}

func (f *IdleTimeout) rule() rule {
	return rule{hook: hookIdle, protocols: http2Only, when: Trigger{Times: f.Times}, idle: f.After}
}
