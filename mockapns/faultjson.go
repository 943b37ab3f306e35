package mockapns

// The JSON form of a fault: the body of POST /api/v1/faults, the value of
// cmd/mockapns -fault, and the "fault" member of GET /api/v1/faults.
//
//	{"action": "reject",     "status": 8, "token": "HEX"}
//	{"action": "reject",     "status": 1, "nth": 5}
//	{"action": "shutdown",   "nth": 100}
//	{"action": "disconnect", "nth": 50}
//	{"action": "disconnect", "after_bytes": 4096}
//	{"action": "delay",      "delay": "200ms", "nth": 1}
//	{"action": "reject",     "status": 7, "probability": 0.01, "times": 0}
//	{"action": "feedback_coalesce"}
//	{"action": "feedback_split", "times": 2}
//	{"action": "feedback_cut", "after_bytes": 45}

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// FaultSpecError names the member of a fault's JSON form that is wrong and
// why; it wraps [ErrBadFault]. Field is the JSON member name ("status", "nth", …), or empty when the
// document as a whole is at fault (not JSON, not an object, several values).
type FaultSpecError struct {
	Field  string
	Reason string
}

// Error reads "mockapns: bad fault: field "nth": must be at least 1".
func (e *FaultSpecError) Error() string {
	if e.Field == "" {
		return ErrBadFault.Error() + ": " + e.Reason
	}
	return ErrBadFault.Error() + ": field " + strconv.Quote(e.Field) + ": " + e.Reason
}

// Unwrap returns [ErrBadFault].
func (e *FaultSpecError) Unwrap() error { return ErrBadFault }

func specErr(field, format string, args ...any) *FaultSpecError {
	return &FaultSpecError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// JSON action names.
const (
	actionReject           = "reject"
	actionShutdown         = "shutdown"
	actionDisconnect       = "disconnect"
	actionDelay            = "delay"
	actionFeedbackCoalesce = "feedback_coalesce"
	actionFeedbackSplit    = "feedback_split"
	actionFeedbackCut      = "feedback_cut"
)

// JSON member names.
const (
	fieldAction      = "action"
	fieldStatus      = "status"
	fieldToken       = "token"
	fieldNth         = "nth"
	fieldProbability = "probability"
	fieldAfterBytes  = "after_bytes"
	fieldDelay       = "delay"
	fieldTimes       = "times"
)

// triggerFields are the selectors of a gateway fault.
var triggerFields = []string{fieldToken, fieldNth, fieldProbability, fieldTimes}

// allowedFields lists, per action, the members that make sense for it
// (besides "action"). after_bytes on disconnect excludes the notification
// selectors; that combination is checked separately.
var allowedFields = map[string][]string{
	actionReject:           append([]string{fieldStatus}, triggerFields...),
	actionShutdown:         triggerFields,
	actionDisconnect:       append([]string{fieldAfterBytes}, triggerFields...),
	actionDelay:            append([]string{fieldDelay}, triggerFields...),
	actionFeedbackCoalesce: {fieldTimes},
	actionFeedbackSplit:    {fieldTimes},
	actionFeedbackCut:      {fieldAfterBytes, fieldTimes},
}

// knownFields is every member of the JSON form.
var knownFields = map[string]bool{
	fieldAction: true, fieldStatus: true, fieldToken: true, fieldNth: true,
	fieldProbability: true, fieldAfterBytes: true, fieldDelay: true, fieldTimes: true,
}

// ParseFault decodes the JSON form of a fault (see the file comment and
// DESIGN.md). It is strict: exactly one JSON object; every member known,
// present at most once, of the right type and meaningful for the action;
// "action" required; "status" (1–255) required for reject and refused
// elsewhere; "token" non-empty hex; "nth" at least 1; "probability" in
// (0, 1]; "delay" a positive Go duration such as "200ms", required for
// delay; "after_bytes" for disconnect (at least 1; not combined with token,
// nth or probability) and feedback_cut (required; 0 closes the connection
// before the first byte, a valid Go FeedbackCut). "times" absent means
// once (Go Times 0), 0 means every time ([Always]), n means n times.
//
// Errors are a [*FaultSpecError] naming the member, wrapping [ErrBadFault].
func ParseFault(data []byte) (Fault, error) {
	members, err := splitObject(data)
	if err != nil {
		return nil, err
	}
	rawAction, ok := members[fieldAction]
	if !ok {
		return nil, specErr(fieldAction, "required (one of reject, shutdown, disconnect, delay, feedback_coalesce, feedback_split, feedback_cut)")
	}
	var action string
	if err := decodeMember(fieldAction, rawAction, &action); err != nil {
		return nil, err
	}
	allowed, ok := allowedFields[action]
	if !ok {
		return nil, specErr(fieldAction, "unknown action %q (want reject, shutdown, disconnect, delay, feedback_coalesce, feedback_split or feedback_cut)", action)
	}
	for name := range members {
		if name != fieldAction && !contains(allowed, name) {
			return nil, specErr(name, "not allowed with action %q", action)
		}
	}
	// Decode in a fixed order so that the error reported for a document
	// with several problems does not depend on map iteration.
	var p parsed
	for _, name := range []string{fieldStatus, fieldToken, fieldNth, fieldProbability, fieldAfterBytes, fieldDelay, fieldTimes} {
		raw, ok := members[name]
		if !ok {
			continue
		}
		if err := p.decode(name, raw); err != nil {
			return nil, err
		}
	}
	return p.fault(action)
}

// parsed holds the decoded members of a fault.
type parsed struct {
	status        wire.Status
	hasStatus     bool
	when          Trigger
	afterBytes    int64
	hasAfterBytes bool
	delay         time.Duration
	hasDelay      bool
	hasSelector   bool // token, nth or probability given
}

func (p *parsed) decode(name string, raw json.RawMessage) error {
	switch name {
	case fieldStatus:
		var v int64
		if err := decodeMember(name, raw, &v); err != nil {
			return err
		}
		if v < 1 || v > 255 {
			return specErr(name, "must be 1 to 255, got %d", v)
		}
		p.status, p.hasStatus = wire.Status(v), true
	case fieldToken:
		var s string
		if err := decodeMember(name, raw, &s); err != nil {
			return err
		}
		tok, err := apns.ParseToken(s)
		if err != nil {
			return specErr(name, "%s", strings.TrimPrefix(err.Error(), "apns: "))
		}
		p.when.Token, p.hasSelector = tok, true
	case fieldNth:
		var v int64
		if err := decodeMember(name, raw, &v); err != nil {
			return err
		}
		if v < 1 || v > math.MaxInt {
			return specErr(name, "must be at least 1, got %d", v)
		}
		p.when.Nth, p.hasSelector = int(v), true
	case fieldProbability:
		var v float64
		if err := decodeMember(name, raw, &v); err != nil {
			return err
		}
		if !(v > 0 && v <= 1) {
			return specErr(name, "must be in (0, 1], got %v", v)
		}
		p.when.Probability, p.hasSelector = v, true
	case fieldAfterBytes:
		var v int64
		if err := decodeMember(name, raw, &v); err != nil {
			return err
		}
		if v < 0 || v > math.MaxInt {
			return specErr(name, "must be at least 1 (0 only for feedback_cut), got %d", v)
		}
		p.afterBytes, p.hasAfterBytes = v, true
	case fieldDelay:
		var s string
		if err := decodeMember(name, raw, &s); err != nil {
			return err
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return specErr(name, "not a duration such as \"200ms\": %q", s)
		}
		if d <= 0 {
			return specErr(name, "must be positive, got %q", s)
		}
		p.delay, p.hasDelay = d, true
	case fieldTimes:
		var v int64
		if err := decodeMember(name, raw, &v); err != nil {
			return err
		}
		switch {
		case v < 0 || v > math.MaxInt:
			return specErr(name, "must be 0 (every time) or a positive count, got %d", v)
		case v == 0:
			p.when.Times = Always
		default:
			p.when.Times = int(v)
		}
	}
	return nil
}

// fault checks the combination of members and builds the Go value.
func (p *parsed) fault(action string) (Fault, error) {
	switch action {
	case actionReject:
		if !p.hasStatus {
			return nil, specErr(fieldStatus, "required for action %q (1 to 255)", action)
		}
		return Reject{Status: p.status, When: p.when}, nil
	case actionShutdown:
		return Shutdown{When: p.when}, nil
	case actionDisconnect:
		if p.hasAfterBytes && p.afterBytes == 0 {
			return nil, specErr(fieldAfterBytes, "must be at least 1 for action %q (leave it out to disconnect on a notification)", action)
		}
		if p.afterBytes > 0 && p.hasSelector {
			return nil, specErr(fieldAfterBytes, "cuts connections by byte count and cannot be combined with token, nth or probability")
		}
		return Disconnect{When: p.when, AfterBytes: p.afterBytes}, nil
	case actionDelay:
		if !p.hasDelay {
			return nil, specErr(fieldDelay, "required for action %q (a duration such as \"200ms\")", action)
		}
		return Delay{Duration: p.delay, When: p.when}, nil
	case actionFeedbackCoalesce:
		return FeedbackCoalesce{Times: p.when.Times}, nil
	case actionFeedbackSplit:
		return FeedbackSplit{Times: p.when.Times}, nil
	case actionFeedbackCut:
		if !p.hasAfterBytes {
			return nil, specErr(fieldAfterBytes, "required for action %q (bytes written before the cut; 0 closes at once)", action)
		}
		return FeedbackCut{AfterBytes: int(p.afterBytes), Times: p.when.Times}, nil
	}
	return nil, specErr(fieldAction, "unknown action %q", action) // unreachable: checked by ParseFault
}

// splitObject checks that data is exactly one JSON object whose member
// names are known and unique, and returns the members undecoded.
func splitObject(data []byte) (map[string]json.RawMessage, error) {
	// Walking the tokens (rather than Decoder.DisallowUnknownFields) lets
	// every error name its member, and catches duplicates and case
	// variants ("Action") that encoding/json would silently accept.
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, specErr("", "empty document, want a JSON object")
		}
		return nil, specErr("", "invalid JSON: %s", jsonReason(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, specErr("", "want a JSON object such as {\"action\":\"reject\",\"status\":8}")
	}
	members := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, specErr("", "invalid JSON: %s", jsonReason(err))
		}
		name, ok := tok.(string)
		if !ok { // cannot happen: the decoder only yields strings as keys
			return nil, specErr("", "invalid JSON: member name expected")
		}
		if !knownFields[name] {
			return nil, specErr(name, "unknown field (known: action, status, token, nth, probability, after_bytes, delay, times)")
		}
		if _, dup := members[name]; dup {
			return nil, specErr(name, "given more than once")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, specErr(name, "invalid JSON value: %s", jsonReason(err))
		}
		members[name] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, specErr("", "invalid JSON: %s", jsonReason(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, specErr("", "invalid JSON after the object: %s", jsonReason(err))
		}
		return nil, specErr("", "more than one JSON value")
	}
	return members, nil
}

// decodeMember decodes one member value into v, refusing null and values
// of the wrong JSON type.
func decodeMember(name string, raw json.RawMessage, v any) error {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return specErr(name, "must not be null")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return specErr(name, "want %s, got %s", typeName(v), truncate(string(raw)))
		}
		return specErr(name, "%s", jsonReason(err))
	}
	return nil
}

func typeName(v any) string {
	switch v.(type) {
	case *string:
		return "a string"
	case *float64:
		return "a number"
	default:
		return "an integer"
	}
}

// jsonReason strips the "json: " prefix of encoding/json errors.
func jsonReason(err error) string {
	msg := err.Error()
	if len(msg) > 6 && msg[:6] == "json: " {
		msg = msg[6:]
	}
	return msg
}

func truncate(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// faultDoc is the JSON form as written by MarshalFault, members in a
// stable order.
type faultDoc struct {
	Action      string  `json:"action"`
	Status      *int    `json:"status,omitempty"`
	Token       string  `json:"token,omitempty"`
	Nth         int     `json:"nth,omitempty"`
	Probability float64 `json:"probability,omitempty"`
	AfterBytes  *int64  `json:"after_bytes,omitempty"`
	Delay       string  `json:"delay,omitempty"`
	Times       *int    `json:"times,omitempty"`
}

// MarshalFault returns the JSON form of f, the one [ParseFault] reads:
// ParseFault(MarshalFault(f)) gives f back, except that the selectors a
// Disconnect with AfterBytes ignores (Token, Nth, Probability) are left out.
// Values the JSON form cannot express (a nil fault or a pointer, a Reject
// with status 0, a negative Nth, Times below [Always], …) are refused with
// a [*FaultSpecError].
func MarshalFault(f Fault) ([]byte, error) {
	doc, err := docOf(f)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(doc)
	if err != nil { // cannot happen: strings, ints and finite floats only
		return nil, fmt.Errorf("%w: %w", ErrBadFault, err)
	}
	// The parser is the one definition of a valid fault: what it refuses
	// was not a fault the JSON form (and so the admin API) can carry.
	if _, err := ParseFault(data); err != nil {
		return nil, err
	}
	return data, nil
}

func docOf(f Fault) (faultDoc, error) {
	switch v := f.(type) {
	case Reject:
		d, err := triggerDoc(actionReject, v.When)
		s := int(v.Status)
		d.Status = &s
		return d, err
	case Shutdown:
		return triggerDoc(actionShutdown, v.When)
	case Disconnect:
		if v.AfterBytes < 0 {
			return faultDoc{}, specErr(fieldAfterBytes, "must not be negative, got %d", v.AfterBytes)
		}
		if v.AfterBytes > 0 {
			// A cut by position uses only Times; the other selectors are
			// ignored by the server and left out here.
			d, err := triggerDoc(actionDisconnect, Trigger{Times: v.When.Times})
			n := v.AfterBytes
			d.AfterBytes = &n
			return d, err
		}
		return triggerDoc(actionDisconnect, v.When)
	case Delay:
		d, err := triggerDoc(actionDelay, v.When)
		d.Delay = v.Duration.String()
		return d, err
	case FeedbackCoalesce:
		return triggerDoc(actionFeedbackCoalesce, Trigger{Times: v.Times})
	case FeedbackSplit:
		return triggerDoc(actionFeedbackSplit, Trigger{Times: v.Times})
	case FeedbackCut:
		if v.AfterBytes < 0 {
			return faultDoc{}, specErr(fieldAfterBytes, "must not be negative, got %d", v.AfterBytes)
		}
		d, err := triggerDoc(actionFeedbackCut, Trigger{Times: v.Times})
		n := int64(v.AfterBytes)
		d.AfterBytes = &n // always written: 0 is a valid cut (close at once)
		return d, err
	}
	if f == nil {
		return faultDoc{}, specErr("", "nil fault")
	}
	return faultDoc{}, specErr("", "no JSON form for %T (pass fault values, not pointers)", f)
}

func triggerDoc(action string, t Trigger) (faultDoc, error) {
	d := faultDoc{Action: action, Nth: t.Nth, Probability: t.Probability}
	d.Token = t.Token.String()
	if t.Nth < 0 {
		return d, specErr(fieldNth, "must not be negative, got %d", t.Nth)
	}
	if math.IsNaN(t.Probability) || math.IsInf(t.Probability, 0) || t.Probability < 0 {
		return d, specErr(fieldProbability, "must be in (0, 1], got %v", t.Probability)
	}
	switch {
	case t.Times == Always:
		zero := 0
		d.Times = &zero
	case t.Times > 0:
		n := t.Times
		d.Times = &n
	case t.Times < Always:
		return d, specErr(fieldTimes, "must be Always (-1), 0 (once) or a positive count, got %d", t.Times)
	}
	return d, nil
}
