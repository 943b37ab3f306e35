package conformance_test

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/apnskit/apnskit/conformance"
	"github.com/cucumber/godog"
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
	calls  int // Configure and Send calls
	closed bool
}

func (c *echoClient) Capabilities() conformance.Capabilities { return c.caps }

func (c *echoClient) Configure(_ context.Context, ep conformance.Endpoint) error {
	c.calls++
	c.ep = ep
	return nil
}

// echoed is what echoClient.Send reports in Errors[1]: its configuration
// and the batch, in Go's JSON (PEM texts in base64), less the payload,
// which is Errors[0], exactly.
type echoed struct {
	Endpoint conformance.Endpoint
	Batch    conformance.Batch
}

// readEchoed reads what echoClient.Send reported in Errors[1].
func readEchoed(s string) echoed {
	GinkgoHelper()
	var e echoed
	Expect(json.Unmarshal([]byte(s), &e)).To(Succeed())
	e.Batch.Payload = nil // Go's JSON of a nil payload reads back as "null"
	return e
}

// echoTimestamp is the 410 timestamp echoClient reports over HTTP/2.
var echoTimestamp = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

// Send returns the batch as an outcome: its tokens as retried, its payload
// and the rest as errors (and, with CapClock, the time by its clock) and, when configured for HTTP/2, its first token
// refused with Unregistered.
func (c *echoClient) Send(_ context.Context, b conformance.Batch) (conformance.Outcome, error) {
	c.calls++
	if len(b.Tokens) == 0 {
		return conformance.Outcome{}, errors.New("no tokens")
	}
	payload := string(b.Payload)
	b.Payload = nil
	all, err := json.Marshal(echoed{Endpoint: c.ep, Batch: b})
	if err != nil {
		return conformance.Outcome{}, err
	}
	out := conformance.Outcome{Retried: b.Tokens, Attempts: 1, Errors: []string{payload, string(all)}}
	if c.caps.Has(conformance.CapClock) && c.ep.Clock != nil {
		out.Errors = append(out.Errors, c.ep.Clock().UTC().Format(time.RFC3339Nano))
	}
	if c.ep.HTTP2 != "" {
		out.Failed = []conformance.TokenStatus{{Token: b.Tokens[0], Status: 410}}
		out.Reasons = []conformance.TokenReason{{Token: b.Tokens[0], Reason: "Unregistered", HTTPStatus: 410,
			Timestamp: echoTimestamp, APNsID: "4a1c1b9e-7a52-4c3a-9d2e-6f2b8e0c1d3f"}}
	}
	return out, nil
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

// fakeScriptEnv holds the answers of the "scripted" fake adapter, one per
// line: the first to hello, then one per request; $ID stands for the
// request's id. Past the script it answers {"id":ID,"ok":true}.
const fakeScriptEnv = "APNSKIT_CONFORMANCE_FAKE_SCRIPT"

// runFakeAdapter is the adapter side of the test binary.
func runFakeAdapter(mode string) int {
	switch mode {
	case "echo", "clocked":
		c := &echoClient{caps: conformance.Capabilities{conformance.CapConcurrent, "custom", conformance.CapHTTP2}}
		if mode == "clocked" {
			c.caps = append(c.caps, conformance.CapClock)
		}
		if err := conformance.Serve(context.Background(), "echo", os.Stdin, os.Stdout, c); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "scripted":
		script := strings.Split(os.Getenv(fakeScriptEnv), "\n")
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(nil, conformance.MaxLine)
		for n := 0; sc.Scan(); n++ {
			var req struct {
				ID int64  `json:"id"`
				Op string `json:"op"`
			}
			if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
				return 1
			}
			answer := `{"id":$ID,"ok":true}`
			if n < len(script) {
				answer = script[n]
			}
			fmt.Println(strings.ReplaceAll(answer, "$ID", fmt.Sprint(req.ID)))
			if req.Op == conformance.OpClose {
				return 0
			}
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

// startScripted starts the scripted fake adapter with those answers.
func startScripted(answers ...string) *conformance.External {
	GinkgoHelper()
	GinkgoT().Setenv(fakeScriptEnv, strings.Join(answers, "\n"))
	return startFake("scripted")
}

// fakePEM is a PEM block named kind, enough for the protocol's checks.
func fakePEM(kind string) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: []byte(kind)})
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
		BeforeEach(func() { c = &echoClient{caps: conformance.Capabilities{conformance.CapPooling, conformance.CapHTTP2}} })

		It("answers every request, in order, and closes the client at the end of input", func() {
			resps := serve(`{"id":1,"op":"hello","protocol":3}` + "\n\n" + `{"id":2,"op":"outdate","idle_ms":7}` + "\n")
			Expect(resps).To(HaveLen(2))
			Expect(resps[0]).To(Equal(conformance.Response{ID: 1, OK: true, Protocol: conformance.ProtocolVersion, Name: "echo",
				Capabilities: []conformance.Capability{conformance.CapPooling, conformance.CapHTTP2}}))
			Expect(resps[1]).To(Equal(conformance.Response{ID: 2, OK: true, Closed: 7}))
			Expect(c.closed).To(BeTrue())
		})

		DescribeTable("with a suite of an earlier version, speaks that one: it hides http2 and refuses the members of version 3",
			func(hello string) {
				resps := serve(hello + "\n" +
					`{"id":2,"op":"send","tokens":["aa"],"payload":{},"topic":"com.example"}` + "\n" +
					`{"id":3,"op":"send","tokens":["aa"],"payload":{},"expiry":0}` + "\n")
				Expect(resps).To(HaveLen(3))
				Expect(resps[0].Protocol).To(Equal(conformance.ProtocolVersion), "the adapter says what it speaks")
				Expect(resps[0].Capabilities).To(Equal([]conformance.Capability{conformance.CapPooling}))
				Expect(resps[1].OK).To(BeFalse())
				Expect(resps[1].Error).To(ContainSubstring(`member "topic" is protocol 3's, and this exchange speaks`))
				Expect(resps[2].OK).To(BeTrue())
				e := readEchoed(resps[2].Outcome.Errors[1])
				Expect(e.Batch.Expiry.IsZero()).To(BeTrue(), "before version 3, expiry 0 means none")
				Expect(c.calls).To(Equal(1), "the refused request never reached the client")
			},
			Entry("version 2", `{"id":1,"op":"hello","protocol":2,"kit":"2.0.0"}`),
			Entry("version 1 (no protocol in hello)", `{"id":1,"op":"hello"}`),
		)

		It("ignores, in hello only, the members a later version may add", func() {
			resps := serve(`{"id":1,"op":"hello","protocol":4,"kit":"9.0.0","compression":"zstd"}` + "\n")
			Expect(resps[0].OK).To(BeTrue())
			Expect(resps[0].Protocol).To(Equal(conformance.ProtocolVersion))
			Expect(resps[0].Capabilities).To(ContainElement(conformance.CapHTTP2))
		})

		It("takes an HTTP/2 configuration and batch and answers the refusals' reasons", func() {
			ca, cert, key := string(fakePEM("CERTIFICATE")), string(fakePEM("CERTIFICATE")), string(fakePEM("PRIVATE KEY"))
			configure, err := json.Marshal(map[string]any{"id": 2, "op": "configure", "gateway": "127.0.0.1:1", "feedback": "127.0.0.1:2",
				"ca_pem": ca, "cert_pem": cert, "key_pem": key, "error_wait_ms": 100,
				"transport": "http2", "http2_url": "https://127.0.0.1:3", "auth": "token",
				"auth_key_pem": key, "key_id": "KEYID12345", "team_id": "TEAMID1234"})
			Expect(err).NotTo(HaveOccurred())
			resps := serve(`{"id":1,"op":"hello","protocol":3}` + "\n" + string(configure) + "\n" +
				`{"id":3,"op":"send","transport":"http2","tokens":["aa"],"payload":{"aps":{}},"priority":5,"expiry":0,"topic":"com.example","push_type":"alert","collapse_id":"c-1"}` + "\n" +
				`{"id":4,"op":"send","transport":"binary","tokens":["aa"],"payload":{"aps":{}}}` + "\n")
			Expect(resps).To(HaveLen(4))
			Expect(resps[1]).To(Equal(conformance.Response{ID: 2, OK: true}))
			Expect(c.ep).To(BeComparableTo(conformance.Endpoint{Gateway: "127.0.0.1:1", Feedback: "127.0.0.1:2",
				CAPEM: []byte(ca), CertPEM: []byte(cert), KeyPEM: []byte(key), ErrorWait: 100 * time.Millisecond,
				HTTP2: "127.0.0.1:3", AuthKeyPEM: []byte(key), KeyID: "KEYID12345", TeamID: "TEAMID1234"}))
			Expect(resps[2].OK).To(BeTrue(), resps[2].Error)
			e := readEchoed(resps[2].Outcome.Errors[1])
			Expect(e.Batch).To(BeComparableTo(conformance.Batch{Tokens: []string{"aa"}, Priority: 5, Expiry: time.Unix(0, 0).UTC(),
				Topic: "com.example", PushType: "alert", CollapseID: "c-1"}), "expiry 0 is APNs' now-or-never from version 3")
			Expect(resps[2].Outcome.Reasons).To(Equal([]conformance.TokenReason{{Token: "aa", Reason: "Unregistered", HTTPStatus: 410,
				Timestamp: echoTimestamp, APNsID: "4a1c1b9e-7a52-4c3a-9d2e-6f2b8e0c1d3f"}}))
			Expect(resps[3].OK).To(BeFalse())
			Expect(resps[3].Error).To(ContainSubstring(`transport "binary", but the client is configured for "http2"`))
		})

		It("dates a client with clock by the clock requests, from the first, between sends", func() {
			c.caps = append(c.caps, conformance.CapClock)
			resps := serve(`{"id":1,"op":"hello","protocol":3}` + "\n" +
				`{"id":2,"op":"configure","gateway":"127.0.0.1:1"}` + "\n" +
				`{"id":3,"op":"send","tokens":["aa"]}` + "\n" +
				`{"id":4,"op":"clock","now":"2030-01-02T03:04:05.5Z"}` + "\n" +
				`{"id":5,"op":"send","tokens":["aa"]}` + "\n" +
				`{"id":6,"op":"clock","now":"2019-06-30T23:59:59+02:00"}` + "\n" +
				`{"id":7,"op":"send","tokens":["aa"]}` + "\n")
			Expect(resps).To(HaveLen(7))
			Expect(resps[3]).To(Equal(conformance.Response{ID: 4, OK: true}))
			Expect(resps[5]).To(Equal(conformance.Response{ID: 6, OK: true}))
			at := func(r conformance.Response) time.Time {
				GinkgoHelper()
				Expect(r.OK).To(BeTrue(), r.Error)
				Expect(r.Outcome.Errors).To(HaveLen(3))
				t, err := time.Parse(time.RFC3339Nano, r.Outcome.Errors[2])
				Expect(err).NotTo(HaveOccurred())
				return t
			}
			Expect(at(resps[2])).To(BeTemporally("~", time.Now(), time.Minute), "the wall clock before the first clock request")
			Expect(at(resps[4])).To(BeTemporally("~", time.Date(2030, 1, 2, 3, 4, 5, 5e8, time.UTC), time.Minute))
			Expect(at(resps[6])).To(BeTemporally("~", time.Date(2019, 6, 30, 21, 59, 59, 0, time.UTC), time.Minute))
		})

		It("answers clock unsupported to a client without the capability, and at version 2", func() {
			resps := serve(`{"id":1,"op":"hello","protocol":3}` + "\n" + `{"id":2,"op":"clock","now":"2030-01-01T00:00:00Z"}` + "\n")
			Expect(resps[1].OK).To(BeFalse())
			Expect(resps[1].Unsupported).To(BeTrue())
			Expect(resps[1].Error).To(ContainSubstring(`the client does not declare the capability "clock"`))

			c.caps = append(c.caps, conformance.CapClock)
			resps = serve(`{"id":1,"op":"hello","protocol":2}` + "\n" + `{"id":2,"op":"clock","now":"2030-01-01T00:00:00Z"}` + "\n")
			Expect(resps[0].Capabilities).NotTo(ContainElement(conformance.CapClock))
			Expect(resps[1].OK).To(BeFalse())
			Expect(resps[1].Unsupported).To(BeTrue(), "not an operation of version 2")
		})

		DescribeTable("refuses a request that breaks the rules, answering its id, and the client never sees it",
			func(line, want string) {
				resps := serve(`{"id":1,"op":"hello","protocol":3}` + "\n" + line + "\n")
				Expect(resps).To(HaveLen(2))
				Expect(resps[1].ID).To(Equal(int64(7)))
				Expect(resps[1].OK).To(BeFalse())
				Expect(resps[1].Unsupported).To(BeFalse())
				Expect(resps[1].Error).To(HavePrefix(conformance.ErrProtocol.Error()))
				Expect(resps[1].Error).To(ContainSubstring(want))
				Expect(c.calls).To(BeZero())
			},
			Entry("an unknown member", `{"id":7,"op":"send","tokens":["aa"],"topik":"x"}`, `unknown member "topik" (a send request has id, op, tokens,`),
			Entry("a member of another op", `{"id":7,"op":"feedback","idle_ms":3}`, `unknown member "idle_ms" (a feedback request has no other member than id and op)`),
			Entry("a member given twice", `{"id":7,"op":"send","tokens":["aa"],"tokens":["bb"]}`, `member "tokens" given twice`),
			Entry("null", `{"id":7,"op":"send","priority":null}`, `member "priority": null`),
			Entry("a string for a number", `{"id":7,"op":"send","priority":"10"}`, `member "priority": "10" where int is expected`),
			Entry("a fraction", `{"id":7,"op":"outdate","idle_ms":1.5}`, `member "idle_ms"`),
			Entry("a priority out of range", `{"id":7,"op":"send","priority":300}`, `member "priority": 300: out of range (0 to 255)`),
			Entry("a command out of range", `{"id":7,"op":"send","command":-1}`, `member "command": -1: not a command`),
			Entry("an expiry before 1970", `{"id":7,"op":"send","expiry":-5}`, `member "expiry": -5: not a UNIX time`),
			Entry("a token that is not hex", `{"id":7,"op":"send","tokens":["aa","xyz"]}`, `member "tokens": token 2:`),
			Entry("bad base64", `{"id":7,"op":"send","payload_base64":"!!"}`, `member "payload_base64": not standard base64`),
			Entry("a payload and its bytes that disagree", `{"id":7,"op":"send","payload":{"a":1},"payload_text":"{\"a\":2}"}`, `payload is not the JSON of the exact bytes`),
			Entry("a payload text and base64 that disagree", `{"id":7,"op":"send","payload_text":"{}","payload_base64":"e30K"}`, `payload_text and payload_base64 are not the same bytes`),
			Entry("a header with a line break", `{"id":7,"op":"send","topic":"a\r\nb: c"}`, `member "topic": "a\r\nb: c": a control character`),
			Entry("an unknown transport", `{"id":7,"op":"send","transport":"http3"}`, `member "transport": "http3": not one of ["binary" "http2"]`),
			Entry("an address without a port", `{"id":7,"op":"configure","gateway":"localhost"}`, `member "gateway": "localhost": not HOST:PORT`),
			Entry("a PEM member without PEM", `{"id":7,"op":"configure","ca_pem":"hello"}`, `member "ca_pem": no PEM block in it`),
			Entry("an error wait of years", `{"id":7,"op":"configure","error_wait_ms":99999999999}`, `member "error_wait_ms": 99999999999: out of range`),
			Entry("HTTP/2 members without transport http2", `{"id":7,"op":"configure","http2_addr":"127.0.0.1:3"}`, `member "http2_addr" needs transport "http2"`),
			Entry("transport http2 without an address", `{"id":7,"op":"configure","transport":"http2","auth":"token"}`, `transport http2 needs http2_addr (or http2_url)`),
			Entry("transport http2 without auth", `{"id":7,"op":"configure","transport":"http2","http2_addr":"127.0.0.1:3"}`, `transport http2 needs auth`),
			Entry("auth token without its key", `{"id":7,"op":"configure","transport":"http2","http2_addr":"127.0.0.1:3","auth":"token","key_id":"K","team_id":"T"}`, `auth token needs auth_key_pem, key_id and team_id`),
			Entry("auth certificate without a certificate", `{"id":7,"op":"configure","transport":"http2","http2_addr":"127.0.0.1:3","auth":"certificate"}`, `auth certificate needs cert_pem`),
			Entry("a key id with auth certificate", `{"id":7,"op":"configure","transport":"http2","http2_addr":"127.0.0.1:3","auth":"certificate","cert_pem":"-----BEGIN C-----\nAAAA\n-----END C-----\n","key_id":"K"}`, `member "key_id" needs auth "token"`),
			Entry("an http2_url that is not https", `{"id":7,"op":"configure","http2_url":"http://127.0.0.1:3"}`, `member "http2_url": "http://127.0.0.1:3": not https://HOST:PORT`),
			Entry("an http2_url and an http2_addr that disagree", `{"id":7,"op":"configure","transport":"http2","http2_addr":"127.0.0.1:3","http2_url":"https://127.0.0.1:4","auth":"token"}`, `http2_url names 127.0.0.1:4 and http2_addr 127.0.0.1:3`),
			Entry("something after the object", `{"id":7,"op":"shutdown"} {}`, `something after the JSON object`),
			Entry("a clock without its time", `{"id":7,"op":"clock"}`, `clock needs "now"`),
			Entry("a clock's time that is not RFC 3339", `{"id":7,"op":"clock","now":"2030-01-01 00:00:00"}`, `member "now": "2030-01-01 00:00:00": not an RFC 3339 time`),
			Entry("a clock's time without its zone", `{"id":7,"op":"clock","now":"2030-01-01T00:00:00"}`, `member "now": "2030-01-01T00:00:00": not an RFC 3339 time`),
			Entry("a clock's time as a number", `{"id":7,"op":"clock","now":1893456000}`, `member "now": 1893456000 where string is expected`),
			Entry("a clock's time of null", `{"id":7,"op":"clock","now":null}`, `member "now": null`),
			Entry("a clock's time before 1970", `{"id":7,"op":"clock","now":"1969-12-31T23:59:59Z"}`, `member "now": "1969-12-31T23:59:59Z": not a time from 1970 to 2199`),
			Entry("a clock's time after 2199", `{"id":7,"op":"clock","now":"2200-01-01T00:00:00Z"}`, `member "now": "2200-01-01T00:00:00Z": not a time from 1970 to 2199`),
			Entry("a clock with another member", `{"id":7,"op":"clock","now":"2030-01-01T00:00:00Z","skew_ms":5}`, `unknown member "skew_ms" (a clock request has id, op, now)`),
		)

		It("answers a line that is not a JSON object with an error and goes on", func() {
			resps := serve("{oops\n" + `[1,2]` + "\n" + `{"op":"hello"}` + "\n" + `{"id":5,"op":"close"}` + "\n" + `{"id":6,"op":"hello"}` + "\n")
			Expect(resps).To(HaveLen(4))
			for i, want := range []string{"not JSON", "not a JSON object", `no member "id"`} {
				Expect(resps[i].ID).To(BeZero())
				Expect(resps[i].OK).To(BeFalse())
				Expect(resps[i].Error).To(ContainSubstring(want))
			}
			Expect(resps[3]).To(Equal(conformance.Response{ID: 5, OK: true}), "nothing is read after close")
		})

		It("marks unknown and unsupported operations, whatever their members", func() {
			resps := serve(`{"id":1,"op":"dance","tempo":"fast"}` + "\n" + `{"id":2,"op":"shutdown"}` + "\n")
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
			req, err := json.Marshal(conformance.Request{ID: 1, Op: conformance.OpSend, Batch: conformance.Batch{Tokens: tokens, Payload: json.RawMessage(`{}`)}})
			Expect(err).NotTo(HaveOccurred())
			resps := serve(string(req)) // and no final newline
			Expect(resps).To(HaveLen(1))
			Expect(resps[0].Outcome.Retried).To(Equal(tokens))
		})
	})

	Describe("Request", func() {
		It("carries every field of Endpoint and Batch across the line (add a member to protocol_members.go for a new one)", func() {
			var r conformance.Request
			fillFields(reflect.ValueOf(&r.Endpoint).Elem())
			fillFields(reflect.ValueOf(&r.Batch).Elem())
			for _, op := range []string{conformance.OpConfigure, conformance.OpSend} {
				r.ID, r.Op = 9, op
				line, err := r.Encode(conformance.ProtocolVersion)
				Expect(err).NotTo(HaveOccurred())
				back, err := conformance.DecodeRequest(line, conformance.ProtocolVersion)
				Expect(err).NotTo(HaveOccurred(), "%s", line)
				if op == conformance.OpConfigure {
					Expect(back.Endpoint).To(BeComparableTo(r.Endpoint), "%s", line)
				} else {
					Expect(back.Batch).To(BeComparableTo(r.Batch), "%s", line)
				}
			}
		})

		It("carries every field of Outcome back (a JSON member each)", func() {
			var o conformance.Outcome
			fillFields(reflect.ValueOf(&o).Elem())
			line, err := json.Marshal(o)
			Expect(err).NotTo(HaveOccurred())
			var back conformance.Outcome
			Expect(json.Unmarshal(line, &back)).To(Succeed())
			Expect(back).To(BeComparableTo(o))
		})

		It("round-trips through json.Marshal and json.Unmarshal at the current version", func() {
			cmd := 2
			r := conformance.Request{ID: 4, Op: conformance.OpSend, Transport: conformance.TransportBinary,
				Batch: conformance.Batch{Tokens: []string{"aa"}, Payload: json.RawMessage(`{"x": 1}`), Command: &cmd}}
			line, err := json.Marshal(r)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(line)).To(Equal(`{"id":4,"op":"send","tokens":["aa"],"payload":{"x":1},"payload_text":"{\"x\": 1}","payload_base64":"eyJ4IjogMX0=","command":2,"transport":"binary"}`))
			var back conformance.Request
			Expect(json.Unmarshal(line, &back)).To(Succeed())
			Expect(back).To(BeComparableTo(r))
		})

		It("round-trips a clock request, its time in UTC to the nanosecond", func() {
			r := conformance.Request{ID: 5, Op: conformance.OpClock, Now: time.Date(2027, 1, 2, 4, 4, 5, 123456789, time.FixedZone("CET", 3600))}
			line, err := json.Marshal(r)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(line)).To(Equal(`{"id":5,"op":"clock","now":"2027-01-02T03:04:05.123456789Z"}`))
			var back conformance.Request
			Expect(json.Unmarshal(line, &back)).To(Succeed())
			Expect(back.Now.Equal(r.Now)).To(BeTrue())
			Expect(back.Now.Location()).To(Equal(time.UTC))
			_, err = r.Encode(2)
			Expect(err).To(MatchError(conformance.ErrUnsupported))
			Expect(err).To(MatchError(ContainSubstring("clock needs protocol 3, and this exchange speaks 2")))
		})

		It("refuses to write, below version 3, what only version 3 carries, and leaves out what it derives", func() {
			ep := conformance.Endpoint{Gateway: "127.0.0.1:1", HTTP2: "127.0.0.1:2", CAPEM: fakePEM("CERTIFICATE")}
			_, err := conformance.Request{ID: 1, Op: conformance.OpConfigure, Endpoint: ep}.Encode(2)
			Expect(err).To(MatchError(conformance.ErrUnsupported))
			Expect(err).To(MatchError(ContainSubstring("http2_addr needs protocol 3, and this exchange speaks 2")))
			_, err = conformance.Request{ID: 1, Op: conformance.OpSend, Batch: conformance.Batch{Topic: "t"}}.Encode(2)
			Expect(err).To(MatchError(conformance.ErrUnsupported))

			ep.HTTP2 = ""
			line, err := conformance.Request{ID: 1, Op: conformance.OpConfigure, Endpoint: ep}.Encode(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(line)).NotTo(ContainSubstring("transport"))
			line, err = conformance.Request{ID: 1, Op: conformance.OpConfigure, Endpoint: ep}.Encode(3)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(line)).To(HaveSuffix(`"transport":"binary"}`))
			line, err = conformance.Request{ID: 1, Op: conformance.OpSend, Batch: conformance.Batch{Payload: json.RawMessage(`{}`)}}.Encode(1)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(line)).To(Equal(`{"id":1,"op":"send","payload":{}}`))
		})

		It("keeps the README's transcripts true: every request decodes, every response passes the kit's checks", func() {
			readme, err := os.ReadFile("README.md")
			Expect(err).NotTo(HaveOccurred())
			var ops []string
			requests, responses := 0, 0
			for _, line := range strings.Split(string(readme), "\n") {
				switch {
				case strings.HasPrefix(line, "> {"):
					r, err := conformance.DecodeRequest([]byte(line[2:]), conformance.ProtocolVersion)
					Expect(err).NotTo(HaveOccurred(), "README line %s", line)
					ops = append(ops, r.Op)
					requests++
				case strings.HasPrefix(line, "< {"):
					Expect(ops).NotTo(BeEmpty(), "a response before its request: %s", line)
					Expect(conformance.CheckResponse(ops[0], []byte(line[2:]), conformance.ProtocolVersion)).To(Succeed(), "README line %s", line)
					ops = ops[1:]
					responses++
				}
			}
			Expect(requests).To(BeNumerically(">=", 10))
			Expect(responses).To(Equal(requests))
		})
	})

	Describe("an External client", func() {
		It("carries every field of every operation through the adapter, HTTP/2 included", func(ctx SpecContext) {
			e := startFake("echo")
			Expect(e.Name()).To(Equal("echo"))
			Expect(e.Protocol()).To(Equal(conformance.ProtocolVersion))
			Expect(e.Speaks()).To(Equal(conformance.ProtocolVersion))
			Expect(e.Capabilities()).To(Equal(conformance.Capabilities{conformance.CapConcurrent, "custom", conformance.CapHTTP2}))
			ep := conformance.Endpoint{Gateway: "127.0.0.1:1", Feedback: "127.0.0.1:2", CAPEM: fakePEM("CA"),
				CertPEM: fakePEM("CERTIFICATE"), KeyPEM: fakePEM("KEY"), ErrorWait: 250 * time.Millisecond}
			Expect(e.Configure(ctx, ep)).To(Succeed())
			cmd := 1
			b := conformance.Batch{Tokens: []string{"aa", "bb"}, Payload: json.RawMessage(`{"aps":{}}`),
				Priority: 5, Expiry: time.Unix(1893553445, 0).UTC(), Command: &cmd, Gateway: "127.0.0.1:3", CertPEM: fakePEM("C2"), KeyPEM: fakePEM("K2")}
			out, err := e.Send(ctx, b)
			Expect(err).NotTo(HaveOccurred())
			Expect(out.Retried).To(Equal([]string{"aa", "bb"}))
			Expect(out.Errors).To(HaveLen(2))
			Expect(out.Errors[0]).To(Equal(`{"aps":{}}`))
			b.Payload = nil
			Expect(readEchoed(out.Errors[1])).To(BeComparableTo(echoed{Endpoint: ep, Batch: b}))

			ep.HTTP2, ep.AuthKeyPEM, ep.KeyID, ep.TeamID = "127.0.0.1:4", fakePEM("PRIVATE KEY"), "KEYID12345", "TEAMID1234"
			Expect(e.Configure(ctx, ep)).To(Succeed())
			b = conformance.Batch{Tokens: []string{"cc"}, Payload: json.RawMessage(`{}`), Priority: 1, Expiry: time.Unix(0, 0).UTC(),
				Topic: "com.example.app", PushType: "background", CollapseID: "score"}
			out, err = e.Send(ctx, b)
			Expect(err).NotTo(HaveOccurred())
			b.Payload = nil
			Expect(readEchoed(out.Errors[1])).To(BeComparableTo(echoed{Endpoint: ep, Batch: b}))
			Expect(out.Failed).To(Equal([]conformance.TokenStatus{{Token: "cc", Status: 410}}))
			Expect(out.Reasons).To(HaveLen(1))
			Expect(out.Reasons[0].Timestamp.Equal(echoTimestamp)).To(BeTrue())
			Expect(out.Reasons[0].APNsID).To(Equal("4a1c1b9e-7a52-4c3a-9d2e-6f2b8e0c1d3f"))

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

		It("tells an adapter with clock the kit's time before the first send and after each move of it", func(ctx SpecContext) {
			e := startFake("clocked")
			Expect(e.Capabilities().Has(conformance.CapClock)).To(BeTrue())
			var mu sync.Mutex
			lead := 2 * time.Hour
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(lead) }
			Expect(e.Configure(ctx, conformance.Endpoint{Gateway: "127.0.0.1:1", Clock: clock})).To(Succeed())
			adapterTime := func() time.Time {
				GinkgoHelper()
				out, err := e.Send(ctx, conformance.Batch{Tokens: []string{"aa"}})
				Expect(err).NotTo(HaveOccurred())
				Expect(out.Errors).To(HaveLen(3))
				t, err := time.Parse(time.RFC3339Nano, out.Errors[2])
				Expect(err).NotTo(HaveOccurred())
				return t
			}
			Expect(adapterTime()).To(BeTemporally("~", time.Now().Add(2*time.Hour), time.Minute))
			mu.Lock()
			lead += 35 * time.Minute
			mu.Unlock()
			Expect(adapterTime()).To(BeTemporally("~", time.Now().Add(155*time.Minute), time.Minute))
			Expect(e.Close(ctx)).To(Succeed())
		}, SpecTimeout(30*time.Second))

		It("sends a clock request after a configure and when the time moved only, and none to an adapter that cannot take one", func(ctx SpecContext) {
			var mu sync.Mutex
			lead := time.Duration(0)
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(lead) }
			ep := conformance.Endpoint{Gateway: "127.0.0.1:1", Clock: clock}
			sent := `{"id":$ID,"ok":true,"outcome":{}}`
			// The script is the exact order of the requests: a clock
			// request where a send is expected, or the other way round,
			// gets the other's answer, which the kit refuses.
			e := startScripted(`{"id":$ID,"ok":true,"protocol":3,"name":"timed","capabilities":["clock"]}`,
				`{"id":$ID,"ok":true}`, `{"id":$ID,"ok":true}`, sent, sent, `{"id":$ID,"ok":true}`, sent,
				`{"id":$ID,"ok":true}`, `{"id":$ID,"ok":true}`, sent)
			Expect(e.Configure(ctx, ep)).To(Succeed())
			for range 2 {
				_, err := e.Send(ctx, conformance.Batch{Tokens: []string{"aa"}})
				Expect(err).NotTo(HaveOccurred())
			}
			mu.Lock()
			lead = 21 * time.Minute
			mu.Unlock()
			_, err := e.Send(ctx, conformance.Batch{Tokens: []string{"aa"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(e.Configure(ctx, ep)).To(Succeed())
			_, err = e.Send(ctx, conformance.Batch{Tokens: []string{"aa"}})
			Expect(err).NotTo(HaveOccurred(), "told again after the configure")
			Expect(e.Close(ctx)).To(Succeed())

			for _, hello := range []string{
				`{"id":$ID,"ok":true,"protocol":3,"name":"untimed","capabilities":["http2"]}`,
				`{"id":$ID,"ok":true,"protocol":2,"name":"old","capabilities":["clock"]}`,
			} {
				e := startScripted(hello, `{"id":$ID,"ok":true}`, sent)
				Expect(e.Capabilities().Has(conformance.CapClock)).To(BeFalse())
				Expect(e.Configure(ctx, ep)).To(Succeed())
				_, err := e.Send(ctx, conformance.Batch{Tokens: []string{"aa"}})
				Expect(err).NotTo(HaveOccurred(), "no clock request before the send")
				Expect(e.Close(ctx)).To(Succeed())
			}
		}, SpecTimeout(30*time.Second))

		It("gives the payload's exact bytes and learns the client's identity", func(ctx SpecContext) {
			e := startFake("echo")
			name, _ := e.Identity()
			Expect(name).To(Equal("echo"))
			exact := `{ "aps" : {"alert": "two  spaces"} }`
			out, err := e.Send(ctx, conformance.Batch{Tokens: []string{"aa"}, Payload: json.RawMessage(exact)})
			Expect(err).NotTo(HaveOccurred())
			Expect(out.Errors).NotTo(BeEmpty())
			Expect(out.Errors[0]).To(Equal(exact)) // the JSON object alone would be re-encoded
			Expect(e.Close(ctx)).To(Succeed())
		}, SpecTimeout(30*time.Second))

		It("speaks version 2 with a version-2 adapter: no member of version 3, http2 withheld with the reason", func(ctx SpecContext) {
			e := startScripted(`{"id":$ID,"ok":true,"protocol":2,"name":"old","capabilities":["reuse","http2"]}`,
				`{"id":$ID,"ok":true}`,
				`{"id":$ID,"ok":true,"outcome":{"failed":[],"debug":"members of its own are ignored at version 2"}}`)
			Expect(e.Protocol()).To(Equal(2))
			Expect(e.Speaks()).To(Equal(2))
			Expect(e.Capabilities()).To(Equal(conformance.Capabilities{conformance.CapReuse}))
			Expect(e.Configure(ctx, conformance.Endpoint{Gateway: "127.0.0.1:1", CAPEM: fakePEM("CA")})).To(Succeed())
			_, err := e.Send(ctx, conformance.Batch{Tokens: []string{"aa"}, Topic: "com.example"})
			Expect(err).To(MatchError(conformance.ErrUnsupported), "the topic cannot be carried, and is not dropped")
			_, err = e.Send(ctx, conformance.Batch{Tokens: []string{"aa"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(e.Configure(ctx, conformance.Endpoint{HTTP2: "127.0.0.1:2", CAPEM: fakePEM("CA")})).To(MatchError(conformance.ErrUnsupported))
			Expect(e.Close(ctx)).To(Succeed())
		}, SpecTimeout(30*time.Second))

		It("skips the @http2 scenarios of an adapter of an earlier version, saying why", func() {
			GinkgoT().Setenv(fakeScriptEnv, `{"id":$ID,"ok":true,"protocol":2,"name":"old","capabilities":["http2"]}`)
			GinkgoT().Setenv(fakeAdapterEnv, "scripted")
			exe, err := os.Executable()
			Expect(err).NotTo(HaveOccurred())
			s := &conformance.Suite{NewClient: func(ctx context.Context) (conformance.Client, error) {
				return conformance.StartExternal(ctx, []string{exe})
			}}
			godog.TestSuite{ScenarioInitializer: s.InitializeScenario, Options: &godog.Options{
				FeatureContents: []godog.Feature{{Name: "h2.feature", Contents: []byte(`
Feature: f
  @http2
  Scenario: over HTTP/2
    Given a mock APNs server
    And a client configured for HTTP/2 with a provider token
`)}},
				Format: "progress", Output: GinkgoWriter, NoColors: true, Strict: true,
			}}.Run()
			Expect(s.Results()).To(HaveLen(1))
			Expect(s.Results()[0].Result).To(Equal(conformance.Skipped))
			Expect(s.Results()[0].Reason).To(Equal(`@http2: the adapter declares the capability "http2" but speaks protocol 2, which cannot carry it (protocol 3 can)`))
		})

		It("takes an adapter of version 1 (no protocol in hello) for one", func(ctx SpecContext) {
			e := startScripted(`{"id":$ID,"ok":true,"name":"older","capabilities":["pooling","http2"]}`)
			Expect(e.Protocol()).To(Equal(1))
			Expect(e.Capabilities().Has(conformance.CapOutdate)).To(BeTrue(), "pooling still bundles")
			Expect(e.Capabilities().Has(conformance.CapHTTP2)).To(BeFalse())
			Expect(e.Close(ctx)).To(Succeed())
		}, SpecTimeout(30*time.Second))

		DescribeTable("holds the responses of a version-3 adapter to the protocol",
			func(ctx SpecContext, answer, want string) {
				e := startScripted(`{"id":$ID,"ok":true,"protocol":3,"name":"strict","capabilities":["http2"]}`, answer)
				_, err := e.Send(ctx, conformance.Batch{Tokens: []string{"aa"}})
				Expect(err).To(MatchError(conformance.ErrAdapter))
				Expect(err).To(MatchError(conformance.ErrProtocol))
				Expect(err).To(MatchError(ContainSubstring(want)))
				Expect(e.Close(ctx)).To(Succeed(), "one bad response does not end the adapter")
			},
			Entry("a member of another response", `{"id":$ID,"ok":true,"outcome":{},"closed":1}`, `member "closed" is not in a send response`, SpecTimeout(30*time.Second)),
			Entry("an unknown member in the outcome", `{"id":$ID,"ok":true,"outcome":{"failed":[],"debug":1}}`, `unknown field "debug"`, SpecTimeout(30*time.Second)),
			Entry("an unknown member in a reason", `{"id":$ID,"ok":true,"outcome":{"reasons":[{"token":"aa","reason":"BadTopic","http_status":400,"why":"?"}]}}`, `unknown field "why"`, SpecTimeout(30*time.Second)),
			Entry("an HTTP status out of range", `{"id":$ID,"ok":true,"outcome":{"reasons":[{"token":"aa","reason":"BadTopic","http_status":4000}]}}`, `reasons[0]: http_status 4000, neither an HTTP status nor 0`, SpecTimeout(30*time.Second)),
			Entry("a reason without its reason", `{"id":$ID,"ok":true,"outcome":{"reasons":[{"token":"aa","http_status":400}]}}`, `reasons[0]: no reason`, SpecTimeout(30*time.Second)),
			Entry("a failed token without a token", `{"id":$ID,"ok":true,"outcome":{"failed":[{"status":8}]}}`, `failed[0]: no token`, SpecTimeout(30*time.Second)),
			Entry("a member given twice", `{"id":$ID,"ok":true,"ok":false,"outcome":{}}`, `member "ok" given twice`, SpecTimeout(30*time.Second)),
		)

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

// fillFields sets every field of the struct v to a value that is not zero
// and that the protocol accepts, by its type. A field of a type it does not
// know fails the spec: teach it the type (and the protocol the field).
func fillFields(v reflect.Value) {
	GinkgoHelper()
	t := v.Type()
	for i := range t.NumField() {
		f, name := v.Field(i), t.Field(i).Name
		switch x := f.Addr().Interface().(type) {
		case *string:
			*x = fmt.Sprintf("127.0.0.1:%d", 1000+i) // an address and header text alike
		case *json.RawMessage:
			*x = json.RawMessage(fmt.Sprintf(`{"field":%q}`, name))
		case *[]byte:
			*x = fakePEM(strings.ToUpper(name))
		case *int:
			*x = 5
		case **int:
			*x = new(int)
			**x = 1
		case *time.Duration:
			*x = 250 * time.Millisecond
		case *time.Time:
			*x = time.Unix(1893553445, 0).UTC()
		case *[]string:
			*x = []string{fmt.Sprintf("%064x", i), fmt.Sprintf("%064x", i+1)}
		case *[]int:
			*x = []int{1, 10}
		case *[]conformance.TokenStatus:
			*x = []conformance.TokenStatus{{Token: "aa", Status: 8}}
		case *func() time.Time:
			// Endpoint.Clock: not a member of configure; the clock
			// requests carry its time (see the External specs).
			continue
		case *[]conformance.TokenReason:
			*x = []conformance.TokenReason{{Token: "aa", Reason: "Unregistered", HTTPStatus: 410, Timestamp: time.Unix(1893553445, 0).UTC(), APNsID: "x"}}
		default:
			Fail(fmt.Sprintf("no value for %s.%s of type %s: add one to fillFields, and carry the field over the line", t.Name(), name, f.Type()))
		}
		Expect(f.IsZero()).To(BeFalse(), "%s.%s", t.Name(), name)
	}
}
