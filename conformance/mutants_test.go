package conformance_test

import (
	"context"

	"github.com/apnskit/apnskit/conformance"
	"github.com/cucumber/godog"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// runMutant runs the scenarios of the given feature files against the
// mutant and returns the suite (for its results) and godog's status.
func runMutant(mutant string, features ...string) (*conformance.Suite, int) {
	GinkgoHelper()
	return runMutantStrict(mutant, true, features...)
}

// runMutantStrict is runMutant with SHOULD failures failing the run
// (strict) or counted as warnings.
func runMutantStrict(mutant string, strict bool, features ...string) (*conformance.Suite, int) {
	GinkgoHelper()
	Expect(conformance.NewMutant(mutant)).NotTo(BeNil(), "unknown mutant %q", mutant)
	s := &conformance.Suite{Strict: strict, NewClient: func(context.Context) (conformance.Client, error) {
		return conformance.NewMutant(mutant), nil
	}}
	paths := make([]string, len(features))
	for i, f := range features {
		paths[i] = "../features/" + f
	}
	status := godog.TestSuite{
		Name:                "mutant: " + mutant,
		ScenarioInitializer: s.InitializeScenario,
		Options: &godog.Options{
			Paths: paths, Format: "progress", Output: GinkgoWriter, NoColors: true,
			Strict: true, Randomize: -1, Concurrency: 8,
		},
	}.Run()
	return s, status
}

var _ = Describe("A deliberately broken client", func() {
	DescribeTable("fails exactly the scenarios that describe what it breaks",
		func(mutant string, features []string, mustFail ...string) {
			s, status := runMutant(mutant, features...)
			GinkgoWriter.Printf("failed scenarios: %q\n", s.Failures())
			Expect(status).NotTo(BeZero(), "the suite passed with the mutant %q", mutant)
			Expect(s.Failures()).To(ConsistOf(mustFail), "exactly the scenarios about its bug")
		},
		Entry(nil, conformance.MutantDropsNextToken, []string{"error_responses.feature"},
			"a bad token first in the batch (status 8) is reported, the others are delivered once",
			"a bad token in the middle in the batch (status 8) is reported, the others are delivered once",
			"a bad token in the middle in the batch (status 5) is reported, the others are delivered once",
			"a bad token first in the batch (status 5) is reported, the others are delivered once",
			"a bad token first in the batch (status 2) is reported, the others are delivered once",
			"a bad token in the middle in the batch (status 2) is reported, the others are delivered once",
			"several faults in one batch are all handled",
			"a bad token in a batch larger than any resend buffer",
			"a bad token at the end of a large batch",
		),
		Entry(nil, conformance.MutantShutdownIsFailure, []string{"interruptions.feature"},
			"a shutdown (status 10) after 1 notifications loses and duplicates nothing",
			"a shutdown (status 10) after 5 notifications loses and duplicates nothing",
			"a shutdown (status 10) after 9 notifications loses and duplicates nothing",
			"a shutdown when the gateway reads a given token",
		),
		Entry(nil, conformance.MutantTinyResendBuffer, []string{"error_responses.feature"},
			"a bad token in a batch larger than any resend buffer",
		),
		Entry(nil, conformance.MutantHidesUncertain, []string{"interruptions.feature"},
			"a connection dropped without a word after 1 notifications loses nothing",
			"a connection dropped without a word after 5 notifications loses nothing",
			"a connection dropped without a word after 9 notifications loses nothing",
			"a connection cut in the middle of a notification loses nothing",
		),
		Entry(nil, conformance.MutantProcessingIsFailure, []string{"error_responses.feature"},
			"a processing error (status 1) at token 1 keeps the token for a retry",
			"a processing error (status 1) at token 6 keeps the token for a retry",
			"a processing error (status 1) at token 10 keeps the token for a retry",
		),
		Entry(nil, conformance.MutantH2RetriesBadToken, []string{"http2_responses.feature"},
			"the reason BadDeviceToken reaches the client with its status, and the token is not sent again",
		),
		Entry(nil, conformance.MutantH2NeverResends, []string{"http2_responses.feature", "http2_connection.feature"},
			"TooManyRequests (429) is sent again, and delivered once",
			"InternalServerError (500) is sent again, and delivered once",
			"ServiceUnavailable (503) is sent again, and delivered once",
		),
		Entry(nil, conformance.MutantH2TokenPerRequest, []string{"http2_auth.feature"},
			// Every scenario with a provider token: certificates do not
			// care.
			"a provider token authenticates every request",
			"a client sending for more than an hour replaces its provider token in time, and not too often",
			"a token the server finds expired is replaced, and what it refused is delivered once",
		),
		Entry(nil, conformance.MutantH2IgnoresLastStreamID, []string{"http2_connection.feature"},
			"GOAWAY in the middle of a batch loses and duplicates nothing",
			"GOAWAY naming an earlier last stream id: the streams above it are sent again, once",
		),
		Entry(nil, conformance.MutantH2IgnoresStreamLimit, []string{"http2_connection.feature"},
			"MAX_CONCURRENT_STREAMS dropping to 1 and back loses nothing",
			"the single stream before the first token, then the raised limit: nothing lost, the limit used",
		),
		Entry(nil, conformance.MutantH2NeverRenewsToken, []string{"http2_auth.feature"},
			"a client sending for more than an hour replaces its provider token in time, and not too often",
			"a token the server finds expired is replaced, and what it refused is delivered once",
		),
		Entry(nil, conformance.MutantH2NoKeepAlive, []string{"http2_connection.feature"},
			"a quiet connection kept alive by PING",
		),
		Entry(nil, conformance.MutantH2RetriesRefusedConnection, []string{"http2_auth.feature"},
			"a certificate of the other environment is refused for good, without a reconnection loop",
		),
		Entry(nil, conformance.MutantNoPooling, []string{"pooling.feature"},
			// Without a pool there is nothing to reuse, outdate, share or
			// close at shutdown: every pooling scenario is about its bug.
			"a cached connection is reused for the next batch",
			"connections used recently are not outdated",
			"closing outdated connections closes idle ones and keeps busy ones",
			"concurrent senders share the pool safely",
			"after a shutdown the client closes its connections and sends nothing",
			"different client certificates get different connections",
			"different gateway addresses get different connections",
		),
	)

	It("is only warned, when the suite is not strict, for missing a SHOULD", func() {
		s, status := runMutantStrict(conformance.MutantProcessingIsFailure, false, "error_responses.feature")
		Expect(s.Failures()).To(BeEmpty())
		Expect(status).To(BeZero())
		Expect(s.Warnings()).To(ConsistOf(
			"a processing error (status 1) at token 1 keeps the token for a retry",
			"a processing error (status 1) at token 6 keeps the token for a retry",
			"a processing error (status 1) at token 10 keeps the token for a retry",
		))
		for _, r := range s.Results() {
			if r.Result == conformance.Warned {
				Expect(r.Level).To(Equal(conformance.Should))
				Expect(r.Reason).To(ContainSubstring("never accepted: "))
			}
		}
	})

	It("passes the scenarios that do not concern what it breaks", func() {
		s, status := runMutant(conformance.MutantTinyResendBuffer, "binary_format.feature", "tls.feature")
		Expect(s.Failures()).To(BeEmpty())
		Expect(status).To(BeZero())
	})
})
