package conformance_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apnskit/apnskit/conformance"
	"github.com/cucumber/godog"
)

// Command-line flags: the godog options (-godog.format, -godog.tags,
// -godog.concurrency, -godog.random, ...) and the external client to check.
var (
	opts = godog.Options{
		Paths:       []string{"../features"},
		Format:      "pretty",
		Strict:      true,
		Randomize:   -1,
		Concurrency: 8,
	}
	clientCmd = flag.String("client.cmd", os.Getenv("APNSKIT_CLIENT_CMD"),
		"external client adapter command to check, split on spaces; relative paths resolve from conformance/, so give absolute ones ($PWD/adapter.py) (default $APNSKIT_CLIENT_CMD; empty: the reference adapter built from conformance/cmd/apnskit-adapter)")
	strict = flag.Bool("strict", false,
		"fail the run on SHOULD scenarios too (otherwise their failures are warnings)")
	reportFile = flag.String("report", "",
		"write the kit's report on the external client (TestExternal) to `FILE`: JSON if it ends in .json, else Markdown")
	sendTimeout = flag.Duration("client.send-timeout", conformance.DefaultSendTimeout,
		"how long one send (retries included) or feedback read may take")
	settleTimeout = flag.Duration("client.settle-timeout", conformance.DefaultSettleTimeout,
		"how long the other waits may take: the gateway settling, the client closing or shutting down")
	errorWait = flag.Duration("client.error-wait", conformance.DefaultErrorWait,
		"error-wait window configured on the clients (raise it on a slow or overloaded machine)")
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeAdapterEnv); mode != "" {
		os.Exit(runFakeAdapter(mode))
	}
	// godog.BindCommandLineFlags binds to pflag (--godog.format); binding to
	// the standard flag set makes go test's single-dash form work:
	// go test ./conformance/ -args -godog.format=junit:out.xml
	godog.BindFlags("godog.", flag.CommandLine, &opts)
	flag.Parse()
	os.Exit(m.Run())
}

// run runs the features against the clients newClient makes and fails t if
// any scenario fails; it logs the skipped ones with the reason.
func run(t *testing.T, name, report string, newClient func(ctx context.Context) (conformance.Client, error)) {
	t.Helper()
	runTagged(t, name, report, "", newClient)
}

// runTagged is run limited to the scenarios matching the godog tag
// expression tags, joined to -godog.tags when both are given.
func runTagged(t *testing.T, name, report, tags string, newClient func(ctx context.Context) (conformance.Client, error)) {
	t.Helper()
	s := &conformance.Suite{NewClient: newClient, ErrorWait: *errorWait, Strict: *strict,
		SendTimeout: *sendTimeout, SettleTimeout: *settleTimeout}
	o := opts
	o.TestingT = t
	switch {
	case tags != "" && o.Tags != "":
		o.Tags = "(" + o.Tags + ") && (" + tags + ")"
	case tags != "":
		o.Tags = tags
	}
	if o.Randomize < 0 {
		o.Randomize = time.Now().UnixNano() // chosen here, so that the report can name it
	}
	s.Seed = o.Randomize
	o.Format = s.Formats(o.Format)
	status := godog.TestSuite{Name: name, ScenarioInitializer: s.InitializeScenario, Options: &o}.Run()
	var summary strings.Builder
	if err := s.WriteSummary(&summary); err != nil {
		t.Fatal(err)
	}
	t.Log(summary.String())
	if report != "" {
		if err := s.WriteReportFile(report); err != nil {
			t.Errorf("writing the report: %v", err)
		} else {
			t.Logf("conformance: report written to %s", report)
		}
	}
	if w := s.Warnings(); len(w) > 0 {
		t.Logf("conformance: %d SHOULD scenario(s) not met (warnings; -strict makes them fail): %q", len(w), w)
	}
	if status != 0 || !s.OK() {
		t.Fatalf("the conformance suite failed (status %d): %v", status, s.Failures())
	}
	if len(s.Results()) == 0 {
		t.Fatal("no scenario ran")
	}
}

// TestFeatures runs every scenario against our client, in-process.
func TestFeatures(t *testing.T) {
	run(t, "apnskit-local", "", func(context.Context) (conformance.Client, error) {
		return conformance.NewLocal(conformance.LocalOptions{}), nil
	})
}

// TestFeaturesConfirmByClose runs every scenario against our client in its
// other mode, where each batch is confirmed by closing the connection
// instead of by the error-wait window (the pooling scenarios are skipped:
// that mode does not keep connections).
func TestFeaturesConfirmByClose(t *testing.T) {
	run(t, "apnskit-local-confirm-by-close", "", func(context.Context) (conformance.Client, error) {
		return conformance.NewLocal(conformance.LocalOptions{ConfirmByClose: true}), nil
	})
}

// TestExternal runs every scenario through the external line protocol: by
// default against the reference adapter (conformance/cmd/apnskit-adapter,
// built here), or against the command given with -client.cmd or
// $APNSKIT_CLIENT_CMD. One adapter process runs per scenario.
func TestExternal(t *testing.T) {
	t.Parallel() // with TestPythonExample and TestNodeExample: all mostly wait on their adapters
	argv := conformance.SplitCommand(*clientCmd)
	if len(argv) == 0 {
		bin := filepath.Join(t.TempDir(), "apnskit-adapter")
		args := []string{"build", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		build := exec.Command("go", append(args, "./cmd/apnskit-adapter")...)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building the reference adapter: %v\n%s", err, out)
		}
		argv = []string{bin}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := conformance.CheckExternal(ctx, argv); err != nil { // one error, not one per scenario
		t.Fatalf("the adapter cannot start; no scenario was run: %v", err)
	}
	run(t, "external", *reportFile, func(ctx context.Context) (conformance.Client, error) {
		return conformance.StartExternal(ctx, argv)
	})
}

// TestPythonExample runs every scenario through the example adapter in
// Python (conformance/examples/python), which drives a small binary
// sender written in Python: the external protocol is proven from another
// language. It is skipped, saying so, where python3 is not installed.
func TestPythonExample(t *testing.T) {
	t.Parallel() // with TestExternal and TestNodeExample: all mostly wait on their adapters
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skipf("python3 is not installed (%v): the Python example adapter is not checked", err)
	}
	dir := filepath.Join("examples", "python")
	readForCache(t, dir, "adapter.py", "apns_sender.py")
	argv := []string{py, filepath.Join(dir, "adapter.py")}
	run(t, "python-example", "", func(ctx context.Context) (conformance.Client, error) {
		return conformance.StartExternal(ctx, argv)
	})
}

// readForCache reads an example adapter's files, so that go test's cache
// knows them: a change to the adapter runs its test again rather than
// answering from the cache, which sees only what the test process opens.
func readForCache(t *testing.T, dir string, files ...string) {
	t.Helper()
	for _, f := range files {
		if _, err := os.ReadFile(filepath.Join(dir, f)); err != nil {
			t.Fatalf("the example adapter in %s: %v", dir, err)
		}
	}
}

// minNodeMajor is the oldest Node.js the example adapter is checked with:
// node:http2, Buffer's base64url and crypto.sign's dsaEncoding are all
// older, and 18 is the oldest release line still in Debian stable.
const minNodeMajor = 18

// TestNodeExample runs the @http2 scenarios through the example adapter in
// Node.js (conformance/examples/node), which drives a small HTTP/2 sender
// written with Node's standard library: the HTTP/2 side of the line
// protocol is proven from another language. The adapter has no binary
// client, so the binary scenarios (untagged) are not run for it. It is
// skipped, saying so, where node is missing or older than minNodeMajor.
func TestNodeExample(t *testing.T) {
	t.Parallel() // with TestExternal and TestPythonExample: all mostly wait on their adapters
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("node is not installed (%v): the Node.js example adapter is not checked", err)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Skipf("%s --version failed (%v): the Node.js example adapter is not checked", node, err)
	}
	v := strings.TrimSpace(string(out))
	major, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < minNodeMajor {
		t.Skipf("node %s is older than %d (or unreadable): the Node.js example adapter is not checked", v, minNodeMajor)
	}
	dir := filepath.Join("examples", "node")
	readForCache(t, dir, "adapter.js", "apns_h2.js")
	argv := []string{node, filepath.Join(dir, "adapter.js")}
	runTagged(t, "node-example", "", "@http2", func(ctx context.Context) (conformance.Client, error) {
		return conformance.StartExternal(ctx, argv)
	})
}
