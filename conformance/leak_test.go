package conformance_test

import (
	"context"

	"github.com/apnskit/apnskit/conformance"
	"github.com/apnskit/apnskit/internal/leakcheck"
	"github.com/cucumber/godog"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Leaks", func() {
	// Every scenario starts its own mock and client and ends them: after
	// a run of the features that interrupt connections, shut down, read
	// feedback and speak HTTP/2, nothing of them may be left.
	It("leaves no goroutine and no descriptor after running features against the in-process client", func() {
		leakcheck.ExpectNone(func() {
			s := &conformance.Suite{NewClient: func(context.Context) (conformance.Client, error) {
				// Batches confirmed by close, not by the error-wait window,
				// which a loaded machine can outlast.
				return conformance.NewLocal(conformance.LocalOptions{ConfirmByClose: true}), nil
			}}
			status := godog.TestSuite{ScenarioInitializer: s.InitializeScenario, Options: &godog.Options{
				Paths:  []string{"../features/interruptions.feature", "../features/feedback.feature", "../features/http2_connection.feature"},
				Format: "progress", Output: GinkgoWriter, NoColors: true, Strict: true, Concurrency: 2,
			}}.Run()
			Expect(status).To(BeZero(), "failed: %v", s.Failures())
			Expect(len(s.Results())).To(BeNumerically(">", 10))
		})
	})
})
