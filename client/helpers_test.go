package client_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// env is a fresh mock with a session that trusts it.
type env struct {
	srv  *mockapns.Server
	sess *client.Session
	cert *client.Certificate
	addr string
}

func newEnv(cfg client.Config, mcfg mockapns.Config) *env {
	srv := mockapns.NewServer(mcfg)
	DeferCleanup(srv.Close)
	cert, err := client.NewCertificate(srv.PKI().Client.TLS)
	Expect(err).NotTo(HaveOccurred())
	cfg.RootCAs = srv.RootCAs()
	sess, err := client.NewSession(cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { Expect(sess.Shutdown(ctx)).To(Succeed()) })
	return &env{srv: srv, sess: sess, cert: cert, addr: srv.GatewayAddr()}
}

// tokens returns n distinct 32-byte hex tokens, starting at from.
func tokens(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%064x", from+i)
	}
	return out
}

// sendAll sends m and follows every retry (client.Rounds) until none is
// needed, returning every Result.
func (e *env) sendAll(ctx context.Context, m *client.Message) []*client.Result {
	var all []*client.Result
	for rd, err := range client.Rounds(ctx, e.sess, e.addr, e.cert, m, client.RetryPolicy{MaxAttempts: 50}) {
		Expect(err).NotTo(HaveOccurred())
		Expect(rd.GaveUp).To(BeEmpty(), "gave up resending")
		all = append(all, rd.Result)
		Expect(len(all)).To(BeNumerically("<", 50), "too many retry rounds")
	}
	return all
}

// acceptedCounts returns how often the mock accepted each token (hex).
func (e *env) acceptedCounts() map[string]int {
	counts := map[string]int{}
	for _, en := range e.srv.Notifications(mockapns.Filter{Status: mockapns.Accepted}) {
		counts[hex.EncodeToString(en.Token)]++
	}
	return counts
}

// waitAccepted waits until the mock has accepted at least n distinct tokens
// (Send presumes acceptance after ErrorWait; the mock may still be reading).
func (e *env) waitAccepted(ctx context.Context, n int) {
	Eventually(func() int { return len(e.acceptedCounts()) }).WithContext(ctx).Should(BeNumerically(">=", n))
}

// failures collects every Failure of the results by token.
func failures(rs []*client.Result) map[string]client.Failure {
	out := map[string]client.Failure{}
	for _, r := range rs {
		for _, f := range r.Failed {
			out[f.Token] = f
		}
	}
	return out
}

func uncertain(rs []*client.Result) map[string]bool {
	out := map[string]bool{}
	for _, r := range rs {
		for _, t := range r.Uncertain {
			out[t] = true
		}
	}
	return out
}

func ctxTimeout(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	DeferCleanup(cancel)
	return ctx
}
