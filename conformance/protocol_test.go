package conformance_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/apnskit/apnskit/conformance"
	"github.com/google/go-cmp/cmp/cmpopts"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// fakeAdapterEnv makes the test binary act as an external adapter (see
// TestMain), so that External can be tested against real processes.
const fakeAdapterEnv = "APNSKIT_CONFORMANCE_FAKE_ADAPTER"

// echoClient is a Client that reports back what it was given.
type echoClient struct {
	caps   conformance.Capabilities
	ep     conformance.Endpoint
	closed bool
}

func (c *echoClient) Capabilities() conformance.Capabilities { return c.caps }

func (c *echoClient) Configure(_ context.Context, ep conformance.Endpoint) error {
	c.ep = ep
	return nil
}

// Send returns the batch as an outcome: its tokens as retried, and its other
// fields (and the configuration) as errors.
func (c *echoClient) Send(_ context.Context, b conformance.Batch) (conformance.Outcome, error) {
	if len(b.Tokens) == 0 {
		return conformance.Outcome{}, errors.New("no tokens")
	}
	cmd := -1
	if b.Command != nil {
		cmd = *b.Command
	}
	return conformance.Outcome{Retried: b.Tokens, Attempts: 1, Errors: []string{
		string(b.Payload),
		fmt.Sprintf("priority=%d expiry=%d command=%d", b.Priority, b.Expiry.Unix(), cmd),
		fmt.Sprintf("gateway=%s cert=%s key=%s", b.Gateway, b.CertPEM, b.KeyPEM),
		fmt.Sprintf("configured=%s,%s,%s,%s,%s,%v", c.ep.Gateway, c.ep.Feedback, c.ep.CAPEM, c.ep.CertPEM, c.ep.KeyPEM, c.ep.ErrorWait),
	}}, nil
}

func (c *echoClient) Feedback(context.Context) ([]conformance.FeedbackTuple, error) {
	return []conformance.FeedbackTuple{{Token: "abcd", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}, nil
}

func (c *echoClient) Outdate(_ context.Context, idle time.Duration) (int, error) {
	return int(idle / time.Millisecond), nil
}

func (c *echoClient) Shutdown(context.Context) error {
	return fmt.Errorf("shutdown: %w", conformance.ErrUnsupported)
}

func (c *echoClient) Close(context.Context) error {
	c.closed = true
	return nil
}

// runFakeAdapter is the adapter side of the test binary.
func runFakeAdapter(mode string) int {
	switch mode {
	case "echo":
		c := &echoClient{caps: conformance.Capabilities{conformance.CapConcurrent, "custom"}}
		if err := conformance.Serve(context.Background(), "echo", os.Stdin, os.Stdout, c); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "exit-after-hello", "garbage-after-hello", "stranger-after-hello":
		br := bufio.NewReader(os.Stdin)
		if _, err := br.ReadString('\n'); err != nil {
			return 1
		}
		fmt.Println(`{"id":1,"ok":true,"name":"broken"}`)
		fmt.Fprintln(os.Stderr, "fake adapter: about to misbehave")
		if _, err := br.ReadString('\n'); err != nil {
			return 1
		}
		switch mode {
		case "garbage-after-hello":
			fmt.Println("this is not JSON")
		case "stranger-after-hello":
			fmt.Println(`{"id":99,"ok":true}`)
		}
		return 3
	}
	fmt.Fprintln(os.Stderr, "unknown fake adapter mode", mode)
	return 2
}

func startFake(mode string) *conformance.External {
	GinkgoHelper()
	GinkgoT().Setenv(fakeAdapterEnv, mode)
	exe, err := os.Executable()
	Expect(err).NotTo(HaveOccurred())
	e, err := conformance.StartExternal(context.Background(), []string{exe})
	Expect(err).NotTo(HaveOccurred())
	return e
}

var _ = Describe("The line protocol", func() {
	Describe("Serve", func() {
		var c *echoClient
		serve := func(input string) []conformance.Response {
			GinkgoHelper()
			var out strings.Builder
			Expect(conformance.Serve(context.Background(), "echo", strings.NewReader(input), &out, c)).To(Succeed())
			var resps []conformance.Response
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				var r conformance.Response
				Expect(json.Unmarshal([]byte(line), &r)).To(Succeed(), "line %q", line)
				resps = append(resps, r)
			}
			return resps
		}
		BeforeEach(func() { c = &echoClient{caps: conformance.Capabilities{conformance.CapPooling}} })

		It("answers every request, in order, and closes the client at the end of input", func() {
			resps := serve(`{"id":1,"op":"hello"}` + "\n\n" + `{"id":2,"op":"outdate","idle_ms":7}` + "\n")
			Expect(resps).To(HaveLen(2))
			Expect(resps[0]).To(Equal(conformance.Response{ID: 1, OK: true, Protocol: conformance.ProtocolVersion, Name: "echo",
				Capabilities: conformance.Capabilities{conformance.CapPooling}}))
			Expect(resps[1]).To(Equal(conformance.Response{ID: 2, OK: true, Closed: 7}))
			Expect(c.closed).To(BeTrue())
		})

		It("answers a line that is not JSON with an error and goes on", func() {
			resps := serve("{oops\n" + `{"id":5,"op":"close"}` + "\n" + `{"id":6,"op":"hello"}` + "\n")
			Expect(resps).To(HaveLen(2))
			Expect(resps[0].OK).To(BeFalse())
			Expect(resps[0].Error).To(ContainSubstring("bad request"))
			Expect(resps[1]).To(Equal(conformance.Response{ID: 5, OK: true}), "nothing is read after close")
		})

		It("marks unknown and unsupported operations", func() {
			resps := serve(`{"id":1,"op":"dance"}` + "\n" + `{"id":2,"op":"shutdown"}` + "\n")
			Expect(resps).To(HaveLen(2))
			for _, r := range resps {
				Expect(r.OK).To(BeFalse())
				Expect(r.Unsupported).To(BeTrue())
			}
		})

		It("reads lines far longer than its buffer", func() {
			tokens := make([]string, 5000)
			for i := range tokens {
				tokens[i] = fmt.Sprintf("%064x", i)
			}
			req, err := json.Marshal(conformance.Request{ID: 1, Op: conformance.OpSend, Tokens: tokens, Payload: json.RawMessage(`{}`)})
			Expect(err).NotTo(HaveOccurred())
			resps := serve(string(req)) // and no final newline
			Expect(resps).To(HaveLen(1))
			Expect(resps[0].Outcome.Retried).To(Equal(tokens))
		})
	})

	Describe("an External client", func() {
		It("carries every field of every operation through the adapter", func(ctx SpecContext) {
			e := startFake("echo")
			Expect(e.Name()).To(Equal("echo"))
			Expect(e.Capabilities()).To(Equal(conformance.Capabilities{conformance.CapConcurrent, "custom"}))
			Expect(e.Configure(ctx, conformance.Endpoint{Gateway: "g:1", Feedback: "f:2", CAPEM: []byte("ca"),
				CertPEM: []byte("cert"), KeyPEM: []byte("key"), ErrorWait: 250 * time.Millisecond})).To(Succeed())
			cmd := 1
			out, err := e.Send(ctx, conformance.Batch{Tokens: []string{"aa", "bb"}, Payload: json.RawMessage(`{"aps":{}}`),
				Priority: 5, Expiry: time.Unix(1893553445, 0), Command: &cmd, Gateway: "h:3", CertPEM: []byte("c2"), KeyPEM: []byte("k2")})
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(BeComparableTo(conformance.Outcome{Retried: []string{"aa", "bb"}, Attempts: 1, Errors: []string{
				`{"aps":{}}`,
				"priority=5 expiry=1893553445 command=1",
				"gateway=h:3 cert=c2 key=k2",
				"configured=g:1,f:2,ca,cert,key,250ms",
			}}, cmpopts.EquateEmpty()))
			_, err = e.Send(ctx, conformance.Batch{})
			Expect(err).To(MatchError(ContainSubstring("no tokens")))
			tuples, err := e.Feedback(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(tuples).To(HaveLen(1))
			Expect(tuples[0].Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))).To(BeTrue())
			n, err := e.Outdate(ctx, 42*time.Millisecond)
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(42))
			Expect(e.Shutdown(ctx)).To(MatchError(conformance.ErrUnsupported))
			Expect(e.Close(ctx)).To(Succeed())
		}, SpecTimeout(30*time.Second))

		It("gives the payload's exact bytes and learns the protocol version and the client's identity", func(ctx SpecContext) {
			e := startFake("echo")
			Expect(e.Protocol()).To(Equal(conformance.ProtocolVersion))
			name, _ := e.Identity()
			Expect(name).To(Equal("echo"))
			exact := `{ "aps" : {"alert": "two  spaces"} }`
			out, err := e.Send(ctx, conformance.Batch{Tokens: []string{"aa"}, Payload: json.RawMessage(exact)})
			Expect(err).NotTo(HaveOccurred())
			Expect(out.Errors).NotTo(BeEmpty())
			Expect(out.Errors[0]).To(Equal(exact)) // the JSON object alone would be re-encoded
			Expect(e.Close(ctx)).To(Succeed())
		}, SpecTimeout(30*time.Second))

		DescribeTable("reports an adapter that misbehaves, with its stderr",
			func(ctx SpecContext, mode string) {
				e := startFake(mode)
				_, err := e.Send(ctx, conformance.Batch{Tokens: []string{"aa"}})
				Expect(err).To(MatchError(conformance.ErrAdapter))
				Expect(err).To(MatchError(ContainSubstring("about to misbehave")))
				Expect(e.Close(ctx)).To(MatchError(conformance.ErrAdapter))
			},
			Entry("exiting", "exit-after-hello", SpecTimeout(30*time.Second)),
			Entry("writing garbage", "garbage-after-hello", SpecTimeout(30*time.Second)),
			Entry("answering a request never made", "stranger-after-hello", SpecTimeout(30*time.Second)),
		)

		It("checks an adapter once, naming a relative path that is not found from the package's folder", func(ctx SpecContext) {
			err := conformance.CheckExternal(ctx, []string{"sh", "no-such-adapter.py"})
			Expect(err).To(MatchError(conformance.ErrAdapter))
			Expect(err).To(MatchError(ContainSubstring(`the relative path "no-such-adapter.py" is resolved from `)))
			Expect(err).To(MatchError(ContainSubstring(`"$PWD/no-such-adapter.py"`)))
		})

		It("refuses an empty command and a program that does not exist", func(ctx SpecContext) {
			_, err := conformance.StartExternal(ctx, nil)
			Expect(err).To(MatchError(conformance.ErrAdapter))
			_, err = conformance.StartExternal(ctx, []string{"/nonexistent/apnskit-adapter"})
			Expect(err).To(MatchError(conformance.ErrAdapter))
		})
	})
})
