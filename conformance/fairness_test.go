package conformance_test

import (
	"context"

	"github.com/apnskit/apnskit/conformance"
	"github.com/cucumber/godog"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// runVariant runs one feature file against the variant and returns the
// result of each scenario by name.
func runVariant(variant, feature string) map[string]conformance.ScenarioResult {
	GinkgoHelper()
	Expect(conformance.NewVariant(variant)).NotTo(BeNil(), "unknown variant %q", variant)
	s := &conformance.Suite{NewClient: func(context.Context) (conformance.Client, error) {
		return conformance.NewVariant(variant), nil
	}}
	godog.TestSuite{
		Name:                "variant: " + variant,
		ScenarioInitializer: s.InitializeScenario,
		Options: &godog.Options{
			Paths: []string{"../features/" + feature}, Format: "progress", Output: GinkgoWriter, NoColors: true,
			Strict: true, Randomize: -1, Concurrency: 8,
		},
	}.Run()
	out := map[string]conformance.ScenarioResult{}
	for _, r := range s.Results() {
		out[r.Name] = r
	}
	return out
}

var _ = Describe("A client that differs from ours in ways Apple allows", func() {
	DescribeTable("is judged by what it delivered and reported, not by how",
		func(variant, feature, scenario string, want conformance.Result) {
			res := runVariant(variant, feature)
			Expect(res).To(HaveKey(scenario))
			Expect(res[scenario].Result).To(Equal(want), "reason: %s", res[scenario].Reason)
		},
		Entry("judging the payload size itself",
			conformance.VariantValidatesLocally, "binary_format.feature",
			"a payload over the limit is refused with status 7, by the gateway or by the client itself", conformance.Passed),
		Entry("leaving the priority item out for priority 10",
			conformance.VariantOmitsDefaultPriority, "binary_format.feature",
			"priority 10 reaches the gateway", conformance.Passed),
		Entry("sending the rest of the message again after status 7",
			conformance.VariantResendsAfterStatus7, "error_responses.feature",
			"an invalid payload size (status 7) fails the message, not a token", conformance.Passed),
		Entry("sending the rest of the message again after status 7 (a SHOULD missed)",
			conformance.VariantResendsAfterStatus7, "error_responses.feature",
			"after an invalid payload size (status 7) the client does not send the rest again", conformance.Warned),
	)
})
