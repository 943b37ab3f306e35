package mockapns

import (
	"fmt"

	"github.com/apnskit/apnskit/apns"
)

// binaryOnly is the protocol set of the binary provider API's faults.
var binaryOnly = protos(apns.Binary)

// Shutdown leaves the triggering notification unprocessed and answers
// status 10 naming the last notification accepted on that connection (0 if
// none), then closes, as Apple did before maintenance. On a command-0
// notification, which cannot be answered, it closes without a word. It
// applies to the binary gateway only (for HTTP/2, see [GoAway]).
//
// JSON: the trigger members.
type Shutdown struct {
	When Trigger
}

func (f Shutdown) spec() faultSpec    { return &f }
func (*Shutdown) action() string      { return "shutdown" }
func (f *Shutdown) fault() Fault      { return *f }
func (f *Shutdown) members() []member { return triggerMembers(&f.When) }
func (f *Shutdown) check() error      { return checkTrigger(f.When, f.action(), binaryOnly) }

func (f *Shutdown) rule() rule {
	return rule{hook: hookRequest, protocols: binaryOnly, when: f.When, decides: true,
		fire: func(a *faultAction) { a.kind = actShutdown }}
}

// FeedbackCoalesce makes the next feedback connection(s) write all queued
// tuples in a single write instead of one tuple per write.
//
// JSON: "times".
type FeedbackCoalesce struct {
	Times Count
}

func (f FeedbackCoalesce) spec() faultSpec    { return &f }
func (*FeedbackCoalesce) action() string      { return "feedback_coalesce" }
func (f *FeedbackCoalesce) fault() Fault      { return *f }
func (f *FeedbackCoalesce) members() []member { return []member{timesMember(&f.Times)} }
func (f *FeedbackCoalesce) check() error      { return checkTimes(f.Times) }

func (f *FeedbackCoalesce) rule() rule {
	return feedbackRule(f.Times, func(m *feedbackMode) { m.coalesce = true })
}

// FeedbackSplit makes the next feedback connection(s) write each tuple in
// two writes, split in the middle of the tuple.
//
// JSON: "times".
type FeedbackSplit struct {
	Times Count
}

func (f FeedbackSplit) spec() faultSpec    { return &f }
func (*FeedbackSplit) action() string      { return "feedback_split" }
func (f *FeedbackSplit) fault() Fault      { return *f }
func (f *FeedbackSplit) members() []member { return []member{timesMember(&f.Times)} }
func (f *FeedbackSplit) check() error      { return checkTimes(f.Times) }

func (f *FeedbackSplit) rule() rule {
	return feedbackRule(f.Times, func(m *feedbackMode) { m.split = true })
}

// FeedbackCut makes the next feedback connection(s) close after writing
// AfterBytes bytes, possibly in the middle of a tuple; 0 closes before the
// first byte. The read is still destructive, as on Apple: every tuple the
// connection took from the queue is gone, including those it never wrote.
//
// JSON: "after_bytes" (required, at least 0) and "times".
type FeedbackCut struct {
	AfterBytes int
	Times      Count
}

func (f FeedbackCut) spec() faultSpec { return &f }
func (*FeedbackCut) action() string   { return "feedback_cut" }
func (f *FeedbackCut) fault() Fault   { return *f }

func (f *FeedbackCut) members() []member {
	after := intMember("after_bytes", &f.AfterBytes, 0, FaultMaxBytes, fmt.Sprintf("0 to %d", int64(FaultMaxBytes)), func() bool { return true })
	after.required, after.hint = true, "bytes written before the cut; 0 closes at once"
	return []member{after, timesMember(&f.Times)}
}

func (f *FeedbackCut) check() error {
	if f.AfterBytes < 0 || f.AfterBytes > FaultMaxBytes {
		return specErr("after_bytes", "must be 0 to %d, got %d", int64(FaultMaxBytes), f.AfterBytes)
	}
	return checkTimes(f.Times)
}

func (f *FeedbackCut) rule() rule {
	n := f.AfterBytes
	return feedbackRule(f.Times, func(m *feedbackMode) { m.cut = n })
}

func feedbackRule(times Count, apply func(*feedbackMode)) rule {
	return rule{hook: hookFeedback, when: Trigger{Times: times}, feedback: apply}
}
