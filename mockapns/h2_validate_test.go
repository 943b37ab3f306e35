package mockapns

import (
	"strings"

	g "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
)

// vreq builds a request that passes validation, changed by the options.
func vreq(opts ...func(*h2Incoming)) *h2Incoming {
	r := &h2Incoming{}
	r.set(fMethod, "POST")
	r.set(fScheme, "https")
	r.set(fPath, "/3/device/"+strings.Repeat("ab", 32))
	r.set(fTopic, "com.example.app")
	r.body = []byte(`{"aps":{"alert":"hi"}}`)
	for _, o := range opts {
		o(r)
	}
	return r
}

func with(f h2Field, v string) func(*h2Incoming) {
	return func(r *h2Incoming) {
		r.has &^= 1 << f
		r.set(f, v)
	}
}

func without(f h2Field) func(*h2Incoming) {
	return func(r *h2Incoming) { r.has &^= 1 << f; r.f[f] = "" }
}

// sized returns a payload of n bytes with an aps dictionary.
func sized(n int) string { return `{"aps":{},"x":"` + strings.Repeat("a", n-17) + `"}` }

func body(b string) func(*h2Incoming) { return func(r *h2Incoming) { r.body = []byte(b) } }

var _ = g.Describe("validateH2", func() {
	g.DescribeTable("answers like Apple",
		func(want apns.Reason, opts ...func(*h2Incoming)) {
			var p h2Push
			Expect(validateH2(vreq(opts...), h2Rules{}, &p)).To(Equal(want))
		},
		g.Entry("a good request", apns.Reason("")),
		g.Entry("GET", apns.ReasonMethodNotAllowed, with(fMethod, "GET")),
		g.Entry("another path", apns.ReasonBadPath, with(fPath, "/3/devices/ab")),
		g.Entry("an old version", apns.ReasonBadPath, with(fPath, "/2/device/ab")),
		g.Entry("a path below the token", apns.ReasonBadPath, with(fPath, "/3/device/ab/x")),
		g.Entry("a query", apns.ReasonBadPath, with(fPath, "/3/device/ab?x=1")),
		g.Entry("no token", apns.ReasonMissingDeviceToken, with(fPath, "/3/device/")),
		g.Entry("a token not hex", apns.ReasonBadDeviceToken, with(fPath, "/3/device/"+strings.Repeat("zz", 32))),
		g.Entry("an odd token", apns.ReasonBadDeviceToken, with(fPath, "/3/device/abc")),
		g.Entry("a short token", apns.ReasonBadDeviceToken, with(fPath, "/3/device/"+strings.Repeat("ab", 31))),
		g.Entry("a token of 101 bytes", apns.ReasonBadDeviceToken, with(fPath, "/3/device/"+strings.Repeat("ab", 101))),
		g.Entry("a repeated header", apns.ReasonDuplicateHeaders, func(r *h2Incoming) { r.set(fTopic, "com.example.other") }),
		g.Entry("an upper-case apns-id", apns.ReasonBadMessageID, with(fAPNsID, "123E4567-E89B-12D3-A456-4266554400A0")),
		g.Entry("a short apns-id", apns.ReasonBadMessageID, with(fAPNsID, "123e4567-e89b-12d3-a456-42665544000")),
		g.Entry("an apns-id without hyphens", apns.ReasonBadMessageID, with(fAPNsID, "123e4567e89b12d3a4564266554400a0")),
		g.Entry("an expiration not a number", apns.ReasonBadExpirationDate, with(fExpiration, "tomorrow")),
		g.Entry("a negative expiration", apns.ReasonBadExpirationDate, with(fExpiration, "-1")),
		g.Entry("an empty expiration", apns.ReasonBadExpirationDate, with(fExpiration, "")),
		g.Entry("priority 7", apns.ReasonBadPriority, with(fPriority, "7")),
		g.Entry("priority 0", apns.ReasonBadPriority, with(fPriority, "0")),
		g.Entry("an unknown push type", apns.ReasonInvalidPushType, with(fPushType, "banner")),
		g.Entry("no topic", apns.ReasonMissingTopic, without(fTopic)),
		g.Entry("voip without .voip", apns.ReasonBadTopic, with(fPushType, "voip")),
		g.Entry("a bare suffix", apns.ReasonBadTopic, with(fPushType, "voip"), with(fTopic, ".voip")),
		g.Entry("alert to a .voip topic", apns.ReasonBadTopic, with(fPushType, "alert"), with(fTopic, "com.example.app.voip")),
		g.Entry("a liveactivity suffix missing", apns.ReasonBadTopic, with(fPushType, "liveactivity")),
		g.Entry("a collapse id of 65 bytes", apns.ReasonBadCollapseID, with(fCollapseID, strings.Repeat("é", 32)+"x")),
		g.Entry("an empty body", apns.ReasonPayloadEmpty, body("")),
		g.Entry("a body of 4097 bytes", apns.ReasonPayloadTooLarge, body(sized(4097))),
		g.Entry("a voip body of 5121 bytes", apns.ReasonPayloadTooLarge, with(fPushType, "voip"), with(fTopic, "a.voip"),
			body(sized(5121))),
		g.Entry("a body not JSON", apns.ReasonPayloadEmpty, body(`{"aps":`)),
		g.Entry("a JSON array", apns.ReasonPayloadEmpty, body(`[{"aps":{}}]`)),
		g.Entry("no aps", apns.ReasonPayloadEmpty, body(`{"x":{"aps":{}}}`)),
		g.Entry("aps not an object", apns.ReasonPayloadEmpty, body(`{"aps":"hi"}`)),
		g.Entry("an empty object", apns.ReasonPayloadEmpty, body(`{}`)),
		// The first failing check decides.
		g.Entry("method before path", apns.ReasonMethodNotAllowed, with(fMethod, "PUT"), with(fPath, "/x")),
		g.Entry("token before headers", apns.ReasonBadDeviceToken, with(fPath, "/3/device/ab"), with(fPriority, "7")),
	)

	g.DescribeTable("accepts what Apple accepts",
		func(opts ...func(*h2Incoming)) {
			var p h2Push
			Expect(validateH2(vreq(opts...), h2Rules{}, &p)).To(BeEmpty())
		},
		g.Entry("an upper-case token", with(fPath, "/3/device/"+strings.Repeat("AB", 32))),
		g.Entry("every priority", with(fPriority, "1")),
		g.Entry("priority 5", with(fPriority, "5")),
		g.Entry("expiration 0", with(fExpiration, "0")),
		g.Entry("a collapse id of 64 bytes", with(fCollapseID, strings.Repeat("é", 32))),
		g.Entry("a body of 4096 bytes", body(sized(4096))),
		g.Entry("a voip body of 5120 bytes", with(fPushType, "voip"), with(fTopic, "a.voip"),
			body(sized(5120))),
		g.Entry("a .voip topic without push type, 5120 bytes", with(fTopic, "a.voip"),
			body(sized(5120))),
		g.Entry("aps after other keys", body(` { "a" : [1,{"b":"}"}], "c":null , "aps" : { } } `)),
		g.Entry("an escaped aps key", body(`{"\u0061ps":{}}`)),
		g.Entry("each push type with its topic", with(fPushType, "pushtotalk"), with(fTopic, "a.voip-ptt")),
		g.Entry("widgets", with(fPushType, "widgets"), with(fTopic, "a.push-type.widgets")),
		g.Entry("mdm to any topic", with(fPushType, "mdm"), with(fTopic, "com.apple.mgmt.External.x")),
		g.Entry("background", with(fPushType, "background"), with(fPriority, "5")),
	)

	g.It("fills the push from the headers", func() {
		var p h2Push
		r := vreq(with(fAPNsID, "123e4567-e89b-12d3-a456-4266554400a0"), with(fExpiration, "1700000000"),
			with(fPriority, "5"), with(fPushType, "alert"), with(fCollapseID, "c"))
		Expect(validateH2(r, h2Rules{}, &p)).To(BeEmpty())
		Expect(p.tokenBytes()).To(Equal([]byte(strings.Repeat("\xab", 32))))
		Expect(p.apnsID).To(Equal("123e4567-e89b-12d3-a456-4266554400a0"))
		Expect(p.expiration).To(Equal(int64(1700000000)))
		Expect(p.hasExpiration).To(BeTrue())
		Expect(p.priority).To(Equal(apns.PriorityConserve))
		Expect(p.pushType).To(Equal("alert"))
		Expect(p.topic).To(Equal("com.example.app"))
		Expect(p.collapseID).To(Equal("c"))
	})

	g.It("takes the certificate's topic when the header is absent and one is given", func() {
		var p h2Push
		Expect(validateH2(vreq(without(fTopic)), h2Rules{defaultTopic: "com.example.cert"}, &p)).To(BeEmpty())
		Expect(p.topic).To(Equal("com.example.cert"))
	})

	g.It("follows the token length rule of the binary side", func() {
		var p h2Push
		short := vreq(with(fPath, "/3/device/abcd"))
		Expect(validateH2(short, h2Rules{}, &p)).To(Equal(apns.ReasonBadDeviceToken))
		Expect(validateH2(short, h2Rules{tokenLength: 2}, &p)).To(BeEmpty())
		Expect(validateH2(short, h2Rules{tokenLength: -1}, &p)).To(BeEmpty())
		Expect(validateH2(vreq(), h2Rules{tokenLength: 2}, &p)).To(Equal(apns.ReasonBadDeviceToken))
	})

	g.It("checks only the route without validation", func() {
		var p h2Push
		rules := h2Rules{noValidation: true}
		Expect(validateH2(vreq(with(fPriority, "7"), body(""), without(fTopic), with(fPath, "/3/device/ab")), rules, &p)).To(BeEmpty())
		Expect(p.priority).To(Equal(apns.NewPriority(7)))
		Expect(validateH2(vreq(with(fMethod, "GET")), rules, &p)).To(Equal(apns.ReasonMethodNotAllowed))
		Expect(validateH2(vreq(with(fPath, "/3/device/xy")), rules, &p)).To(Equal(apns.ReasonBadDeviceToken))
	})

	g.It("sizes bodies by push type", func() {
		Expect(h2MaxBody(vreq(), false)).To(Equal(HTTP2MaxPayload))
		Expect(h2MaxBody(vreq(with(fPushType, "voip")), false)).To(Equal(HTTP2MaxVoIPPayload))
		Expect(h2MaxBody(vreq(with(fTopic, "a.voip")), false)).To(Equal(HTTP2MaxVoIPPayload))
		Expect(h2MaxBody(vreq(with(fTopic, "a.voip"), with(fPushType, "alert")), false)).To(Equal(HTTP2MaxPayload))
		Expect(h2MaxBody(vreq(), true)).To(Equal(h2NoValidationMaxBody))
	})
})
