package mockapns_test

import (
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// everyMember has, for each action of the registry, a fault with every
// member it has set, its canonical JSON form and the Go value.
var everyMember = map[string]struct {
	json string
	want mockapns.Fault
}{
	"reject": {`{"action":"reject","status":8,"token":"abcd","nth":3,"probability":0.5,"times":2,"protocol":"binary"}`,
		mockapns.Reject{Status: 8, When: mockapns.Trigger{Token: apns.MustParseToken("abcd"), Nth: 3, Probability: 0.5,
			Times: mockapns.Times(2), Protocol: apns.Binary}}},
	"shutdown": {`{"action":"shutdown","token":"ab","nth":100,"probability":1,"times":0,"protocol":"binary"}`,
		mockapns.Shutdown{When: mockapns.Trigger{Token: apns.MustParseToken("ab"), Nth: 100, Probability: 1,
			Times: mockapns.Always, Protocol: apns.Binary}}},
	"disconnect": {`{"action":"disconnect","token":"ab","nth":50,"probability":0.25,"times":7,"protocol":"http2"}`,
		mockapns.Disconnect{When: mockapns.Trigger{Token: apns.MustParseToken("ab"), Nth: 50, Probability: 0.25,
			Times: mockapns.Times(7), Protocol: apns.HTTP2}}},
	"delay": {`{"action":"delay","delay":"2s","token":"ab","nth":1,"probability":0.5,"times":3,"protocol":"http2"}`,
		mockapns.Delay{Duration: 2 * time.Second, When: mockapns.Trigger{Token: apns.MustParseToken("ab"), Nth: 1,
			Probability: 0.5, Times: mockapns.Times(3), Protocol: apns.HTTP2}}},
	"goaway": {`{"action":"goaway","reason":"Shutdown","last_stream_id":0,"token":"ab","nth":500,"probability":0.5,"times":0,"protocol":"http2"}`,
		mockapns.GoAway{Reason: apns.ReasonShutdown, HasLastStreamID: true, When: mockapns.Trigger{
			Token: apns.MustParseToken("ab"), Nth: 500, Probability: 0.5, Times: mockapns.Always, Protocol: apns.HTTP2}}},
	"max_streams": {`{"action":"max_streams","streams":1,"restore_after":10,"token":"ab","nth":1,"probability":0.5,"times":1,"protocol":"http2"}`,
		mockapns.MaxStreams{Streams: 1, RestoreAfter: 10, When: mockapns.Trigger{Token: apns.MustParseToken("ab"), Nth: 1,
			Probability: 0.5, Times: mockapns.Times(1), Protocol: apns.HTTP2}}},
	"rst_stream": {`{"action":"rst_stream","token":"ab","nth":10,"probability":0.5,"times":2,"protocol":"http2"}`,
		mockapns.RstStream{When: mockapns.Trigger{Token: apns.MustParseToken("ab"), Nth: 10, Probability: 0.5,
			Times: mockapns.Times(2), Protocol: apns.HTTP2}}},
	"idle_timeout": {`{"action":"idle_timeout","after":"2s","times":3,"protocol":"http2"}`,
		mockapns.IdleTimeout{After: 2 * time.Second, Times: mockapns.Times(3), Protocol: apns.HTTP2}},
	"feedback_coalesce": {`{"action":"feedback_coalesce","times":4}`, mockapns.FeedbackCoalesce{Times: mockapns.Times(4)}},
	"feedback_split":    {`{"action":"feedback_split","times":0}`, mockapns.FeedbackSplit{Times: mockapns.Always}},
	"feedback_cut":      {`{"action":"feedback_cut","after_bytes":45,"times":3}`, mockapns.FeedbackCut{AfterBytes: 45, Times: mockapns.Times(3)}},
}

// http2Examples are the HTTP/2 fault examples of the design, with the Go
// value each stands for.
var http2Examples = []struct {
	json string
	want mockapns.Fault
}{
	{`{"action": "reject",      "reason": "BadDeviceToken", "token": "` + hexToken + `"}`,
		mockapns.Reject{Reason: apns.ReasonBadDeviceToken, When: mockapns.Trigger{Token: apns.MustParseToken(hexToken)}}},
	{`{"action": "reject",      "reason": "TooManyRequests", "probability": 0.01, "times": 0}`,
		mockapns.Reject{Reason: apns.ReasonTooManyRequests, When: mockapns.Trigger{Probability: 0.01, Times: mockapns.Always}}},
	{`{"action": "reject",      "reason": "Unregistered", "http_status": 503}`,
		mockapns.Reject{Reason: apns.ReasonUnregistered, HTTPStatus: 503}},
	{`{"action": "goaway",      "nth": 500, "reason": "Shutdown"}`,
		mockapns.GoAway{Reason: apns.ReasonShutdown, When: mockapns.Trigger{Nth: 500}}},
	{`{"action": "goaway",      "reason": "Shutdown", "last_stream_id": 7}`,
		mockapns.GoAway{Reason: apns.ReasonShutdown, LastStreamID: 7, HasLastStreamID: true}},
	{`{"action": "max_streams", "nth": 1, "streams": 1}`,
		mockapns.MaxStreams{Streams: 1, When: mockapns.Trigger{Nth: 1}}},
	{`{"action": "rst_stream",  "nth": 10}`, mockapns.RstStream{When: mockapns.Trigger{Nth: 10}}},
	{`{"action": "delay",       "delay": "2s", "nth": 1, "protocol": "http2"}`,
		mockapns.Delay{Duration: 2 * time.Second, When: mockapns.Trigger{Nth: 1, Protocol: apns.HTTP2}}},
	{`{"action": "disconnect",  "nth": 50, "protocol": "http2"}`,
		mockapns.Disconnect{When: mockapns.Trigger{Nth: 50, Protocol: apns.HTTP2}}},
	{`{"action": "idle_timeout", "after": "2s", "protocol": "http2"}`,
		mockapns.IdleTimeout{After: 2 * time.Second, Protocol: apns.HTTP2}},
	{`{"action": "idle_timeout", "after": "500ms", "times": 0}`,
		mockapns.IdleTimeout{After: 500 * time.Millisecond, Times: mockapns.Always}},
}

var _ = Describe("fault registry", func() {
	It("has a spec with every member for every action", func() {
		Expect(mockapns.FaultActionNames()).To(ConsistOf(keys(everyMember)))
	})

	for _, action := range mockapns.FaultActionNames() {
		It(action+": every member round-trips, in canonical form", func() {
			ex, ok := everyMember[action]
			Expect(ok).To(BeTrue(), "no spec for action %q", action)
			got, err := mockapns.ParseFault([]byte(ex.json))
			Expect(err).NotTo(HaveOccurred())
			Expect(cmp.Diff(ex.want, got, cmpOpts)).To(BeEmpty())
			data, err := mockapns.MarshalFault(got)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(data)).To(Equal(ex.json), "members in the registry's order")
			again, err := mockapns.ParseFault(data)
			Expect(err).NotTo(HaveOccurred())
			Expect(cmp.Diff(got, again, cmpOpts)).To(BeEmpty())
		})
	}

	for _, ex := range http2Examples {
		It("parses the HTTP/2 example "+ex.json+" and round-trips it", func() {
			got, err := mockapns.ParseFault([]byte(ex.json))
			Expect(err).NotTo(HaveOccurred())
			Expect(cmp.Diff(ex.want, got, cmpOpts)).To(BeEmpty())
			data, err := mockapns.MarshalFault(got)
			Expect(err).NotTo(HaveOccurred())
			again, err := mockapns.ParseFault(data)
			Expect(err).NotTo(HaveOccurred())
			Expect(cmp.Diff(got, again, cmpOpts)).To(BeEmpty())
		})
	}

	DescribeTable("refuses bad HTTP/2 and protocol members, naming the member",
		func(doc, field string) {
			f, err := mockapns.ParseFault([]byte(doc))
			Expect(f).To(BeNil())
			se := specError(err)
			Expect(se.Field).To(Equal(field))
			Expect(err.Error()).To(ContainSubstring(`"` + field + `"`))
		},
		Entry("token over apns.MaxTokenLength", `{"action":"rst_stream","token":"`+strings.Repeat("ab", apns.MaxTokenLength+1)+`"}`, "token"),
		Entry("duplicate reason", `{"action":"reject","reason":"BadTopic","reason":"BadTopic"}`, "reason"),
		Entry("unknown member", `{"action":"goaway","reason":"Shutdown","last_stream":1}`, "last_stream"),
		Entry("member in another case", `{"action":"goaway","Reason":"Shutdown"}`, "Reason"),
		Entry("reject with status and reason", `{"action":"reject","status":8,"reason":"BadTopic"}`, "reason"),
		Entry("empty reason", `{"action":"reject","reason":""}`, "reason"),
		Entry("reason with a space", `{"action":"reject","reason":"Bad Topic"}`, "reason"),
		Entry("reason as a number", `{"action":"reject","reason":400}`, "reason"),
		Entry("http_status without reason", `{"action":"reject","status":8,"http_status":500}`, "http_status"),
		Entry("http_status 200", `{"action":"reject","reason":"BadTopic","http_status":200}`, "http_status"),
		Entry("http_status 600", `{"action":"reject","reason":"BadTopic","http_status":600}`, "http_status"),
		Entry("binary reject on http2", `{"action":"reject","status":8,"protocol":"http2"}`, "protocol"),
		Entry("HTTP/2 reject on binary", `{"action":"reject","reason":"BadTopic","protocol":"binary"}`, "protocol"),
		Entry("shutdown on http2", `{"action":"shutdown","protocol":"http2"}`, "protocol"),
		Entry("unknown protocol", `{"action":"delay","delay":"1s","protocol":"spdy"}`, "protocol"),
		Entry("protocol as a number", `{"action":"delay","delay":"1s","protocol":2}`, "protocol"),
		Entry("protocol null", `{"action":"delay","delay":"1s","protocol":null}`, "protocol"),
		Entry("protocol on feedback_split", `{"action":"feedback_split","protocol":"binary"}`, "protocol"),
		Entry("after_bytes on http2", `{"action":"disconnect","after_bytes":10,"protocol":"http2"}`, "protocol"),
		Entry("goaway without reason", `{"action":"goaway","nth":1}`, "reason"),
		Entry("goaway on binary", `{"action":"goaway","reason":"Shutdown","protocol":"binary"}`, "protocol"),
		Entry("negative last_stream_id", `{"action":"goaway","reason":"Shutdown","last_stream_id":-1}`, "last_stream_id"),
		Entry("last_stream_id over 31 bits", `{"action":"goaway","reason":"Shutdown","last_stream_id":2147483648}`, "last_stream_id"),
		Entry("last_stream_id on reject", `{"action":"reject","reason":"BadTopic","last_stream_id":1}`, "last_stream_id"),
		Entry("max_streams without streams", `{"action":"max_streams","nth":1}`, "streams"),
		Entry("zero streams", `{"action":"max_streams","streams":0}`, "streams"),
		Entry("streams over 31 bits", `{"action":"max_streams","streams":2147483648}`, "streams"),
		Entry("fractional streams", `{"action":"max_streams","streams":1.5}`, "streams"),
		Entry("zero restore_after", `{"action":"max_streams","streams":1,"restore_after":0}`, "restore_after"),
		Entry("restore_after as a string", `{"action":"max_streams","streams":1,"restore_after":"5"}`, "restore_after"),
		Entry("status on rst_stream", `{"action":"rst_stream","status":8}`, "status"),
		Entry("rst_stream on binary", `{"action":"rst_stream","protocol":"binary"}`, "protocol"),
		Entry("streams on goaway", `{"action":"goaway","reason":"Shutdown","streams":1}`, "streams"),
		Entry("idle_timeout without after", `{"action":"idle_timeout","times":1}`, "after"),
		Entry("idle_timeout after without unit", `{"action":"idle_timeout","after":"2"}`, "after"),
		Entry("idle_timeout after as a number", `{"action":"idle_timeout","after":2}`, "after"),
		Entry("zero idle_timeout after", `{"action":"idle_timeout","after":"0s"}`, "after"),
		Entry("negative idle_timeout after", `{"action":"idle_timeout","after":"-1s"}`, "after"),
		Entry("idle_timeout on binary", `{"action":"idle_timeout","after":"1s","protocol":"binary"}`, "protocol"),
		Entry("nth on idle_timeout", `{"action":"idle_timeout","after":"1s","nth":2}`, "nth"),
		Entry("token on idle_timeout", `{"action":"idle_timeout","after":"1s","token":"ab"}`, "token"),
		Entry("probability on idle_timeout", `{"action":"idle_timeout","after":"1s","probability":0.5}`, "probability"),
		Entry("after on delay", `{"action":"delay","delay":"1s","after":"1s"}`, "after"),
		Entry("negative times on idle_timeout", `{"action":"idle_timeout","after":"1s","times":-1}`, "times"),
	)

	DescribeTable("AddFault and MarshalFault refuse invalid HTTP/2 values",
		func(f mockapns.Fault, field string) {
			srv := startServer(mockapns.Config{})
			_, err := srv.AddFault(f)
			Expect(specError(err).Field).To(Equal(field))
			Expect(srv.Faults()).To(BeEmpty())
			data, err := mockapns.MarshalFault(f)
			Expect(data).To(BeNil())
			Expect(specError(err).Field).To(Equal(field))
		},
		Entry("reject with status and reason", mockapns.Reject{Status: 8, Reason: apns.ReasonBadTopic}, "reason"),
		Entry("reject with a bad reason", mockapns.Reject{Reason: "no such"}, "reason"),
		Entry("http_status without reason", mockapns.Reject{Status: 8, HTTPStatus: 500}, "http_status"),
		Entry("http_status out of range", mockapns.Reject{Reason: apns.ReasonBadTopic, HTTPStatus: 302}, "http_status"),
		Entry("binary reject restricted to http2", mockapns.Reject{Status: 8, When: mockapns.Trigger{Protocol: apns.HTTP2}}, "protocol"),
		Entry("unknown protocol", mockapns.Delay{Duration: time.Second, When: mockapns.Trigger{Protocol: 9}}, "protocol"),
		Entry("goaway without reason", mockapns.GoAway{}, "reason"),
		Entry("goaway last stream without HasLastStreamID", mockapns.GoAway{Reason: apns.ReasonShutdown, LastStreamID: 3}, "last_stream_id"),
		Entry("goaway last stream over 31 bits", mockapns.GoAway{Reason: apns.ReasonShutdown, LastStreamID: 1 << 31, HasLastStreamID: true}, "last_stream_id"),
		Entry("max_streams 0", mockapns.MaxStreams{}, "streams"),
		Entry("negative restore_after", mockapns.MaxStreams{Streams: 1, RestoreAfter: -1}, "restore_after"),
		Entry("rst_stream on binary", mockapns.RstStream{When: mockapns.Trigger{Protocol: apns.Binary}}, "protocol"),
		Entry("negative times", mockapns.RstStream{When: mockapns.Trigger{Times: mockapns.Times(-1)}}, "times"),
		Entry("idle_timeout without after", mockapns.IdleTimeout{}, "after"),
		Entry("negative idle_timeout", mockapns.IdleTimeout{After: -time.Second}, "after"),
		Entry("idle_timeout on binary", mockapns.IdleTimeout{After: time.Second, Protocol: apns.Binary}, "protocol"),
		Entry("idle_timeout negative times", mockapns.IdleTimeout{After: time.Second, Times: mockapns.Times(-1)}, "times"),
		Entry("a pointer", &mockapns.GoAway{Reason: apns.ReasonShutdown}, ""),
	)

	It("gives Times one meaning: zero once, Times(0) every time, as in JSON", func() {
		once, err := mockapns.ParseFault([]byte(`{"action":"rst_stream"}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(once).To(Equal(mockapns.RstStream{}))
		every, err := mockapns.ParseFault([]byte(`{"action":"rst_stream","times":0}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(every).To(Equal(mockapns.RstStream{When: mockapns.Trigger{Times: mockapns.Times(0)}}))
		Expect(mockapns.Always).To(Equal(mockapns.Times(0)))
		n, set := mockapns.Times(3).Value()
		Expect(n).To(Equal(3))
		Expect(set).To(BeTrue())
		_, set = mockapns.Count{}.Value()
		Expect(set).To(BeFalse())
	})
})

var _ = Describe("fault matching across protocols", func() {
	var srv *mockapns.Server
	tok := token(5)
	other := token(6)

	BeforeEach(func() { srv = startServer(mockapns.Config{Seed: 7}) })

	It("fires a reject with a reason on HTTP/2 requests only, with Apple's status or the one given", func() {
		addFault(srv, mockapns.Reject{Reason: apns.ReasonBadDeviceToken, When: mockapns.Trigger{Times: mockapns.Always}})
		addFault(srv, mockapns.Reject{Reason: apns.ReasonUnregistered, HTTPStatus: 503, When: mockapns.Trigger{Token: tokenOf(other)}})
		Expect(srv.FaultsActive(apns.HTTP2)).To(BeTrue())
		Expect(srv.FaultsActive(apns.Binary)).To(BeFalse())
		Expect(srv.OnNotification(tok)).To(Equal(mockapns.FiredAction{}))
		Expect(srv.OnRequest(tok)).To(Equal(mockapns.FiredAction{Kind: "reject", Reason: "BadDeviceToken", HTTPStatus: 400}))
		// The first deciding fault wins; the second counts the request
		// but does not fire.
		Expect(srv.OnRequest(other)).To(Equal(mockapns.FiredAction{Kind: "reject", Reason: "BadDeviceToken", HTTPStatus: 400}))
		Expect(srv.Faults()[1].Fired).To(Equal(0))
		srv.ClearFaults()
		addFault(srv, mockapns.Reject{Reason: apns.ReasonUnregistered, HTTPStatus: 503, When: mockapns.Trigger{Token: tokenOf(other)}})
		Expect(srv.OnRequest(other)).To(Equal(mockapns.FiredAction{Kind: "reject", Reason: "Unregistered", HTTPStatus: 503}))
	})

	It("fires a reject with a status on binary notifications only", func() {
		addFault(srv, mockapns.Reject{Status: wire.StatusInvalidToken, When: mockapns.Trigger{Nth: 2}})
		Expect(srv.FaultsActive(apns.HTTP2)).To(BeFalse())
		Expect(srv.OnRequest(tok)).To(Equal(mockapns.FiredAction{}))
		Expect(srv.OnRequest(tok)).To(Equal(mockapns.FiredAction{}))
		Expect(srv.OnNotification(tok)).To(Equal(mockapns.FiredAction{}))
		Expect(srv.OnNotification(tok)).To(Equal(mockapns.FiredAction{Kind: "reject", Status: 8}))
	})

	It("counts nth across both protocols for a fault without protocol, and only its own with one", func() {
		addFault(srv, mockapns.Disconnect{When: mockapns.Trigger{Nth: 3}})
		addFault(srv, mockapns.Delay{Duration: time.Second, When: mockapns.Trigger{Nth: 2, Protocol: apns.HTTP2}})
		Expect(srv.OnNotification(tok)).To(Equal(mockapns.FiredAction{}))
		Expect(srv.OnRequest(tok)).To(Equal(mockapns.FiredAction{}))
		Expect(srv.OnNotification(tok)).To(Equal(mockapns.FiredAction{Kind: "disconnect"}))
		Expect(srv.OnRequest(tok)).To(Equal(mockapns.FiredAction{Delay: time.Second}))
		Expect(srv.OnNotification(tok)).To(Equal(mockapns.FiredAction{}))
	})

	It("adds delays and max_streams to the deciding fault", func() {
		addFault(srv, mockapns.Delay{Duration: time.Second, When: mockapns.Trigger{Protocol: apns.HTTP2}})
		addFault(srv, mockapns.RstStream{})
		addFault(srv, mockapns.MaxStreams{Streams: 1, RestoreAfter: 5})
		addFault(srv, mockapns.GoAway{Reason: apns.ReasonShutdown})
		addFault(srv, mockapns.Delay{Duration: 2 * time.Second})
		Expect(srv.OnRequest(tok)).To(Equal(mockapns.FiredAction{Kind: "rst_stream", Delay: 3 * time.Second,
			MaxStreams: 1, HasMaxStreams: true, RestoreAfter: 5}))
		Expect(srv.OnRequest(tok)).To(Equal(mockapns.FiredAction{Kind: "goaway", Reason: "Shutdown"}))
		Expect(srv.OnRequest(tok)).To(Equal(mockapns.FiredAction{}))
		Expect(srv.FaultsActive(apns.HTTP2)).To(BeFalse())
	})

	It("passes GOAWAY's last-stream-id when given", func() {
		addFault(srv, mockapns.GoAway{Reason: apns.ReasonShutdown, HasLastStreamID: true, LastStreamID: 0})
		Expect(srv.OnRequest(tok)).To(Equal(mockapns.FiredAction{Kind: "goaway", Reason: "Shutdown", HasLastStreamID: true}))
	})

	It("repeats HTTP/2 probability faults with the seed and after Reset", func() {
		pattern := func() []bool {
			addFault(srv, mockapns.Reject{Reason: apns.ReasonTooManyRequests, When: mockapns.Trigger{Probability: 0.5, Times: mockapns.Always}})
			var out []bool
			for range 32 {
				out = append(out, srv.OnRequest(tok).Kind == "reject")
			}
			return out
		}
		first := pattern()
		Expect(first).To(ContainElement(true))
		Expect(first).To(ContainElement(false))
		srv.Reset()
		Expect(pattern()).To(Equal(first))
	})

	It("leaves the gateway alone with HTTP/2 faults installed", func() {
		addFault(srv, mockapns.Delay{Duration: time.Hour, When: mockapns.Trigger{Protocol: apns.HTTP2}})
		addFault(srv, mockapns.GoAway{Reason: apns.ReasonShutdown})
		push(srv, framed(1, token(1), payload))
		Expect(srv.Stats().Accepted).To(BeEquivalentTo(1))
		Expect(srv.Faults()[0].Fired).To(Equal(0))
	})
})

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
