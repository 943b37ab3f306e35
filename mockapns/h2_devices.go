package mockapns

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/apns"
)

// Device is the state of one device token on the HTTP/2 API. A device
// bound to a Topic answers 400 DeviceTokenNotForTopic to notifications for
// any other topic; one with UnregisteredAt answers 410 Unregistered, with
// that time as the response's timestamp, to the others. A device with
// neither is delivered to as any token is.
//
// In JSON it is {"token": "HEX", "topic": "...", "unregistered_at":
// "RFC 3339"}, the last two left out when empty.
type Device struct {
	Token          apns.Token `json:"token"`
	Topic          string     `json:"topic,omitempty"`
	UnregisteredAt time.Time  `json:"unregistered_at,omitzero"`
}

// JSON member names of a Device.
const (
	fieldDeviceToken    = "token"
	fieldDeviceTopic    = "topic"
	fieldUnregisteredAt = "unregistered_at"
)

func deviceErr(field, format string, args ...any) *FieldError {
	return fieldErr(ErrBadDevice, field, format, args...)
}

// UnmarshalJSON reads the form Device marshals to: a token of hex digits
// (required), a topic string, an RFC 3339 time. Unknown members are
// refused. Errors are a *FieldError naming the member, wrapping
// ErrBadDevice; on error d is unchanged.
func (d *Device) UnmarshalJSON(b []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil || members == nil {
		return deviceErr("", "want a JSON object with token, topic and unregistered_at")
	}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		if name != fieldDeviceToken && name != fieldDeviceTopic && name != fieldUnregisteredAt {
			return deviceErr(name, "unknown member (want token, topic and unregistered_at)")
		}
	}
	var out Device
	raw, ok := members[fieldDeviceToken]
	if !ok {
		return deviceErr(fieldDeviceToken, "required")
	}
	var hex string
	if err := json.Unmarshal(raw, &hex); err != nil {
		return deviceErr(fieldDeviceToken, "want a string of hex digits")
	}
	tok, err := apns.ParseToken(hex)
	if err != nil {
		return deviceErr(fieldDeviceToken, "%v", err)
	}
	out.Token = tok
	if raw, ok := members[fieldDeviceTopic]; ok {
		if err := json.Unmarshal(raw, &out.Topic); err != nil {
			return deviceErr(fieldDeviceTopic, "want a string")
		}
	}
	if raw, ok := members[fieldUnregisteredAt]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return deviceErr(fieldUnregisteredAt, "want an RFC 3339 time as a string")
		}
		if out.UnregisteredAt, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return deviceErr(fieldUnregisteredAt, "want an RFC 3339 time, got %q", s)
		}
	}
	*d = out
	return nil
}

func (d Device) validate() error {
	if d.Token.IsZero() {
		return deviceErr(fieldDeviceToken, "required")
	}
	return nil
}

// deviceStore holds the device state by token. n mirrors the map's size so
// that a server without devices checks nothing under a lock.
type deviceStore struct {
	mu sync.RWMutex
	m  map[apns.Token]Device
	n  atomic.Int64
}

func (ds *deviceStore) set(devs []Device) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.m == nil {
		ds.m = make(map[apns.Token]Device)
	}
	for _, d := range devs {
		ds.m[d.Token] = d
	}
	ds.n.Store(int64(len(ds.m)))
}

func (ds *deviceStore) remove(tok apns.Token) bool {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	_, ok := ds.m[tok]
	delete(ds.m, tok)
	ds.n.Store(int64(len(ds.m)))
	return ok
}

func (ds *deviceStore) clear() {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	ds.m = nil
	ds.n.Store(0)
}

// list returns the devices ordered by token (hex).
func (ds *deviceStore) list() []Device {
	ds.mu.RLock()
	defer ds.mu.RUnlock()
	out := slices.Collect(maps.Values(ds.m))
	slices.SortFunc(out, func(a, b Device) int { return strings.Compare(a.Token.String(), b.Token.String()) })
	if out == nil {
		out = []Device{}
	}
	return out
}

// check applies the device state of tok to a notification for topic.
func (ds *deviceStore) check(tok apns.Token, topic string) (apns.Reason, time.Time) {
	if ds.n.Load() == 0 {
		return "", time.Time{}
	}
	ds.mu.RLock()
	d, ok := ds.m[tok]
	ds.mu.RUnlock()
	switch {
	case !ok:
		return "", time.Time{}
	case d.Topic != "" && d.Topic != topic:
		return apns.ReasonDeviceTokenNotForTopic, time.Time{}
	case !d.UnregisteredAt.IsZero():
		return apns.ReasonUnregistered, d.UnregisteredAt
	}
	return "", time.Time{}
}

// checkDevice applies the device state to an authorized notification for
// tok and topic (the topic authorize returned): "" when it goes through;
// DeviceTokenNotForTopic; or Unregistered with the time to answer as the
// response's timestamp (milliseconds since the epoch).
func (s *Server) checkDevice(tok apns.Token, topic string) (apns.Reason, time.Time) {
	return s.h2auth.devices.check(tok, topic)
}
