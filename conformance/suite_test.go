package conformance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apnskit/apnskit/conformance"
	"github.com/cucumber/godog"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// runContents runs one feature given as text against our client.
func runContents(feature string) (*conformance.Suite, int) {
	s := &conformance.Suite{NewClient: func(context.Context) (conformance.Client, error) {
		return conformance.NewLocal(conformance.LocalOptions{}), nil
	}}
	status := godog.TestSuite{ScenarioInitializer: s.InitializeScenario, Options: &godog.Options{
		FeatureContents: []godog.Feature{{Name: "spec.feature", Contents: []byte(feature)}},
		Format:          "progress", Output: GinkgoWriter, NoColors: true, Strict: true,
	}}.Run()
	return s, status
}

var _ = Describe("The suite", func() {
	It("fails a scenario with a step it does not know (strict)", func() {
		s, status := runContents(`
Feature: f
  Scenario: undefined
    Given a mock APNs server
    And the gateway sings
`)
		Expect(status).NotTo(BeZero())
		Expect(s.Failures()).To(Equal([]string{"undefined"}))
	})

	It("fails a scenario whose expectation the client does not meet, saying what it got", func() {
		s, status := runContents(`
Feature: f
  Scenario: wrong expectation
    Given a mock APNs server
    And a client configured with the server's test certificates
    When the client sends 3 notifications
    Then the client reports token 2 as failed with status 8
`)
		Expect(status).NotTo(BeZero())
		Expect(s.Results()).To(HaveLen(1))
		Expect(s.Results()[0].Result).To(Equal(conformance.Failed))
		Expect(s.Results()[0].Reason).To(ContainSubstring("the client reported failed: none"))
	})

	It("refuses journal checks before the sends they need", func() {
		s, status := runContents(`
Feature: f
  Scenario: out of order
    Given a mock APNs server
    And a client configured with the server's test certificates
    When the client sends 1 notification
    Then the gateway accepted every token exactly once
    When the client sends 1 notification
`)
		Expect(status).NotTo(BeZero())
		Expect(s.Results()[0].Reason).To(ContainSubstring("put journal checks after the sends"))
	})

	It("says so when the client learnt of an error response too late to report it", func() {
		// The client closes its connection once it has read the error
		// response, so "0 open connections" means the client has it.
		s, status := runContents(`
Feature: f
  Scenario: late
    Given a mock APNs server
    And a client configured with the server's test certificates
    And the gateway stalls, for longer than the client waits for late errors, before reading notification 1
    And the gateway refuses token 2 with status 8
    When the client sends 3 notifications
    And the gateway has refused token 2
    And the gateway has 0 open connections
    Then the gateway never accepted token 2
`)
		Expect(status).NotTo(BeZero())
		Expect(s.Results()[0].Reason).To(ContainSubstring(conformance.ErrLateAtClose.Error()))
	})

	It("takes an absent priority item for priority 10, and for nothing else", func() {
		s, status := runContents(`
Feature: f
  Scenario: absent is 10
    Given a mock APNs server
    And a client configured with the server's test certificates
    When the client sends 1 notification
    Then the gateway received every notification with priority 10

  Scenario: absent is not 5
    Given a mock APNs server
    And a client configured with the server's test certificates
    When the client sends 1 notification
    Then the gateway received every notification with priority 5
`)
		Expect(status).NotTo(BeZero())
		Expect(s.Failures()).To(Equal([]string{"absent is not 5"}))
		for _, r := range s.Results() {
			if r.Name == "absent is not 5" {
				Expect(r.Reason).To(ContainSubstring("no priority item (priority 10)"))
			}
		}
	})

	It("reports nothing skipped when nothing was", func() {
		s, status := runContents(`
Feature: f
  Scenario: plain
    Given a mock APNs server
    And a client configured with the server's test certificates
    When the client sends 1 notification
    Then the gateway accepted every token exactly once
`)
		Expect(status).To(BeZero())
		Expect(s.SkippedNames()).To(BeEmpty())
		var b strings.Builder
		Expect(s.WriteSkipReport(&b)).To(Succeed())
		Expect(b.String()).To(BeEmpty())
	})
})

// runFormatted runs one feature given as text against a client with the
// given capabilities, in the kit's version of a godog format, and returns
// what the formatter wrote.
func runFormatted(format, feature string) (*conformance.Suite, string) {
	s := &conformance.Suite{NewClient: func(context.Context) (conformance.Client, error) {
		return conformance.NewLocal(conformance.LocalOptions{}), nil
	}}
	var out strings.Builder
	godog.TestSuite{ScenarioInitializer: s.InitializeScenario, Options: &godog.Options{
		FeatureContents: []godog.Feature{{Name: "shown.feature", Contents: []byte(feature)}},
		Format:          s.Formats(format), Output: &out, NoColors: true, Strict: true,
	}}.Run()
	return s, out.String()
}

const shownFeature = `
Feature: shown
  Scenario: passes
    Given a mock APNs server
    And a client configured with the server's test certificates
    When the client sends 1 notification
    Then the gateway accepted every token exactly once

  @command0
  Scenario: needs command 0
    Given a mock APNs server
    And the notifications use command 0

  @should
  Scenario: warns
    Given a mock APNs server
    And a client configured with the server's test certificates
    When the client sends 1 notification
    Then the client reports token 1 as failed with status 8
`

var _ = Describe("The kit's output", func() {
	It("marks skipped and warned scenarios <skipped/> in JUnit, with the reason", func() {
		_, out := runFormatted("junit", shownFeature)
		Expect(out).To(ContainSubstring(`<testcase name="needs command 0" status="skipped"`))
		Expect(out).To(ContainSubstring(`<skipped message="SKIPPED: @command0: the client does not declare the capability &#34;command0&#34;">`))
		Expect(out).To(ContainSubstring(`<skipped message="WARNING (SHOULD not met): `))
		Expect(out).To(MatchRegexp(`<testsuite name="shown" tests="3" skipped="2" failures="0"`))
		Expect(out).To(ContainSubstring(`<testcase name="passes" status="passed"`))
	})

	It("says in pretty, without colours, which scenario was skipped or warned, and ends with the kit's summary", func() {
		_, out := runFormatted("pretty", shownFeature)
		Expect(out).To(MatchRegexp(`Scenario: needs command 0[^\n]*\n[^\n]*\n    SKIPPED: @command0: the client does not declare the capability "command0"`))
		Expect(out).To(ContainSubstring(`    WARNING (SHOULD not met): want 1 reported failed with status 8`))
		Expect(out).To(ContainSubstring("conformance: 3 scenario(s): 1 passed, 0 failed (MUST), 1 warned (SHOULD), 1 skipped\n"))
		Expect(out).To(ContainSubstring(`  SKIPPED MUST: shown.feature: "needs command 0": @command0: the client does not declare the capability "command0"`))
	})

	It("ends progress with the kit's summary too", func() {
		_, out := runFormatted("progress", shownFeature)
		Expect(out).To(ContainSubstring("1 passed, 0 failed (MUST), 1 warned (SHOULD), 1 skipped"))
	})
})

var _ = Describe("The report", func() {
	It("has a table per feature, with the client, the kit version and the seed, in Markdown and JSON", func() {
		s := &conformance.Suite{Seed: 4242, NewClient: func(context.Context) (conformance.Client, error) {
			return conformance.NewLocal(conformance.LocalOptions{}), nil
		}}
		godog.TestSuite{ScenarioInitializer: s.InitializeScenario, Options: &godog.Options{
			FeatureContents: []godog.Feature{{Name: "shown.feature", Contents: []byte(shownFeature + `
  Scenario: a bad token
    Given a mock APNs server
    And a client configured with the server's test certificates
    And the gateway refuses token 2 with status 8
    When the client sends 3 notifications
    Then the client reports token 2 as failed with status 8
`)}},
			Format: s.Formats("progress"), Output: io.Discard, NoColors: true, Strict: true,
		}}.Run()
		var md strings.Builder
		Expect(s.WriteReport(&md, false)).To(Succeed())
		Expect(md.String()).To(HavePrefix("# APNs conformance: apnskit " + conformance.KitVersion + "\n"))
		Expect(md.String()).To(ContainSubstring("apnskit conformance kit " + conformance.KitVersion + ", seed 4242, SHOULD failures are warnings.\n"))
		Expect(md.String()).To(ContainSubstring("**2 passed, 0 failed (MUST), 1 warned (SHOULD), 1 skipped.**\n"))
		Expect(md.String()).To(ContainSubstring("\n## shown\n\n| scenario | level | result | reason | the client's outcome |\n|---|---|---|---|---|\n"))
		Expect(md.String()).To(ContainSubstring("| a bad token | MUST | passed |  | send 1: failed 2 (status 8); sent again 3 |\n"))
		Expect(md.String()).To(ContainSubstring(`| needs command 0 | MUST | skipped | @command0: the client does not declare the capability "command0" |  |`))
		Expect(md.String()).To(MatchRegexp(`\| warns \| SHOULD \| warned \| want 1 reported failed with status 8[^|]*\| send 1: nothing to report \|`))

		var js strings.Builder
		Expect(s.WriteReport(&js, true)).To(Succeed())
		var r conformance.Report
		Expect(json.Unmarshal([]byte(js.String()), &r)).To(Succeed())
		Expect(r.Client).To(Equal("apnskit"))
		Expect(r.Seed).To(Equal(int64(4242)))
		Expect(r.Counts).To(HaveKeyWithValue(conformance.Skipped, 1))
		Expect(r.Features).To(HaveLen(1))
		Expect(r.Features[0].Scenarios).To(HaveLen(4))
	})
})

// withoutClock is a client that does not declare CapClock.
type withoutClock struct{ conformance.Client }

func (c withoutClock) Capabilities() conformance.Capabilities {
	return slices.DeleteFunc(c.Client.Capabilities(), func(c conformance.Capability) bool { return c == conformance.CapClock })
}

var _ = Describe("The clock capability", func() {
	const clocked = `
Feature: f
  @clock
  Scenario: clocked
    Given a mock APNs server
    And 35 minutes pass
`
	run := func(c func() conformance.Client) *conformance.Suite {
		s := &conformance.Suite{NewClient: func(context.Context) (conformance.Client, error) { return c(), nil }}
		godog.TestSuite{ScenarioInitializer: s.InitializeScenario, Options: &godog.Options{
			FeatureContents: []godog.Feature{{Name: "clocked.feature", Contents: []byte(clocked)}},
			Format:          "progress", Output: GinkgoWriter, NoColors: true, Strict: true,
		}}.Run()
		return s
	}

	It("runs the @clock scenarios of a client that declares it", func() {
		s := run(func() conformance.Client { return conformance.NewLocal(conformance.LocalOptions{}) })
		Expect(s.Results()).To(HaveLen(1))
		Expect(s.Results()[0].Result).To(Equal(conformance.Passed))
	})

	It("skips them, with the reason, for a client that does not", func() {
		s := run(func() conformance.Client { return withoutClock{conformance.NewLocal(conformance.LocalOptions{})} })
		Expect(s.SkippedNames()).To(Equal([]string{"clocked"}))
		Expect(s.Results()[0].Reason).To(Equal(`@clock: the client does not declare the capability "clock"`))
	})

	It("is announced by an adapter serving the client over protocol 3, not 2", func(ctx SpecContext) {
		hello := func(protocol int) []string {
			var out strings.Builder
			in := strings.NewReader(fmt.Sprintf(`{"id":1,"op":"hello","protocol":%d}`, protocol) + "\n")
			Expect(conformance.Serve(ctx, "apnskit", in, &out, conformance.NewLocal(conformance.LocalOptions{}))).To(Succeed())
			var resp struct{ Capabilities []string }
			Expect(json.Unmarshal([]byte(strings.SplitN(out.String(), "\n", 2)[0]), &resp)).To(Succeed())
			Expect(resp.Capabilities).To(ContainElement("reuse"))
			return resp.Capabilities
		}
		Expect(hello(3)).To(ContainElements("clock", "keepalive"))
		Expect(hello(2)).NotTo(ContainElements("clock"))
		Expect(hello(2)).NotTo(ContainElements("keepalive"))
	})
})
