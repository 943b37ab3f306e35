package client_test

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const tokA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

var _ = Describe("Message", func() {
	DescribeTable("round-trips through JSON unchanged",
		func(m client.Message) {
			data, err := json.Marshal(m)
			Expect(err).NotTo(HaveOccurred())
			var back client.Message
			Expect(json.Unmarshal(data, &back)).To(Succeed())
			Expect(cmp.Diff(m, back)).To(BeEmpty(), "JSON: %s", data)
			// and the payload sent is byte for byte the same
			p1, err1 := m.PayloadJSON()
			p2, err2 := back.PayloadJSON()
			Expect(err1).NotTo(HaveOccurred())
			Expect(err2).NotTo(HaveOccurred())
			Expect(string(p2)).To(Equal(string(p1)))
		},
		Entry("minimal", client.Message{Tokens: []string{tokA}, Alert: "Hello"}),
		Entry("every field", client.Message{
			Tokens:           []string{tokA, "0123456789ABCDEF"},
			Alert:            map[string]any{"title": "T", "body": "B", "loc-args": []any{"a", 1, 2.5}},
			Badge:            7,
			Sound:            "default",
			ContentAvailable: true,
			Category:         "cat",
			ThreadID:         "thread",
			MutableContent:   true,
			Expiry:           client.ExpireAt(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)),
			Priority:         5,
			Extra:            map[string]any{"n": 1, "f": 0.5, "s": "x", "o": map[string]any{"k": []any{true, nil}}},
		}),
		Entry("string badge, relative expiry", client.Message{Tokens: []string{tokA}, Badge: "3", Expiry: client.ExpireAfter(90 * time.Minute)}),
		Entry("HTML characters in fields and raw payload", func() client.Message {
			m := client.Message{Tokens: []string{tokA}}
			Expect(m.SetPayload([]byte(`{"aps":{"alert":"<b>&</b>"},"u":"\u2028"}`))).To(Succeed())
			return m
		}()),
		Entry("HTML characters in the alert", client.Message{Tokens: []string{tokA}, Alert: "Tom & <Jerry>"}),
		Entry("raw payload with readable alert and badge", func() client.Message {
			m := client.Message{Tokens: []string{tokA}, Priority: 10}
			Expect(m.SetPayload([]byte(`{"aps":{"alert":{"body":"hi"},"badge":2},"acme":[1,2]}`))).To(Succeed())
			return m
		}()),
	)

	It("builds the aps dictionary from the fields", func() {
		m := client.Message{Tokens: []string{tokA}, Alert: "Hi", Badge: 0, Sound: "s", ContentAvailable: true,
			Category: "c", ThreadID: "t", MutableContent: true, Extra: map[string]any{"id": 42}}
		p, err := m.PayloadJSON()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(p)).To(Equal(`{"aps":{"alert":"Hi","badge":0,"category":"c","content-available":1,"mutable-content":1,"sound":"s","thread-id":"t"},"id":42}`))
	})

	It("does not HTML-escape the payload it builds", func() {
		p, err := (&client.Message{Tokens: []string{tokA}, Alert: "Tom & <Jerry>"}).PayloadJSON()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(p)).To(Equal(`{"aps":{"alert":"Tom & <Jerry>"}}`))
	})

	It("sends a raw payload compacted and exposes its alert and badge", func() {
		var m client.Message
		Expect(m.SetPayload([]byte("{ \"aps\" : { \"alert\" : \"Yo\", \"badge\": 4 } }"))).To(Succeed())
		Expect(m.Alert).To(Equal("Yo"))
		Expect(m.Badge).To(Equal(4))
		m.Tokens = []string{tokA}
		Expect(m.Validate()).To(Succeed())
		p, err := m.PayloadJSON()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(p)).To(Equal(`{"aps":{"alert":"Yo","badge":4}}`))
	})

	It("accepts what only Apple can judge: odd token lengths, big payloads, odd priorities", func() {
		m := client.Message{Tokens: []string{"00", strings.Repeat("ab", apns.MaxTokenLength)}, Alert: strings.Repeat("x", 5000), Priority: 7}
		Expect(m.Validate()).To(Succeed())
	})

	It("applies apns.ParseToken's one bound to every token: non-empty, at most apns.MaxTokenLength bytes", func() {
		for _, bad := range []string{"", strings.Repeat("ab", apns.MaxTokenLength+1)} {
			err := (&client.Message{Tokens: []string{tokA, bad}, Alert: "x"}).Validate()
			Expect(err).To(MatchError(client.ErrBadToken))
			Expect(err).To(MatchError(apns.ErrBadToken))
			var te *client.TokenError
			Expect(errors.As(err, &te)).To(BeTrue())
			Expect(te.Index).To(Equal(1))
		}
	})

	raw := func(s string) client.Message {
		return client.Message{Tokens: []string{tokA}, Payload: json.RawMessage(s)}
	}
	DescribeTable("Validate refuses what cannot be sent, naming the cause",
		func(m client.Message, want error) {
			Expect(m.Validate()).To(MatchError(want))
		},
		Entry("no tokens", client.Message{Alert: "x"}, client.ErrNoTokens),
		Entry("odd-length hex", client.Message{Tokens: []string{tokA, "abc"}}, client.ErrBadToken),
		Entry("not hex", client.Message{Tokens: []string{"zz"}}, client.ErrBadToken),
		Entry("payload not JSON", raw(`{"aps":`), client.ErrBadPayload),
		Entry("payload not an object", raw(`[1,2]`), client.ErrBadPayload),
		Entry("payload null", raw(`null`), client.ErrBadPayload),
		Entry("payload with Sound", func() client.Message { m := raw(`{"aps":{}}`); m.Sound = "x"; return m }(), client.ErrConflictingFields),
		Entry("payload with another alert", func() client.Message { m := raw(`{"aps":{"alert":"a"}}`); m.Alert = "b"; return m }(), client.ErrConflictingFields),
		Entry("payload with Extra", func() client.Message { m := raw(`{}`); m.Extra = map[string]any{"k": 1}; return m }(), client.ErrConflictingFields),
		Entry("Extra holding aps", client.Message{Tokens: []string{tokA}, Extra: map[string]any{"aps": 1}}, client.ErrConflictingFields),
		Entry("priority over a byte", client.Message{Tokens: []string{tokA}, Priority: 256}, client.ErrBadField),
		Entry("expiry before 1970", client.Message{Tokens: []string{tokA}, Expiry: client.ExpireAt(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))}, client.ErrBadField),
		Entry("badge of another type", client.Message{Tokens: []string{tokA}, Badge: true}, client.ErrBadField),
		Entry("payload over 65535 bytes", client.Message{Tokens: []string{tokA}, Alert: strings.Repeat("x", 70000)}, client.ErrBadField),
		Entry("unencodable alert", client.Message{Tokens: []string{tokA}, Alert: func() {}}, client.ErrBadPayload),
	)

	It("refuses JSON whose alert contradicts its payload", func() {
		var m client.Message
		err := json.Unmarshal([]byte(`{"tokens":["aa"],"alert":"no","payload":{"aps":{"alert":"yes"}}}`), &m)
		Expect(err).To(MatchError(client.ErrConflictingFields))
		Expect(json.Unmarshal([]byte(`{"tokens":["aa"],"alert":"yes","payload":{"aps":{"alert":"yes"}}}`), &m)).To(Succeed())
		Expect(m.Alert).To(Equal("yes"))
	})

	It("names the bad token and its position", func() {
		err := (&client.Message{Tokens: []string{tokA, "0g"}, Alert: "x"}).Validate()
		var te *client.TokenError
		Expect(err).To(BeAssignableToTypeOf(te))
		Expect(err).To(MatchError(client.ErrBadToken))
		te = err.(*client.TokenError)
		Expect(te.Index).To(Equal(1))
		Expect(te.Token).To(Equal("0g"))
	})
})
