package mockapns

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// ErrBadFault is wrapped by the errors of [Server.AddFault] (and of the JSON
// form of faults) for a fault that cannot be installed: a reject with status
// 0, a negative count, a probability outside [0, 1], and so on.
var ErrBadFault = errors.New("mockapns: bad fault")

// Fault is one way the mock misbehaves on demand. It is a sealed interface:
// the values are [Reject], [Shutdown], [Disconnect], [Delay] (gateway) and
// [FeedbackCoalesce], [FeedbackSplit], [FeedbackCut] (feedback service).
// Install them with [Server.AddFault] or [Config.Faults].
type Fault interface{ isFault() }

// Always, as Trigger.Times or a feedback fault's Times, makes a fault fire
// every time it matches, for as long as it is installed.
const Always = -1

// Trigger selects the notifications that fire a gateway fault. Every
// selector given must match; with none at all the fault fires on the next
// notification any gateway connection reads.
type Trigger struct {
	// Token fires on notifications to this device token; the zero Token
	// matches every token.
	Token apns.Token
	// Nth fires on every Nth notification matching Token (or every one, if
	// Token is empty) read after the fault was added, counted across all
	// connections, 1-based: Nth 5 fires on the 5th, and, when Times allows
	// more firings, on the 10th, the 15th and so on.
	Nth int
	// Probability fires on each notification that passed the selectors
	// above with this chance, rolled on the server's seeded random source
	// (see [Config.Seed]), so the same seed and the same sequence of
	// notifications fire the same faults.
	Probability float64
	// Times is how often the fault fires: 0 means once, [Always] means
	// every time, n > 0 means n times. An exhausted fault stays listed by
	// [Server.Faults] but no longer fires.
	Times int
}

// Reject answers Status naming the notification, then closes the
// connection, like Apple refusing it. Status must not be 0.
type Reject struct {
	Status wire.Status
	When   Trigger
}

// Shutdown leaves the triggering notification unprocessed and answers
// status 10 naming the last notification accepted on that connection (0 if
// none), then closes, as Apple did before maintenance. On a command-0
// notification, which cannot be answered, it closes without a word.
type Shutdown struct {
	When Trigger
}

// Disconnect closes the connection without a word; the triggering
// notification is not accepted (it and the frames after it count as
// discarded).
//
// With AfterBytes > 0 the fault cuts connections by position instead: a
// gateway connection is cut once it has read AfterBytes bytes of its
// notification stream (counted after TLS from its first byte, mid-frame if
// the cut falls there); the frames wholly
// within the first AfterBytes bytes are processed, the rest is discarded.
// When.Times counts cut connections; the other selectors of When are not
// used. A connection that had already read AfterBytes or more when the
// fault was added is cut at its next read. When several such faults apply
// to the same read, the one that cuts earliest fires.
type Disconnect struct {
	When       Trigger
	AfterBytes int64
}

// Delay stalls reading the connection for Duration before the triggering
// notification is processed (it and everything after it wait), then goes
// on normally. Closing the server ends the stall.
type Delay struct {
	Duration time.Duration
	When     Trigger
}

// FeedbackCoalesce makes the next feedback connection(s) write all queued
// tuples in a single write instead of one tuple per write. Times as in
// [Trigger].
type FeedbackCoalesce struct {
	Times int
}

// FeedbackSplit makes the next feedback connection(s) write each tuple in
// two writes, split in the middle of the tuple. Times as in [Trigger].
type FeedbackSplit struct {
	Times int
}

// FeedbackCut makes the next feedback connection(s) close after writing
// AfterBytes bytes, possibly in the middle of a tuple. The read is still
// destructive, as on Apple: every tuple the connection took from the queue
// is gone, including those it never wrote. Times as in [Trigger].
type FeedbackCut struct {
	AfterBytes int
	Times      int
}

func (Reject) isFault()           {}
func (Shutdown) isFault()         {}
func (Disconnect) isFault()       {}
func (Delay) isFault()            {}
func (FeedbackCoalesce) isFault() {}
func (FeedbackSplit) isFault()    {}
func (FeedbackCut) isFault()      {}

// FaultInfo describes an installed fault.
type FaultInfo struct {
	ID    int   // as returned by AddFault
	Fault Fault // the fault as added
	Fired int   // how many times it fired so far
}

// faultKind classifies an installed fault for the code paths that use it.
type faultKind uint8

const (
	kindNotification faultKind = iota // Reject, Shutdown, Disconnect (by notification), Delay
	kindCut                           // Disconnect with AfterBytes
	kindFeedback                      // Feedback*
)

// installed is one fault in the server's list.
type installed struct {
	id    int
	fault Fault
	kind  faultKind
	when  Trigger // copy of the fault's trigger (Times for feedback faults)
	after int64   // Disconnect.AfterBytes
	seen  int     // notifications that matched Token since added (for Nth)
	fired int
}

func (f *installed) exhausted() bool {
	switch t := f.when.Times; {
	case t == Always:
		return false
	case t == 0:
		return f.fired >= 1
	default:
		return f.fired >= t
	}
}

// faultSet holds the installed faults. active counts the faults that can
// still fire on notifications or cut connections, so that the gateway's hot
// path skips the lock entirely when there are none.
type faultSet struct {
	mu     sync.Mutex
	list   []*installed
	nextID int
	rng    *rand.Rand
	active atomic.Int32 // gateway faults (notification or cut) not exhausted
}

// action is what the gateway must do with a notification: stall for delay
// (if non-zero), then act as kind says.
type action struct {
	kind   actionKind
	status wire.Status // reject
	delay  time.Duration
}

type actionKind uint8

const (
	actNone actionKind = iota
	actReject
	actShutdown
	actDisconnect
)

func validTrigger(t Trigger) error {
	switch {
	case t.Nth < 0:
		return fmt.Errorf("%w: nth %d is negative", ErrBadFault, t.Nth)
	case t.Probability < 0 || t.Probability > 1 || t.Probability != t.Probability:
		return fmt.Errorf("%w: probability %v outside [0, 1]", ErrBadFault, t.Probability)
	case t.Times < Always:
		return fmt.Errorf("%w: times %d (want %d for always, 0 for once, or a count)", ErrBadFault, t.Times, Always)
	}
	return nil
}

func validTimes(times int) error {
	if times < Always {
		return fmt.Errorf("%w: times %d (want %d for always, 0 for once, or a count)", ErrBadFault, times, Always)
	}
	return nil
}

// newInstalled validates f and copies what the matching code needs (the
// token is copied, so the caller may reuse its slice).
func newInstalled(f Fault) (*installed, error) {
	in := &installed{fault: f}
	var err error
	switch f := f.(type) {
	case Reject:
		if f.Status == wire.StatusNoError {
			return nil, fmt.Errorf("%w: reject needs a non-zero status", ErrBadFault)
		}
		in.when, err = f.When, validTrigger(f.When)
	case *Reject, *Shutdown, *Disconnect, *Delay, *FeedbackCoalesce, *FeedbackSplit, *FeedbackCut:
		return nil, fmt.Errorf("%w: pass fault values, not pointers (%T)", ErrBadFault, f)
	case Shutdown:
		in.when, err = f.When, validTrigger(f.When)
	case Disconnect:
		if f.AfterBytes < 0 {
			return nil, fmt.Errorf("%w: after_bytes %d is negative", ErrBadFault, f.AfterBytes)
		}
		in.when, err = f.When, validTrigger(f.When)
		if f.AfterBytes > 0 {
			in.kind, in.after = kindCut, f.AfterBytes
		}
	case Delay:
		if f.Duration <= 0 {
			return nil, fmt.Errorf("%w: delay %v must be positive", ErrBadFault, f.Duration)
		}
		in.when, err = f.When, validTrigger(f.When)
	case FeedbackCoalesce:
		in.kind, in.when.Times, err = kindFeedback, f.Times, validTimes(f.Times)
	case FeedbackSplit:
		in.kind, in.when.Times, err = kindFeedback, f.Times, validTimes(f.Times)
	case FeedbackCut:
		if f.AfterBytes < 0 {
			return nil, fmt.Errorf("%w: after_bytes %d is negative", ErrBadFault, f.AfterBytes)
		}
		in.kind, in.when.Times, err = kindFeedback, f.Times, validTimes(f.Times)
	case nil:
		return nil, fmt.Errorf("%w: nil fault", ErrBadFault)
	default:
		return nil, fmt.Errorf("%w: unknown fault type %T", ErrBadFault, f)
	}
	if err != nil {
		return nil, err
	}
	return in, nil
}

func (fs *faultSet) add(f Fault) (int, error) {
	in, err := newInstalled(f)
	if err != nil {
		return 0, err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.nextID++
	in.id = fs.nextID
	fs.list = append(fs.list, in)
	fs.recount()
	return in.id, nil
}

// recount refreshes the active counter; fs.mu must be held.
func (fs *faultSet) recount() {
	var n int32
	for _, f := range fs.list {
		if f.kind != kindFeedback && !f.exhausted() {
			n++
		}
	}
	fs.active.Store(n)
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
	fs.recount()
	return true
}

func (fs *faultSet) clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.list = nil
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
	fs.rng = newRand(seed)
	fs.recount()
}

// onNotification runs the notification faults against n, in the order
// they were added. Every fault counts the notifications that match its
// token (for Nth), whatever the others do. Delays that fire add up; the
// first reject, shutdown or disconnect that fires decides the outcome, and
// the later ones do not fire on this notification. Only called when active
// is non-zero.
func (fs *faultSet) onNotification(n *wire.Notification) action {
	var a action
	fs.mu.Lock()
	defer fs.mu.Unlock()
	changed := false
	for _, f := range fs.list {
		if f.kind != kindNotification || f.exhausted() {
			continue
		}
		if !f.when.Token.IsZero() && !f.when.Token.Equal(n.Token) {
			continue
		}
		f.seen++
		if f.when.Nth > 0 && f.seen%f.when.Nth != 0 {
			continue
		}
		_, isDelay := f.fault.(Delay)
		if !isDelay && a.kind != actNone {
			continue // the outcome is decided already
		}
		if p := f.when.Probability; p > 0 && fs.rng.Float64() >= p {
			continue
		}
		f.fired++
		changed = changed || f.exhausted()
		switch f := f.fault.(type) {
		case Reject:
			a.kind, a.status = actReject, f.Status
		case Shutdown:
			a.kind = actShutdown
		case Disconnect:
			a.kind = actDisconnect
		case Delay:
			a.delay += f.Duration
		}
	}
	if changed {
		fs.recount()
	}
	return a
}

// cutAt returns the byte position at which a connection that has read
// `before` bytes and now holds `now` bytes must be cut, and whether a cut
// fault fires. Of the faults that apply, the one that cuts earliest fires
// (the first added among equals); the others do not fire on this read.
func (fs *faultSet) cutAt(before, now int64) (int64, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var first *installed
	var at int64
	for _, f := range fs.list {
		// A connection that has read AfterBytes bytes is cut, even when
		// it read exactly that many and nothing more arrives.
		if f.kind != kindCut || f.exhausted() || now < f.after {
			continue
		}
		if pos := max(f.after, before); first == nil || pos < at {
			first, at = f, pos
		}
	}
	if first == nil {
		return 0, false
	}
	first.fired++
	if first.exhausted() {
		fs.recount()
	}
	return at, true
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
		if f.kind != kindFeedback || f.exhausted() {
			continue
		}
		f.fired++
		switch f := f.fault.(type) {
		case FeedbackCoalesce:
			m.coalesce = true
		case FeedbackSplit:
			m.split = true
		case FeedbackCut:
			m.cut = f.AfterBytes
		}
		return m
	}
	return m
}
