package mockapns

import (
	"fmt"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// Reject refuses the triggering notification or request, like Apple
// refusing it. With Status it is a binary reject: the gateway answers
// Status naming the notification, then closes the connection. With
// Reason it is an HTTP/2 reject: the request is answered HTTPStatus (0:
// the status Apple's table gives Reason) with {"reason": Reason}, and the
// connection stays open. Exactly one of Status and Reason is set.
//
// JSON: "status" (1 to 255) or "reason" (letters and digits, such as
// "BadDeviceToken") with an optional "http_status" (400 to 599), and the
// members of the trigger ("token", "nth", "probability", "times",
// "protocol").
//
// A binary reject with status 10 (shutdown) acts as [Shutdown]: the
// identifier of a status 10 names the last notification accepted, so the
// answer names that one, not the refused notification (which is
// journalled with status 10).
type Reject struct {
	Status     wire.Status
	Reason     apns.Reason
	HTTPStatus int
	When       Trigger
}

func (f Reject) spec() faultSpec { return &f }
func (*Reject) action() string   { return "reject" }
func (f *Reject) fault() Fault   { return *f }

func (f *Reject) members() []member {
	return append([]member{
		statusMember(&f.Status),
		reasonMember(&f.Reason, false),
		intMember("http_status", &f.HTTPStatus, 400, 599, "400 to 599", nil),
	}, triggerMembers(&f.When)...)
}

// protocols is the protocol the reject applies to, by Status or Reason.
func (f *Reject) protocols() protoSet {
	if f.Reason != "" {
		return protos(apns.HTTP2)
	}
	return protos(apns.Binary)
}

func (f *Reject) check() error {
	switch {
	case f.Status == 0 && f.Reason == "":
		return specErr("status", `required for action "reject" (1 to 255; or "reason" for HTTP/2)`)
	case f.Status != 0 && f.Reason != "":
		return specErr("reason", "cannot be combined with status (status refuses binary notifications, reason HTTP/2 requests)")
	case f.HTTPStatus != 0 && f.Reason == "":
		return specErr("http_status", "needs reason (it sets the HTTP status of an HTTP/2 reject)")
	case f.HTTPStatus != 0 && (f.HTTPStatus < 400 || f.HTTPStatus > 599):
		return specErr("http_status", "must be 400 to 599, got %d", f.HTTPStatus)
	case f.Reason != "":
		if err := checkFaultReason(f.Reason); err != nil {
			return specErr("reason", "%s", err)
		}
	}
	return checkTrigger(f.When, f.action(), f.protocols())
}

func (f *Reject) rule() rule {
	status, reason, httpStatus := f.Status, f.Reason, f.HTTPStatus
	if reason != "" && httpStatus == 0 {
		httpStatus = reason.Status()
	}
	return rule{hook: hookRequest, protocols: protocolsOf(f.When, f.protocols()), when: f.When, decides: true,
		fire: func(a *faultAction) {
			a.kind, a.status, a.reason, a.httpStatus = actReject, status, reason, httpStatus
		}}
}

// Disconnect closes the connection without a word; the triggering
// notification or request is not accepted (on the gateway it and the
// frames after it count as discarded).
//
// With AfterBytes > 0 the fault cuts gateway connections by position
// instead: a connection is cut once it has read AfterBytes bytes of its
// notification stream (counted after TLS from its first byte, mid-frame if
// the cut falls there); the frames wholly within the first AfterBytes
// bytes are processed, the rest is discarded. When.Times counts cut
// connections; the other selectors of When are not used. A connection
// that had already read AfterBytes or more when the fault was added is cut
// at its next read. When several such faults apply to the same read, the
// one that cuts earliest fires.
//
// JSON: the trigger members, or "after_bytes" (at least 1) with "times"
// (and "protocol") only.
type Disconnect struct {
	When       Trigger
	AfterBytes int64
}

func (f Disconnect) spec() faultSpec { return &f }
func (*Disconnect) action() string   { return "disconnect" }
func (f *Disconnect) fault() Fault   { return *f }

// cutProtocols are the protocols whose connections a cut by position
// applies to.
var cutProtocols = protos(apns.Binary)

func (f *Disconnect) members() []member {
	ms := append(triggerMembers(&f.When),
		intMember("after_bytes", &f.AfterBytes, 1, FaultMaxBytes, fmt.Sprintf("1 to %d", int64(FaultMaxBytes)), nil))
	for i := range ms {
		switch ms[i].name {
		case "token", "nth", "probability":
			// A cut by position ignores these selectors: leave them out.
			written := ms[i].written
			ms[i].written = func() bool { return f.AfterBytes == 0 && written() }
		}
	}
	return ms
}

func (f *Disconnect) checkJSON(given func(string) bool) error {
	if given("after_bytes") && (given("token") || given("nth") || given("probability")) {
		return specErr("after_bytes", "cuts connections by byte count and cannot be combined with token, nth or probability")
	}
	return nil
}

func (f *Disconnect) check() error {
	if f.AfterBytes < 0 || f.AfterBytes > FaultMaxBytes {
		return specErr("after_bytes", "must be 1 to %d (or 0: no cut by position), got %d", int64(FaultMaxBytes), f.AfterBytes)
	}
	if f.AfterBytes > 0 {
		return checkTrigger(Trigger{Times: f.When.Times, Protocol: f.When.Protocol}, f.action(), cutProtocols)
	}
	return checkTrigger(f.When, f.action(), bothProtocols)
}

func (f *Disconnect) rule() rule {
	if f.AfterBytes > 0 {
		return rule{hook: hookCut, protocols: protocolsOf(f.When, cutProtocols),
			when: Trigger{Times: f.When.Times}, after: f.AfterBytes}
	}
	return rule{hook: hookRequest, protocols: protocolsOf(f.When, bothProtocols), when: f.When, decides: true,
		fire: func(a *faultAction) { a.kind = actDisconnect }}
}

// Delay stalls before the triggering notification or request is
// processed, then goes on normally. On the gateway, reading the connection
// stalls (the notification and everything after it wait); on HTTP/2 the
// answer to the request is delayed. Closing the server ends the stall.
//
// JSON: "delay" (required, a Go duration such as "200ms") and the trigger
// members.
type Delay struct {
	Duration time.Duration
	When     Trigger
}

func (f Delay) spec() faultSpec { return &f }
func (*Delay) action() string   { return "delay" }
func (f *Delay) fault() Fault   { return *f }

func (f *Delay) members() []member {
	return append([]member{durationMember("delay", &f.Duration, true)}, triggerMembers(&f.When)...)
}

func (f *Delay) check() error {
	if err := checkFaultDuration("delay", f.Duration); err != nil {
		return err
	}
	return checkTrigger(f.When, f.action(), bothProtocols)
}

func (f *Delay) rule() rule {
	d := f.Duration
	return rule{hook: hookRequest, protocols: protocolsOf(f.When, bothProtocols), when: f.When,
		fire: func(a *faultAction) { a.delay += d }}
}
