package mockapns_test

import (
	"encoding/json"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("HTTP/2 device and key bodies", func() {
	It("reads one device or an array of them", func() {
		one, err := mockapns.ParseDevicesForTest([]byte(` {"token": "aa00", "topic": "t"} `))
		Expect(err).NotTo(HaveOccurred())
		Expect(one).To(HaveLen(1))
		Expect(one[0].Token).To(Equal(apns.MustParseToken("aa00")))
		many, err := mockapns.ParseDevicesForTest([]byte(`[{"token": "aa00"}, {"token": "bb00", "unregistered_at": "2026-01-02T15:04:05Z"}]`))
		Expect(err).NotTo(HaveOccurred())
		Expect(many).To(HaveLen(2))
		Expect(many[1].UnregisteredAt.Unix()).To(Equal(int64(1767366245)))
		none, err := mockapns.ParseDevicesForTest([]byte(`[]`))
		Expect(err).NotTo(HaveOccurred())
		Expect(none).To(BeEmpty())
	})

	DescribeTable("refuses a bad body, naming the element and the member",
		func(body, field, says string) {
			_, err := mockapns.ParseDevicesForTest([]byte(body))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(says))
			var fe *mockapns.FieldError
			if field != "-" {
				Expect(errors.As(err, &fe)).To(BeTrue())
				Expect(fe.Field).To(Equal(field))
			}
		},
		Entry("empty", ``, "-", "empty body"),
		Entry("not JSON", `{"token": `, "-", "bad JSON"),
		Entry("two values", `{"token": "aa"} {"token": "bb"}`, "-", "more than one value"),
		Entry("null", `null`, "", "want a JSON object"),
		Entry("a string", `"aa"`, "", "want a JSON object"),
		Entry("a bad token in the second element", `[{"token": "aa"}, {"token": "a"}]`, "token", "[1]: "),
		Entry("a null element", `[{"token": "aa"}, null]`, "", "[1]: "),
		Entry("an unknown member", `{"token": "aa", "when": 1}`, "when", `field "when"`),
	)

	It("reads one key or an array of them, and names a bad member", func() {
		k := mockapns.TrustedKey(mustAuthKey("KEY0000001", "TEAM000001"))
		b, err := json.Marshal([]mockapns.AuthKey{k, k})
		Expect(err).NotTo(HaveOccurred())
		keys, err := mockapns.ParseAuthKeysForTest(b)
		Expect(err).NotTo(HaveOccurred())
		Expect(keys).To(HaveLen(2))
		Expect(keys[1].PublicKey.Equal(k.PublicKey)).To(BeTrue())
		b, err = json.Marshal(k)
		Expect(err).NotTo(HaveOccurred())
		keys, err = mockapns.ParseAuthKeysForTest(b)
		Expect(err).NotTo(HaveOccurred())
		Expect(keys).To(HaveLen(1))

		_, err = mockapns.ParseAuthKeysForTest([]byte(`[{"key_id": "K", "team_id": "TEAM000001", "public_key": ""}]`))
		Expect(err).To(MatchError(mockapns.ErrBadAuthKey))
		Expect(err.Error()).To(ContainSubstring(`[0]: mockapns: bad auth key: field "key_id"`))
	})

	It("adds several keys at once, or none", func() {
		srv := startServer(mockapns.Config{})
		before := len(srv.AuthKeys())
		good := mockapns.TrustedKey(mustAuthKey("KEY0000001", "TEAM000001"))
		Expect(srv.AddAuthKeys(good, mockapns.AuthKey{KeyID: "bad"})).To(MatchError(ContainSubstring("key 1")))
		Expect(srv.AuthKeys()).To(HaveLen(before))
		Expect(srv.AddAuthKeys(good)).To(Succeed())
		Expect(srv.AuthKeys()).To(HaveLen(before + 1))
	})
})
