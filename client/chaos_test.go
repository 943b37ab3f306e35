//go:build chaos || soak

package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// The chaos soak runs only with the chaos or the soak build tag, outside
// CI, by hand (-tags soak runs it beside TestSoak, the soak of Send):
//
//	go test -tags chaos -run 'TestChaos' -v -timeout 30m ./client/ -args -chaos.seed 42
//
// It pushes -chaos.n notifications (a million by default) through one
// Stream on -chaos.conns connections into the in-process mock, which
// misbehaves on a schedule drawn from -chaos.seed (0: a seed from the
// clock, printed), then compares every token's reported outcome with the
// mock's journal and with the schedule.
//
// What the seed reproduces: the tokens, the schedule of per-token faults
// (which token is refused with which status or reason, shut down on,
// disconnected on, delayed or stalled: each fires on the first copy of
// its token the mock reads, whichever connection carries it), the
// count-based faults as installed (every Nth notification, cuts after a
// byte count), and so the final outcome of every token, of which the
// soak prints a digest: the same seed prints the same schedule and
// outcome digests. One exception, on HTTP/2 only: when a connection goes
// down (another request's fault) after the mock refused a token but
// before the client read the answer, the client, with no answer, sends
// the token again and that copy is delivered; the summary counts these,
// and the outcome digest differs by them. What it cannot reproduce is
// timing: which connection
// carries which token, which notification the count-based faults hit,
// how many copies a silent disconnect leaves uncertain (and so the
// uncertain set, the duplicates, the resends, the connections and the
// firings of the count-based faults) and the wall time.
var (
	chaosN          = flag.Int("chaos.n", 1_000_000, "notifications to push (distinct tokens)")
	chaosSeed       = flag.Int64("chaos.seed", 0, "seed of the tokens and the fault schedule; 0: from the clock (printed)")
	chaosConns      = flag.Int("chaos.conns", 4, "connections (Config.PoolSize; HTTP2Config.Connections)")
	chaosRate       = flag.Float64("chaos.rate", 0.001, "share of tokens refused by a reject fault, statuses (reasons) spread evenly")
	chaosCheckpoint = flag.Int("chaos.checkpoint", 1024, "binary: StreamOptions.CheckpointEvery (bounds what a silent disconnect leaves uncertain)")
)

// chaosSeedValue returns the seed of the run, from the clock if none was
// given.
func chaosSeedValue() int64 {
	if *chaosSeed != 0 {
		return *chaosSeed
	}
	return time.Now().UnixNano()%1_000_000_000 + 1
}

// want is a token's expected final outcome.
type want struct {
	kind   client.DeliveryKind
	status int         // binary status of a Refused token
	reason apns.Reason // HTTP/2 reason of a Refused token
}

// chaosPlan is a run's tokens, faults and expected outcomes, a pure
// function of the seed.
type chaosPlan struct {
	tokens []string
	want   []want
	faults []mockapns.Fault
	kinds  map[string]int // per-token faults planned, by kind
	digest string         // of the tokens and faults
}

// addToken records a per-token fault of kind for token i.
func (p *chaosPlan) add(kind string, f mockapns.Fault) {
	p.faults = append(p.faults, f)
	p.kinds[kind]++
}

func (p *chaosPlan) seal() {
	h := sha256.New()
	for _, t := range p.tokens {
		h.Write([]byte(t))
	}
	for _, f := range p.faults {
		b, err := mockapns.MarshalFault(f)
		if err != nil {
			panic(err) // the plan only builds valid faults
		}
		h.Write(b)
	}
	p.digest = hex.EncodeToString(h.Sum(nil))[:16]
}

// newTokens draws n distinct tokens of 32 bytes, except that a share bad
// of them are 16 bytes long (the mock refuses them with status 5 or
// BadDeviceToken: tokens the mock must never accept).
func newTokens(rng *rand.Rand, n int, bad float64) (toks []string, short []bool) {
	seen := make(map[string]bool, n)
	for len(toks) < n {
		size := 32
		if rng.Float64() < bad {
			size = 16
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		t := hex.EncodeToString(b)
		if seen[t] {
			continue
		}
		seen[t] = true
		toks = append(toks, t)
		short = append(short, size != 32)
	}
	return toks, short
}

func mustToken(t string) apns.Token {
	tok, err := apns.ParseToken(t)
	if err != nil {
		panic(err)
	}
	return tok
}

// chaosBinaryStatuses are the statuses the binary soak refuses single
// tokens with: every status that does not refuse the content (those,
// 3, 4, 6 and 7, stop a stream and run in side streams).
var chaosBinaryStatuses = []wire.Status{
	wire.StatusProcessingError, wire.StatusMissingToken, wire.StatusInvalidTokenSize,
	wire.StatusInvalidToken, wire.StatusShutdown, wire.StatusProtocolError, wire.StatusUnknown,
}

// binaryPlan draws the binary soak's schedule.
func binaryPlan(seed int64, n int, rate float64, frame int) *chaosPlan {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6368616f73))
	p := &chaosPlan{kinds: map[string]int{}}
	var short []bool
	p.tokens, short = newTokens(rng, n, rate/5)
	p.want = make([]want, n)
	for i, t := range p.tokens {
		p.want[i] = want{kind: client.Delivered}
		if short[i] {
			p.want[i] = want{kind: client.Refused, status: int(wire.StatusInvalidTokenSize)}
			p.kinds["short token (status 5)"]++
			continue
		}
		when := mockapns.Trigger{Token: mustToken(t)} // fires once, on the first copy read
		u := rng.Float64()
		switch {
		case u < rate:
			s := chaosBinaryStatuses[rng.IntN(len(chaosBinaryStatuses))]
			p.add(fmt.Sprintf("reject %d", s), mockapns.Reject{Status: s, When: when})
			if s.Disposition() == apns.DropToken {
				p.want[i] = want{kind: client.Refused, status: int(s)}
			}
		case u < rate*1.25:
			p.add("shutdown", mockapns.Shutdown{When: when})
		case u < rate*1.35:
			p.add("disconnect", mockapns.Disconnect{When: when})
		case u < rate*1.6:
			p.add("delay", mockapns.Delay{Duration: time.Duration(1+rng.IntN(20)) * time.Millisecond, When: when})
		case u < rate*1.625:
			p.add("stall", mockapns.Delay{Duration: time.Duration(200+rng.IntN(600)) * time.Millisecond, When: when})
		}
	}
	// Count-based faults: which notification they hit depends on timing.
	p.faults = append(p.faults, mockapns.Disconnect{When: mockapns.Trigger{Nth: n/20 + rng.IntN(n/20+1) + 1, Times: mockapns.Always}})
	p.faults = append(p.faults, mockapns.Shutdown{When: mockapns.Trigger{Nth: n/20 + rng.IntN(n/20+1) + 1, Times: mockapns.Always}})
	for range 8 {
		// Mid-frame cuts of the first connections to read that far.
		at := int64(1 + rng.IntN(*chaosCheckpoint*frame))
		p.faults = append(p.faults, mockapns.Disconnect{AfterBytes: at, When: mockapns.Trigger{Times: mockapns.Times(3)}})
	}
	p.seal()
	return p
}

// chaosRun is what a soak observed.
type chaosRun struct {
	plan      *chaosPlan
	outcomes  []client.Delivery
	reports   []int
	closes    map[string]int // gateway connections closed, by reason
	elapsed   time.Duration
	srv       *mockapns.Server
	streamSt  client.StreamStats
	resends   int
	uncertain int
	errs      []error // the stream's first errors (OnError)
}

// newChaosRun starts the record of a run of plan into srv.
func newChaosRun(plan *chaosPlan, srv *mockapns.Server) *chaosRun {
	return &chaosRun{plan: plan, srv: srv, outcomes: make([]client.Delivery, len(plan.tokens)), reports: make([]int, len(plan.tokens))}
}

// outcome is the stream's OnOutcome: each token's delivery, by its place.
func (r *chaosRun) outcome(d client.Delivery) {
	i := d.Tag.(int)
	d.Tag, d.Response = nil, nil
	r.outcomes[i] = d
	r.reports[i]++
}

// streamError is the stream's OnError: the first few are kept.
func (r *chaosRun) streamError(err error) {
	if len(r.errs) < 5 {
		r.errs = append(r.errs, err)
	}
}

// push pushes every token of the plan into st, closes it and records
// the time and the stream's counters.
func (r *chaosRun) push(t *testing.T, ctx context.Context, st *client.Stream) {
	t.Helper()
	start := time.Now()
	pushAllChaos(t, ctx, st, r.plan.tokens)
	r.elapsed = time.Since(start)
	r.streamSt = st.Stats()
	t.Logf("first stream errors (OnError): %v", r.errs)
}

// checkRun compares the outcomes with the journal and the plan, and
// prints the summary.
func checkRun(t *testing.T, name string, seed int64, r *chaosRun) {
	t.Helper()
	p := r.plan
	st := r.srv.Stats()
	journal := r.srv.Notifications(mockapns.Filter{})
	if uint64(len(journal)) != st.Accepted+st.Rejected {
		t.Fatalf("journal dropped entries: %d kept, %d counted", len(journal), st.Accepted+st.Rejected)
	}
	accepted := make(map[string]int, len(p.tokens))
	refusedWith := map[string][]int{}
	reasonOf := map[string][]apns.Reason{}
	for _, e := range journal {
		tok := hex.EncodeToString(e.Token)
		if e.Accepted() {
			accepted[tok]++
		} else {
			refusedWith[tok] = append(refusedWith[tok], e.Status)
			reasonOf[tok] = append(reasonOf[tok], e.Reason)
		}
	}
	var (
		lost, badAccepted, unowned, wrong, missing, twice int
		answersLost                                       int
		dupes, dupeCopies, uncertain                      int
		failedBy                                          = map[string]int{}
		delivered, presumed                               int
		examples                                          []string
	)
	note := func(format string, args ...any) {
		if len(examples) < 10 {
			examples = append(examples, fmt.Sprintf(format, args...))
		}
	}
	h := sha256.New()
	for i, tok := range p.tokens {
		switch r.reports[i] {
		case 0:
			missing++
			note("token %d: no outcome", i)
			continue
		case 1:
		default:
			twice++
			note("token %d: %d outcomes", i, r.reports[i])
		}
		d := r.outcomes[i]
		fmt.Fprintf(h, "%d %d %s;", d.Kind, statusOf(d), reasonOfDelivery(d))
		if d.Uncertain {
			uncertain++
		}
		c := accepted[tok]
		if c > 1 {
			dupes++
			dupeCopies += c - 1
			if !d.Uncertain {
				unowned++
				note("token %d accepted %d times, not reported uncertain (%v)", i, c, d.Kind)
			}
		}
		w := p.want[i]
		switch d.Kind {
		case client.Delivered:
			delivered++
			if d.Presumed {
				presumed++
			}
			if c == 0 {
				lost++
				note("token %d reported delivered, never accepted (refused %v)", i, refusedWith[tok])
			}
		case client.Refused:
			key := fmt.Sprintf("%v", d.Outcome)
			failedBy[key]++
			if c > 0 {
				badAccepted++
				note("token %d refused (%v) yet accepted %d times", i, d.Outcome, c)
			}
			if got := statusOf(d); got != 0 && !slices.Contains(refusedWith[tok], got) {
				wrong++
				note("token %d refused with %d, the mock gave %v", i, got, refusedWith[tok])
			}
			if got := reasonOfDelivery(d); got != "" && !slices.Contains(reasonOf[tok], got) {
				wrong++
				note("token %d refused with %s, the mock gave %v", i, got, reasonOf[tok])
			}
		case client.Unsent:
			failedBy["unsent"]++
			lost++
			note("token %d unsent: %v (uncertain %v)", i, d.Err, d.Uncertain)
		}
		answerLost := w.kind == client.Refused && d.Kind == client.Delivered && d.Uncertain &&
			((w.reason != "" && slices.Contains(reasonOf[tok], w.reason)) || (w.status != 0 && slices.Contains(refusedWith[tok], w.status)))
		switch {
		case answerLost:
			// The mock refused the token's first copy as planned, but
			// the connection went down before the client read the
			// answer (an HTTP/2 connection carries other requests'
			// faults): with no answer, the client sent it again and that
			// copy was accepted. Timing, not a fault of either side.
			answersLost++
		case d.Kind != w.kind || (w.kind == client.Refused && (statusOf(d) != w.status || reasonOfDelivery(d) != w.reason)):
			wrong++
			note("token %d: %v %v (attempts %d, uncertain %v; mock accepted %d, refused %v %v), the schedule says %v %d %s",
				i, d.Kind, d.Outcome, d.Attempts, d.Uncertain, c, refusedWith[tok], reasonOf[tok], w.kind, w.status, w.reason)
		}
	}
	fired := map[string]int{}
	for _, f := range r.srv.Faults() {
		fired[faultKind(f.Fault)] += f.Fired
	}
	entries := st.Accepted + st.Rejected
	n := len(p.tokens)
	t.Logf(`%s chaos soak, seed %d: %d notifications on %d connections in %v (%.0f notifications/s)
  schedule digest %s, outcome digest %s
  client: delivered %d (presumed %d), refused %v, uncertain %d, resent %d (uncertain resends %d), stream connections %d
  mock:   journal %d entries (accepted %d, rejected %d, discarded %d), duplicates %d tokens (%d extra copies), connections %d
  faults planned per token %v
  faults fired %v
  connections closed %v
  refusals whose answer a lost connection swallowed (then delivered, uncertain): %d
  checks: lost %d, refused-but-accepted %d, unowned duplicates %d, wrong outcome %d, no outcome %d, several outcomes %d`,
		name, seed, n, *chaosConns, r.elapsed.Round(time.Millisecond), float64(n)/r.elapsed.Seconds(),
		p.digest, hex.EncodeToString(h.Sum(nil))[:16],
		delivered, presumed, sortedMap(failedBy), uncertain, r.streamSt.Resent, r.streamSt.Uncertain, r.streamSt.Connections,
		entries, st.Accepted, st.Rejected, st.Discarded, dupes, dupeCopies, st.ConnectionsTotal+st.HTTP2.ConnectionsTotal,
		sortedMap(p.kinds), sortedMap(fired), sortedMap(r.closes),
		answersLost, lost, badAccepted, unowned, wrong, missing, twice)
	if lost+badAccepted+unowned+wrong+missing+twice > 0 {
		t.Errorf("the soak failed:\n  %s", strings.Join(examples, "\n  "))
	}
	if len(failedBy) == 0 || st.Rejected == 0 {
		t.Errorf("no fault fired: the soak proved nothing (%+v)", st)
	}
}

func statusOf(d client.Delivery) int {
	if s, ok := d.Outcome.(wire.Status); ok {
		return int(s)
	}
	return 0
}

func reasonOfDelivery(d client.Delivery) apns.Reason {
	if r, ok := d.Outcome.(apns.Reason); ok {
		return r
	}
	return ""
}

// faultKind names a fault by its JSON action and the status, reason or
// mode that sets it apart.
func faultKind(f mockapns.Fault) string {
	switch f := f.(type) {
	case mockapns.Reject:
		if f.Reason != "" {
			return "reject " + string(f.Reason)
		}
		return fmt.Sprintf("reject %d", f.Status)
	case mockapns.Disconnect:
		switch {
		case f.AfterBytes > 0:
			return "disconnect after_bytes"
		case f.When.Nth > 0:
			return "disconnect nth"
		}
		return "disconnect"
	case mockapns.Shutdown:
		if f.When.Nth > 0 {
			return "shutdown nth"
		}
		return "shutdown"
	case mockapns.Delay:
		if f.Duration >= 200*time.Millisecond {
			return "stall"
		}
		return "delay"
	case mockapns.GoAway:
		return "goaway " + string(f.Reason)
	case mockapns.MaxStreams:
		return "max_streams"
	case mockapns.RstStream:
		return "rst_stream"
	case mockapns.IdleTimeout:
		return "idle_timeout"
	}
	return strings.ToLower(reflect.TypeOf(f).Name())
}

func sortedMap(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %d", k, m[k])
	}
	b.WriteByte('}')
	return b.String()
}

// chaosCloses counts gateway connection closes by reason.
type chaosCloses struct {
	mu sync.Mutex
	by map[string]int
}

func (c *chaosCloses) on(e mockapns.ConnEvent) {
	if e.Kind != mockapns.ConnClosed {
		return
	}
	c.mu.Lock()
	c.by[e.Reason]++
	c.mu.Unlock()
}

func (c *chaosCloses) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return copyCounts(c.by)
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// pushAllChaos pushes the plan's tokens on st (tag: the index) and closes
// the stream.
func pushAllChaos(t *testing.T, ctx context.Context, st *client.Stream, toks []string) {
	t.Helper()
	for i, tok := range toks {
		if err := st.Push(ctx, tok, i); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	if err := st.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// TestChaosBinary is the soak over the binary protocol: a million
// notifications on several connections of one Stream (sentinel
// confirmation, a checkpoint every -chaos.checkpoint notifications),
// refused with every per-token status at -chaos.rate, shut down on,
// disconnected on (per token, every Nth, and mid-frame after a byte
// count), delayed and stalled; the mock's idle and frame timeouts short.
// Then a side stream per content-level status (3, 4, 6, 7), which ends a
// stream's content for good.
func TestChaosBinary(t *testing.T) {
	seed := chaosSeedValue()
	frame := 45 + 32 + len(`{"aps":{"alert":"chaos"}}`) // command 2 frame: items and headers
	plan := binaryPlan(seed, *chaosN, *chaosRate, frame)
	closes := &chaosCloses{by: map[string]int{}}
	srv := mockapns.NewServer(mockapns.Config{
		JournalSize:  2*len(plan.tokens) + 100_000,
		Seed:         seed,
		Faults:       plan.faults,
		IdleTimeout:  2 * time.Second,
		FrameTimeout: time.Second,
		OnConn:       closes.on,
	})
	defer srv.Close()
	cert, err := client.NewCertificate(srv.PKI().Client.TLS)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := client.NewSession(client.Config{RootCAs: srv.RootCAs(), PoolSize: *chaosConns})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	r := newChaosRun(plan, srv)
	st, err := sess.Stream(srv.GatewayAddr(), cert, &client.Message{Alert: "chaos"}, client.StreamOptions{
		CheckpointEvery: *chaosCheckpoint,
		// Stalls are shorter than the wait for a sentinel's answer, so
		// that no stretch is presumed accepted.
		SentinelWait: 10 * time.Second,
		OnOutcome:    r.outcome,
		OnError:      r.streamError,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.push(t, ctx, st)
	r.closes = closes.snapshot()
	checkRun(t, "binary", seed, r)

	sideStreams(t, ctx, seed, srv, sess, cert)
	if err := sess.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// sideStreams pushes, for each status that refuses the content (3, 4, 6,
// 7), a stream of 2,000 tokens one of which the mock refuses with it:
// that token is refused with it, every token the stream reports
// delivered was accepted, every token it reports refused was not.
func sideStreams(t *testing.T, ctx context.Context, seed int64, srv *mockapns.Server, sess *client.Session, cert *client.Certificate) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x73696465))
	for _, s := range []wire.Status{wire.StatusMissingTopic, wire.StatusMissingPayload, wire.StatusInvalidTopicSize, wire.StatusInvalidPayloadSize} {
		toks, _ := newTokens(rng, 2000, 0)
		k := 500 + rng.IntN(1000)
		if _, err := srv.AddFault(mockapns.Reject{Status: s, When: mockapns.Trigger{Token: mustToken(toks[k])}}); err != nil {
			t.Fatal(err)
		}
		outcomes := make([]client.Delivery, len(toks))
		st, err := sess.Stream(srv.GatewayAddr(), cert, &client.Message{Alert: "side"}, client.StreamOptions{
			OnOutcome: func(d client.Delivery) { outcomes[d.Tag.(int)] = d },
		})
		if err != nil {
			t.Fatal(err)
		}
		pushAllChaos(t, ctx, st, toks)
		acc := map[string]int{}
		for _, e := range srv.Notifications(mockapns.Filter{Status: mockapns.Accepted}) {
			acc[hex.EncodeToString(e.Token)]++
		}
		kinds := map[string]int{}
		for i, tok := range toks {
			d := outcomes[i]
			kinds[d.Kind.String()]++
			switch {
			case i == k && (d.Kind != client.Refused || statusOf(d) != int(s)):
				t.Errorf("status %d: token %d, refused by the mock, reported %v %v", s, i, d.Kind, d.Outcome)
			case d.Kind == client.Delivered && acc[tok] == 0:
				t.Errorf("status %d: token %d reported delivered, never accepted", s, i)
			case d.Kind == client.Refused && acc[tok] > 0 && !d.Uncertain:
				t.Errorf("status %d: token %d reported refused, accepted", s, i)
			case d.Kind == client.Refused && statusOf(d) != int(s):
				t.Errorf("status %d: token %d refused with %v", s, i, d.Outcome)
			case d.Kind == client.Unsent:
				t.Errorf("status %d: token %d unsent: %v", s, i, d.Err)
			}
		}
		t.Logf("side stream, content refused with status %d at token %d of %d: %v", s, k, len(toks), sortedMap(kinds))
	}
}

// h2Plan draws the HTTP/2 soak's schedule: every reason Apple gives
// (apns.Reasons), each with its own HTTP status, refuses single tokens at
// rate; those whose disposition is Retry are refused once and then
// delivered, the others are final. GOAWAY, RST_STREAM, disconnects,
// MAX_CONCURRENT_STREAMS drops, delays and stalls fire per token; every
// Nth request gets a disconnect or a GOAWAY; connections idle for 200ms
// are closed.
func h2Plan(seed int64, n int, rate float64) *chaosPlan {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6832636861))
	p := &chaosPlan{kinds: map[string]int{}}
	var short []bool
	p.tokens, short = newTokens(rng, n, rate/5)
	p.want = make([]want, n)
	reasons := apns.Reasons()
	for i, t := range p.tokens {
		p.want[i] = want{kind: client.Delivered}
		if short[i] {
			p.want[i] = want{kind: client.Refused, reason: apns.ReasonBadDeviceToken}
			p.kinds["short token (BadDeviceToken)"]++
			continue
		}
		when := mockapns.Trigger{Token: mustToken(t)}
		u := rng.Float64()
		switch {
		case u < rate:
			r := reasons[rng.IntN(len(reasons))]
			p.add("reject "+string(r), mockapns.Reject{Reason: r, When: when})
			if r.Disposition() != apns.Retry {
				p.want[i] = want{kind: client.Refused, reason: r}
			}
		case u < rate*1.1:
			p.add("goaway", mockapns.GoAway{Reason: apns.ReasonShutdown, When: when})
		case u < rate*1.2:
			p.add("rst_stream", mockapns.RstStream{When: when})
		case u < rate*1.3:
			p.add("disconnect", mockapns.Disconnect{When: when})
		case u < rate*1.4:
			p.add("max_streams", mockapns.MaxStreams{Streams: 1, RestoreAfter: 1 + rng.IntN(200), When: when})
		case u < rate*1.6:
			p.add("delay", mockapns.Delay{Duration: time.Duration(1+rng.IntN(20)) * time.Millisecond, When: when})
		case u < rate*1.625:
			p.add("stall", mockapns.Delay{Duration: time.Duration(200+rng.IntN(600)) * time.Millisecond, When: when})
		}
	}
	p.faults = append(p.faults,
		mockapns.Disconnect{When: mockapns.Trigger{Nth: n/20 + rng.IntN(n/20+1) + 1, Times: mockapns.Always, Protocol: apns.HTTP2}},
		mockapns.GoAway{Reason: apns.ReasonServiceUnavailable, When: mockapns.Trigger{Nth: n/20 + rng.IntN(n/20+1) + 1, Times: mockapns.Always}},
		mockapns.IdleTimeout{After: 200 * time.Millisecond, Times: mockapns.Always},
	)
	p.seal()
	return p
}

// TestChaosHTTP2 is the soak over HTTP/2: a million notifications through
// HTTP2Client.Stream on -chaos.conns connections, with the faults of
// h2Plan.
func TestChaosHTTP2(t *testing.T) {
	seed := chaosSeedValue()
	plan := h2Plan(seed, *chaosN, *chaosRate)
	srv := mockapns.NewServer(mockapns.Config{
		JournalSize:  2*len(plan.tokens) + 100_000,
		Seed:         seed,
		Faults:       plan.faults,
		FrameTimeout: time.Second,
	})
	defer srv.Close()
	k := srv.PKI().AuthKey
	p8, err := k.PrivatePEM()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := client.NewTokenSigner(p8, k.KeyID, k.TeamID, client.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewHTTP2Client(srv.HTTP2Addr(), client.HTTP2Config{
		Signer: signer, RootCAs: srv.RootCAs(), Connections: *chaosConns,
		Retry: client.HTTP2Retry{BaseDelay: 10 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	r := newChaosRun(plan, srv)
	st, err := c.Stream(&client.Message{Alert: "chaos", Topic: h2Topic}, client.StreamOptions{OnOutcome: r.outcome, OnError: r.streamError})
	if err != nil {
		t.Fatal(err)
	}
	r.push(t, ctx, st)
	r.closes = map[string]int{"goaways sent": int(srv.Stats().HTTP2.GoAways)}
	checkRun(t, "HTTP/2", seed, r)
}
