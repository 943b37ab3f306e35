package retry_test

import (
	"context"
	"errors"

	"github.com/apnskit/apnskit/internal/retry"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// job is a list of notification names.
type job []string

// answer is what a scripted send returns: the failed count and the jobs to
// send again.
type answer struct {
	failed int
	retry  []job
	err    error
}

// scripted returns a send function answering each call with the next
// answer (then: everything accepted), and the jobs it was given.
func scripted(answers ...answer) (func(context.Context, job) (int, retry.Step[job], error), *[]job) {
	var calls []job
	return func(_ context.Context, j job) (int, retry.Step[job], error) {
		calls = append(calls, j)
		a := answer{}
		if len(calls) <= len(answers) {
			a = answers[len(calls)-1]
		}
		if a.err != nil {
			return 0, retry.Step[job]{}, a.err
		}
		again := 0
		for _, r := range a.retry {
			again += len(r)
		}
		return len(calls), retry.Step[job]{Retry: a.retry, Carried: len(j), Failed: a.failed, Again: again}, nil
	}, &calls
}

type seen struct {
	jobs   []job
	gaveUp []job
	unsent []job
	err    error
}

func run(ctx context.Context, p retry.Policy, send func(context.Context, job) (int, retry.Step[job], error), queue ...job) seen {
	var s seen
	for rd, err := range retry.Run(ctx, queue, p, send) {
		if rd.Sent {
			s.jobs = append(s.jobs, rd.Job)
		}
		s.gaveUp = append(s.gaveUp, rd.GaveUp...)
		s.unsent = append(s.unsent, rd.Unsent...)
		s.err = err
	}
	return s
}

var _ = Describe("Run", func() {
	abc := job{"a", "b", "c"}
	stall := answer{retry: []job{abc}}

	It("follows every resend until none is left", func() {
		send, calls := scripted(answer{failed: 1, retry: []job{{"c"}, {"x"}}})
		s := run(context.Background(), retry.Policy{}, send, abc)
		Expect(*calls).To(Equal([]job{abc, {"c"}, {"x"}}))
		Expect(s.gaveUp).To(BeEmpty())
		Expect(s.err).NotTo(HaveOccurred())
	})

	DescribeTable("gives up after MaxAttempts fruitless sends in a row, and only then",
		func(max int, answers []answer, wantCalls int, wantGaveUp []job) {
			send, calls := scripted(answers...)
			s := run(context.Background(), retry.Policy{MaxAttempts: max}, send, abc)
			Expect(*calls).To(HaveLen(wantCalls))
			Expect(s.gaveUp).To(Equal(wantGaveUp))
			Expect(s.err).NotTo(HaveOccurred())
		},
		Entry("three fruitless sends with MaxAttempts 3", 3, []answer{stall, stall, stall, stall}, 3, []job{abc}),
		Entry("MaxAttempts 1 gives up after the first fruitless send", 1, []answer{stall, stall}, 1, []job{abc}),
		Entry("0 means DefaultMaxAttempts", 0,
			[]answer{stall, stall, stall, stall, stall, stall, stall, stall, stall, stall, stall}, retry.DefaultMaxAttempts, []job{abc}),
		Entry("a failure settles something: the count restarts", 3,
			[]answer{stall, stall, {failed: 1, retry: []job{{"b", "c"}}}, {retry: []job{{"b", "c"}}}, {retry: []job{{"b", "c"}}}, {retry: []job{{"b", "c"}}}},
			6, []job{{"b", "c"}}),
		Entry("fewer resends than carried settles something", 2,
			[]answer{stall, {retry: []job{{"b", "c"}}}, {retry: []job{{"b", "c"}}}, {retry: []job{{"b", "c"}}}},
			4, []job{{"b", "c"}}),
		Entry("resends of others, learnt late, count as coming back", 2,
			[]answer{{retry: []job{{"a", "b"}, {"z"}}}, {retry: []job{{"a", "b"}}}}, 3, []job{{"a", "b"}}),
		Entry("a fruitless send with nothing to resend gives up nothing", 1,
			[]answer{{failed: 0, retry: nil}}, 1, nil),
	)

	It("goes on with what else is queued after giving up, giving up at once while fruitless", func() {
		send, calls := scripted(answer{retry: []job{abc, {"x"}}}, stall, answer{retry: []job{{"x"}}}, answer{})
		s := run(context.Background(), retry.Policy{MaxAttempts: 2}, send, abc)
		// 1: abc → abc, x (fruitless 1); 2: abc → abc (fruitless 2: given up);
		// 3: x → x (fruitless 3: given up at once).
		Expect(*calls).To(Equal([]job{abc, abc, {"x"}}))
		Expect(s.gaveUp).To(Equal([]job{abc, {"x"}}))
	})

	It("ends at a send error with the job and the queue unsent", func() {
		boom := errors.New("no route")
		send, _ := scripted(answer{retry: []job{{"b"}, {"y"}}}, answer{err: boom})
		s := run(context.Background(), retry.Policy{}, send, abc)
		Expect(s.err).To(MatchError(boom))
		Expect(s.jobs).To(Equal([]job{abc, {"b"}}))
		Expect(s.unsent).To(Equal([]job{{"b"}, {"y"}}))
	})

	It("ends when ctx ends before a send, with the queue unsent", func() {
		ctx, cancel := context.WithCancel(context.Background())
		var calls int
		send := func(_ context.Context, j job) (int, retry.Step[job], error) {
			calls++
			cancel()
			return 0, retry.Step[job]{Retry: []job{{"c"}}, Carried: len(j), Again: 1}, nil
		}
		s := run(ctx, retry.Policy{}, send, abc)
		Expect(calls).To(Equal(1))
		Expect(s.err).To(MatchError(context.Canceled))
		Expect(s.unsent).To(Equal([]job{{"c"}}))
	})

	It("stops when the caller breaks out", func() {
		send, calls := scripted(stall, stall, stall)
		for range retry.Run(context.Background(), []job{abc}, retry.Policy{}, send) {
			break
		}
		Expect(*calls).To(HaveLen(1))
	})
})
