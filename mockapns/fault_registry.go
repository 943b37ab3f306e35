package mockapns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// The fault registry: every fault type, with its JSON action name, its
// members and its checks, in one list. The JSON form is the body of POST
// /api/v1/faults, the value of cmd/mockapns -fault and the "fault" member
// of GET /api/v1/faults:
//
//	{"action": "reject",      "status": 8, "token": "HEX"}
//	{"action": "reject",      "reason": "BadDeviceToken", "token": "HEX"}
//	{"action": "reject",      "status": 7, "probability": 0.01, "times": 0}
//	{"action": "shutdown",    "nth": 100}
//	{"action": "disconnect",  "nth": 50}
//	{"action": "disconnect",  "after_bytes": 4096}
//	{"action": "delay",       "delay": "200ms", "nth": 1, "protocol": "http2"}
//	{"action": "goaway",      "nth": 500, "reason": "Shutdown"}
//	{"action": "max_streams", "nth": 1, "streams": 1}
//	{"action": "rst_stream",  "nth": 10}
//	{"action": "idle_timeout", "after": "2s", "protocol": "http2"}
//	{"action": "feedback_cut", "after_bytes": 45}
//
// Adding a fault type takes the type (a Fault with a spec method
// returning a pointer to a copy of itself, and the faultSpec methods on
// that pointer) and one line in faultTypes.

// faultTypes lists every fault type, each by a zero value; the JSON action
// names and members come from the types.
var faultTypes = []faultSpec{
	new(Reject),
	new(Shutdown),
	new(Disconnect),
	new(Delay),
	new(GoAway),
	new(MaxStreams),
	new(RstStream),
	new(IdleTimeout),
	new(FeedbackCoalesce),
	new(FeedbackSplit),
	new(FeedbackCut),
}

// faultSpec is what each fault type tells the registry, implemented by a
// pointer to the type.
type faultSpec interface {
	// action is the JSON name of the type ("reject").
	action() string
	// members are the JSON members of the type, bound to the fields of the
	// value, in the order they are written.
	members() []member
	// check reports what is wrong with the value: a *FaultSpecError naming
	// the JSON member, or nil.
	check() error
	// rule says how the fault set matches and fires the (checked) value.
	rule() rule
	// fault returns the value.
	fault() Fault
}

// jsonChecker is implemented by fault types whose JSON form has rules on
// which members are given together, beyond those of the Go value.
type jsonChecker interface {
	checkJSON(given func(name string) bool) error
}

// registry indexes faultTypes.
var registry = func() struct {
	byAction map[string]func() faultSpec
	actions  []string
	members  []string // every member name, sorted, "action" first
} {
	var r struct {
		byAction map[string]func() faultSpec
		actions  []string
		members  []string
	}
	r.byAction = map[string]func() faultSpec{}
	seen := map[string]bool{}
	for _, t := range faultTypes {
		proto := t
		r.byAction[t.action()] = func() faultSpec { return proto.fault().spec() }
		r.actions = append(r.actions, t.action())
		for _, m := range t.members() {
			if !seen[m.name] {
				seen[m.name] = true
				r.members = append(r.members, m.name)
			}
		}
	}
	slices.Sort(r.members)
	r.members = append([]string{fieldAction}, r.members...)
	return r
}()

// fieldAction is the member that names the fault type.
const fieldAction = "action"

// ruleOf checks f and returns its rule.
func ruleOf(f Fault) (rule, error) {
	if f == nil {
		return rule{}, specErr("", "nil fault")
	}
	if reflect.TypeOf(f).Kind() == reflect.Pointer {
		return rule{}, specErr("", "pass fault values, not pointers (%T)", f)
	}
	s := f.spec()
	if err := s.check(); err != nil {
		return rule{}, err
	}
	return s.rule(), nil
}

// FaultSpecError names the member of a fault's JSON form that is wrong and
// why; it wraps [ErrBadFault]. Field is the path of the JSON member
// ("status", "nth", …), or empty when the document as a whole is at fault
// (not JSON, not an object, several values, a nil fault).
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

// ParseFault decodes the JSON form of a fault. It is strict: exactly one
// JSON object; every member known, present at most once (names match
// exactly, case included), of the right type and meaningful for the
// action; "action" required; the other rules are each type's (see the
// doc of each Fault type for the members it reads). "times" is a [Count]:
// absent means once, 0 every time, n n times.
//
// Errors are a [*FaultSpecError] naming the member, wrapping [ErrBadFault].
func ParseFault(data []byte) (Fault, error) {
	members, err := readObject(data)
	if err != nil {
		return nil, err
	}
	raw, ok := members.get(fieldAction)
	if !ok {
		return nil, specErr(fieldAction, "required (one of %s)", strings.Join(registry.actions, ", "))
	}
	var action string
	if err := decodeValue(fieldAction, raw, &action); err != nil {
		return nil, err
	}
	newSpec, ok := registry.byAction[action]
	if !ok {
		return nil, specErr(fieldAction, "unknown action %q (want %s)", action, strings.Join(registry.actions, ", "))
	}
	s := newSpec()
	if err := decodeMembers(s, action, members); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.fault(), nil
}

// decodeMembers decodes the members of a document for action into s,
// through the type's member table.
func decodeMembers(s faultSpec, action string, members rawMembers) error {
	table := s.members()
	for _, m := range members {
		if m.name != fieldAction && !slices.ContainsFunc(table, func(t member) bool { return t.name == m.name }) {
			return specErr(m.name, "not allowed with action %q", action)
		}
	}
	for _, t := range table {
		raw, given := members.get(t.name)
		switch {
		case !given && t.required:
			return specErr(t.name, "required for action %q (%s)", action, t.hint)
		case !given:
			continue
		}
		if err := t.decode(raw); err != nil {
			return err
		}
	}
	if jc, ok := s.(jsonChecker); ok {
		return jc.checkJSON(func(name string) bool { _, ok := members.get(name); return ok })
	}
	return nil
}

// MarshalFault returns the JSON form of f, the one [ParseFault] reads:
// ParseFault(MarshalFault(f)) gives f back, except that the selectors a
// Disconnect with AfterBytes ignores (Token, Nth, Probability) are left
// out. Values that are not valid faults (a nil fault or a pointer, a
// Reject with neither status nor reason, a negative Nth, a negative
// Times, …) are refused with a [*FaultSpecError].
func MarshalFault(f Fault) ([]byte, error) {
	if _, err := ruleOf(f); err != nil {
		return nil, err
	}
	s := f.spec()
	var b bytes.Buffer
	b.WriteString(`{"action":`)
	b.Write(strconv.AppendQuote(nil, s.action()))
	for _, m := range s.members() {
		if !m.written() {
			continue
		}
		v, err := json.Marshal(m.encode())
		if err != nil { // cannot happen: strings, numbers and finite floats only
			return nil, fmt.Errorf("%w: %s: %w", ErrBadFault, m.name, err)
		}
		b.WriteByte(',')
		b.Write(strconv.AppendQuote(nil, m.name))
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	// The parser is the one definition of a valid fault: what it refuses
	// was not a fault the JSON form (and so the admin API) can carry.
	if _, err := ParseFault(b.Bytes()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// rawMember is one member of a JSON object, undecoded.
type rawMember struct {
	name string
	raw  json.RawMessage
}

type rawMembers []rawMember

func (ms rawMembers) get(name string) (json.RawMessage, bool) {
	for _, m := range ms {
		if m.name == name {
			return m.raw, true
		}
	}
	return nil, false
}

// readObject checks that data is exactly one JSON object whose member
// names are members of some fault type and unique, and returns the
// members undecoded, in document order. It walks encoding/json's tokens,
// so that every error can name its member and duplicates and case
// variants ("Action") are refused rather than merged.
func readObject(data []byte) (rawMembers, error) {
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
	var members rawMembers
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, specErr("", "invalid JSON: %s", jsonReason(err))
		}
		name, _ := tok.(string) // the decoder yields only strings as names
		if !slices.Contains(registry.members, name) {
			return nil, specErr(name, "unknown field (known: %s)", strings.Join(registry.members, ", "))
		}
		if _, dup := members.get(name); dup {
			return nil, specErr(name, "given more than once")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, specErr(name, "invalid JSON value: %s", jsonReason(err))
		}
		members = append(members, rawMember{name: name, raw: bytes.TrimSpace(raw)})
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

// decodeValue decodes one member value into v, refusing null and values
// of the wrong JSON type, with errors naming the member.
func decodeValue(name string, raw json.RawMessage, v any) error {
	if bytes.Equal(raw, jsonNullValue) {
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
	return strings.TrimPrefix(err.Error(), "json: ")
}

func truncate(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
