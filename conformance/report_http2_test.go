package conformance_test

import (
	"context"
	"io"
	"strings"

	"github.com/apnskit/apnskit/conformance"
	"github.com/cucumber/godog"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("The report of an HTTP/2 client", func() {
	It("gives each refusal's reason, HTTP status and 410 timestamp", func() {
		s := &conformance.Suite{NewClient: func(context.Context) (conformance.Client, error) {
			return conformance.NewLocal(conformance.LocalOptions{}), nil
		}}
		status := godog.TestSuite{ScenarioInitializer: s.InitializeScenario, Options: &godog.Options{
			FeatureContents: []godog.Feature{{Name: "h2.feature", Contents: []byte(`
Feature: h2
  @http2
  Scenario: refusals
    Given a mock APNs server
    And a client configured for HTTP/2 with a provider token
    And device 2 is unregistered since 2026-11-30T08:00:00Z
    And the HTTP/2 API refuses token 3 once with reason BadTopic
    When the client sends 3 notifications
    Then the client reports token 2 as refused with reason Unregistered and HTTP status 410
`)}},
			Format: s.Formats("progress"), Output: io.Discard, NoColors: true, Strict: true,
		}}.Run()
		Expect(status).To(BeZero())
		var md strings.Builder
		Expect(s.WriteReport(&md, false)).To(Succeed())
		Expect(md.String()).To(ContainSubstring("| refusals | MUST | passed |  | send 1: failed 2 (status 410); failed 3 (status 400); reasons 2 Unregistered (410, since 2026-11-30T08:00:00Z), 3 BadTopic (400) |"))
	})
})
