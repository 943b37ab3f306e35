package mockapns

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// DefaultJournalSize is the number of journal entries kept when
// Config.JournalSize is 0.
const DefaultJournalSize = 100000

// AuthMethod is how an HTTP/2 connection authenticated its requests.
type AuthMethod uint8

// Authentication methods. Binary entries have none.
const (
	AuthNone          AuthMethod = iota // not applicable (binary entries)
	AuthCertificate                     // a client certificate
	AuthProviderToken                   // a JWT provider token
)

// String returns "certificate", "token" or "" for AuthNone.
func (a AuthMethod) String() string {
	switch a {
	case AuthCertificate:
		return "certificate"
	case AuthProviderToken:
		return "token"
	}
	return ""
}

// Entry is one notification in the journal, whichever protocol carried it.
//
// Status is 0 for an accepted notification. Otherwise, for the binary
// protocol, it is the status the gateway answered (for a command-0
// notification, which is refused by closing without a word, the status it
// would have answered; for a notification cut by a [Shutdown] fault, 10);
// for HTTP/2 it is the HTTP status of the answer, as in HTTPStatus.
// [Entry.Outcome] gives the refusal as a protocol-neutral [apns.Outcome].
//
// The fields marked "binary" are zero for HTTP/2 entries, and those marked
// "HTTP/2" are zero for binary ones.
type Entry struct {
	Seq      uint64        // 1-based, never reused; restarts at 1 after Reset
	Conn     uint64        // connection number of its service (gateway or HTTP/2), 1-based
	Protocol apns.Protocol // apns.Binary or apns.HTTP2
	Command  wire.Command  // binary: 0, 1 or 2
	ID       uint32        // binary: the identifier (0 for command 0 or none)
	APNsID   string        // HTTP/2: the apns-id header, or the one the mock generated
	// Token holds the device token's bytes as received: a binary frame
	// may carry up to 65535 bytes (or none) when validation is relaxed,
	// more than an [apns.Token] holds. JSON: lower-case hex.
	Token      []byte
	Payload    []byte        // payload as sent; JSON: embedded if valid JSON, else a string
	Expiry     uint32        // binary: UNIX seconds
	Expiration *int64        // HTTP/2: apns-expiration in UNIX seconds; nil if the header was absent
	Priority   apns.Priority // the priority item or apns-priority header; absent if not sent
	Topic      string        // HTTP/2: apns-topic
	PushType   string        // HTTP/2: apns-push-type
	CollapseID string        // HTTP/2: apns-collapse-id
	Auth       AuthMethod    // HTTP/2: how the connection authenticated
	ReceivedAt time.Time     // when the read that carried it completed
	Status     int           // 0 accepted; else the binary status or the HTTP status answered
	HTTPStatus int           // HTTP/2: the HTTP status answered (200 when accepted)
	Reason     apns.Reason   // HTTP/2: the reason answered; "" when accepted
}

// Accepted reports whether the notification was accepted.
func (e *Entry) Accepted() bool { return e.Status == 0 }

// Outcome is the refusal as a protocol-neutral code: a [wire.Status] for a
// binary entry, an [apns.Reason] for an HTTP/2 one, nil when accepted.
func (e *Entry) Outcome() apns.Outcome {
	switch {
	case e.Status == 0:
		return nil
	case e.Protocol == apns.HTTP2:
		return e.Reason
	}
	return wire.Status(e.Status)
}

// Identifier is the notification's identifier as text: the apns-id of an
// HTTP/2 entry, the decimal binary identifier of a binary one.
func (e *Entry) Identifier() string {
	if e.Protocol == apns.HTTP2 {
		return e.APNsID
	}
	return strconv.FormatUint(uint64(e.ID), 10)
}

// entryJSON is the JSON form of an Entry. The binary members are always
// written for binary entries, the HTTP/2 members for HTTP/2 entries.
type entryJSON struct {
	Seq        uint64           `json:"seq"`
	Conn       uint64           `json:"conn"`
	Protocol   string           `json:"protocol"`
	Command    *uint8           `json:"command,omitempty"`
	ID         *uint32          `json:"id,omitempty"`
	APNsID     *string          `json:"apns_id,omitempty"`
	Token      string           `json:"token"`
	Payload    json.RawMessage  `json:"payload"`
	Expiry     *uint32          `json:"expiry,omitempty"`
	Topic      *string          `json:"topic,omitempty"`
	PushType   *string          `json:"push_type,omitempty"`
	CollapseID *string          `json:"collapse_id,omitempty"`
	Expiration *json.RawMessage `json:"expiration,omitempty"`
	Priority   uint8            `json:"priority"`
	Auth       *string          `json:"auth,omitempty"`
	ReceivedAt string           `json:"received_at"`
	Status     int              `json:"status"`
	HTTPStatus *int             `json:"http_status,omitempty"`
	Reason     *string          `json:"reason,omitempty"`
}

var jsonNullValue = json.RawMessage("null")

// MarshalJSON renders the entry in the admin API's form: token as lower-case
// hex, payload embedded as JSON when it is valid JSON (else as a JSON
// string), received_at in RFC 3339 with nanoseconds, command and status as
// numbers, priority as a number (0 when absent). A binary entry has
// command, id and expiry; an HTTP/2 entry has apns_id, topic, push_type,
// collapse_id, expiration (null when absent), auth, http_status and reason.
func (e Entry) MarshalJSON() ([]byte, error) {
	prio, _ := e.Priority.Value()
	j := entryJSON{
		Seq: e.Seq, Conn: e.Conn, Token: hex.EncodeToString(e.Token), Priority: prio,
		ReceivedAt: e.ReceivedAt.Format(time.RFC3339Nano), Status: e.Status,
	}
	if e.Protocol == apns.HTTP2 {
		j.Protocol = apns.HTTP2.String()
		auth, reason := e.Auth.String(), string(e.Reason)
		exp := jsonNullValue
		if e.Expiration != nil {
			exp = strconv.AppendInt(nil, *e.Expiration, 10)
		}
		j.APNsID, j.Topic, j.PushType, j.CollapseID = &e.APNsID, &e.Topic, &e.PushType, &e.CollapseID
		j.Expiration, j.Auth, j.HTTPStatus, j.Reason = &exp, &auth, &e.HTTPStatus, &reason
	} else {
		j.Protocol = apns.Binary.String()
		cmd := uint8(e.Command)
		j.Command, j.ID, j.Expiry = &cmd, &e.ID, &e.Expiry
	}
	if len(e.Payload) > 0 && json.Valid(e.Payload) {
		j.Payload = e.Payload
	} else {
		s, err := json.Marshal(string(e.Payload))
		if err != nil {
			return nil, err
		}
		j.Payload = s
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form MarshalJSON writes. A payload given as a JSON
// string is taken as the string's bytes; any other JSON value as its text.
// An entry without "protocol" is a binary one; priority 0 reads as absent.
func (e *Entry) UnmarshalJSON(data []byte) error {
	var j entryJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	out := Entry{Seq: j.Seq, Conn: j.Conn, Protocol: apns.Binary, Status: j.Status}
	if j.Protocol != "" {
		if err := out.Protocol.UnmarshalText([]byte(j.Protocol)); err != nil {
			return fmt.Errorf("mockapns: entry protocol: %w", err)
		}
	}
	var err error
	if out.Token, err = hex.DecodeString(j.Token); err != nil {
		return fmt.Errorf("mockapns: entry token: %w", err)
	}
	if j.ReceivedAt != "" {
		if out.ReceivedAt, err = time.Parse(time.RFC3339Nano, j.ReceivedAt); err != nil {
			return fmt.Errorf("mockapns: entry received_at: %w", err)
		}
	}
	if out.Payload, err = payloadOf(j.Payload); err != nil {
		return err
	}
	if j.Priority != 0 {
		out.Priority = apns.NewPriority(j.Priority)
	}
	out.Command, out.ID, out.Expiry = wire.Command(deref(j.Command)), deref(j.ID), deref(j.Expiry)
	if err := j.h2Into(&out); err != nil {
		return err
	}
	*e = out
	return nil
}

// h2Into sets the HTTP/2 members of e from j.
func (j *entryJSON) h2Into(e *Entry) error {
	e.APNsID, e.Topic, e.PushType = deref(j.APNsID), deref(j.Topic), deref(j.PushType)
	e.CollapseID, e.HTTPStatus, e.Reason = deref(j.CollapseID), deref(j.HTTPStatus), apns.Reason(deref(j.Reason))
	if j.Expiration != nil && !bytes.Equal(*j.Expiration, jsonNullValue) {
		var v int64
		if err := json.Unmarshal(*j.Expiration, &v); err != nil {
			return fmt.Errorf("mockapns: entry expiration: %w", err)
		}
		e.Expiration = &v
	}
	switch deref(j.Auth) {
	case "":
	case "certificate":
		e.Auth = AuthCertificate
	case "token":
		e.Auth = AuthProviderToken
	default:
		return fmt.Errorf("mockapns: entry auth %q: want certificate or token", *j.Auth)
	}
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// payloadOf reads the payload member of an entry's JSON form.
func payloadOf(raw json.RawMessage) ([]byte, error) {
	switch {
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("mockapns: entry payload: %w", err)
		}
		return []byte(s), nil
	case len(raw) > 0 && !bytes.Equal(raw, jsonNullValue):
		return bytes.Clone(raw), nil
	}
	return nil, nil
}

// StatusFilter selects journal entries by outcome.
type StatusFilter int

// Status filters.
const (
	AnyStatus StatusFilter = iota // every entry
	Accepted                      // status 0 only
	Rejected                      // status other than 0 only
)

// Filter selects journal entries. The zero value selects every entry.
type Filter struct {
	Token    apns.Token    // only entries to this token; the zero Token means any
	Status   StatusFilter  // AnyStatus, Accepted or Rejected
	Protocol apns.Protocol // only entries of this protocol; 0 means both
	Limit    int           // at most this many, oldest first; 0 means all
}

func (f *Filter) match(r *record) bool {
	switch f.Status {
	case Accepted:
		if r.status != 0 {
			return false
		}
	case Rejected:
		if r.status == 0 {
			return false
		}
	}
	if f.Protocol != 0 && f.Protocol != r.protocol {
		return false
	}
	return f.Token.IsZero() || f.Token.Equal(r.token())
}

// record is the journal's own form of an entry. Its byte fields are carved
// from storage the journal reuses, so that a full journal ingests without
// allocating; entries are built from records when they are read.
//
// The ring holds one record per entry, so its size is what each ingested
// notification writes to memory: the members of both protocols are kept
// inline and small, those of HTTP/2 alone behind h2.
type record struct {
	seq, conn uint64
	// data is the device token's bytes, then the payload's: see token
	// and payload.
	data     []byte
	at       time.Time
	tokenLen uint32
	id       uint32
	expiry   uint32
	status   int32 // 0 accepted; else the binary status or the HTTP status answered
	protocol apns.Protocol
	command  wire.Command
	priority apns.Priority
	// h2 holds the HTTP/2 members when protocol is apns.HTTP2. A slot
	// keeps its h2 (and the storage of its bytes) when a binary record
	// reuses it, for the next HTTP/2 record there.
	h2 *h2Fields
}

// h2Fields are the HTTP/2 members of a record.
type h2Fields struct {
	expiration    int64
	hasExpiration bool
	auth          AuthMethod
	httpStatus    int
	reason        apns.Reason
	apnsID        []byte
	topic         []byte
	pushType      []byte
	collapseID    []byte
}

// token returns the device token's bytes (capacity clipped).
func (r *record) token() []byte { return r.data[:r.tokenLen:r.tokenLen] }

// payload returns the payload.
func (r *record) payload() []byte { return r.data[r.tokenLen:] }

// entry builds the Entry of r, with copies of its bytes.
func (r *record) entry() Entry {
	e := Entry{Seq: r.seq, Conn: r.conn, Protocol: r.protocol, Command: r.command, ID: r.id,
		Token: bytes.Clone(r.token()), Payload: bytes.Clone(r.payload()), Expiry: r.expiry,
		Priority: r.priority, ReceivedAt: r.at, Status: int(r.status)}
	if e.Token == nil {
		e.Token = []byte{}
	}
	if e.Payload == nil {
		e.Payload = []byte{}
	}
	if r.protocol == apns.HTTP2 {
		e.APNsID, e.Topic, e.PushType, e.CollapseID = string(r.h2.apnsID), string(r.h2.topic), string(r.h2.pushType), string(r.h2.collapseID)
		e.Auth, e.HTTPStatus, e.Reason = r.h2.auth, r.h2.httpStatus, r.h2.reason
		if r.h2.hasExpiration {
			v := r.h2.expiration
			e.Expiration = &v
		}
	}
	return e
}

// h2Request is what the HTTP/2 front end journals for one request, handed
// to [journal.addH2]. The byte slices may alias the caller's buffers: the
// journal copies them into storage of its own before addH2 returns.
type h2Request struct {
	Conn       uint64    // HTTP/2 connection number, 1-based
	At         time.Time // when the request's last frame was read
	Token      []byte    // the device token's bytes (decoded from :path)
	Payload    []byte    // the request body
	APNsID     []byte    // apns-id as answered (the request's, or the generated one)
	Topic      []byte
	PushType   []byte
	CollapseID []byte
	// Expiration is apns-expiration in UNIX seconds, when HasExpiration.
	Expiration    int64
	HasExpiration bool
	Priority      apns.Priority
	Auth          AuthMethod
	// HTTPStatus is the status answered: 200 accepts, anything else
	// refuses with Reason.
	HTTPStatus int
	Reason     apns.Reason
}

// journal is a bounded ring of records. Token and payload storage of
// overwritten records is reused, so that a full journal ingests without
// allocating. Appending also counts, under the same lock, the counters of
// Stats that describe journalled notifications.
type journal struct {
	mu       sync.Mutex
	size     int
	stats    *counters
	ring     []record // len grows to size; then ring[head] is the oldest
	head     int
	seq      uint64
	gen      uint64 // counts clears: an export stops at one (journal_export.go), an event stream starts over (ui_events.go)
	total    [3]int // records in the ring, by protocol (index apns.Protocol)
	accepted [3]int // records in the ring with status 0, by protocol
	slab     []byte
	h2slab   []h2Fields // where the records' h2 members are carved from
	// The waits in progress (wait), registered under mu. Those with a
	// token filter, by token, keep the exact count of the records that
	// match them, updated as records are added and dropped: an append
	// costs one map look-up per record while any waits. The others count
	// in O(1) (total, accepted), but only when slack runs out: a lower
	// bound on the records to append before any of them can be satisfied
	// (a count grows by at most one per record). Nobody waiting costs two
	// integer tests per append.
	byToken map[string][]*waiter
	nToken  int // waiters in byToken
	plain   []*waiter
	slack   int
	waiters atomic.Int32 // waits in progress, registered or not
	// afterAdd, if set (tests only), runs at the end of each append,
	// after the lock is released.
	afterAdd func()
	// file, if set, gets a copy of every entry as it is appended (nil
	// once closed).
	file *journalFile
	// m are the counts only the metrics read (journal_metrics.go).
	m journalMetrics
}

func newJournal(size int, stats *counters) *journal {
	if size <= 0 {
		size = DefaultJournalSize
	}
	return &journal{size: size, stats: stats, byToken: make(map[string][]*waiter)}
}

// slabSize is the chunk the journal carves token and payload storage from.
const slabSize = 256 << 10

// h2SlabSize is the number of records' HTTP/2 members allocated at once.
const h2SlabSize = 256

// room returns dst resliced to n bytes when it has the capacity, else n
// bytes of fresh storage carved from the slab (or allocated on their own
// past a quarter of it).
func (j *journal) room(dst []byte, n int) []byte {
	if cap(dst) >= n {
		return dst[:n]
	}
	if n > len(j.slab) {
		if n > slabSize/4 {
			return make([]byte, n)
		}
		j.slab = make([]byte, slabSize)
	}
	dst = j.slab[:n:n]
	j.slab = j.slab[n:]
	return dst
}

// store copies src into dst's storage when it fits, else into fresh storage
// (room).
func (j *journal) store(dst, src []byte) []byte {
	dst = j.room(dst, len(src))
	copy(dst, src)
	return dst
}

// storeData copies token and payload into r's data, reusing its storage
// when they fit.
func (j *journal) storeData(r *record, token, payload []byte) {
	r.data = j.room(r.data, len(token)+len(payload))
	copy(r.data, token)
	copy(r.data[len(token):], payload)
	r.tokenLen = uint32(len(token))
}

// drops counts the records that appends dropped from the full ring, by
// protocol and outcome, for settle. They are counted with branches on the
// dropped record rather than with its protocol as an index into the
// journal's counters: so each append of a batch does not wait on the
// previous one's load of its dropped record from memory (the ring is far
// larger than the caches), which the counters' read-modify-write chained.
type drops struct {
	n, binary, binaryAccepted, h2, h2Accepted int
}

func (d *drops) count(r *record) {
	d.n++
	if r.protocol == apns.Binary {
		d.binary++
		if r.status == 0 {
			d.binaryAccepted++
		}
		return
	}
	d.h2++
	if r.status == 0 {
		d.h2Accepted++
	}
}

// slot returns the record to overwrite next, with the next sequence
// number and protocol p, counting in d the record it drops when the ring
// is full; j.mu must be held, and settle called before it is released.
func (j *journal) slot(p apns.Protocol, d *drops) *record {
	var r *record
	if len(j.ring) < j.size {
		if len(j.ring) == cap(j.ring) {
			grown := make([]record, len(j.ring), min(j.size, max(2*cap(j.ring), 256)))
			copy(grown, j.ring)
			j.ring = grown
		}
		j.ring = j.ring[:len(j.ring)+1] // may revive an old slot's storage
		r = &j.ring[len(j.ring)-1]
	} else {
		r = &j.ring[j.head]
		j.head++
		if j.head == len(j.ring) {
			j.head = 0
		}
		if j.nToken > 0 {
			j.tracked(r, -1) // r is dropped
		}
		d.count(r)
	}
	j.seq++
	r.seq, r.protocol = j.seq, p
	return r
}

// settle counts in the journal's counters n records of protocol p
// appended by slot, accepted of them with status 0, and the records d
// dropped; j.mu must be held.
func (j *journal) settle(p apns.Protocol, n, accepted int, d *drops) {
	j.total[p] += n
	j.accepted[p] += accepted
	j.total[apns.Binary] -= d.binary
	j.accepted[apns.Binary] -= d.binaryAccepted
	j.total[apns.HTTP2] -= d.h2
	j.accepted[apns.HTTP2] -= d.h2Accepted
	j.m.dropped += uint64(d.n)
}

// addBinary journals one entry per notification, all with the same
// connection, time and status, under one lock; the bytes are copied. It
// counts them as accepted (status 0) or rejected under the same lock, so
// that the counters of Stats agree with the journal for anyone woken by
// the append (WaitNotifications) and a Reset (clearing both under the lock)
// cannot fall between the two.
func (j *journal) addBinary(conn uint64, at time.Time, status wire.Status, ns []wire.Notification) {
	if len(ns) == 0 {
		return
	}
	judged := time.Now()
	j.mu.Lock()
	j.m.binary(judged.Sub(at), status, len(ns))
	var batch *fileBatch // the copies for the journal file
	if j.file != nil {
		batch = j.file.batch()
		batch.conn, batch.at, batch.status = conn, at, int(status)
	}
	if status == wire.StatusNoError {
		j.stats.binAccepted.Add(uint64(len(ns)))
	} else {
		j.stats.binRejected.Add(uint64(len(ns)))
	}
	var d drops
	for i := range ns {
		n := &ns[i]
		r := j.slot(apns.Binary, &d)
		r.conn, r.command, r.id, r.expiry, r.at, r.status = conn, n.Command, n.ID, n.Expiry, at, int32(status)
		j.storeData(r, n.Token, n.Payload)
		r.priority = apns.Priority{}
		if n.Present&wire.HasPriority != 0 {
			r.priority = apns.NewPriority(n.Priority)
		}
		if batch != nil {
			batch.addBinary(r)
		}
		if j.nToken > 0 {
			j.tracked(r, +1)
		}
	}
	accepted := 0
	if status == wire.StatusNoError {
		accepted = len(ns)
	}
	j.settle(apns.Binary, len(ns), accepted, &d)
	if batch != nil {
		j.file.queue <- batch
	}
	j.appended(len(ns))
}

// addH2 journals one HTTP/2 request and counts it in the "http2" object of
// Stats (requests, and accepted for status 200 or rejected otherwise) and
// in the totals, under the journal's lock as addBinary does. The HTTP/2
// front end calls it once per request it answers, after the answer is
// decided; it does not allocate once the ring is full.
func (j *journal) addH2(q *h2Request) {
	judged := time.Now()
	j.mu.Lock()
	j.m.http2(judged.Sub(q.At), q.HTTPStatus, q.Reason)
	status := 0
	if q.HTTPStatus != 200 {
		status = q.HTTPStatus
	}
	j.stats.h2Requests.Add(1)
	if status == 0 {
		j.stats.h2Accepted.Add(1)
	} else {
		j.stats.h2Rejected.Add(1)
	}
	var d drops
	r := j.slot(apns.HTTP2, &d)
	accepted := 0
	if status == 0 {
		accepted = 1
	}
	j.settle(apns.HTTP2, 1, accepted, &d)
	r.conn, r.command, r.id, r.expiry, r.at, r.status = q.Conn, 0, 0, 0, q.At, int32(status)
	j.storeData(r, q.Token, q.Payload)
	r.priority = q.Priority
	if r.h2 == nil {
		if len(j.h2slab) == 0 {
			j.h2slab = make([]h2Fields, h2SlabSize)
		}
		r.h2, j.h2slab = &j.h2slab[0], j.h2slab[1:]
	}
	h := r.h2
	h.apnsID = j.store(h.apnsID, q.APNsID)
	h.topic = j.store(h.topic, q.Topic)
	h.pushType = j.store(h.pushType, q.PushType)
	h.collapseID = j.store(h.collapseID, q.CollapseID)
	h.expiration, h.hasExpiration, h.auth = q.Expiration, q.HasExpiration, q.Auth
	h.httpStatus, h.reason = q.HTTPStatus, q.Reason
	if j.file != nil {
		batch := j.file.batch()
		batch.h2 = append(batch.h2, r.entry())
		j.file.queue <- batch
	}
	if j.nToken > 0 {
		j.tracked(r, +1)
	}
	j.appended(1)
}

// closeFile stops copying entries to the journal file, writes the stats
// line and syncs it; stats is read once every entry is written.
func (j *journal) closeFile(stats func() Stats) {
	j.mu.Lock()
	f := j.file
	j.file = nil
	j.mu.Unlock()
	if f != nil {
		f.close(stats)
	}
}

// appended checks the waits without a token filter once slack runs out,
// releases the lock and runs the test hook; n records were appended.
func (j *journal) appended(n int) {
	if len(j.plain) > 0 {
		if j.slack -= n; j.slack <= 0 {
			j.checkPlain()
		}
	}
	j.mu.Unlock()
	if j.afterAdd != nil {
		j.afterAdd()
	}
}

// each calls fn on the records oldest first until it returns false; j.mu
// must be held.
func (j *journal) each(fn func(*record) bool) {
	n := len(j.ring)
	for i := range n {
		k := j.head + i
		if k >= n {
			k -= n
		}
		if !fn(&j.ring[k]) {
			return
		}
	}
}

// count returns the number of records matching f (ignoring f.Limit); j.mu
// must be held.
func (j *journal) count(f *Filter) int {
	if f.Token.IsZero() {
		total, accepted := len(j.ring), j.accepted[apns.Binary]+j.accepted[apns.HTTP2]
		if f.Protocol == apns.Binary || f.Protocol == apns.HTTP2 {
			total, accepted = j.total[f.Protocol], j.accepted[f.Protocol]
		}
		switch f.Status {
		case Accepted:
			return accepted
		case Rejected:
			return total - accepted
		default:
			return total
		}
	}
	c := 0
	j.each(func(r *record) bool {
		if f.match(r) {
			c++
		}
		return true
	})
	return c
}

// list builds the entries matching f; j.mu must be held.
func (j *journal) list(f *Filter) []Entry {
	out := []Entry{}
	j.each(func(r *record) bool {
		if f.Limit > 0 && len(out) >= f.Limit {
			return false
		}
		if f.match(r) {
			out = append(out, r.entry())
		}
		return true
	})
	return out
}

func (j *journal) notifications(f Filter) []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.list(&f)
}

// waiter is one wait in progress; j.mu guards it.
type waiter struct {
	f     Filter
	n     int
	seq   bool          // counts the sequence number, not matches: woken once a record with seq n is appended (f is zero)
	count int           // token waits: records in the ring that match f
	key   string        // token waits: the key of byToken
	woken chan struct{} // closed when the wait may be satisfied
}

// register adds w to the waits, counting what matches f now; j.mu must be
// held. It reports false, registering nothing, when n already match.
func (j *journal) register(w *waiter) bool {
	c := j.progress(w)
	if c >= w.n {
		return false
	}
	w.woken = make(chan struct{})
	if !w.f.Token.IsZero() {
		w.count, w.key = c, string(w.f.Token.Bytes())
		j.byToken[w.key] = append(j.byToken[w.key], w)
		j.nToken++
		return true
	}
	if len(j.plain) == 0 || w.n-c < j.slack {
		j.slack = w.n - c
	}
	j.plain = append(j.plain, w)
	return true
}

// unregister removes w if it is still registered; j.mu must be held.
func (j *journal) unregister(w *waiter) {
	if w.key != "" {
		ws := j.byToken[w.key]
		if i := slices.Index(ws, w); i >= 0 {
			j.removeToken(w.key, ws, i)
		}
		return
	}
	if i := slices.Index(j.plain, w); i >= 0 {
		j.plain = slices.Delete(j.plain, i, i+1)
	}
}

// removeToken removes ws[i], a waiter of byToken[key].
func (j *journal) removeToken(key string, ws []*waiter, i int) {
	ws[i] = ws[len(ws)-1]
	ws[len(ws)-1] = nil
	if ws = ws[:len(ws)-1]; len(ws) == 0 {
		delete(j.byToken, key)
	} else {
		j.byToken[key] = ws
	}
	j.nToken--
}

// tracked counts r, added (+1) or dropped (-1), for the token waits it
// matches, and wakes those it satisfies; j.mu must be held.
func (j *journal) tracked(r *record, delta int) {
	ws := j.byToken[string(r.token())]
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		if !w.f.match(r) {
			continue
		}
		if w.count += delta; w.count >= w.n {
			close(w.woken)
			j.removeToken(w.key, ws, i)
			ws = j.byToken[w.key]
			i-- // ws[i] is another waiter now
		}
	}
}

// checkPlain wakes the waits without a token filter that are satisfied
// and computes slack for the others; j.mu must be held.
func (j *journal) checkPlain() {
	kept := j.plain[:0]
	j.slack = math.MaxInt
	for _, w := range j.plain {
		if c := j.progress(w); c >= w.n {
			close(w.woken)
		} else {
			kept = append(kept, w)
			j.slack = min(j.slack, w.n-c)
		}
	}
	clear(j.plain[len(kept):])
	j.plain = kept
}

// progress is what w counts towards its n: the records matching its
// filter, or the sequence number (which, like a count, grows by one per
// record appended); j.mu must be held.
func (j *journal) progress(w *waiter) int {
	if w.seq {
		return int(j.seq)
	}
	return j.count(&w.f)
}

// wakeAll wakes every wait (the journal was emptied: counts start over);
// j.mu must be held.
func (j *journal) wakeAll() {
	for _, ws := range j.byToken {
		for _, w := range ws {
			close(w.woken)
		}
	}
	clear(j.byToken)
	j.nToken = 0
	for _, w := range j.plain {
		close(w.woken)
	}
	clear(j.plain)
	j.plain = j.plain[:0]
}

// wait blocks until n records match f, then lists them. While it waits it
// costs nothing but its share of the appends' bookkeeping: it is woken
// when its count may have reached n, never per append.
func (j *journal) wait(ctx context.Context, f Filter, n int) ([]Entry, error) {
	j.waiters.Add(1)
	defer j.waiters.Add(-1)
	w := &waiter{f: f, n: n}
	for {
		j.mu.Lock()
		if !j.register(w) {
			out := j.list(&f)
			j.mu.Unlock()
			return out, nil
		}
		j.mu.Unlock()
		select {
		case <-w.woken:
		case <-ctx.Done():
			j.mu.Lock()
			j.unregister(w)
			out := j.list(&f)
			j.mu.Unlock()
			return out, fmt.Errorf("mockapns: waiting for %d notifications: %w", n, ctx.Err())
		}
	}
}

// clear empties the journal; reset also restarts the sequence at 1.
// also, if not nil, runs under the journal's lock (Reset zeroes the
// counters there).
func (j *journal) clear(reset bool, also func()) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if also != nil {
		also()
	}
	j.ring = j.ring[:0]
	j.head = 0
	j.total, j.accepted = [3]int{}, [3]int{}
	if reset {
		j.seq = 0
		j.m.reset()
	}
	j.gen++
	j.wakeAll()
}
