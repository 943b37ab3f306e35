package client

import (
	"math"
	"math/rand/v2"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("A Stream worker's window", func() {
	// run settles stretches of the current window, each notification
	// refused at rate p; a refusal ends its stretch (the gateway went
	// through the notifications up to it). It returns the window after
	// them.
	run := func(w *windowControl, p float64, stretches int, r *rand.Rand) int {
		for range stretches {
			n := w.size()
			k := 0
			for k < n && r.Float64() >= p {
				k++
			}
			if k < n {
				w.adapt(true, k+1)
			} else {
				w.adapt(false, n)
			}
		}
		return w.size()
	}

	It("settles near the window that costs least for the refusal rate, and goes back to the whole window without refusals", func() {
		r := rand.New(rand.NewPCG(3, 4))
		for _, p := range []float64{1e-5, 1e-4, 1e-3} {
			w := newWindowControl(DefaultStreamWindow)
			best := math.Sqrt(2 * reconnectCost / p)
			var sum float64
			run(w, p, 50, r) // from the whole window down
			for range 200 {
				sum += float64(run(w, p, 1, r))
			}
			mean := sum / 200
			Expect(mean).To(BeNumerically(">", best/3), "p %g", p)
			Expect(mean).To(BeNumerically("<", min(3*best, DefaultStreamWindow+1)), "p %g", p)
			Expect(run(w, 0, 40, r)).To(Equal(DefaultStreamWindow), "clean stretches bring the window back, p %g", p)
		}
	})

	It("stays between one chunk and StreamOptions.Window", func() {
		r := rand.New(rand.NewPCG(5, 6))
		w := newWindowControl(5000)
		Expect(run(w, 0.5, 50, r)).To(Equal(chunkItems))
		Expect(run(w, 0, 100, r)).To(Equal(5000))
		w = newWindowControl(100) // a window below a chunk is kept
		Expect(run(w, 0.5, 50, r)).To(Equal(100))
	})
})
