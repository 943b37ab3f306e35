package apns

import (
	"fmt"
	"strconv"
)

// Priority is a notification's delivery priority, with "absent" distinct
// from every value: the binary API's priority item and the HTTP/2
// apns-priority header are both optional, and Apple applies 10 when they
// are left out. The zero Priority is absent.
type Priority struct {
	v   uint8
	set bool
}

// Priorities Apple defines: 10 delivers at once, 5 conserves the device's
// power, 1 (HTTP/2 only) puts power before everything and never wakes the
// device.
var (
	PriorityImmediate = NewPriority(10)
	PriorityConserve  = NewPriority(5)
	PriorityLow       = NewPriority(1)
)

// DefaultPriority is the value Apple applies when a priority is absent.
const DefaultPriority = 10

// NewPriority is a present priority of value v (any value; whether Apple
// accepts it is the protocol's business).
func NewPriority(v uint8) Priority { return Priority{v: v, set: true} }

// Value is the priority and whether it is present.
func (p Priority) Value() (uint8, bool) { return p.v, p.set }

// IsSet reports whether the priority is present.
func (p Priority) IsSet() bool { return p.set }

// Effective is the priority Apple applies: the value, or
// [DefaultPriority] when absent.
func (p Priority) Effective() uint8 {
	if !p.set {
		return DefaultPriority
	}
	return p.v
}

// String is the value in decimal, or "absent".
func (p Priority) String() string {
	if !p.set {
		return "absent"
	}
	return strconv.Itoa(int(p.v))
}

// MarshalJSON writes the value as a number, or null when absent.
func (p Priority) MarshalJSON() ([]byte, error) {
	if !p.set {
		return []byte("null"), nil
	}
	return strconv.AppendUint(nil, uint64(p.v), 10), nil
}

// UnmarshalJSON reads a number from 0 to 255, or null for absent.
func (p *Priority) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*p = Priority{}
		return nil
	}
	v, err := strconv.ParseUint(string(b), 10, 8)
	if err != nil {
		return fmt.Errorf("apns: priority %s: want a number from 0 to 255 or null", b)
	}
	*p = NewPriority(uint8(v))
	return nil
}
