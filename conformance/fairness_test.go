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
	key := variant + "\x00" + feature
	if r, ok := variantRuns[key]; ok {
		return r
	}
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
	variantRuns[key] = out
	return out
}

// variantRuns caches the runs of runVariant: specs asking about several
// scenarios of one run share it.
var variantRuns = map[string]map[string]conformance.ScenarioResult{}

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

	It("runs only the scenarios of the capabilities a client declares, and says why it skips the others", func() {
		res := runVariant(conformance.VariantReuseOnly, "pooling.feature")
		got := map[string]conformance.Result{}
		for name, r := range res {
			got[name] = r.Result
		}
		Expect(got).To(Equal(map[string]conformance.Result{
			"a cached connection is reused for the next batch":                                    conformance.Passed,
			"feedback connections are not cached":                                                 conformance.Passed,
			"a connection the server closed while idle is replaced without losing the next batch": conformance.Passed,
			"different client certificates get different connections":                             conformance.Skipped,
			"different gateway addresses get different connections":                               conformance.Skipped,
			"closing outdated connections closes idle ones and keeps busy ones":                   conformance.Skipped,
			"connections used recently are not outdated":                                          conformance.Skipped,
			"after a shutdown the client closes its connections and sends nothing":                conformance.Skipped,
			"concurrent senders share the pool safely":                                            conformance.Skipped,
		}))
		Expect(res["different gateway addresses get different connections"].Reason).To(
			Equal(`@pools: the client does not declare the capability "pools"`))
	})

	It("takes the capability pooling of version 1 for the five it bundles", func() {
		caps := conformance.Capabilities{conformance.CapPooling}
		for _, c := range []conformance.Capability{conformance.CapReuse, conformance.CapPools, conformance.CapOutdate,
			conformance.CapShutdown, conformance.CapOverrides} {
			Expect(caps.Has(c)).To(BeTrue(), "%s", c)
		}
		Expect(caps.Has(conformance.CapConcurrent)).To(BeFalse())
	})
})
