package main

// Specs of the parts of apnsclient that need no network: token lists, flags,
// the summary, the progress line and the resend loop (against a scripted
// sender). They run in the suite of apnsclient_suite_test.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/wire"
)

// tok returns a distinct 32-byte token in hex.
func tok(i int) string { return fmt.Sprintf("%064x", i) }

func toks(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = tok(i + 1)
	}
	return out
}

var _ = Describe("parseToken", func() {
	DescribeTable("accepts even-length hex and lower-cases it",
		func(in, want string) {
			Expect(parseToken(in)).To(Equal(want))
		},
		Entry("32 bytes", tok(7), tok(7)),
		Entry("upper case", "ABCDEF0123", "abcdef0123"),
		Entry("one byte", "0a", "0a"),
		Entry("100 bytes", strings.Repeat("ab", 100), strings.Repeat("ab", 100)),
	)
	DescribeTable("refuses with apns.ErrBadToken, saying why",
		func(in string, why string) {
			_, err := parseToken(in)
			Expect(err).To(MatchError(apns.ErrBadToken))
			Expect(err.Error()).To(ContainSubstring(why))
		},
		Entry("empty", "", "empty"),
		Entry("odd length", "abc", "odd number of hex digits"),
		Entry("non-hex", "abzz", "not a hex digit"),
		Entry("a space inside", "ab c", "' ' at offset 2 is not a hex digit"),
		Entry("101 bytes", strings.Repeat("ab", 101), "longer than 100"),
	)
})

var _ = Describe("readTokens", func() {
	It("skips blank lines, comments and surrounding spaces, and accepts CRLF", func() {
		in := "# devices\r\n\r\n  " + tok(1) + "  \r\n\t# " + tok(9) + "\n" + strings.ToUpper(tok(2)) + "\n\n" + tok(3)
		Expect(readTokens(strings.NewReader(in), "list")).To(Equal([]string{tok(1), tok(2), tok(3)}))
	})
	It("names the first bad line", func() {
		in := tok(1) + "\n\n" + tok(2) + "a\n" + "zz\n"
		_, err := readTokens(strings.NewReader(in), "list.txt")
		var le *tokenLineError
		Expect(errors.As(err, &le)).To(BeTrue())
		Expect(le.Name).To(Equal("list.txt"))
		Expect(le.Line).To(Equal(3))
		Expect(err).To(MatchError(apns.ErrBadToken))
		Expect(err.Error()).To(Equal(`list.txt:3: bad token "` + tok(2) + `a": odd number of hex digits (65)`))
	})
	It("refuses a line too long to be a token, naming it", func() {
		in := tok(1) + "\n" + strings.Repeat("a", maxLineLength+10) + "\n"
		_, err := readTokens(strings.NewReader(in), "stdin")
		var le *tokenLineError
		Expect(errors.As(err, &le)).To(BeTrue())
		Expect(le.Line).To(Equal(2))
		Expect(err).To(MatchError(errLineTooLong))
	})
	It("refuses a list without tokens", func() {
		_, err := readTokens(strings.NewReader("# nothing\n\n"), "stdin")
		Expect(err).To(MatchError(errNoTokens))
	})
	It("keeps duplicates: each line is one notification", func() {
		Expect(readTokens(strings.NewReader(tok(1)+"\n"+tok(1)+"\n"), "x")).To(HaveLen(2))
	})
})

var _ = Describe("parsePush", func() {
	base := []string{"-addr", "127.0.0.1:2195", "-ca", "ca.pem", "-cert", "c.pem", "-key", "k.pem"}
	noenv := func(string) string { return "" }
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }

	It("reads every contract flag", func() {
		o, err := parsePush(with("-token", tok(1), "-token", strings.ToUpper(tok(2)),
			"-alert", "hello", "-badge", "0", "-sound", "default", "-expiry", "1h", "-priority", "5"), noenv)
		Expect(err).NotTo(HaveOccurred())
		Expect(o.conn).To(Equal(connOptions{addr: "127.0.0.1:2195", caFile: "ca.pem", certFile: "c.pem", keyFile: "k.pem", timeout: 10 * time.Second}))
		Expect(o.tokens).To(Equal([]string{tok(1), tok(2)}))
		Expect(o.alert).To(Equal("hello"))
		Expect(o.hasAlert).To(BeTrue())
		Expect(o.hasBadge).To(BeTrue())
		Expect(o.badge).To(Equal(0))
		Expect(o.sound).To(Equal("default"))
		Expect(o.expiry).To(Equal(time.Hour))
		Expect(o.priority.item()).To(Equal(5))
		Expect(o.batch).To(Equal(defaultBatch))
		Expect(o.maxAttempts).To(Equal(defaultMaxAttempts))
		Expect(o.progress).To(Equal(progressAuto))
	})
	It("leaves the priority item out without -priority, and takes -progress values", func() {
		o, err := parsePush(with("-token", tok(1), "-progress", "never"), noenv)
		Expect(err).NotTo(HaveOccurred())
		Expect(o.priority.item()).To(Equal(0))
		Expect(o.progress).To(Equal(progressNever))
		o, err = parsePush(with("-token", tok(1), "-progress", "always", "-priority", "10"), noenv)
		Expect(err).NotTo(HaveOccurred())
		Expect(o.progress).To(Equal(progressAlways))
		Expect(o.priority.item()).To(Equal(10))
	})
	It("takes a raw payload and a token list", func() {
		o, err := parsePush(with("-tokens", "-", "-payload", ` {"aps":{"alert":"x"}} `), noenv)
		Expect(err).NotTo(HaveOccurred())
		Expect(o.tokensFile).To(Equal("-"))
		Expect(string(o.payload)).To(Equal(`{"aps":{"alert":"x"}}`))
	})
	It("takes Apple's names for -addr and no -ca", func() {
		o, err := parsePush([]string{"-addr", "push_sandbox", "-cert", "c.pem", "-token", tok(1)}, noenv)
		Expect(err).NotTo(HaveOccurred())
		Expect(o.conn.addr).To(Equal("push_sandbox"))
		Expect(o.conn.caFile).To(BeEmpty())
	})
	It("takes secrets from the environment when the flags are absent", func() {
		getenv := func(k string) string { return map[string]string{"APNSCLIENT_PASSPHRASE": "s3cret"}[k] }
		o, err := parsePush(with("-token", tok(1)), getenv)
		Expect(err).NotTo(HaveOccurred())
		Expect(o.conn.passphrase).To(Equal("s3cret"))
	})
	DescribeTable("refuses bad command lines with a usage error",
		func(args []string, mention string) {
			_, err := parsePush(args, noenv)
			Expect(err).To(MatchError(errUsage))
			Expect(err.Error()).To(ContainSubstring(mention))
			Expect(err.Error()).NotTo(ContainSubstring("\n"))
		},
		Entry("no -addr", []string{"-cert", "c.pem", "-token", tok(1)}, "-addr"),
		Entry("-addr without port", []string{"-addr", "localhost", "-cert", "c", "-token", tok(1)}, "HOST:PORT"),
		Entry("-addr with a bad port", []string{"-addr", "localhost:http", "-cert", "c", "-token", tok(1)}, "port"),
		Entry("-addr of a feedback service", []string{"-addr", "feedback_sandbox", "-cert", "c", "-token", tok(1)}, "feedback"),
		Entry("no -cert", []string{"-addr", "push_sandbox", "-token", tok(1)}, "-cert"),
		Entry("-p12 with -cert", with("-p12", "x.p12", "-token", tok(1)), "-p12"),
		Entry("both -token and -tokens", with("-token", tok(1), "-tokens", "f"), "exclude"),
		Entry("no token", base, "no device token"),
		Entry("bad hex", with("-token", "xyz1"), "-token"),
		Entry("odd hex", with("-token", "abc"), "odd"),
		Entry("bad -priority", with("-token", tok(1), "-priority", "7"), "-priority"),
		Entry("bad -expiry", with("-token", tok(1), "-expiry", "soon"), "-expiry"),
		Entry("negative -expiry", with("-token", tok(1), "-expiry", "-1h"), "-expiry"),
		Entry("bad -badge", with("-token", tok(1), "-badge", "-1"), "-badge"),
		Entry("bad -payload JSON", with("-token", tok(1), "-payload", `{"aps":`), "-payload"),
		Entry("-payload not an object", with("-token", tok(1), "-payload", `[1]`), "object"),
		Entry("-payload with -alert", with("-token", tok(1), "-payload", `{}`, "-alert", "x"), "-payload"),
		Entry("unknown flag", with("-token", tok(1), "-colour", "red"), "-colour"),
		Entry("positional argument", with("-token", tok(1), "extra"), "extra"),
		Entry("-batch 0", with("-token", tok(1), "-batch", "0"), "-batch"),
		Entry("-max-attempts 0", with("-token", tok(1), "-max-attempts", "0"), "-max-attempts"),
		Entry("bad -progress", with("-token", tok(1), "-progress", "sometimes"), "-progress"),
		Entry("negative -error-wait, out of client.Config's range", with("-token", tok(1), "-error-wait", "-1s"), "ErrorWait"),
	)
})

var _ = Describe("client.Config's range checks", func() {
	It("are usage errors wrapping client.ErrBadConfig", func() {
		args := []string{"-addr", "127.0.0.1:2195", "-cert", "c.pem", "-token", tok(1), "-error-wait", "-5ms"}
		_, err := parsePush(args, func(string) string { return "" })
		Expect(err).To(MatchError(errUsage))
		Expect(err).To(MatchError(client.ErrBadConfig))
	})
})

var _ = Describe("parseFeedback", func() {
	It("takes the connection flags", func() {
		o, err := parseFeedback([]string{"-addr", "feedback_production", "-p12", "c.p12", "-p12-password", "pw"}, func(string) string { return "" })
		Expect(err).NotTo(HaveOccurred())
		Expect(o.conn.addr).To(Equal("feedback_production"))
		Expect(o.conn.p12Password).To(Equal("pw"))
	})
	It("refuses a push gateway name", func() {
		_, err := parseFeedback([]string{"-addr", "push_production", "-cert", "c"}, func(string) string { return "" })
		Expect(err).To(MatchError(errUsage))
	})
	It("refuses push flags", func() {
		_, err := parseFeedback([]string{"-addr", "h:1", "-cert", "c", "-token", tok(1)}, func(string) string { return "" })
		Expect(err).To(MatchError(errUsage))
	})
})

var _ = Describe("summary", func() {
	It("prints one JSON line with the contract's fields, statuses as numbers", func() {
		s := summary{Sent: 12, Retried: 2, Uncertain: 1, Accepted: 9,
			Failed: []failure{statusFailure(tok(3), wire.StatusInvalidToken)}}
		s.finish(1500 * time.Millisecond)
		var buf bytes.Buffer
		Expect(s.write(&buf)).To(Succeed())
		Expect(buf.String()).To(Equal(`{"sent":12,"accepted":9,"failed":[{"token":"` + tok(3) +
			`","status":8,"reason":"invalid token"}],"retried":2,"uncertain":1,"seconds":1.5,"rate":8}` + "\n"))
		Expect(s.exitCode()).To(Equal(exitFailed))
	})
	It("prints an empty failed list as [] and exits 0", func() {
		s := summary{Sent: 3, Accepted: 3}
		s.finish(0)
		var buf bytes.Buffer
		Expect(s.write(&buf)).To(Succeed())
		Expect(buf.String()).To(Equal(`{"sent":3,"accepted":3,"failed":[],"retried":0,"uncertain":0,"seconds":0,"rate":0}` + "\n"))
		Expect(s.exitCode()).To(Equal(exitOK))
	})
})

// syncBuffer is a bytes.Buffer safe for one writer goroutine and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ = Describe("progress", func() {
	It("renders what is settled, sent, failed and the rate", func() {
		var c counters
		c.done.Store(500)
		c.sent.Store(600)
		c.failed.Store(3)
		c.retried.Store(100)
		Expect(progressLine(&c, 1000, 2*time.Second)).To(Equal("500/1000 done (50%), sent 600, failed 3, retried 100, 300/s"))
	})
	It("redraws at each tick and ends the line when stopped", func() {
		var out syncBuffer
		ticks := make(chan time.Time)
		n := 0
		p := startProgress(&out, ticks, func() string { n++; return fmt.Sprintf("state %d", n) })
		ticks <- time.Now()
		ticks <- time.Now()
		p.Stop()
		Expect(out.String()).To(Equal("\rstate 1\x1b[K\rstate 2\x1b[K\rstate 3\x1b[K\n"))
	})
	It("never counts a buffer as a terminal", func() {
		Expect(isTerminal(&bytes.Buffer{})).To(BeFalse())
	})
})

// script is a sender that answers each call with the next scripted round
// and records the tokens it was given. It is for one batch at a time
// (parallel 1).
type script struct {
	calls  [][]string
	rounds []func(tokens []string) (round, error)
}

func (s *script) send(_ context.Context, j job) (round, error) {
	tokens := j.tokens
	s.calls = append(s.calls, append([]string(nil), tokens...))
	if len(s.calls) > len(s.rounds) {
		return round{sent: len(tokens)}, nil
	}
	return s.rounds[len(s.calls)-1](tokens)
}

// jobs makes the retry of a round.
func jobs(tokens []string) []job {
	if len(tokens) == 0 {
		return nil
	}
	return []job{{tokens: tokens}}
}

var errNoRoute = errors.New("dial: no route")

var _ = Describe("pusher", func() {
	var (
		sc *script
		p  *pusher
	)
	BeforeEach(func() {
		sc = &script{}
		p = &pusher{send: sc.send, batch: 4, parallel: 1, maxAttempts: 3}
	})
	summaryOf := func(tokens []string) (summary, error) {
		return p.push(context.Background(), tokens)
	}

	It("sends batch by batch and counts every token accepted", func() {
		s, err := summaryOf(toks(10))
		Expect(err).NotTo(HaveOccurred())
		Expect(sc.calls).To(Equal([][]string{toks(10)[0:4], toks(10)[4:8], toks(10)[8:10]}))
		Expect(cmp.Diff(summary{Sent: 10, Accepted: 10}, s, cmp.AllowUnexported(summary{}))).To(BeEmpty())
		Expect(p.c.done.Load()).To(BeEquivalentTo(10))
		Expect(p.c.attempts.Load()).To(BeEquivalentTo(3))
	})

	It("fails a refused token and resends the rest", func() {
		t := toks(4)
		sc.rounds = append(sc.rounds, func([]string) (round, error) {
			return round{sent: 4, failed: []failure{statusFailure(t[1], wire.StatusInvalidToken)}, retry: jobs(t[2:])}, nil
		})
		s, err := summaryOf(t)
		Expect(err).NotTo(HaveOccurred())
		Expect(sc.calls).To(Equal([][]string{t, t[2:]}))
		Expect(s).To(Equal(summary{Sent: 6, Accepted: 3, Retried: 2,
			Failed: []failure{{Token: t[1], Status: 8, Reason: "invalid token"}}}))
	})

	It("counts resends after a silent disconnect as uncertain", func() {
		t := toks(4)
		sc.rounds = append(sc.rounds, func([]string) (round, error) {
			return round{sent: 4, retry: []job{{tokens: t[1:], uncertain: 3}}}, nil
		})
		s, err := summaryOf(t)
		Expect(err).NotTo(HaveOccurred())
		Expect(s).To(Equal(summary{Sent: 7, Accepted: 4, Retried: 3, Uncertain: 3}))
	})

	It("counts uncertain notifications only when they are resent", func() {
		ctx, cancel := context.WithCancel(context.Background())
		t := toks(4)
		sc.rounds = append(sc.rounds, func([]string) (round, error) {
			cancel()
			return round{sent: 4, retry: []job{{tokens: t[1:], uncertain: 3}}}, nil
		})
		s, err := p.push(ctx, t)
		Expect(err).To(MatchError(errInterrupted))
		Expect(s).To(Equal(summary{Sent: 4, Accepted: 1}))
	})

	It("gives up after -max-attempts sends that settle nothing, with the last status", func() {
		t := toks(3)
		always := func(tokens []string) (round, error) {
			return round{sent: len(tokens), retry: jobs(tokens), status: wire.StatusProcessingError}, nil
		}
		sc.rounds = append(sc.rounds, always, always, always, always, always)
		s, err := summaryOf(t)
		Expect(err).NotTo(HaveOccurred())
		Expect(sc.calls).To(HaveLen(3))
		Expect(s.Sent).To(Equal(9))
		Expect(s.Retried).To(Equal(6))
		Expect(s.Accepted).To(Equal(0))
		Expect(s.Failed).To(HaveLen(3))
		Expect(s.Failed[0]).To(Equal(failure{Token: t[0], Status: 1, Reason: "gave up after 3 attempts: processing error"}))
	})

	It("keeps going while each send settles something", func() {
		t := toks(4)
		for i := range 4 {
			sc.rounds = append(sc.rounds, func(tokens []string) (round, error) {
				Expect(tokens).To(Equal(t[i:]))
				return round{sent: len(tokens), retry: jobs(tokens[1:])}, nil
			})
		}
		s, err := summaryOf(t)
		Expect(err).NotTo(HaveOccurred())
		Expect(sc.calls).To(HaveLen(4))
		Expect(s).To(Equal(summary{Sent: 4 + 3 + 2 + 1, Accepted: 4, Retried: 3 + 2 + 1}))
	})

	It("charges a late failure of an earlier batch to the totals", func() {
		t := toks(8)
		sc.rounds = append(sc.rounds,
			func(tokens []string) (round, error) { return round{sent: 4}, nil },
			func(tokens []string) (round, error) {
				// The first batch's t[3] was refused after its send ended; t[4:] were discarded.
				return round{sent: 4, failed: []failure{statusFailure(t[3], wire.StatusInvalidToken)}, retry: jobs(t[4:])}, nil
			})
		s, err := summaryOf(t)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Accepted).To(Equal(7))
		Expect(s.Failed).To(HaveLen(1))
		Expect(s.Sent).To(Equal(12))
	})

	It("follows every message to resend, including late ones of other content", func() {
		t := toks(4)
		sc.rounds = append(sc.rounds, func([]string) (round, error) {
			return round{sent: 4, retry: []job{{tokens: t[2:]}, {tokens: []string{tok(99)}}}}, nil
		})
		s, err := summaryOf(t)
		Expect(err).NotTo(HaveOccurred())
		Expect(sc.calls).To(Equal([][]string{t, t[2:], {tok(99)}}))
		// tok(99) belonged to another batch, counted there: accepted stays 4.
		Expect(s).To(Equal(summary{Sent: 7, Accepted: 4, Retried: 3}))
	})

	It("stops at a connection error, counting only what was settled", func() {
		t := toks(10)
		sc.rounds = append(sc.rounds,
			func(tokens []string) (round, error) { return round{sent: 4}, nil },
			func(tokens []string) (round, error) { return round{}, errNoRoute })
		s, err := summaryOf(t)
		Expect(err).To(MatchError(errNoRoute))
		Expect(sc.calls).To(HaveLen(2))
		Expect(s).To(Equal(summary{Sent: 4, Accepted: 4}))
	})

	It("stops when interrupted", func() {
		ctx, cancel := context.WithCancel(context.Background())
		t := toks(10)
		sc.rounds = append(sc.rounds, func(tokens []string) (round, error) {
			cancel()
			return round{sent: 2, retry: jobs(tokens[2:])}, nil
		})
		s, err := p.push(ctx, t)
		Expect(err).To(MatchError(errInterrupted))
		Expect(s).To(Equal(summary{Sent: 2, Accepted: 2}))
	})

	It("reads the list as it sends, and stops reading when the push stops", func() {
		t := toks(20)
		read := 0
		sc.rounds = append(sc.rounds, func(tokens []string) (round, error) { return round{}, errNoRoute })
		err := p.runScan(context.Background(), func(each func(string) error) error {
			for _, tk := range t {
				read++
				if err := each(tk); err != nil {
					return err
				}
			}
			return nil
		})
		Expect(err).To(MatchError(errNoRoute))
		Expect(sc.calls).To(Equal([][]string{t[:4]}))
		// The first batch is handed over, the second waits for a sender
		// and is dropped when the push stops; nothing after it is read.
		Expect(read).To(BeNumerically("<=", 12))
		Expect(p.summary()).To(Equal(summary{}))
	})

	It("stops with the error of the list", func() {
		errRead := errors.New("read error")
		sent := make(chan struct{})
		sc.rounds = append(sc.rounds, func(tokens []string) (round, error) {
			close(sent)
			return round{sent: len(tokens)}, nil
		})
		err := p.runScan(context.Background(), func(each func(string) error) error {
			for _, tk := range toks(5) {
				if err := each(tk); err != nil {
					return err
				}
			}
			<-sent
			return errRead
		})
		Expect(err).To(MatchError(errRead))
		Expect(p.summary().Accepted).To(Equal(4)) // the first batch, sent before the error
	})

	It("runs batches in parallel and lists failures in the list's order", func() {
		t := toks(1000)
		bad := map[string]bool{t[5]: true, t[517]: true, t[998]: true}
		var mu sync.Mutex
		calls := 0
		p = &pusher{batch: 7, parallel: 8, maxAttempts: 3, send: func(_ context.Context, j job) (round, error) {
			tokens := j.tokens
			mu.Lock()
			calls++
			mu.Unlock()
			for i, tk := range tokens {
				if bad[tk] {
					return round{sent: len(tokens), failed: []failure{statusFailure(tk, wire.StatusInvalidToken)}, retry: jobs(tokens[i+1:])}, nil
				}
			}
			return round{sent: len(tokens)}, nil
		}}
		s, err := p.push(context.Background(), t)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Accepted).To(Equal(997))
		Expect(s.Failed).To(Equal([]failure{statusFailure(t[5], 8), statusFailure(t[517], 8), statusFailure(t[998], 8)}))
		Expect(calls).To(Equal((1000+6)/7 + 2)) // t[517] ends its batch: nothing to resend after it
	})
})
