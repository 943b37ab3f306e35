//go:build soak

package client_test

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// The soak runs only with the soak build tag, outside CI:
//
//	go test -tags soak -run TestSoak -v ./client/ -args -soak.tokens 1000000 -soak.seed 7
//
// A gateway that drops a connection without a word gives the client no way
// to know which of the batches it had already presumed accepted (no error
// response within ErrorWait) the gateway had read: the client resends only
// the batch in progress. The default window is long enough for this mock to
// have read every earlier batch; with -soak.error-wait 5ms and
// -soak.disconnect above 0 the soak shows that trade-off as lost tokens.
// Error responses are settled exactly whatever the window: with
// -soak.disconnect 0 nothing is lost even at 5ms.
var (
	soakTokens = flag.Int("soak.tokens", 200_000, "distinct device tokens to deliver")
	soakBatch  = flag.Int("soak.batch", 10_000, "tokens per message")
	soakSeed   = flag.Int64("soak.seed", 1, "seed of the mock's probability faults")
	soakDrop   = flag.Float64("soak.disconnect", 0.00005, "chance, at each notification, that the gateway drops the connection without a word")
	soakWait   = flag.Duration("soak.error-wait", time.Second, "the client's error-wait window")
)

// TestSoak sends many batches through a gateway that randomly refuses
// tokens (status 8), fails to process (1), shuts down (10) and drops the
// connection without a word, with several senders at once, then checks the
// mock's journal against what the client reported: every token the client
// did not report failed was accepted, a failed token never was (unless an
// uncertain copy went through first), and every token accepted more than
// once is one the client reported uncertain.
func TestSoak(t *testing.T) {
	n := *soakTokens
	srv := mockapns.NewServer(mockapns.Config{JournalSize: 3 * n, Seed: *soakSeed})
	defer srv.Close()
	faults := []mockapns.Fault{
		mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Probability: 0.0002, Times: mockapns.Always}},
		mockapns.Reject{Status: wire.StatusProcessingError, When: mockapns.Trigger{Probability: 0.0001, Times: mockapns.Always}},
		mockapns.Shutdown{When: mockapns.Trigger{Probability: 0.0001, Times: mockapns.Always}},
	}
	if *soakDrop > 0 {
		faults = append(faults, mockapns.Disconnect{When: mockapns.Trigger{Probability: *soakDrop, Times: mockapns.Always}})
	}
	for _, f := range faults {
		if _, err := srv.AddFault(f); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := client.NewCertificate(srv.PKI().Client.TLS)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := client.NewSession(client.Config{RootCAs: srv.RootCAs(), ErrorWait: *soakWait, PoolSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	type report struct {
		failed    map[string]wire.Status
		uncertain map[string]bool
		sends     int
		err       error
	}
	const senders = 4
	reports := make(chan report, senders)
	start := time.Now()
	for s := range senders {
		go func() {
			rep := report{failed: map[string]wire.Status{}, uncertain: map[string]bool{}}
			defer func() { reports <- rep }()
			var queue []*client.Message
			for lo := s * *soakBatch; lo < n; lo += senders * *soakBatch {
				m := &client.Message{Alert: "soak"}
				for i := lo; i < min(lo+*soakBatch, n); i++ {
					m.Tokens = append(m.Tokens, fmt.Sprintf("%064x", i+1))
				}
				queue = append(queue, m)
			}
			for len(queue) > 0 {
				m := queue[0]
				queue = queue[1:]
				res, err := sess.Send(ctx, srv.GatewayAddr(), cert, m)
				if err != nil {
					rep.err = err
					return
				}
				rep.sends++
				for _, f := range res.Failed {
					rep.failed[f.Token] = f.Status()
				}
				for _, u := range res.Uncertain {
					rep.uncertain[u] = true
				}
				queue = append(queue, res.Retries()...)
			}
		}()
	}
	failed, uncertain, sends := map[string]wire.Status{}, map[string]bool{}, 0
	for range senders {
		rep := <-reports
		if rep.err != nil {
			t.Fatalf("send: %v", rep.err)
		}
		for k, v := range rep.failed {
			failed[k] = v
		}
		for k := range rep.uncertain {
			uncertain[k] = true
		}
		sends += rep.sends
	}
	if err := sess.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, late := range sess.Late() {
		t.Errorf("late result after Shutdown, not followed by this soak: %d failed, %d messages to resend", len(late.Failed), len(late.Retries()))
	}
	elapsed := time.Since(start)

	accepted := map[string]int{}
	for _, e := range srv.Notifications(mockapns.Filter{Status: mockapns.Accepted}) {
		accepted[hex.EncodeToString(e.Token)]++
	}
	st := srv.Stats()
	if uint64(len(srv.Notifications(mockapns.Filter{}))) != st.Accepted+st.Rejected {
		t.Fatalf("journal dropped entries (size %d too small): %+v", 3*n, st)
	}
	lost, dupes, badAccepted := 0, 0, 0
	for i := range n {
		tok := fmt.Sprintf("%064x", i+1)
		c := accepted[tok]
		switch _, bad := failed[tok]; {
		case bad && c > 0 && !uncertain[tok]: // an uncertain first copy may have gone through
			badAccepted++
		case !bad && c == 0:
			lost++
		case c > 1 && !uncertain[tok]:
			dupes++
		}
	}
	t.Logf("%d tokens in %v (%d Sends, error wait %v): %d accepted entries, %d failed, %d uncertain; mock %+v",
		n, elapsed.Round(time.Millisecond), sends, *soakWait, st.Accepted, len(failed), len(uncertain), st)
	if lost > 0 || dupes > 0 || badAccepted > 0 {
		t.Fatalf("lost %d tokens, %d duplicates not reported uncertain, %d failed tokens accepted", lost, dupes, badAccepted)
	}
	if len(failed) == 0 || st.Rejected == 0 {
		t.Fatalf("no fault fired: the soak proved nothing (%+v)", st)
	}
}
