package mockapns

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// Bounds of fault values: larger ones are refused (they could only be
// typing mistakes, and would hold a connection or a goroutine for ages).
const (
	// FaultMaxDuration is the longest "delay" of a Delay and "after" of
	// an IdleTimeout.
	FaultMaxDuration = time.Hour
	// FaultMaxCount is the largest "nth", "times" and "restore_after".
	FaultMaxCount = 1_000_000_000
	// FaultMaxBytes is the largest "after_bytes" (4 GiB).
	FaultMaxBytes = 1 << 32
)

// member is one JSON member of a fault type, bound to a field of a fault
// value: decode sets the field from the member's JSON value (never null),
// encode returns what to write, written says whether to write it.
type member struct {
	name     string
	required bool   // ParseFault refuses a document without it
	hint     string // what the member holds, for the "required" message
	decode   func(raw json.RawMessage) error
	encode   func() any
	written  func() bool
}

// integer is the Go types the integer members are bound to.
type integer interface {
	~int | ~int64 | ~uint8 | ~uint32
}

// intMember binds an integer member with bounds lo ≤ v ≤ hi; outside them
// the error says "must be " + want. It is written when written says so
// (nil: when non-zero).
func intMember[T integer](name string, p *T, lo, hi int64, want string, written func() bool) member {
	if written == nil {
		written = func() bool { return *p != 0 }
	}
	return member{
		name: name, hint: want, written: written,
		decode: func(raw json.RawMessage) error {
			var v int64
			if err := decodeValue(name, raw, &v); err != nil {
				return err
			}
			if v < lo || v > hi {
				return specErr(name, "must be %s, got %d", want, v)
			}
			*p = T(v)
			return nil
		},
		encode: func() any { return int64(*p) },
	}
}

func statusMember(p *wire.Status) member {
	return intMember("status", p, 1, 255, "1 to 255", nil)
}

func tokenMember(p *apns.Token) member {
	return member{
		name: "token", written: func() bool { return !p.IsZero() },
		decode: func(raw json.RawMessage) error {
			var s string
			if err := decodeValue("token", raw, &s); err != nil {
				return err
			}
			t, err := apns.ParseToken(s)
			if err != nil {
				return specErr("token", "%s", strings.TrimPrefix(err.Error(), "apns: "))
			}
			*p = t
			return nil
		},
		encode: func() any { return p.String() },
	}
}

func nthMember(p *int) member {
	return intMember("nth", p, 1, FaultMaxCount, fmt.Sprintf("1 to %d", FaultMaxCount), nil)
}

func probabilityMember(p *float64) member {
	return member{
		name: "probability", written: func() bool { return *p != 0 },
		decode: func(raw json.RawMessage) error {
			var v float64
			if err := decodeValue("probability", raw, &v); err != nil {
				return err
			}
			if !(v > 0 && v <= 1) {
				return specErr("probability", "must be in (0, 1], got %v", v)
			}
			*p = v
			return nil
		},
		encode: func() any { return *p },
	}
}

func timesMember(p *Count) member {
	return member{
		name: "times", written: func() bool { return p.set },
		decode: func(raw json.RawMessage) error {
			var v int64
			if err := decodeValue("times", raw, &v); err != nil {
				return err
			}
			if v < 0 || v > FaultMaxCount {
				return specErr("times", "must be 0 (every time) or a count up to %d, got %d", FaultMaxCount, v)
			}
			*p = Times(int(v))
			return nil
		},
		encode: func() any { return p.n },
	}
}

func durationMember(name string, p *time.Duration, required bool) member {
	return member{
		name: name, required: required, hint: `a duration such as "200ms"`,
		written: func() bool { return *p != 0 },
		decode: func(raw json.RawMessage) error {
			var s string
			if err := decodeValue(name, raw, &s); err != nil {
				return err
			}
			d, err := time.ParseDuration(s)
			if err != nil {
				return specErr(name, "not a duration such as \"200ms\": %q", s)
			}
			if err := checkFaultDuration(name, d); err != nil {
				return err
			}
			*p = d
			return nil
		},
		encode: func() any { return p.String() },
	}
}

// checkFaultDuration checks a fault's duration: above 0, at most
// FaultMaxDuration.
func checkFaultDuration(name string, d time.Duration) error {
	if d <= 0 || d > FaultMaxDuration {
		return specErr(name, "must be above 0 and at most %v, got %q", FaultMaxDuration, d.String())
	}
	return nil
}

func protocolMember(p *apns.Protocol) member {
	return member{
		name: "protocol", written: func() bool { return *p != 0 },
		decode: func(raw json.RawMessage) error {
			var s string
			if err := decodeValue("protocol", raw, &s); err != nil {
				return err
			}
			if err := p.UnmarshalText([]byte(s)); err != nil {
				return specErr("protocol", "want binary or http2, got %q", s)
			}
			return nil
		},
		encode: func() any { return p.String() },
	}
}

// faultMaxReasonLength bounds a reason: Apple's longest is 27 bytes.
const faultMaxReasonLength = 64

func reasonMember(p *apns.Reason, required bool) member {
	return member{
		name: "reason", required: required, hint: `one of Apple's reasons, such as "BadDeviceToken"`,
		written: func() bool { return *p != "" },
		decode: func(raw json.RawMessage) error {
			var s string
			if err := decodeValue("reason", raw, &s); err != nil {
				return err
			}
			r := apns.Reason(s)
			if err := checkFaultReason(r); err != nil {
				return specErr("reason", "%s", err)
			}
			*p = r
			return nil
		},
		encode: func() any { return string(*p) },
	}
}

// checkFaultReason accepts Apple's reasons and any other word of letters and
// digits (so that clients can meet a reason Apple adds later).
func checkFaultReason(r apns.Reason) error {
	if r == "" || len(r) > faultMaxReasonLength {
		return fmt.Errorf("want one of Apple's reasons such as \"BadDeviceToken\" (1 to %d letters), got %q", faultMaxReasonLength, r)
	}
	for _, c := range []byte(r) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return fmt.Errorf("want one of Apple's reasons such as \"BadDeviceToken\" (letters and digits), got %q", r)
		}
	}
	return nil
}

// triggerMembers are the selectors of a Trigger, for fault types that
// have one.
func triggerMembers(t *Trigger) []member {
	return []member{tokenMember(&t.Token), nthMember(&t.Nth), probabilityMember(&t.Probability),
		timesMember(&t.Times), protocolMember(&t.Protocol)}
}

// checkTrigger checks the Go value of a trigger for a fault type that
// applies to the protocols in supported.
func checkTrigger(t Trigger, action string, supported protoSet) error {
	switch {
	case t.Nth < 0 || t.Nth > FaultMaxCount:
		return specErr("nth", "must be 1 to %d (or 0: every one), got %d", FaultMaxCount, t.Nth)
	case math.IsNaN(t.Probability) || t.Probability < 0 || t.Probability > 1:
		return specErr("probability", "must be in (0, 1], got %v", t.Probability)
	}
	if err := checkTimes(t.Times); err != nil {
		return err
	}
	return checkProtocol(t.Protocol, action, supported)
}

func checkTimes(c Count) error {
	if c.set && (c.n < 0 || c.n > FaultMaxCount) {
		return specErr("times", "must be 0 (every time) or a count up to %d, got %d", FaultMaxCount, c.n)
	}
	return nil
}

func checkProtocol(p apns.Protocol, action string, supported protoSet) error {
	switch {
	case p == 0:
		return nil
	case p != apns.Binary && p != apns.HTTP2:
		return specErr("protocol", "want binary or http2, got %v", p)
	case !supported.has(p):
		return specErr("protocol", "action %q does not apply to %s", action, p)
	}
	return nil
}

// protocolsOf is the protocols a trigger restricts a fault to, of those
// the fault type supports.
func protocolsOf(t Trigger, supported protoSet) protoSet {
	if t.Protocol == 0 {
		return supported
	}
	return protos(t.Protocol)
}
