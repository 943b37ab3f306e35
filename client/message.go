package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
)

// Message is one notification content for many device tokens. The zero
// value of each optional field means "absent". A Message round-trips through
// JSON (for example through a queue) unchanged: see MarshalJSON.
//
// The payload is either built from the specific fields (Alert, Badge, Sound,
// ContentAvailable, Category, ThreadID, MutableContent, Extra) or given
// complete in Payload; combining Payload with any of those is an error
// (ErrConflictingFields), except Alert and Badge holding exactly what
// Payload says (see SetPayload). Apple's rules (token length, payload
// size, priority values) are not checked here: the gateway judges them and
// answers with a status. Only what cannot be encoded at all, and tokens
// that [apns.ParseToken] refuses, are refused.
type Message struct {
	// Tokens are the device tokens in hex (upper or lower case, any even
	// length from 1 to [apns.MaxTokenLength] bytes; Apple's were 64 hex
	// digits).
	Tokens []string `json:"tokens"`
	// Alert is a string or a dictionary (map[string]any with Apple's keys
	// such as "title", "body", "loc-key").
	Alert any `json:"alert,omitempty"`
	// Badge is a number or a string; nil means absent.
	Badge any `json:"badge,omitempty"`
	// Sound is the sound name; "" means absent.
	Sound string `json:"sound,omitempty"`
	// ContentAvailable sets "content-available": 1.
	ContentAvailable bool `json:"content_available,omitempty"`
	// Category is the "category" key.
	Category string `json:"category,omitempty"`
	// ThreadID is the "thread-id" key.
	ThreadID string `json:"thread_id,omitempty"`
	// MutableContent sets "mutable-content": 1.
	MutableContent bool `json:"mutable_content,omitempty"`
	// Expiry is the expiration item; zero means the item is omitted.
	Expiry Expiry `json:"expiry,omitzero"`
	// Priority is the priority item: 0 omits it, otherwise 10 or 5 (other
	// values up to 255 are sent as given and judged by the gateway).
	Priority int `json:"priority,omitempty"`
	// Extra holds custom top-level payload keys (never "aps").
	Extra map[string]any `json:"extra,omitempty"`
	// Payload is a complete JSON payload sent instead of one built from the
	// fields above. It is sent compacted (insignificant whitespace removed).
	Payload json.RawMessage `json:"payload,omitempty"`

	// The fields below are HTTP/2 request headers; the binary protocol has
	// no place for them and ignores them. "" omits the header.

	// PushType is apns-push-type ("alert", "background", "voip", ...).
	PushType string `json:"push_type,omitempty"`
	// Topic is apns-topic, usually the app's bundle ID with the push
	// type's suffix.
	Topic string `json:"topic,omitempty"`
	// APNsID is apns-id, a lower-case canonical UUID sent with every
	// token's request; "" lets APNs generate one per request.
	APNsID string `json:"apns_id,omitempty"`
	// CollapseID is apns-collapse-id (at most 64 bytes for APNs).
	CollapseID string `json:"collapse_id,omitempty"`
}

// Expiry is when APNs may stop trying to deliver: an absolute time, or a
// duration counted from the moment Send writes the notification. The zero
// Expiry omits the item. To ask APNs not to store the notification at all
// (expiry 0 on the wire), use ExpireAt(time.Unix(0, 0)).
type Expiry struct {
	At    time.Time     `json:"at,omitzero"`    // absolute time (whole seconds are sent)
	After time.Duration `json:"after,omitzero"` // duration from the send; used when At is zero
}

// ExpireAt returns an Expiry at t.
func ExpireAt(t time.Time) Expiry { return Expiry{At: t} }

// ExpireAfter returns an Expiry d after the send.
func ExpireAfter(d time.Duration) Expiry { return Expiry{After: d} }

// IsZero reports whether the expiry is absent.
func (e Expiry) IsZero() bool { return e.At.IsZero() && e.After == 0 }

// resolve returns the wire value at the send time now.
func (e Expiry) resolve(now time.Time) (uint32, error) {
	t := e.At
	if t.IsZero() {
		t = now.Add(e.After)
	}
	sec := t.Unix()
	if sec < 0 || sec > math.MaxUint32 {
		return 0, fmt.Errorf("%w: expiry %v outside 1970–2106", ErrBadField, t)
	}
	return uint32(sec), nil
}

// MarshalJSON encodes the expiry as {"at": RFC 3339} or {"after": "1h0m0s"}.
func (e Expiry) MarshalJSON() ([]byte, error) {
	type wireExpiry struct {
		At    *time.Time `json:"at,omitempty"`
		After string     `json:"after,omitempty"`
	}
	var w wireExpiry
	if !e.At.IsZero() {
		w.At = &e.At
	}
	if e.After != 0 {
		w.After = e.After.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes the form MarshalJSON writes.
func (e *Expiry) UnmarshalJSON(b []byte) error {
	var w struct {
		At    *time.Time `json:"at"`
		After string     `json:"after"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Expiry{}
	if w.At != nil {
		e.At = *w.At
	}
	if w.After != "" {
		d, err := time.ParseDuration(w.After)
		if err != nil {
			return fmt.Errorf("expiry: %w", err)
		}
		e.After = d
	}
	return nil
}

// MarshalJSON encodes the message with the field names of the struct tags.
// When Payload is set, Alert and Badge are left out (they are derived from
// the payload again on decoding).
func (m Message) MarshalJSON() ([]byte, error) {
	type plain Message
	p := plain(m)
	if len(p.Payload) > 0 {
		p.Alert, p.Badge = nil, nil
	}
	return marshalNoEscape(p)
}

// marshalNoEscape is json.Marshal without HTML escaping, so that "<", ">"
// and "&" in a payload stay as they are (and raw payloads keep their bytes).
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON decodes a message. JSON numbers inside Alert, Badge and
// Extra become int when they are whole and fit an int, float64 otherwise,
// so a badge of 3 comes back as the int 3. A Payload fills Alert and Badge
// from its "aps" dictionary, as SetPayload does.
func (m *Message) UnmarshalJSON(b []byte) error {
	type plain Message
	var p plain
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&p); err != nil {
		return err
	}
	p.Alert = normalizeNumbers(p.Alert)
	p.Badge = normalizeNumbers(p.Badge)
	if p.Extra != nil {
		p.Extra = normalizeNumbers(p.Extra).(map[string]any)
	}
	*m = Message(p)
	if len(m.Payload) > 0 {
		alert, badge := m.Alert, m.Badge
		if err := m.SetPayload(unescapeHTML(m.Payload)); err != nil {
			return err
		}
		if alert != nil && !reflect.DeepEqual(alert, m.Alert) || badge != nil && !reflect.DeepEqual(badge, m.Badge) {
			return fmt.Errorf("%w: alert or badge differ from the payload's", ErrConflictingFields)
		}
	}
	return nil
}

// unescapeHTML undoes the escapes encoding/json adds to embedded JSON
// (\u003c, \u003e and \u0026 inside strings), so that a raw payload keeps
// its bytes through json.Marshal and json.Unmarshal. (A literal U+2028 or
// U+2029 comes back escaped: the same JSON, six bytes longer.)
func unescapeHTML(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch string(b[i+2 : i+6]) {
			case "003c":
				out = append(out, '<')
				i += 5
				continue
			case "003e":
				out = append(out, '>')
				i += 5
				continue
			case "0026":
				out = append(out, '&')
				i += 5
				continue
			}
		}
		out = append(out, c, b[i+1]) // any other escape, kept as is
		i++
	}
	return out
}

// SetPayload sets a complete raw payload and fills Alert and Badge with the
// payload's "aps" alert and badge (nil when absent), so they stay readable.
// It fails with ErrBadPayload when raw is not a JSON object.
func (m *Message) SetPayload(raw []byte) error {
	alert, badge, err := parsePayload(raw)
	if err != nil {
		return err
	}
	m.Payload = append(json.RawMessage(nil), raw...)
	m.Alert, m.Badge = alert, badge
	return nil
}

func parsePayload(raw []byte) (alert, badge any, err error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		if err == nil {
			err = errors.New("null")
		}
		return nil, nil, fmt.Errorf("%w: not a JSON object: %w", ErrBadPayload, err)
	}
	apsRaw, ok := top["aps"]
	if !ok {
		return nil, nil, nil
	}
	var aps map[string]any
	d := json.NewDecoder(bytes.NewReader(apsRaw))
	d.UseNumber()
	if err := d.Decode(&aps); err != nil {
		// "aps" that is not a dictionary: legal JSON, Apple's problem.
		return nil, nil, nil
	}
	return normalizeNumbers(aps["alert"]), normalizeNumbers(aps["badge"]), nil
}

// normalizeNumbers replaces json.Number values (recursively) by int or float64.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 0); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
	}
	return v
}

// Validate checks what can be checked before sending: at least one token,
// hex tokens, a payload that is a JSON object, no raw payload combined with
// payload fields, and values the wire can carry. Errors wrap ErrNoTokens,
// ErrBadToken (as *TokenError), ErrBadPayload, ErrConflictingFields or
// ErrBadField.
func (m *Message) Validate() error {
	_, err := m.prepare(time.Now(), nil)
	return err
}

// PayloadJSON returns the payload as sent: Payload compacted, or the one
// built from the fields (keys in sorted order).
func (m *Message) PayloadJSON() ([]byte, error) {
	if err := m.checkPayloadFields(); err != nil {
		return nil, err
	}
	return m.payloadJSON()
}

func (m *Message) payloadJSON() ([]byte, error) {
	if len(m.Payload) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, m.Payload); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadPayload, err)
		}
		return buf.Bytes(), nil
	}
	aps := map[string]any{}
	if m.Alert != nil {
		aps["alert"] = m.Alert
	}
	if m.Badge != nil {
		aps["badge"] = m.Badge
	}
	if m.Sound != "" {
		aps["sound"] = m.Sound
	}
	if m.ContentAvailable {
		aps["content-available"] = 1
	}
	if m.Category != "" {
		aps["category"] = m.Category
	}
	if m.ThreadID != "" {
		aps["thread-id"] = m.ThreadID
	}
	if m.MutableContent {
		aps["mutable-content"] = 1
	}
	top := make(map[string]any, len(m.Extra)+1)
	for k, v := range m.Extra {
		top[k] = v
	}
	top["aps"] = aps
	b, err := marshalNoEscape(top)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	return b, nil
}

func (m *Message) checkPayloadFields() error {
	if _, ok := m.Extra["aps"]; ok {
		return fmt.Errorf("%w: Extra holds \"aps\"", ErrConflictingFields)
	}
	if len(m.Payload) > 0 {
		alert, badge, err := parsePayload(m.Payload)
		if err != nil {
			return err
		}
		switch {
		case m.Alert != nil && !reflect.DeepEqual(m.Alert, alert),
			m.Badge != nil && !reflect.DeepEqual(m.Badge, badge):
			return fmt.Errorf("%w: Alert or Badge differ from the payload's", ErrConflictingFields)
		case m.Sound != "" || m.ContentAvailable || m.Category != "" || m.ThreadID != "" ||
			m.MutableContent || len(m.Extra) > 0:
			return fmt.Errorf("%w: Payload with Sound, ContentAvailable, Category, ThreadID, MutableContent or Extra", ErrConflictingFields)
		}
		return nil
	}
	switch m.Badge.(type) {
	case nil, string, json.Number, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
	default:
		return fmt.Errorf("%w: badge of type %T", ErrBadField, m.Badge)
	}
	return nil
}
