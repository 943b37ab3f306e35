package apns_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/apnskit/apnskit/apns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Token", func() {
	It("parses hex of either case and prints lower case", func() {
		t, err := apns.ParseToken("00AbCdEF")
		Expect(err).NotTo(HaveOccurred())
		Expect(t.String()).To(Equal("00abcdef"))
		Expect(t.Bytes()).To(Equal([]byte{0x00, 0xab, 0xcd, 0xef}))
		Expect(t.Len()).To(Equal(4))
		Expect(t.Equal([]byte{0x00, 0xab, 0xcd, 0xef})).To(BeTrue())
		Expect(t.Equal([]byte{0x00, 0xab})).To(BeFalse())
		Expect(t == apns.MustParseToken("00abcdef")).To(BeTrue())
	})

	It("accepts exactly MaxTokenLength bytes", func() {
		t, err := apns.ParseToken(strings.Repeat("ab", apns.MaxTokenLength))
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Len()).To(Equal(apns.MaxTokenLength))
	})

	DescribeTable("refuses bad hex with ErrBadToken and a reason",
		func(s, why string) {
			_, err := apns.ParseToken(s)
			Expect(err).To(MatchError(apns.ErrBadToken))
			Expect(err.Error()).To(ContainSubstring(why))
		},
		Entry("empty", "", "empty"),
		Entry("odd length", "abc", "odd number"),
		Entry("not hex", "zz00", `'z' at offset 0`),
		Entry("not hex in the low digit", "0z", `'z' at offset 1`),
		Entry("too long", strings.Repeat("00", apns.MaxTokenLength+1), "longer than 100"),
	)

	It("copies bytes, so the caller may reuse its slice", func() {
		b := []byte{1, 2, 3}
		t, err := apns.TokenFromBytes(b)
		Expect(err).NotTo(HaveOccurred())
		b[0] = 9
		Expect(t.String()).To(Equal("010203"))
		out := t.Bytes()
		out[1] = 9
		Expect(t.String()).To(Equal("010203"))
		Expect(t.AppendBytes([]byte{7})).To(Equal([]byte{7, 1, 2, 3}))
		Expect(string(t.AppendHex([]byte("x")))).To(Equal("x010203"))
	})

	It("refuses empty and over-long byte slices", func() {
		_, err := apns.TokenFromBytes(nil)
		Expect(err).To(MatchError(apns.ErrBadToken))
		_, err = apns.TokenFromBytes(make([]byte, apns.MaxTokenLength+1))
		Expect(err).To(MatchError(apns.ErrBadToken))
	})

	It("round-trips through JSON and leaves the value alone on error", func() {
		in := map[string]apns.Token{"t": apns.MustParseToken("beef")}
		b, err := json.Marshal(in)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(Equal(`{"t":"beef"}`))
		var out map[string]apns.Token
		Expect(json.Unmarshal(b, &out)).To(Succeed())
		Expect(out).To(Equal(in))
		t := apns.MustParseToken("beef")
		Expect(t.UnmarshalText([]byte("xyz"))).To(MatchError(apns.ErrBadToken))
		Expect(t.String()).To(Equal("beef"))
	})

	It("has a zero value that is empty", func() {
		var t apns.Token
		Expect(t.IsZero()).To(BeTrue())
		Expect(t.String()).To(Equal(""))
		Expect(apns.MustParseToken("00").IsZero()).To(BeFalse())
	})

	It("MustParseToken panics on a bad token", func() {
		Expect(func() { apns.MustParseToken("x") }).To(Panic())
	})
})

var _ = Describe("Priority", func() {
	It("tells absent from every value, with Apple's default as the effective one", func() {
		var p apns.Priority
		Expect(p.IsSet()).To(BeFalse())
		Expect(p.Effective()).To(Equal(uint8(10)))
		Expect(p.String()).To(Equal("absent"))
		zero := apns.NewPriority(0)
		v, ok := zero.Value()
		Expect(v).To(Equal(uint8(0)))
		Expect(ok).To(BeTrue())
		Expect(zero.Effective()).To(Equal(uint8(0)))
		Expect(zero).NotTo(Equal(p))
		Expect(apns.PriorityConserve.Effective()).To(Equal(uint8(5)))
		Expect(apns.PriorityLow.String()).To(Equal("1"))
	})

	It("is a number or null in JSON", func() {
		type doc struct {
			P apns.Priority `json:"p"`
		}
		for _, c := range []struct {
			p    apns.Priority
			json string
		}{{apns.Priority{}, `{"p":null}`}, {apns.PriorityImmediate, `{"p":10}`}, {apns.NewPriority(0), `{"p":0}`}} {
			b, err := json.Marshal(doc{c.p})
			Expect(err).NotTo(HaveOccurred())
			Expect(string(b)).To(Equal(c.json))
			var d doc
			Expect(json.Unmarshal(b, &d)).To(Succeed())
			Expect(d.P).To(Equal(c.p))
		}
		var d doc
		Expect(json.Unmarshal([]byte(`{"p":256}`), &d)).NotTo(Succeed())
		Expect(json.Unmarshal([]byte(`{"p":"10"}`), &d)).NotTo(Succeed())
	})
})

var _ = Describe("Protocol", func() {
	It("names the two protocols and refuses others", func() {
		for _, p := range []apns.Protocol{apns.Binary, apns.HTTP2} {
			b, err := p.MarshalText()
			Expect(err).NotTo(HaveOccurred())
			var q apns.Protocol
			Expect(q.UnmarshalText(b)).To(Succeed())
			Expect(q).To(Equal(p))
		}
		Expect(apns.HTTP2.String()).To(Equal("http2"))
		_, err := apns.Protocol(0).MarshalText()
		Expect(err).To(HaveOccurred())
		q := apns.Binary
		Expect(q.UnmarshalText([]byte("spdy"))).NotTo(Succeed())
		Expect(q).To(Equal(apns.Binary))
	})
})

var _ = Describe("Reason", func() {
	It("lists Apple's 32 reasons, each known, with its status", func() {
		rs := apns.Reasons()
		Expect(rs).To(HaveLen(32))
		seen := map[apns.Reason]bool{}
		counts := map[int]int{}
		for _, r := range rs {
			Expect(seen[r]).To(BeFalse(), "%s listed twice", r)
			seen[r] = true
			Expect(r.Known()).To(BeTrue())
			counts[r.Status()]++
		}
		Expect(counts).To(Equal(map[int]int{400: 14, 403: 8, 404: 1, 405: 1, 410: 2, 413: 1, 429: 2, 500: 1, 503: 2}))
	})

	It("is an Outcome matched with errors.Is", func() {
		var o apns.Outcome = apns.ReasonUnregistered
		err := fmt.Errorf("push: %w", o)
		Expect(errors.Is(err, apns.ReasonUnregistered)).To(BeTrue())
		Expect(errors.Is(err, apns.ReasonBadDeviceToken)).To(BeFalse())
		Expect(err.Error()).To(Equal("push: apns: Unregistered (410)"))
	})

	It("keeps unknown reasons as 400s to fix before retrying", func() {
		r := apns.Reason("SomethingNew")
		Expect(r.Known()).To(BeFalse())
		Expect(r.Status()).To(Equal(400))
		Expect(r.Disposition()).To(Equal(apns.DropMessage))
	})

	DescribeTable("follows Apple's retry guidance",
		func(r apns.Reason, d apns.Disposition) { Expect(r.Disposition()).To(Equal(d)) },
		Entry(nil, apns.ReasonBadDeviceToken, apns.DropToken),
		Entry(nil, apns.ReasonUnregistered, apns.DropToken),
		Entry(nil, apns.ReasonExpiredToken, apns.DropToken),
		Entry(nil, apns.ReasonDeviceTokenNotForTopic, apns.DropToken),
		Entry(nil, apns.ReasonPayloadTooLarge, apns.DropMessage),
		Entry(nil, apns.ReasonForbidden, apns.DropMessage),
		Entry(nil, apns.ReasonBadTopic, apns.DropMessage),
		Entry(nil, apns.ReasonTooManyRequests, apns.Retry),
		Entry(nil, apns.ReasonServiceUnavailable, apns.Retry),
		Entry(nil, apns.ReasonShutdown, apns.Retry),
		Entry(nil, apns.ReasonInternalServerError, apns.Retry),
		Entry(nil, apns.ReasonExpiredProviderToken, apns.Retry),
	)

	It("names dispositions", func() {
		Expect(apns.DropToken.String()).To(Equal("drop token"))
		Expect(apns.Disposition(9).String()).To(Equal("disposition(9)"))
	})
})

var _ = Describe("AppendParsedToken", func() {
	It("appends what ParseToken parses, and leaves dst alone on error", func() {
		dst := []byte{9}
		out, err := apns.AppendParsedToken(dst, "0aFF")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal([]byte{9, 0x0a, 0xff}))
		for _, bad := range []string{"", "abc", "0g", strings.Repeat("00", apns.MaxTokenLength+1)} {
			out, err := apns.AppendParsedToken(dst, bad)
			Expect(err).To(MatchError(apns.ErrBadToken))
			Expect(out).To(Equal([]byte{9}))
			_, perr := apns.ParseToken(bad)
			Expect(err).To(Equal(perr))
		}
	})
})

var _ = Describe("AppendParsedToken, digit by digit", func() {
	// reference decodes one pair at a time by the definition.
	reference := func(s string) ([]byte, bool) {
		out := make([]byte, 0, len(s)/2)
		for i := 0; i+1 < len(s); i += 2 {
			hi, ok1 := hexDigit(s[i])
			lo, ok2 := hexDigit(s[i+1])
			if !ok1 || !ok2 {
				return nil, false
			}
			out = append(out, hi<<4|lo)
		}
		return out, true
	}
	It("agrees with the definition for every byte at every position of tokens of every length", func() {
		base := "0123456789abcdefABCDEF0123456789fedcbaFEDCBA9876543210aBcDeF0011"
		for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 32, 33} {
			good := (base + base)[:2*n]
			for pos := range good {
				for c := range 256 {
					s := good[:pos] + string([]byte{byte(c)}) + good[pos+1:]
					want, ok := reference(s)
					got, err := apns.AppendParsedToken([]byte{7}, s)
					if ok {
						Expect(err).NotTo(HaveOccurred(), "%q", s)
						Expect(got).To(Equal(append([]byte{7}, want...)), "%q", s)
						continue
					}
					Expect(err).To(MatchError(apns.ErrBadToken), "%q", s)
					Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("at offset %d ", pos)), "%q", s)
					Expect(got).To(Equal([]byte{7}))
				}
			}
		}
	})
})

// hexDigit is the value of the hex digit c, by its place among the digits
// of either case.
func hexDigit(c byte) (byte, bool) {
	i := strings.IndexByte("0123456789abcdefABCDEF", c)
	switch {
	case i < 0:
		return 0, false
	case i >= 16: // upper case
		return byte(i - 6), true
	}
	return byte(i), true
}
