package client_test

import (
	"errors"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("A Stream interrupted by the mock's Shutdown", func() {
	for _, conns := range []int{1, 4} {
		It(fmt.Sprintf("reports accepted exactly what the mock accepted, on %d connections", conns), func(ctx SpecContext) {
			const n = 200_000
			e := newEnv(client.Config{PoolSize: conns}, mockapns.Config{JournalSize: n})
			toks := tokens(1, n)
			out := newOutcomes()
			st, err := e.sess.Stream(e.addr, e.cert, &client.Message{Alert: "hello"},
				client.StreamOptions{Window: 10_000, OnOutcome: out.add, OnError: out.addErr})
			Expect(err).NotTo(HaveOccurred())
			pushed := make(chan int, 1)
			go func() {
				defer GinkgoRecover()
				i := 0
				for ; i < n; i++ {
					if st.Push(ctx, toks[i], i) != nil {
						break
					}
				}
				pushed <- i
			}()
			Eventually(func() uint64 { return e.srv.Stats().Accepted }).WithContext(ctx).Should(BeNumerically(">=", 20_000))
			Expect(e.srv.Shutdown(ctx)).To(Succeed())
			var np int
			Eventually(pushed).WithContext(ctx).Should(Receive(&np))
			cerr := st.Close(ctx)
			Expect(cerr).To(MatchError(client.ErrConnect), "the reconnect after the shutdown fails")

			out.mu.Lock()
			defer out.mu.Unlock()
			Expect(out.dups).To(BeEmpty(), "outcomes reported twice")
			Expect(out.by).To(HaveLen(np), "every pushed token has its outcome")
			accepted := e.acceptedCounts()
			Expect(len(accepted)).To(BeNumerically("<", n), "the shutdown came mid-stream")
			delivered := 0
			for i := range np {
				d := out.by[i]
				switch d.Kind {
				case client.Delivered:
					delivered++
					Expect(accepted[toks[i]]).To(Equal(1), "token %d delivered, accepted %d times", i, accepted[toks[i]])
				case client.Unsent:
					Expect(accepted[toks[i]]).To(BeZero(), "token %d accepted by the mock, reported unsent (%v)", i, d.Err)
					Expect(d.Err).To(HaveOccurred())
					Expect(errors.Is(d.Err, client.ErrConnect) || errors.Is(d.Err, client.ErrStreamClosed)).To(BeTrue(),
						"token %d unsent with %v", i, d.Err)
				default:
					Fail(fmt.Sprintf("token %d refused: %v", i, d.Outcome))
				}
			}
			Expect(delivered).To(Equal(len(accepted)), "delivered %d, the mock accepted %d", delivered, len(accepted))
			Expect(uint64(delivered)).To(Equal(e.srv.Stats().Accepted))
		})
	}
})
