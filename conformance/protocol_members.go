package conformance

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apnskit/apnskit/apns"
)

// The members of each request of the line protocol, in the order Encode
// writes them. This table is the one place where a request member is
// defined: its name, the version that brought it, how the suite writes it
// from an Endpoint or a Batch and how an adapter reads it back, with its
// checks. A new Endpoint or Batch field crosses the line with one line
// here (and a row in conformance/README.md); the "every field crosses the
// line" spec fails until it has one.
var opSpecs = map[string]opSpec{
	OpHello: {lenient: true, members: []member{
		integer("protocol", 2, func(r *Request) *int { return &r.Protocol }, 1, math.MaxInt32),
		text("kit", 2, func(r *Request) *string { return &r.Kit }, nil),
	}},
	OpConfigure: {check: checkConfigure, members: []member{
		text("gateway", 1, func(r *Request) *string { return &r.Endpoint.Gateway }, checkAddr),
		text("feedback", 1, func(r *Request) *string { return &r.Endpoint.Feedback }, checkAddr),
		pemText("ca_pem", 1, func(r *Request) *[]byte { return &r.Endpoint.CAPEM }),
		pemText("cert_pem", 1, func(r *Request) *[]byte { return &r.Endpoint.CertPEM }),
		pemText("key_pem", 1, func(r *Request) *[]byte { return &r.Endpoint.KeyPEM }),
		millis("error_wait_ms", 1, func(r *Request) *time.Duration { return &r.Endpoint.ErrorWait }),
		{name: "transport", since: 3, derived: true,
			put:  func(r *Request) (any, bool) { return transportOf(r.Endpoint), true },
			take: func(d *decoding, raw json.RawMessage) error { return takeTransport(raw, &d.Transport) }},
		text("http2_addr", 3, func(r *Request) *string { return &r.Endpoint.HTTP2 }, checkAddr),
		{name: "http2_url", since: 3, derived: true,
			put: func(r *Request) (any, bool) {
				return (&url.URL{Scheme: "https", Host: r.Endpoint.HTTP2}).String(), r.Endpoint.HTTP2 != ""
			},
			take: takeHTTP2URL},
		{name: "auth", since: 3, derived: true,
			put: func(r *Request) (any, bool) {
				if len(r.Endpoint.AuthKeyPEM) > 0 {
					return authToken, r.Endpoint.HTTP2 != ""
				}
				return authCertificate, r.Endpoint.HTTP2 != ""
			},
			take: func(d *decoding, raw json.RawMessage) error {
				return takeEnum(raw, &d.auth, authCertificate, authToken)
			}},
		pemText("auth_key_pem", 3, func(r *Request) *[]byte { return &r.Endpoint.AuthKeyPEM }),
		text("key_id", 3, func(r *Request) *string { return &r.Endpoint.KeyID }, checkHeaderText),
		text("team_id", 3, func(r *Request) *string { return &r.Endpoint.TeamID }, checkHeaderText),
		millis("keepalive_ms", 3, func(r *Request) *time.Duration { return &r.Endpoint.KeepAlive }),
	}},
	OpSend: {check: checkSend, members: []member{
		{name: "tokens", since: 1,
			put: func(r *Request) (any, bool) { return r.Batch.Tokens, len(r.Batch.Tokens) > 0 },
			take: func(d *decoding, raw json.RawMessage) error {
				if err := decodeValue(raw, &d.Batch.Tokens); err != nil {
					return err
				}
				for i, t := range d.Batch.Tokens {
					if err := checkToken(t); err != nil {
						return fmt.Errorf("token %d: %w", i+1, err)
					}
				}
				return nil
			}},
		{name: "payload", since: 1,
			put: func(r *Request) (any, bool) {
				return json.RawMessage(r.Batch.Payload), len(r.Batch.Payload) > 0 && json.Valid(r.Batch.Payload)
			},
			take: func(d *decoding, raw json.RawMessage) error {
				d.payloadJSON = bytes.Clone(raw)
				return nil
			}},
		{name: "payload_text", since: 2, derived: true,
			put: func(r *Request) (any, bool) {
				return string(r.Batch.Payload), len(r.Batch.Payload) > 0 && utf8.Valid(r.Batch.Payload)
			},
			take: func(d *decoding, raw json.RawMessage) error {
				var s string
				if err := decodeValue(raw, &s); err != nil {
					return err
				}
				d.payloadText = &s
				return nil
			}},
		{name: "payload_base64", since: 2, derived: true,
			put: func(r *Request) (any, bool) {
				return base64.StdEncoding.EncodeToString(r.Batch.Payload), len(r.Batch.Payload) > 0
			},
			take: func(d *decoding, raw json.RawMessage) error {
				var s string
				if err := decodeValue(raw, &s); err != nil {
					return err
				}
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return fmt.Errorf("not standard base64: %v", err)
				}
				d.payloadBytes = append([]byte{}, b...)
				return nil
			}},
		integer("priority", 1, func(r *Request) *int { return &r.Batch.Priority }, 0, 255),
		{name: "expiry", since: 1,
			put: func(r *Request) (any, bool) { return r.Batch.Expiry.Unix(), !r.Batch.Expiry.IsZero() },
			take: func(d *decoding, raw json.RawMessage) error {
				var sec int64
				if err := decodeValue(raw, &sec); err != nil {
					return err
				}
				if sec < 0 || sec > math.MaxUint32 {
					return fmt.Errorf("%d: not a UNIX time from 0 to %d", sec, uint32(math.MaxUint32))
				}
				// Before version 3, 0 meant none; since, an absent
				// member means none and 0 is APNs' "now or never".
				if sec != 0 || d.version >= 3 {
					d.Batch.Expiry = time.Unix(sec, 0).UTC()
				}
				return nil
			}},
		{name: "command", since: 1,
			put: func(r *Request) (any, bool) { return r.Batch.Command, r.Batch.Command != nil },
			take: func(d *decoding, raw json.RawMessage) error {
				var c int
				if err := decodeValue(raw, &c); err != nil {
					return err
				}
				if c < 0 || c > 255 {
					return fmt.Errorf("%d: not a command (0 to 255)", c)
				}
				d.Batch.Command = &c
				return nil
			}},
		text("gateway", 1, func(r *Request) *string { return &r.Batch.Gateway }, checkAddr),
		pemText("cert_pem", 1, func(r *Request) *[]byte { return &r.Batch.CertPEM }),
		pemText("key_pem", 1, func(r *Request) *[]byte { return &r.Batch.KeyPEM }),
		{name: "transport", since: 3,
			put:  func(r *Request) (any, bool) { return r.Transport, r.Transport != "" },
			take: func(d *decoding, raw json.RawMessage) error { return takeTransport(raw, &d.Transport) }},
		text("topic", 3, func(r *Request) *string { return &r.Batch.Topic }, checkHeaderText),
		text("push_type", 3, func(r *Request) *string { return &r.Batch.PushType }, checkHeaderText),
		text("collapse_id", 3, func(r *Request) *string { return &r.Batch.CollapseID }, checkHeaderText),
	}},
	OpFeedback: {},
	OpOutdate: {members: []member{
		millis("idle_ms", 1, func(r *Request) *time.Duration { return &r.Idle }),
	}},
	OpShutdown: {},
	OpClose:    {},
	OpClock: {since: 3, check: checkClock, members: []member{
		{name: "now", since: 3,
			put:  func(r *Request) (any, bool) { return r.Now.UTC().Format(time.RFC3339Nano), !r.Now.IsZero() },
			take: takeNow},
	}},
}

// Values of configure's auth member.
const (
	authCertificate = "certificate"
	authToken       = "token"
)

// opSpec is what a request of one operation may carry.
type opSpec struct {
	// since is the protocol version that brought the operation (0: 1);
	// at an earlier one it is unknown, and answered unsupported.
	since   int
	members []member
	// lenient: unknown members are ignored rather than refused (hello
	// only: a later version may add to it, and it is read before the
	// version is known).
	lenient bool
	// check applies the rules between members, once all are read.
	check func(d *decoding) error
}

func (s opSpec) member(name string) (member, bool) {
	for _, m := range s.members {
		if m.name == name {
			return m, true
		}
	}
	return member{}, false
}

// names lists the members, for an error.
func (s opSpec) names() string {
	if len(s.members) == 0 {
		return "no other member than id and op"
	}
	names := make([]string, len(s.members))
	for i, m := range s.members {
		names[i] = m.name
	}
	return "id, op, " + strings.Join(names, ", ")
}

// member is one member of a request.
type member struct {
	name  string
	since int // the protocol version that brought it
	// derived: the member says again what others say, for adapters'
	// convenience; below its version it is left out rather than refused.
	derived bool
	// put returns the member's value for json.Marshal, and whether the
	// request carries it.
	put func(r *Request) (any, bool)
	// take reads the member's value into d.
	take func(d *decoding, raw json.RawMessage) error
}

// decodeValue unmarshals raw into v, refusing null: a member without a
// value is left out.
func decodeValue(raw json.RawMessage, v any) error {
	if string(raw) == "null" {
		return errors.New("null (leave the member out instead)")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s where %s is expected", clip(raw), te.Type)
		}
		return err
	}
	return nil
}

// text is a string member, absent when "", checked by valid when not nil.
func text(name string, since int, f func(*Request) *string, valid func(string) error) member {
	return member{name: name, since: since,
		put: func(r *Request) (any, bool) { s := *f(r); return s, s != "" },
		take: func(d *decoding, raw json.RawMessage) error {
			var s string
			if err := decodeValue(raw, &s); err != nil {
				return err
			}
			if valid != nil {
				if err := valid(s); err != nil {
					return err
				}
			}
			*f(&d.Request) = s
			return nil
		}}
}

// integer is an int member from lo to hi, absent when 0.
func integer(name string, since int, f func(*Request) *int, lo, hi int) member {
	return member{name: name, since: since,
		put: func(r *Request) (any, bool) { n := *f(r); return n, n != 0 },
		take: func(d *decoding, raw json.RawMessage) error {
			var n int
			if err := decodeValue(raw, &n); err != nil {
				return err
			}
			if n != 0 && (n < lo || n > hi) {
				return fmt.Errorf("%d: out of range (%d to %d)", n, lo, hi)
			}
			*f(&d.Request) = n
			return nil
		}}
}

// pemText is PEM text as a string member, absent when empty: it must hold
// at least one PEM block.
func pemText(name string, since int, f func(*Request) *[]byte) member {
	return member{name: name, since: since,
		put: func(r *Request) (any, bool) { b := *f(r); return string(b), len(b) > 0 },
		take: func(d *decoding, raw json.RawMessage) error {
			var s string
			if err := decodeValue(raw, &s); err != nil {
				return err
			}
			if block, _ := pem.Decode([]byte(s)); block == nil {
				return errors.New("no PEM block in it")
			}
			*f(&d.Request) = []byte(s)
			return nil
		}}
}

// maxMillis bounds the durations of the protocol.
const maxMillis = int64(24 * time.Hour / time.Millisecond)

// millis is a duration as whole milliseconds (rounded up), absent when 0.
func millis(name string, since int, f func(*Request) *time.Duration) member {
	return member{name: name, since: since,
		put: func(r *Request) (any, bool) {
			d := *f(r)
			return (d + time.Millisecond - 1) / time.Millisecond, d > 0
		},
		take: func(d *decoding, raw json.RawMessage) error {
			var ms int64
			if err := decodeValue(raw, &ms); err != nil {
				return err
			}
			if ms < 0 || ms > maxMillis {
				return fmt.Errorf("%d: out of range (0 to %d milliseconds)", ms, maxMillis)
			}
			*f(&d.Request) = time.Duration(ms) * time.Millisecond
			return nil
		}}
}

func takeEnum(raw json.RawMessage, dst *string, values ...string) error {
	var s string
	if err := decodeValue(raw, &s); err != nil {
		return err
	}
	for _, v := range values {
		if s == v {
			*dst = s
			return nil
		}
	}
	return fmt.Errorf("%q: not one of %q", s, values)
}

func takeTransport(raw json.RawMessage, dst *Transport) error {
	var s string
	if err := takeEnum(raw, &s, string(TransportBinary), string(TransportHTTP2)); err != nil {
		return err
	}
	*dst = Transport(s)
	return nil
}

func takeHTTP2URL(d *decoding, raw json.RawMessage) error {
	var s string
	if err := decodeValue(raw, &s); err != nil {
		return err
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: not https://HOST:PORT", s)
	}
	if err := checkAddr(u.Host); err != nil {
		return err
	}
	d.http2URL = u.Host
	return nil
}

// The times clock's now may name: JSON web tokens count seconds from 1970,
// and an adapter keeps the lead of now on its own clock, which must fit a
// time.Duration.
var (
	minNow = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxNow = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// takeNow reads clock's now: an RFC 3339 time (fractions of a second
// allowed) from 1970 to 2199.
func takeNow(d *decoding, raw json.RawMessage) error {
	var s string
	if err := decodeValue(raw, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("%q: not an RFC 3339 time such as 2026-12-02T23:15:00.5Z", s)
	}
	if t.Before(minNow) || !t.Before(maxNow) {
		return fmt.Errorf("%q: not a time from 1970 to 2199", s)
	}
	d.Now = t.UTC()
	return nil
}

// checkClock: a clock request says what time it is.
func checkClock(d *decoding) error {
	if !d.seen["now"] {
		return errors.New(`clock needs "now"`)
	}
	return nil
}

// checkAddr accepts HOST:PORT with a numeric port.
func checkAddr(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q: not HOST:PORT", s)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("%q: the port is not a number from 1 to 65535", s)
	}
	return nil
}

// checkHeaderText accepts a non-empty string that can go in an HTTP/2
// header or a JSON web token unchanged: no control character. Whether APNs
// likes it (a topic it knows, a push type it has, a collapse id short
// enough) is for APNs to answer, and for scenarios to check.
func checkHeaderText(s string) error {
	if s == "" {
		return errors.New("empty (leave the member out instead)")
	}
	for _, c := range []byte(s) {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("%q: a control character", s)
		}
	}
	return nil
}

// checkToken accepts a device token in hex, as apns.ParseToken does.
func checkToken(s string) error {
	var buf [apns.MaxTokenLength]byte
	_, err := apns.AppendParsedToken(buf[:0], s)
	return err
}

// configureHTTP2Only are the members of configure that belong to the
// HTTP/2 transport, and authTokenOnly those of the token authentication.
var (
	configureHTTP2Only = []string{"http2_addr", "http2_url", "auth", "auth_key_pem", "key_id", "team_id"}
	authTokenOnly      = []string{"auth_key_pem", "key_id", "team_id"}
)

// checkConfigure: the HTTP/2 members come with transport http2 only, which
// needs an address and an authentication, and each authentication its
// credentials.
func checkConfigure(d *decoding) error {
	ep := &d.Endpoint
	tr := d.Transport
	d.Transport = "" // configure's transport is the endpoint's
	if d.http2URL != "" {
		if ep.HTTP2 != "" && ep.HTTP2 != d.http2URL {
			return fmt.Errorf("http2_url names %s and http2_addr %s", d.http2URL, ep.HTTP2)
		}
		ep.HTTP2 = d.http2URL
	}
	if tr != TransportHTTP2 {
		for _, name := range configureHTTP2Only {
			if d.seen[name] {
				return fmt.Errorf("member %q needs transport %q", name, TransportHTTP2)
			}
		}
		return nil
	}
	switch {
	case ep.HTTP2 == "":
		return errors.New("transport http2 needs http2_addr (or http2_url)")
	case d.auth == "":
		return errors.New(`transport http2 needs auth ("certificate" or "token")`)
	case d.auth == authCertificate && len(ep.CertPEM) == 0:
		return errors.New("auth certificate needs cert_pem")
	case d.auth == authToken && (len(ep.AuthKeyPEM) == 0 || ep.KeyID == "" || ep.TeamID == ""):
		return errors.New("auth token needs auth_key_pem, key_id and team_id")
	}
	if d.auth == authCertificate {
		for _, name := range authTokenOnly {
			if d.seen[name] {
				return fmt.Errorf("member %q needs auth %q", name, authToken)
			}
		}
	}
	return nil
}

// checkSend: the payload is the exact bytes of payload_base64, else of
// payload_text, else of payload; the members given must agree.
func checkSend(d *decoding) error {
	var exact []byte
	switch {
	case d.payloadBytes != nil:
		exact = d.payloadBytes
		if d.payloadText != nil && *d.payloadText != string(exact) {
			return errors.New("payload_text and payload_base64 are not the same bytes")
		}
	case d.payloadText != nil:
		exact = []byte(*d.payloadText)
	case d.payloadJSON != nil:
		d.Batch.Payload = d.payloadJSON
		return nil
	default:
		return nil
	}
	if d.payloadJSON != nil {
		var a, b bytes.Buffer
		if json.Compact(&a, exact) != nil || json.Compact(&b, d.payloadJSON) != nil || !bytes.Equal(a.Bytes(), b.Bytes()) {
			return errors.New("payload is not the JSON of the exact bytes (payload_text, payload_base64)")
		}
	}
	d.Batch.Payload = exact
	return nil
}
