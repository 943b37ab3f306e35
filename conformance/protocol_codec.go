package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// ErrProtocol is wrapped by the errors of a line of the protocol that
// breaks its rules: a member its request or response cannot carry, a member
// of a later version than the one negotiated, a value out of range, members
// that contradict each other, a request that is not a JSON object.
var ErrProtocol = errors.New("conformance: line protocol error")

// Request is one line sent to an external adapter: an operation (Op), its
// ID, and the values of that operation. Its JSON form is the line protocol's
// (conformance/README.md), written by [Request.Encode] for the version both
// sides speak and read by [DecodeRequest]; json.Marshal and json.Unmarshal
// use them at [ProtocolVersion].
type Request struct {
	ID int64
	Op string

	// hello: the protocol version the suite speaks, and the kit's version.
	Protocol int
	Kit      string

	// configure: where the client sends and its credentials.
	Endpoint Endpoint

	// send: the batch, and the API it goes over ("" in Go: the configured
	// one). On the line, configure carries the transport too, derived
	// from Endpoint.HTTP2.
	Batch     Batch
	Transport Transport

	// outdate: how long a connection must have been idle to be closed.
	Idle time.Duration

	// clock: the time of the kit's clock (Endpoint.Clock) now, which an
	// adapter with [CapClock] dates its provider tokens by from then on.
	Now time.Time
}

// Transport is the APNs API a client sends over.
type Transport string

// Transports.
const (
	// TransportBinary is the binary provider API (the gateway, command 2).
	TransportBinary Transport = "binary"
	// TransportHTTP2 is the HTTP/2 provider API (Endpoint.HTTP2).
	TransportHTTP2 Transport = "http2"
)

// transportOf is the API ep sends over.
func transportOf(ep Endpoint) Transport {
	if ep.HTTP2 != "" {
		return TransportHTTP2
	}
	return TransportBinary
}

// MarshalJSON encodes r at [ProtocolVersion].
func (r Request) MarshalJSON() ([]byte, error) { return r.Encode(ProtocolVersion) }

// UnmarshalJSON decodes a request at [ProtocolVersion].
func (r *Request) UnmarshalJSON(b []byte) error {
	d, err := DecodeRequest(b, ProtocolVersion)
	if err != nil {
		return err
	}
	*r = d
	return nil
}

// Encode writes r as one line of protocol version (without the final
// newline), its members in the order of the protocol's tables. A value the
// version cannot carry (an HTTP/2 endpoint below version 3) is an error
// wrapping ErrUnsupported, not a silent loss; an operation the suite does
// not know is written with its id and op alone.
func (r Request) Encode(version int) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"id":`)
	b.WriteString(strconv.FormatInt(r.ID, 10))
	b.WriteString(`,"op":`)
	op, _ := json.Marshal(r.Op)
	b.Write(op)
	spec := opSpecs[r.Op]
	if spec.since > version {
		return nil, fmt.Errorf("%s needs protocol %d, and this exchange speaks %d: %w", r.Op, spec.since, version, ErrUnsupported)
	}
	for _, m := range spec.members {
		v, ok := m.put(&r)
		if !ok {
			continue
		}
		if m.since > version && !spec.lenient { // hello says the same to every version
			if m.derived {
				continue
			}
			return nil, fmt.Errorf("%s: %s needs protocol %d, and this exchange speaks %d: %w", r.Op, m.name, m.since, version, ErrUnsupported)
		}
		val, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %s: %w", ErrProtocol, r.Op, m.name, err)
		}
		b.WriteString(`,"`)
		b.WriteString(m.name)
		b.WriteString(`":`)
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// DecodeRequest reads one line of protocol version. Every member must be
// one of its operation's, of that version or an earlier one, once, with a
// value in range, and the members must agree with each other; otherwise
// the error wraps ErrProtocol and names the member. The returned request
// has the line's ID whenever the line has a readable one, so that the
// error can be answered to it. hello is the exception: being how the two
// sides learn each other's version, it ignores members it does not know.
// An operation not in the protocol, or of a later version, is returned with
// its ID and Op alone, its members unread, for the adapter to answer
// unsupported.
func DecodeRequest(line []byte, version int) (Request, error) {
	var r Request
	fail := func(format string, args ...any) (Request, error) {
		op := r.Op
		if op == "" {
			op = "request"
		}
		return r, fmt.Errorf("%w: %s: %s", ErrProtocol, op, fmt.Sprintf(format, args...))
	}
	members, err := scanObject(line)
	if err != nil {
		// Answer it to its id if the line starts with an object that has
		// one, however wrong the rest.
		var head struct {
			ID int64 `json:"id"`
		}
		if json.NewDecoder(bytes.NewReader(line)).Decode(&head) == nil {
			r.ID = head.ID
		}
		return fail("%v", err)
	}
	var hasID, hasOp bool
	for _, m := range members {
		switch m.name {
		case "id":
			if err := json.Unmarshal(m.raw, &r.ID); err != nil {
				return fail("member \"id\": not an integer: %s", clip(m.raw))
			}
			hasID = true
		case "op":
			if err := json.Unmarshal(m.raw, &r.Op); err != nil {
				return fail("member \"op\": not a string: %s", clip(m.raw))
			}
			hasOp = true
		}
	}
	if !hasID {
		return fail("no member \"id\"")
	}
	if !hasOp || r.Op == "" {
		return fail("no member \"op\"")
	}
	spec, ok := opSpecs[r.Op]
	if !ok || spec.since > version {
		return r, nil // not an operation of this version: unsupported
	}
	d := &decoding{version: version, seen: map[string]bool{}}
	d.ID, d.Op = r.ID, r.Op
	for _, raw := range members {
		if raw.name == "id" || raw.name == "op" {
			continue
		}
		m, ok := spec.member(raw.name)
		switch {
		case !ok && spec.lenient:
			continue
		case !ok:
			return fail("unknown member %q (a %s request has %s)", raw.name, r.Op, spec.names())
		case m.since > version && !spec.lenient:
			return fail("member %q is protocol %d's, and this exchange speaks %d", raw.name, m.since, version)
		}
		if err := m.take(d, raw.raw); err != nil {
			return fail("member %q: %v", raw.name, err)
		}
		d.seen[raw.name] = true
	}
	if spec.check != nil {
		if err := spec.check(d); err != nil {
			r = d.Request
			return fail("%v", err)
		}
	}
	return d.Request, nil
}

// decoding is a request being decoded: what its members set, and the
// members that only say something about the others.
type decoding struct {
	Request
	version int
	seen    map[string]bool

	auth         string          // configure: "certificate" or "token"
	http2URL     string          // configure: the HTTP/2 address from http2_url
	payloadJSON  json.RawMessage // send: payload
	payloadText  *string         // send: payload_text
	payloadBytes []byte          // send: payload_base64, decoded
}

// rawMember is one member of a JSON object, its value unread.
type rawMember struct {
	name string
	raw  json.RawMessage
}

// scanObject splits a JSON object into its members, in order, refusing
// anything else, a name given twice and anything after the object.
func scanObject(line []byte) ([]rawMember, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var out []rawMember
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("not JSON: a member name that is not a string")
		}
		if seen[name] {
			return nil, fmt.Errorf("member %q given twice", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("member %q: not JSON: %v", name, err)
		}
		out = append(out, rawMember{name: name, raw: raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("something after the JSON object")
	}
	return out, nil
}

// clip shortens a value quoted in an error.
func clip(raw []byte) string {
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "..."
	}
	return string(raw)
}

// checkResponse holds a response line of protocol version 3 or later to
// the rules of the response to op: only the members of op's response, none
// unknown in the outcome, tuples or entries, each value in range. Earlier
// versions promised adapters that unknown members are ignored, so their
// responses are not checked; nor is hello's, read before the version is
// known (a later version may add to it).
func checkResponse(op string, line []byte, version int) error {
	if version < 3 || op == OpHello {
		return nil
	}
	members, err := scanObject(line)
	if err != nil {
		return err
	}
	allowed := responseMembers[op]
	for _, m := range members {
		switch m.name {
		case "id", "ok", "error", "unsupported":
		default:
			if !allowed[m.name] {
				return fmt.Errorf("member %q is not in a %s response", m.name, op)
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var resp Response
	if err := dec.Decode(&resp); err != nil {
		return err
	}
	if resp.Outcome != nil {
		if err := resp.Outcome.check(); err != nil {
			return fmt.Errorf("outcome: %w", err)
		}
	}
	for i, t := range resp.Tuples {
		if err := checkToken(t.Token); err != nil {
			return fmt.Errorf("tuples[%d]: token: %w", i, err)
		}
	}
	if resp.Closed < 0 {
		return fmt.Errorf("closed: %d, below 0", resp.Closed)
	}
	return nil
}

// responseMembers are the members of each operation's response besides
// id, ok, error and unsupported.
var responseMembers = map[string]map[string]bool{
	OpHello:    {"protocol": true, "name": true, "version": true, "capabilities": true},
	OpSend:     {"outcome": true},
	OpFeedback: {"tuples": true},
	OpOutdate:  {"closed": true},
}

// check holds an outcome read from an adapter to the ranges of its values.
func (o *Outcome) check() error {
	for i, f := range o.Failed {
		if f.Token == "" {
			return fmt.Errorf("failed[%d]: no token", i)
		}
		if f.Status < 0 || f.Status > 599 {
			return fmt.Errorf("failed[%d]: status %d, not a binary status (0 to 255) nor an HTTP one (100 to 599)", i, f.Status)
		}
	}
	for i, s := range o.Statuses {
		if s < 0 || s > 599 {
			return fmt.Errorf("statuses[%d]: %d, not a binary status (0 to 255) nor an HTTP one (100 to 599)", i, s)
		}
	}
	for i, r := range o.Reasons {
		switch {
		case r.Token == "":
			return fmt.Errorf("reasons[%d]: no token", i)
		case r.Reason == "":
			return fmt.Errorf("reasons[%d]: no reason", i)
		case r.HTTPStatus != 0 && (r.HTTPStatus < 100 || r.HTTPStatus > 599):
			// 0: no response, the GOAWAY that ended the connection refused it
			return fmt.Errorf("reasons[%d]: http_status %d, neither an HTTP status nor 0 (a GOAWAY's refusal)", i, r.HTTPStatus)
		}
	}
	if o.Attempts < 0 {
		return fmt.Errorf("attempts: %d, below 0", o.Attempts)
	}
	return nil
}
