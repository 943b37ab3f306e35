package mockapns

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// ErrBadFault is wrapped by the errors of [Server.AddFault] (and of the JSON
// form of faults) for a fault that cannot be installed: a reject with
// neither status nor reason, a negative count, a probability outside
// [0, 1], and so on.
var ErrBadFault = errors.New("mockapns: bad fault")

// Fault is one way the mock misbehaves on demand. It is a sealed interface:
// the values are [Reject], [Disconnect], [Delay] (either protocol),
// [Shutdown] (binary gateway), [FeedbackCoalesce], [FeedbackSplit],
// [FeedbackCut] (feedback service), [GoAway], [MaxStreams] and [RstStream]
// (HTTP/2). Install them with [Server.AddFault] or [Config.Faults]; each
// has a JSON form (see [ParseFault]).
type Fault interface {
	// spec returns a pointer to a copy of the fault, through which the
	// registry reads and checks it.
	spec() faultSpec
}

// Count is how many times a fault fires, with the meaning of the JSON
// member "times": the zero Count (no "times") fires once, [Times](n) fires
// n times, and Times(0), also called [Always], fires every time it
// matches, for as long as it is installed. An exhausted fault stays listed
// by [Server.Faults] but no longer fires.
type Count struct {
	n   int
	set bool
}

// Times returns the Count of "times": n, n ≥ 0; 0 means every time.
func Times(n int) Count { return Count{n: n, set: true} }

// Always, as Trigger.Times or a feedback fault's Times, makes a fault fire
// every time it matches: it is Times(0), as "times": 0 in JSON.
var Always = Times(0)

// Value returns n of Times(n), and false for the zero Count (once).
func (c Count) Value() (int, bool) { return c.n, c.set }

// Equal reports whether c and d are the same count.
func (c Count) Equal(d Count) bool { return c == d }

// exhausted reports whether a fault that fired that many times is done.
func (c Count) exhausted(fired int) bool {
	switch {
	case !c.set:
		return fired >= 1
	case c.n == 0:
		return false
	default:
		return fired >= c.n
	}
}

// Trigger selects the notifications (binary) and requests (HTTP/2) that
// fire a fault. Every selector given must match; with none at all the
// fault fires on the next notification or request it applies to.
type Trigger struct {
	// Token fires on notifications to this device token; the zero Token
	// matches every token.
	Token apns.Token
	// Nth fires on every Nth notification matching Token (or every one, if
	// Token is empty) read after the fault was added, counted across all
	// connections of the protocols it applies to, 1-based: Nth 5 fires on
	// the 5th, and, when Times allows more firings, on the 10th, the 15th
	// and so on.
	Nth int
	// Probability fires on each notification that passed the selectors
	// above with this chance, rolled on the server's seeded random source
	// (see [Config.Seed]), so the same seed and the same sequence of
	// notifications fire the same faults.
	Probability float64
	// Times is how often the fault fires; the zero Count means once.
	Times Count
	// Protocol restricts the fault to one protocol; 0 means every
	// protocol the fault applies to (a Reject's protocol follows from its
	// Status or Reason).
	Protocol apns.Protocol
}

// FaultInfo describes an installed fault.
type FaultInfo struct {
	ID    int   // as returned by AddFault
	Fault Fault // the fault as added
	Fired int   // how many times it fired so far
}

// hook is where the fault set consults a fault.
type hook uint8

const (
	hookRequest  hook = iota // each binary notification or HTTP/2 request
	hookCut                  // the byte count of each connection read
	hookFeedback             // each feedback connection
	hookIdle                 // each HTTP/2 connection that stays idle
)

// protoSet is a set of protocols, a bit per apns.Protocol.
type protoSet uint8

func protos(ps ...apns.Protocol) protoSet {
	var s protoSet
	for _, p := range ps {
		s |= 1 << p
	}
	return s
}

func (s protoSet) has(p apns.Protocol) bool { return s&(1<<p) != 0 }

var bothProtocols = protos(apns.Binary, apns.HTTP2)

// rule is what the fault set needs to match, count and fire a fault; each
// fault type derives its rule from its value.
type rule struct {
	hook      hook
	protocols protoSet
	when      Trigger       // hookRequest: the selectors (Times for every hook)
	after     int64         // hookCut: the byte position of the cut
	idle      time.Duration // hookIdle: how long a connection may stay idle
	// decides says that firing settles the outcome of the notification or
	// request; side effects (delay, max_streams) do not, and later faults
	// still fire with them.
	decides  bool
	fire     func(*faultAction)  // hookRequest
	feedback func(*feedbackMode) // hookFeedback
}

// faultAction is what the faults that fired on one binary notification or
// HTTP/2 request ask of the front end: first stall for delay (if
// non-zero), then apply the side effects, then act as kind says.
type faultAction struct {
	kind  actionKind
	delay time.Duration
	// status is the binary status of actReject.
	status wire.Status
	// reason is the HTTP/2 reason of actReject and actGoAway; httpStatus
	// the HTTP status of actReject.
	reason     apns.Reason
	httpStatus int
	// lastStreamID is the GOAWAY's last-stream-id when hasLastStreamID;
	// otherwise the front end names the last stream it processed.
	lastStreamID    uint32
	hasLastStreamID bool
	// maxStreams, when hasMaxStreams, is the MAX_CONCURRENT_STREAMS to
	// announce in a SETTINGS frame before answering; restoreAfter, if
	// non-zero, is the number of successful requests after which the
	// connection announces its configured limit again.
	maxStreams    uint32
	hasMaxStreams bool
	restoreAfter  int
}

type actionKind uint8

const (
	actNone       actionKind = iota // process normally
	actReject                       // refuse: binary status, or HTTP/2 reason and status
	actShutdown                     // binary: status 10 naming the last accepted notification
	actDisconnect                   // close the connection without a word
	actGoAway                       // HTTP/2: GOAWAY with reason, then close
	actRstStream                    // HTTP/2: RST_STREAM the request's stream
)

// installed is one fault in the server's list.
type installed struct {
	id    int
	fault Fault
	rule  rule
	seen  int // requests that matched the token since added (for Nth)
	fired int
	kind  string // the JSON action name, for the metrics (faultsFired)
}

func (f *installed) exhausted() bool { return f.rule.when.Times.exhausted(f.fired) }

// faultSet holds the installed faults: it matches them against
// notifications, requests and connections, and counts their firings. What
// a fault does is its type's (see the registry). active counts, per
// protocol, the faults that can still fire on notifications, requests or
// cuts, so that the hot paths skip the lock entirely when there are none.
//
// The request faults are also indexed: those without a token in anyToken,
// the others by token in byToken, each in the order added, so that
// matching a notification costs the faults without a token plus those of
// its own token, however many tokens have faults (a soak installs one per
// token it refuses). The cut faults are listed apart in cuts, in the order
// added, so that a connection's read costs only those.
//
// A notification to a token without faults of its own, while no request
// fault does without a token, matches nothing: match tells so from
// nAnyToken and the token filter without taking the lock, so that the
// token faults of a soak do not cost the other notifications the lock.
type faultSet struct {
	mu       sync.Mutex
	list     []*installed
	anyToken []*installed
	byToken  map[string][]*installed
	cuts     []*installed
	// nAnyToken is len(anyToken) and tokens has a bit set for each key
	// of byToken (nil when none), both written under mu and read without
	// it by match.
	nAnyToken atomic.Int32
	tokens    atomic.Pointer[tokenFilter]
	nextID    int
	rng       *rand.Rand
	active    [apns.HTTP2 + 1]atomic.Int32
	// firedBy counts firings by action name since start or Reset, even
	// of faults removed since (metrics.go).
	firedBy map[string]uint64
}

// index adds f to the indexes of the request and cut faults, and its
// token, if any, to filter, which it allocates if nil and returns; fs.mu
// must be held. The caller publishes filter and the count of anyToken for
// match (publish).
func (fs *faultSet) index(f *installed, filter *tokenFilter) *tokenFilter {
	switch {
	case f.rule.hook == hookCut:
		fs.cuts = append(fs.cuts, f)
	case f.rule.hook != hookRequest:
	case f.rule.when.Token.IsZero():
		fs.anyToken = append(fs.anyToken, f)
	default:
		if fs.byToken == nil {
			fs.byToken = make(map[string][]*installed)
		}
		key := string(f.rule.when.Token.Bytes())
		fs.byToken[key] = append(fs.byToken[key], f)
		if filter == nil {
			filter = new(tokenFilter)
		}
		filter.add([]byte(key))
	}
	return filter
}

// publish makes filter and the count of anyToken what match reads without
// the lock; fs.mu must be held.
func (fs *faultSet) publish(filter *tokenFilter) {
	fs.tokens.Store(filter)
	fs.nAnyToken.Store(int32(len(fs.anyToken)))
}

// reindex rebuilds the indexes from the list; fs.mu must be held. Faults
// are only ever removed from the list before a reindex, and the new
// filter is published once complete, so that match, reading the filter
// and the count without the lock meanwhile, sees at least the faults that
// stay.
func (fs *faultSet) reindex() {
	fs.anyToken, fs.byToken, fs.cuts = nil, nil, nil
	var filter *tokenFilter
	for _, f := range fs.list {
		filter = fs.index(f, filter)
	}
	fs.publish(filter)
}

// tokenFilterBits is the log2 of the bits of a tokenFilter.
const tokenFilterBits = 16

// tokenFilter is a set of tokens that may say yes for tokens never added
// (a Bloom filter of one hash), never no for one added.
type tokenFilter [1 << tokenFilterBits / 64]atomic.Uint64

func (t *tokenFilter) add(token []byte) {
	b := tokenBit(token)
	t[b/64].Or(1 << (b % 64))
}

// mayHold reports false when token was never added.
func (t *tokenFilter) mayHold(token []byte) bool {
	b := tokenBit(token)
	return t[b/64].Load()&(1<<(b%64)) != 0
}

// tokenBit hashes token to a bit of a tokenFilter: cheap, and spread
// enough over tokens that differ anywhere.
func tokenBit(token []byte) uint32 {
	const prime = 0x9e3779b97f4a7c15
	h := uint64(len(token)) * prime
	for ; len(token) >= 8; token = token[8:] {
		h = (h ^ binary.LittleEndian.Uint64(token)) * prime
		h ^= h >> 29
	}
	for _, c := range token {
		h = (h ^ uint64(c)) * prime
		h ^= h >> 29
	}
	return uint32(h >> (64 - tokenFilterBits))
}

// activeFor reports whether any fault can fire on protocol p's
// notifications, requests or connections.
func (fs *faultSet) activeFor(p apns.Protocol) bool { return fs.active[p].Load() > 0 }

func (fs *faultSet) add(f Fault) (int, error) {
	r, err := ruleOf(f)
	if err != nil {
		return 0, err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.nextID++
	in := &installed{id: fs.nextID, fault: f, rule: r, kind: f.spec().action()}
	fs.list = append(fs.list, in)
	fs.publish(fs.index(in, fs.tokens.Load()))
	fs.recountFor(in)
	return fs.nextID, nil
}

// recountFor counts a fault just added in the active counters; fs.mu
// must be held.
func (fs *faultSet) recountFor(f *installed) {
	if f.rule.hook == hookFeedback || f.exhausted() {
		return
	}
	for _, p := range []apns.Protocol{apns.Binary, apns.HTTP2} {
		if f.rule.protocols.has(p) {
			fs.active[p].Add(1)
		}
	}
}

// recount refreshes the active counters; fs.mu must be held.
func (fs *faultSet) recount() {
	var n [apns.HTTP2 + 1]int32
	for _, f := range fs.list {
		if f.rule.hook == hookFeedback || f.exhausted() {
			continue
		}
		for _, p := range []apns.Protocol{apns.Binary, apns.HTTP2} {
			if f.rule.protocols.has(p) {
				n[p]++
			}
		}
	}
	for p := range n {
		fs.active[p].Store(n[p])
	}
}

func (fs *faultSet) infos() []FaultInfo {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make([]FaultInfo, 0, len(fs.list))
	for _, f := range fs.list {
		out = append(out, FaultInfo{ID: f.id, Fault: f.fault, Fired: f.fired})
	}
	return out
}

func (fs *faultSet) remove(id int) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	i := slices.IndexFunc(fs.list, func(f *installed) bool { return f.id == id })
	if i < 0 {
		return false
	}
	fs.list = slices.Delete(fs.list, i, i+1)
	fs.reindex()
	fs.recount()
	return true
}

func (fs *faultSet) clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.list = nil
	fs.reindex()
	fs.recount()
}

// newRand returns the random source of probability faults for seed.
func newRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x6d6f636b61706e73))
}

// reset removes every fault and restarts the random source from seed, so
// that what follows repeats as after a fresh start.
func (fs *faultSet) reset(seed int64) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.list = nil
	fs.reindex()
	fs.rng = newRand(seed)
	clear(fs.firedBy)
	fs.recount()
}

// firedOn runs the faults that apply to binary notifications against n
// and returns what those that fired ask, nil when none fired. Only called
// when activeFor(apns.Binary).
func (fs *faultSet) firedOn(n *wire.Notification) *faultAction {
	return fs.fired(apns.Binary, n.Token)
}

// onRequest runs the faults that apply to HTTP/2 requests against one
// request to token (its bytes, decoded from :path). The HTTP/2 front end
// calls it for each request once its headers are read and before it
// validates the request, when activeFor(apns.HTTP2), and carries out what
// the answer says:
//
//   - delay > 0: stall this request's answer for delay (other streams go
//     on), then go on with what follows;
//   - hasMaxStreams: announce MAX_CONCURRENT_STREAMS = maxStreams in a
//     SETTINGS frame, and, if restoreAfter > 0, the configured limit again
//     after that many successful requests on the connection;
//   - actReject: answer httpStatus with {"reason": reason}, journalled as
//     refused;
//   - actGoAway: send GOAWAY with {"reason": reason} as debug data and
//     lastStreamID as last-stream-id when hasLastStreamID (else the last
//     stream processed), count it in Stats, then close;
//   - actRstStream: reset the request's stream;
//   - actDisconnect: close the connection without a word;
//   - actNone: process the request normally.
func (fs *faultSet) onRequest(token []byte) faultAction {
	return fs.match(apns.HTTP2, token)
}

// mayMatch reports, without taking the lock, whether a request fault may
// apply to a notification or request to token: false when none does
// without a token and none is of this token; true may be a false alarm of
// the token filter, which match then settles under the lock.
func (fs *faultSet) mayMatch(token []byte) bool {
	if fs.nAnyToken.Load() != 0 {
		return true
	}
	filter := fs.tokens.Load()
	return filter != nil && filter.mayHold(token)
}

// match runs the request faults of protocol p against a notification or
// request to token, in the order they were added. Every fault counts the
// requests that match its token (for Nth), whatever the others do. Side
// effects that fire (delays add up) apply together; the first fault that
// decides the outcome fires, and the later deciding ones do not fire on
// this request.
func (fs *faultSet) match(p apns.Protocol, token []byte) faultAction {
	if a := fs.fired(p, token); a != nil {
		return *a
	}
	return faultAction{}
}

// fired is match returning what the faults that fired ask, or nil when
// none fired (so that the gateway's notifications do not copy an empty
// action each).
func (fs *faultSet) fired(p apns.Protocol, token []byte) *faultAction {
	if !fs.mayMatch(token) {
		return nil
	}
	// The action is allocated only when a fault fires: handing it to a
	// fire function makes it escape, which would cost every notification
	// an allocation while any fault is installed.
	var a *faultAction
	fs.mu.Lock()
	defer fs.mu.Unlock()
	decided, changed := false, false
	// The faults without a token and those of this token, merged in the
	// order they were added.
	shared, own := fs.anyToken, fs.byToken[string(token)]
	for len(shared) > 0 || len(own) > 0 {
		var f *installed
		if len(own) == 0 || (len(shared) > 0 && shared[0].id < own[0].id) {
			f, shared = shared[0], shared[1:]
		} else {
			f, own = own[0], own[1:]
		}
		r := &f.rule
		if !r.protocols.has(p) || f.exhausted() {
			continue
		}
		if !r.when.Token.IsZero() && !r.when.Token.Equal(token) {
			continue
		}
		f.seen++
		if r.when.Nth > 0 && f.seen%r.when.Nth != 0 {
			continue
		}
		if r.decides && decided {
			continue
		}
		if pr := r.when.Probability; pr > 0 && fs.rng.Float64() >= pr {
			continue
		}
		fs.fire(f)
		changed = changed || f.exhausted()
		decided = decided || r.decides
		if a == nil {
			a = new(faultAction)
		}
		r.fire(a)
	}
	if changed {
		fs.recount()
	}
	return a
}

// cutAt returns the byte position at which a connection of protocol p
// that has read `before` bytes and now holds `now` bytes must be cut, and
// whether a cut fault fires. Of the faults that apply, the one that cuts
// earliest fires (the first added among equals); the others do not fire
// on this read.
func (fs *faultSet) cutAt(p apns.Protocol, before, now int64) (int64, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var first *installed
	var at int64
	for _, f := range fs.cuts {
		// A connection that has read AfterBytes bytes is cut, even when
		// it read exactly that many and nothing more arrives.
		if f.rule.hook != hookCut || !f.rule.protocols.has(p) || f.exhausted() || now < f.rule.after {
			continue
		}
		if pos := max(f.rule.after, before); first == nil || pos < at {
			first, at = f, pos
		}
	}
	if first == nil {
		return 0, false
	}
	fs.fire(first)
	if first.exhausted() {
		fs.recount()
	}
	return at, true
}

// idleAfter returns the shortest idle time after which an HTTP/2
// connection must be closed, or 0 when no idle timeout can fire.
func (fs *faultSet) idleAfter() time.Duration {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var d time.Duration
	for _, f := range fs.list {
		if f.rule.hook == hookIdle && !f.exhausted() && (d == 0 || f.rule.idle < d) {
			d = f.rule.idle
		}
	}
	return d
}

// idleFire fires, for a connection idle for idle, the first idle timeout
// (of the shortest After) that it reached, and reports whether one fired.
func (fs *faultSet) idleFire(idle time.Duration) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var first *installed
	for _, f := range fs.list {
		if f.rule.hook != hookIdle || f.exhausted() || f.rule.idle > idle {
			continue
		}
		if first == nil || f.rule.idle < first.rule.idle {
			first = f
		}
	}
	if first == nil {
		return false
	}
	fs.fire(first)
	if first.exhausted() {
		fs.recount()
	}
	return true
}

// feedbackMode is how a feedback connection writes its tuples.
type feedbackMode struct {
	coalesce bool
	split    bool
	cut      int // bytes after which to close; -1 for no cut
}

// onFeedback picks the first feedback fault that can still fire.
func (fs *faultSet) onFeedback() feedbackMode {
	m := feedbackMode{cut: -1}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.list {
		if f.rule.hook != hookFeedback || f.exhausted() {
			continue
		}
		fs.fire(f)
		f.rule.feedback(&m)
		return m
	}
	return m
}
