package mockapns_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// designExamples are the documented fault examples, verbatim, plus one per
// feedback action, with the Go value each stands for.
var designExamples = []struct {
	json string
	want mockapns.Fault
}{
	{`{"action": "reject",     "status": 8, "token": "` + hexToken + `"}`,
		mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Token: apns.MustParseToken(hexToken)}}},
	{`{"action": "reject",     "status": 1, "nth": 5}`, mockapns.Reject{Status: 1, When: mockapns.Trigger{Nth: 5}}},
	{`{"action": "shutdown",   "nth": 100}`, mockapns.Shutdown{When: mockapns.Trigger{Nth: 100}}},
	{`{"action": "disconnect", "nth": 50}`, mockapns.Disconnect{When: mockapns.Trigger{Nth: 50}}},
	{`{"action": "disconnect", "after_bytes": 4096}`, mockapns.Disconnect{AfterBytes: 4096}},
	{`{"action": "delay",      "delay": "200ms", "nth": 1}`, mockapns.Delay{Duration: 200 * time.Millisecond, When: mockapns.Trigger{Nth: 1}}},
	{`{"action": "reject",     "status": 7, "probability": 0.01, "times": 0}`, mockapns.Reject{Status: 7, When: mockapns.Trigger{Probability: 0.01, Times: mockapns.Always}}},
	{`{"action": "feedback_coalesce"}`, mockapns.FeedbackCoalesce{}},
	{`{"action": "feedback_split", "times": 0}`, mockapns.FeedbackSplit{Times: mockapns.Always}},
	{`{"action": "feedback_cut", "after_bytes": 45, "times": 3}`, mockapns.FeedbackCut{AfterBytes: 45, Times: mockapns.Times(3)}},
	{`{"action": "feedback_cut", "after_bytes": 0}`, mockapns.FeedbackCut{}},
}

// hexToken is a 32-byte token in hex (upper case, as people paste them).
const hexToken = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"

func tokenBytes() []byte {
	return []byte{
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	}
}

// specError returns the *FaultSpecError inside err, failing the spec if
// there is none or if it does not wrap ErrBadFault.
func specError(err error) *mockapns.FaultSpecError {
	GinkgoHelper()
	Expect(err).To(MatchError(mockapns.ErrBadFault))
	var se *mockapns.FaultSpecError
	Expect(errors.As(err, &se)).To(BeTrue(), "error %v is not a *FaultSpecError", err)
	return se
}

var _ = Describe("fault JSON", func() {
	Describe("the documented examples", func() {
		for _, ex := range designExamples {
			It("parses "+ex.json+" and round-trips it", func() {
				got, err := mockapns.ParseFault([]byte(ex.json))
				Expect(err).NotTo(HaveOccurred())
				Expect(cmp.Diff(ex.want, got, cmpOpts)).To(BeEmpty())

				data, err := mockapns.MarshalFault(got)
				Expect(err).NotTo(HaveOccurred())
				again, err := mockapns.ParseFault(data)
				Expect(err).NotTo(HaveOccurred(), "re-parsing %s", data)
				Expect(cmp.Diff(got, again, cmpOpts)).To(BeEmpty(), "via %s", data)
			})
		}
	})

	DescribeTable("MarshalFault writes the canonical form",
		func(f mockapns.Fault, want string) {
			data, err := mockapns.MarshalFault(f)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(data)).To(MatchJSON(want))
		},
		Entry("reject with a token (lower-case hex)", mockapns.Reject{Status: 8, When: mockapns.Trigger{Token: apns.MustParseToken("abcd")}},
			`{"action":"reject","status":8,"token":"abcd"}`),
		Entry("Times 0 (once) leaves times out", mockapns.Shutdown{When: mockapns.Trigger{Nth: 100}},
			`{"action":"shutdown","nth":100}`),
		Entry("Always is times 0", mockapns.Reject{Status: 7, When: mockapns.Trigger{Probability: 0.01, Times: mockapns.Always}},
			`{"action":"reject","status":7,"probability":0.01,"times":0}`),
		Entry("a count stays a count", mockapns.Disconnect{When: mockapns.Trigger{Nth: 50, Times: mockapns.Times(3)}},
			`{"action":"disconnect","nth":50,"times":3}`),
		Entry("delay as a Go duration string", mockapns.Delay{Duration: 1500 * time.Millisecond},
			`{"action":"delay","delay":"1.5s"}`),
		Entry("a cut by position leaves out the selectors it ignores", mockapns.Disconnect{AfterBytes: 10, When: mockapns.Trigger{Nth: 3, Times: mockapns.Times(2)}},
			`{"action":"disconnect","after_bytes":10,"times":2}`),
		Entry("feedback_cut always carries after_bytes", mockapns.FeedbackCut{},
			`{"action":"feedback_cut","after_bytes":0}`),
		Entry("feedback_coalesce", mockapns.FeedbackCoalesce{Times: mockapns.Always},
			`{"action":"feedback_coalesce","times":0}`),
	)

	It("accepts a token in either case and keeps its bytes", func() {
		upper, err := mockapns.ParseFault([]byte(`{"action":"shutdown","token":"ABCDEF"}`))
		Expect(err).NotTo(HaveOccurred())
		lower, err := mockapns.ParseFault([]byte(`{"action":"shutdown","token":"abcdef"}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(cmp.Diff(upper, lower, cmpOpts)).To(BeEmpty())
		Expect(upper).To(Equal(mockapns.Shutdown{When: mockapns.Trigger{Token: apns.MustParseToken("abcdef")}}))
	})

	DescribeTable("ParseFault refuses bad documents, naming the member",
		func(doc, field string) {
			f, err := mockapns.ParseFault([]byte(doc))
			Expect(f).To(BeNil())
			se := specError(err)
			Expect(se.Field).To(Equal(field))
			Expect(se.Reason).NotTo(BeEmpty())
			if field != "" {
				Expect(err.Error()).To(ContainSubstring(`"` + field + `"`))
			}
		},
		// the document
		Entry("empty", ``, ""),
		Entry("blank", "  \n", ""),
		Entry("not JSON", `reject`, ""),
		Entry("an array", `[{"action":"shutdown"}]`, ""),
		Entry("a string", `"shutdown"`, ""),
		Entry("null", `null`, ""),
		Entry("truncated", `{"action":"shutdown"`, ""),
		Entry("two objects", `{"action":"shutdown"}{"action":"shutdown"}`, ""),
		Entry("trailing garbage", `{"action":"shutdown"} x`, ""),
		// members
		Entry("unknown member", `{"action":"shutdown","nht":3}`, "nht"),
		Entry("member in another case", `{"Action":"shutdown"}`, "Action"),
		Entry("duplicate member", `{"action":"shutdown","nth":1,"nth":2}`, "nth"),
		Entry("no action", `{"status":8}`, "action"),
		Entry("empty object", `{}`, "action"),
		Entry("unknown action", `{"action":"explode"}`, "action"),
		Entry("action of the wrong type", `{"action":1}`, "action"),
		Entry("null action", `{"action":null}`, "action"),
		// status
		Entry("reject without status", `{"action":"reject","nth":1}`, "status"),
		Entry("status 0", `{"action":"reject","status":0}`, "status"),
		Entry("status 256", `{"action":"reject","status":256}`, "status"),
		Entry("negative status", `{"action":"reject","status":-8}`, "status"),
		Entry("status as a string", `{"action":"reject","status":"8"}`, "status"),
		Entry("fractional status", `{"action":"reject","status":8.5}`, "status"),
		Entry("status on shutdown", `{"action":"shutdown","status":10}`, "status"),
		Entry("status on delay", `{"action":"delay","delay":"1s","status":8}`, "status"),
		// token
		Entry("empty token", `{"action":"reject","status":8,"token":""}`, "token"),
		Entry("odd-length token", `{"action":"reject","status":8,"token":"abc"}`, "token"),
		Entry("non-hex token", `{"action":"reject","status":8,"token":"zz"}`, "token"),
		Entry("token as a number", `{"action":"reject","status":8,"token":12}`, "token"),
		Entry("token on feedback_split", `{"action":"feedback_split","token":"ab"}`, "token"),
		// nth
		Entry("nth 0", `{"action":"shutdown","nth":0}`, "nth"),
		Entry("negative nth", `{"action":"shutdown","nth":-1}`, "nth"),
		Entry("huge nth", `{"action":"shutdown","nth":1e30}`, "nth"),
		Entry("nth null", `{"action":"shutdown","nth":null}`, "nth"),
		Entry("nth on feedback_coalesce", `{"action":"feedback_coalesce","nth":1}`, "nth"),
		// probability
		Entry("probability 0", `{"action":"shutdown","probability":0}`, "probability"),
		Entry("probability above 1", `{"action":"shutdown","probability":1.5}`, "probability"),
		Entry("negative probability", `{"action":"shutdown","probability":-0.1}`, "probability"),
		Entry("probability as a string", `{"action":"shutdown","probability":"0.5"}`, "probability"),
		// delay
		Entry("delay without delay", `{"action":"delay","nth":1}`, "delay"),
		Entry("delay without unit", `{"action":"delay","delay":"200"}`, "delay"),
		Entry("delay as a number", `{"action":"delay","delay":200}`, "delay"),
		Entry("zero delay", `{"action":"delay","delay":"0s"}`, "delay"),
		Entry("negative delay", `{"action":"delay","delay":"-1s"}`, "delay"),
		Entry("delay on reject", `{"action":"reject","status":8,"delay":"1s"}`, "delay"),
		// after_bytes
		Entry("after_bytes 0 on disconnect", `{"action":"disconnect","after_bytes":0}`, "after_bytes"),
		Entry("negative after_bytes", `{"action":"disconnect","after_bytes":-5}`, "after_bytes"),
		Entry("after_bytes with nth", `{"action":"disconnect","after_bytes":10,"nth":2}`, "after_bytes"),
		Entry("after_bytes with token", `{"action":"disconnect","after_bytes":10,"token":"ab"}`, "after_bytes"),
		Entry("after_bytes with probability", `{"action":"disconnect","after_bytes":10,"probability":0.5}`, "after_bytes"),
		Entry("after_bytes on reject", `{"action":"reject","status":8,"after_bytes":10}`, "after_bytes"),
		Entry("after_bytes on feedback_split", `{"action":"feedback_split","after_bytes":10}`, "after_bytes"),
		Entry("feedback_cut without after_bytes", `{"action":"feedback_cut"}`, "after_bytes"),
		// times
		Entry("negative times", `{"action":"shutdown","times":-1}`, "times"),
		Entry("fractional times", `{"action":"shutdown","times":1.5}`, "times"),
		Entry("times as a string", `{"action":"shutdown","times":"always"}`, "times"),
		// bounds: nothing a test could mean, everything a typing mistake could give
		Entry("delay over an hour", `{"action":"delay","delay":"1000000h"}`, "delay"),
		Entry("delay of an hour and a nanosecond", `{"action":"delay","delay":"1h0m0.000000001s"}`, "delay"),
		Entry("idle_timeout after over an hour", `{"action":"idle_timeout","after":"61m"}`, "after"),
		Entry("nth over a billion", `{"action":"shutdown","nth":1000000001}`, "nth"),
		Entry("times over a billion", `{"action":"shutdown","times":1000000001}`, "times"),
		Entry("after_bytes over 4 GiB", `{"action":"disconnect","after_bytes":4294967297}`, "after_bytes"),
		Entry("feedback_cut after_bytes over 4 GiB", `{"action":"feedback_cut","after_bytes":4294967297}`, "after_bytes"),
		Entry("restore_after over a billion", `{"action":"max_streams","nth":1,"streams":1,"restore_after":1000000001}`, "restore_after"),
		Entry("streams 0", `{"action":"max_streams","nth":1,"streams":0}`, "streams"),
		Entry("streams over 2^31-1", `{"action":"max_streams","nth":1,"streams":2147483648}`, "streams"),
	)

	DescribeTable("ParseFault accepts the bounds themselves",
		func(doc string) {
			_, err := mockapns.ParseFault([]byte(doc))
			Expect(err).NotTo(HaveOccurred())
		},
		Entry("delay of an hour", `{"action":"delay","delay":"1h"}`),
		Entry("idle_timeout after an hour", `{"action":"idle_timeout","after":"1h"}`),
		Entry("nth a billion", `{"action":"shutdown","nth":1000000000}`),
		Entry("times a billion", `{"action":"shutdown","times":1000000000}`),
		Entry("after_bytes 4 GiB", `{"action":"disconnect","after_bytes":4294967296}`),
		Entry("probability 1", `{"action":"shutdown","probability":1}`),
	)

	DescribeTable("AddFault and Config.Validate refuse Go values out of bounds, naming the field",
		func(f mockapns.Fault, field string) {
			se := specError(mockapns.Config{Faults: []mockapns.Fault{f}}.Validate())
			Expect(se.Field).To(Equal(field))
			srv, err := mockapns.Start(mockapns.Config{})
			Expect(err).NotTo(HaveOccurred())
			defer srv.Close()
			_, err = srv.AddFault(f)
			Expect(specError(err).Field).To(Equal(field))
			Expect(srv.Faults()).To(BeEmpty())
		},
		Entry("delay over an hour", mockapns.Delay{Duration: 1000000 * time.Hour}, "delay"),
		Entry("idle timeout over an hour", mockapns.IdleTimeout{After: time.Hour + 1}, "after"),
		Entry("nth over a billion", mockapns.Shutdown{When: mockapns.Trigger{Nth: mockapns.FaultMaxCount + 1}}, "nth"),
		Entry("times over a billion", mockapns.Shutdown{When: mockapns.Trigger{Times: mockapns.Times(mockapns.FaultMaxCount + 1)}}, "times"),
		Entry("after_bytes over 4 GiB", mockapns.Disconnect{AfterBytes: mockapns.FaultMaxBytes + 1}, "after_bytes"),
		Entry("feedback cut over 4 GiB", mockapns.FeedbackCut{AfterBytes: mockapns.FaultMaxBytes + 1}, "after_bytes"),
		Entry("restore_after over a billion", mockapns.MaxStreams{Streams: 1, RestoreAfter: mockapns.FaultMaxCount + 1, When: mockapns.Trigger{Nth: 1}}, "restore_after"),
		Entry("probability above 1", mockapns.Shutdown{When: mockapns.Trigger{Probability: 1.01}}, "probability"),
		Entry("negative probability", mockapns.Shutdown{When: mockapns.Trigger{Probability: -0.5}}, "probability"),
	)

	DescribeTable("MarshalFault refuses what the JSON form cannot carry",
		func(f mockapns.Fault) {
			data, err := mockapns.MarshalFault(f)
			Expect(data).To(BeNil())
			specError(err)
		},
		Entry("nil", nil),
		Entry("a pointer", &mockapns.Reject{Status: 8}),
		Entry("reject with status 0", mockapns.Reject{}),
		Entry("negative nth", mockapns.Shutdown{When: mockapns.Trigger{Nth: -1}}),
		Entry("probability above 1", mockapns.Shutdown{When: mockapns.Trigger{Probability: 2}}),
		Entry("NaN probability", mockapns.Shutdown{When: mockapns.Trigger{Probability: math.NaN()}}),
		Entry("times below Always", mockapns.Shutdown{When: mockapns.Trigger{Times: mockapns.Times(-2)}}),
		Entry("zero delay", mockapns.Delay{}),
		Entry("negative after_bytes", mockapns.Disconnect{AfterBytes: -1}),
		Entry("negative feedback cut", mockapns.FeedbackCut{AfterBytes: -1}),
		Entry("feedback times below Always", mockapns.FeedbackSplit{Times: mockapns.Times(-3)}),
	)
})

// FuzzParseFault checks that ParseFault never panics, that every error is
// a *FaultSpecError wrapping ErrBadFault, and that what it accepts survives
// MarshalFault and a second parse unchanged.
func FuzzParseFault(f *testing.F) {
	for _, ex := range designExamples {
		f.Add([]byte(ex.json))
	}
	f.Add([]byte(`{"action":"reject","status":8,"token":"ab","nth":3,"probability":0.5,"times":7}`))
	f.Add([]byte(`{"action":"delay","delay":"1h2m3.000000004s","token":"00"}`))
	f.Add([]byte(`{"action":"shutdown","nth":1,"nth":2}`))
	for _, ex := range http2Examples {
		f.Add([]byte(ex.json))
	}
	for _, ex := range everyMember {
		f.Add([]byte(ex.json))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fault, err := mockapns.ParseFault(data)
		if err != nil {
			var se *mockapns.FaultSpecError
			if !errors.As(err, &se) || !errors.Is(err, mockapns.ErrBadFault) {
				t.Fatalf("ParseFault(%q): error %v is not a *FaultSpecError wrapping ErrBadFault", data, err)
			}
			return
		}
		out, err := mockapns.MarshalFault(fault)
		if err != nil {
			t.Fatalf("MarshalFault(%#v) from %q: %v", fault, data, err)
		}
		again, err := mockapns.ParseFault(out)
		if err != nil {
			t.Fatalf("ParseFault(%s) (marshalled from %q): %v", out, data, err)
		}
		if diff := cmp.Diff(fault, again, cmpOpts); diff != "" {
			t.Fatalf("round trip of %q via %s changed the fault (-first +second):\n%s", data, out, diff)
		}
		out2, err := mockapns.MarshalFault(again)
		if err != nil || string(out2) != string(out) {
			t.Fatalf("MarshalFault is not stable: %s then %s (%v)", out, out2, err)
		}
	})
}

// ExampleParseFault reads a fault in the JSON form of the admin API and
// the -fault flag, and writes it back in canonical form.
func ExampleParseFault() {
	f, err := mockapns.ParseFault([]byte(`{"action": "reject", "status": 7, "probability": 0.01, "times": 0}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	r := f.(mockapns.Reject)
	fmt.Printf("%T status %d, probability %v, every time: %v\n", r, uint8(r.Status), r.When.Probability, r.When.Times == mockapns.Always)
	data, _ := mockapns.MarshalFault(f)
	fmt.Println(string(data))

	_, err = mockapns.ParseFault([]byte(`{"action": "reject", "nth": 5}`))
	var se *mockapns.FaultSpecError
	fmt.Println(errors.As(err, &se), se.Field, errors.Is(err, mockapns.ErrBadFault))
	// Output:
	// mockapns.Reject status 7, probability 0.01, every time: true
	// {"action":"reject","status":7,"probability":0.01,"times":0}
	// true status true
}

func BenchmarkParseFault(b *testing.B) {
	doc := []byte(`{"action":"reject","status":8,"token":"` + hexToken + `","nth":3,"times":0}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mockapns.ParseFault(doc); err != nil {
			b.Fatal(err)
		}
	}
}
