package conformance_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apnskit/apnskit/conformance"
	"github.com/cucumber/godog"
)

// A scenario written with the kit's steps, run against our client. Real
// runs point Options.Paths at the features folder instead.
func ExampleSuite() {
	const feature = `
Feature: example
  Scenario: a bad token is reported and the others are delivered once
    Given a mock APNs server
    And a client configured with the server's test certificates
    And the gateway refuses token 2 with status 8 (invalid token)
    When the client sends 4 notifications
    Then the client reports token 2 as failed with status 8
    And the gateway accepted every token except token 2 exactly once
    And the client sent again tokens 3 to 4

  @command0
  Scenario: the simple format is accepted
    Given a mock APNs server
    And a client configured with the server's test certificates
    And the notifications use command 0
    When the client sends 1 notification
    Then the gateway received every notification with command 0
`
	s := &conformance.Suite{NewClient: func(context.Context) (conformance.Client, error) {
		return conformance.NewLocal(conformance.LocalOptions{}), nil
	}}
	status := godog.TestSuite{ScenarioInitializer: s.InitializeScenario, Options: &godog.Options{
		FeatureContents: []godog.Feature{{Name: "example.feature", Contents: []byte(feature)}},
		Format:          "progress", Output: io.Discard, Strict: true,
	}}.Run()
	for _, r := range s.Results() {
		fmt.Printf("%s: %s\n", r.Result, r.Name)
	}
	fmt.Println("status", status)
	_ = s.WriteSkipReport(os.Stdout)
	// Output:
	// passed: a bad token is reported and the others are delivered once
	// skipped: the simple format is accepted
	// status 0
	// conformance: 1 scenario(s) skipped:
	//   - example.feature: "the simple format is accepted": @command0: the client does not declare the capability "command0"
}

// Serve is the whole of an external adapter written in Go: it answers the
// line protocol for any Client.
func ExampleServe() {
	in := strings.NewReader(`{"id":1,"op":"hello","protocol":3,"kit":"2.1.0"}
{"id":2,"op":"outdate","idle_ms":0}
{"id":3,"op":"close"}
`)
	err := conformance.Serve(context.Background(), "apnskit", in, os.Stdout, conformance.NewLocal(conformance.LocalOptions{}))
	fmt.Println("err:", err)
	// Output:
	// {"id":1,"ok":true,"protocol":3,"name":"apnskit","version":"2.1.0","capabilities":["reuse","pools","outdate","shutdown","overrides","feedback","concurrent","http2","clock","keepalive"]}
	// {"id":2,"ok":false,"error":"conformance: client not configured"}
	// {"id":3,"ok":true}
	// err: <nil>
}
