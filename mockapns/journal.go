package mockapns

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/wire"
)

// DefaultJournalSize is the number of journal entries kept when
// Config.JournalSize is 0.
const DefaultJournalSize = 100000

// Entry is one notification in the journal: accepted (Status 0) or refused
// (Status is what the gateway answered; for a command-0 notification, which
// is refused by closing without a word, the status it would have answered;
// for a notification cut by a [Shutdown] fault, 10).
type Entry struct {
	Seq        uint64       `json:"seq"`         // 1-based, never reused; restarts at 1 after Reset
	Conn       uint64       `json:"conn"`        // gateway connection number, 1-based
	Command    wire.Command `json:"command"`     // 0, 1 or 2
	ID         uint32       `json:"id"`          // identifier (0 for command 0 or none)
	Token      []byte       `json:"token"`       // binary token; JSON: lower-case hex
	Payload    []byte       `json:"payload"`     // payload as sent; JSON: embedded if valid JSON, else a string
	Expiry     uint32       `json:"expiry"`      // UNIX seconds
	Priority   uint8        `json:"priority"`    // command 2 priority item, 0 if absent
	ReceivedAt time.Time    `json:"received_at"` // when the read that carried it completed
	Status     wire.Status  `json:"status"`      // 0 accepted, else the status answered
}

// entryJSON is the JSON form of an Entry (numbers for command and status).
type entryJSON struct {
	Seq        uint64          `json:"seq"`
	Conn       uint64          `json:"conn"`
	Command    uint8           `json:"command"`
	ID         uint32          `json:"id"`
	Token      string          `json:"token"`
	Payload    json.RawMessage `json:"payload"`
	Expiry     uint32          `json:"expiry"`
	Priority   uint8           `json:"priority"`
	ReceivedAt string          `json:"received_at"`
	Status     uint8           `json:"status"`
}

// MarshalJSON renders the entry in the admin API's form: token as lower-case
// hex, payload embedded as JSON when it is valid JSON (else as a JSON
// string), received_at in RFC 3339 with nanoseconds, command and status as
// numbers.
func (e Entry) MarshalJSON() ([]byte, error) {
	j := entryJSON{
		Seq: e.Seq, Conn: e.Conn, Command: uint8(e.Command), ID: e.ID,
		Token: hex.EncodeToString(e.Token), Expiry: e.Expiry, Priority: e.Priority,
		ReceivedAt: e.ReceivedAt.Format(time.RFC3339Nano), Status: uint8(e.Status),
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
func (e *Entry) UnmarshalJSON(data []byte) error {
	var j entryJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	tok, err := hex.DecodeString(j.Token)
	if err != nil {
		return fmt.Errorf("mockapns: entry token: %w", err)
	}
	var at time.Time
	if j.ReceivedAt != "" {
		if at, err = time.Parse(time.RFC3339Nano, j.ReceivedAt); err != nil {
			return fmt.Errorf("mockapns: entry received_at: %w", err)
		}
	}
	var payload []byte
	if len(j.Payload) > 0 && j.Payload[0] == '"' {
		var s string
		if err := json.Unmarshal(j.Payload, &s); err != nil {
			return fmt.Errorf("mockapns: entry payload: %w", err)
		}
		payload = []byte(s)
	} else if len(j.Payload) > 0 && !bytes.Equal(j.Payload, []byte("null")) {
		payload = bytes.Clone(j.Payload)
	}
	*e = Entry{Seq: j.Seq, Conn: j.Conn, Command: wire.Command(j.Command), ID: j.ID, Token: tok,
		Payload: payload, Expiry: j.Expiry, Priority: j.Priority, ReceivedAt: at, Status: wire.Status(j.Status)}
	return nil
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
	Token  []byte       // only entries to this token (binary); empty means any
	Status StatusFilter // AnyStatus, Accepted or Rejected
	Limit  int          // at most this many, oldest first; 0 means all
}

func (f *Filter) match(e *Entry) bool {
	switch f.Status {
	case Accepted:
		if e.Status != wire.StatusNoError {
			return false
		}
	case Rejected:
		if e.Status == wire.StatusNoError {
			return false
		}
	}
	return len(f.Token) == 0 || bytes.Equal(f.Token, e.Token)
}

// journal is a bounded ring of entries. Token and payload storage of
// overwritten entries is reused, so that a full journal ingests without
// allocating.
type journal struct {
	mu       sync.Mutex
	size     int
	ring     []Entry // len grows to size; then ring[head] is the oldest
	head     int
	seq      uint64
	accepted int // entries in the ring with status 0
	slab     []byte
	changed  chan struct{} // closed and replaced on append while waiters > 0
	waiters  atomic.Int32
	// afterAdd, if set (tests only), runs at the end of add, after the
	// lock is released.
	afterAdd func()
}

func newJournal(size int) *journal {
	if size <= 0 {
		size = DefaultJournalSize
	}
	return &journal{size: size, changed: make(chan struct{})}
}

// slabSize is the chunk the journal carves token and payload storage from.
const slabSize = 256 << 10

// store copies src into dst's storage when it fits, else into fresh storage
// carved from the slab.
func (j *journal) store(dst, src []byte) []byte {
	if cap(dst) >= len(src) {
		dst = dst[:len(src)]
		copy(dst, src)
		return dst
	}
	if len(src) > len(j.slab) {
		if len(src) > slabSize/4 {
			return bytes.Clone(src)
		}
		j.slab = make([]byte, slabSize)
	}
	dst = j.slab[:len(src):len(src)]
	j.slab = j.slab[len(src):]
	copy(dst, src)
	return dst
}

// slot returns the entry to overwrite next; j.mu must be held.
func (j *journal) slot() *Entry {
	if len(j.ring) < j.size {
		if len(j.ring) == cap(j.ring) {
			grown := make([]Entry, len(j.ring), min(j.size, max(2*cap(j.ring), 256)))
			copy(grown, j.ring)
			j.ring = grown
		}
		j.ring = j.ring[:len(j.ring)+1] // may revive an old slot's storage
		return &j.ring[len(j.ring)-1]
	}
	e := &j.ring[j.head]
	j.head++
	if j.head == len(j.ring) {
		j.head = 0
	}
	if e.Status == wire.StatusNoError {
		j.accepted--
	}
	return e
}

// add appends one entry per notification, all with the same connection,
// time and status, under one lock; the bytes are copied. It adds
// len(ns) to counter under the same lock, so that the counters of Stats
// agree with the journal for anyone woken by the append (WaitNotifications)
// and a Reset (clearing both under the lock) cannot fall between the two.
func (j *journal) add(conn uint64, at time.Time, status wire.Status, ns []wire.Notification, counter *atomic.Uint64) {
	if len(ns) == 0 {
		return
	}
	j.mu.Lock()
	counter.Add(uint64(len(ns)))
	for i := range ns {
		n := &ns[i]
		e := j.slot()
		j.seq++
		e.Seq, e.Conn, e.Command, e.ID = j.seq, conn, n.Command, n.ID
		e.Token = j.store(e.Token, n.Token)
		e.Payload = j.store(e.Payload, n.Payload)
		e.Expiry, e.ReceivedAt, e.Status = n.Expiry, at, status
		e.Priority = 0
		if n.Present&wire.HasPriority != 0 {
			e.Priority = n.Priority
		}
		if status == wire.StatusNoError {
			j.accepted++
		}
	}
	if j.waiters.Load() > 0 {
		close(j.changed)
		j.changed = make(chan struct{})
	}
	j.mu.Unlock()
	if j.afterAdd != nil {
		j.afterAdd()
	}
}

// each calls fn on the entries oldest first until it returns false; j.mu
// must be held.
func (j *journal) each(fn func(*Entry) bool) {
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

// count returns the number of entries matching f (ignoring f.Limit); j.mu
// must be held.
func (j *journal) count(f *Filter) int {
	if len(f.Token) == 0 {
		switch f.Status {
		case Accepted:
			return j.accepted
		case Rejected:
			return len(j.ring) - j.accepted
		default:
			return len(j.ring)
		}
	}
	c := 0
	j.each(func(e *Entry) bool {
		if f.match(e) {
			c++
		}
		return true
	})
	return c
}

// list copies out the entries matching f; j.mu must be held.
func (j *journal) list(f *Filter) []Entry {
	out := []Entry{}
	j.each(func(e *Entry) bool {
		if f.Limit > 0 && len(out) >= f.Limit {
			return false
		}
		if f.match(e) {
			c := *e
			c.Token = bytes.Clone(e.Token)
			c.Payload = bytes.Clone(e.Payload)
			if c.Token == nil {
				c.Token = []byte{}
			}
			if c.Payload == nil {
				c.Payload = []byte{}
			}
			out = append(out, c)
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

func (j *journal) wait(ctx context.Context, f Filter, n int) ([]Entry, error) {
	j.waiters.Add(1)
	defer j.waiters.Add(-1)
	for {
		j.mu.Lock()
		if j.count(&f) >= n {
			out := j.list(&f)
			j.mu.Unlock()
			return out, nil
		}
		ch := j.changed
		j.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return j.notifications(f), fmt.Errorf("mockapns: waiting for %d notifications: %w", n, ctx.Err())
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
	j.accepted = 0
	if reset {
		j.seq = 0
	}
	if j.waiters.Load() > 0 {
		close(j.changed)
		j.changed = make(chan struct{})
	}
}
