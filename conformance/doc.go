// Package conformance checks an APNs client, of the binary protocol or of
// the HTTP/2 provider API, against the Gherkin scenarios of features/: it
// drives the client and a fresh mock server (package mockapns) for each
// scenario with godog, then judges the client by the mock's journal and
// counters and by what the client reported.
//
// A client under test is seen through the [Client] interface: configure an
// endpoint and PEM credentials, send a batch following its retries to the
// end and report the aggregate [Outcome], read the feedback service, pool
// operations, close, and the [Capabilities] it declares (scenarios tagged
// with a capability the client lacks are skipped and reported). [NewLocal]
// adapts our own client (package client); [StartExternal] runs any program
// that speaks the line-based JSON protocol of conformance/README.md, so that
// a client in any language can be checked; [Serve] is the adapter side of
// that protocol for a Go Client, and cmd/apnskit-adapter the reference
// adapter built on it.
//
// [Suite] is the godog scenario initializer:
//
//	s := &conformance.Suite{NewClient: func(ctx context.Context) (conformance.Client, error) {
//		return conformance.NewLocal(conformance.LocalOptions{}), nil
//	}}
//	status := godog.TestSuite{ScenarioInitializer: s.InitializeScenario, Options: &godog.Options{
//		Paths: []string{"../features"}, Format: "pretty", Strict: true, Randomize: -1, TestingT: t,
//	}}.Run()
//	s.WriteSummary(os.Stdout)
//
// Every scenario has a [Level]: a MUST failure fails the run, a SHOULD
// failure is a warning unless [Suite.Strict]. [Suite.Formats] gives godog
// the kit's pretty, progress and junit formatters, which show skipped and
// warned scenarios as such; [Suite.WriteReport] writes the publishable
// report, a table per feature.
//
// Nothing in a scenario waits a fixed time to synchronise: steps wait for the
// mock's journal or counters to reach a state, bounded by a timeout. The
// real-time clocks that matter are the client's own error-wait window
// ([Endpoint.ErrorWait], [DefaultErrorWait]), which the scenarios set short,
// and, in the one scenario about an idle timeout, a pause longer than it.
// Hours pass on the kit's clock instead ([Endpoint.Clock], [CapClock]):
// the mock and a client that takes the clock agree on it, and a step moves
// it on by minutes at once.
package conformance
