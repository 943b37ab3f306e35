package mockapns_test

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
)

// tokenEq lets go-cmp compare tokens, whose bytes are unexported.
var tokenEq = cmpopts.EquateComparable(apns.Token{})

var _ = Describe("HTTP/2 device state", func() {
	var srv *mockapns.Server
	tokA := apns.MustParseToken("aa00")
	tokB := apns.MustParseToken("bb00")
	gone := time.Date(2026, 11, 30, 12, 0, 0, 123_000_000, time.UTC)
	BeforeEach(func() { srv = startServer(mockapns.Config{}) })

	It("lets every token through while no device is known", func() {
		r, at := srv.CheckDeviceForTest(tokA, topic)
		Expect(r).To(BeEmpty())
		Expect(at.IsZero()).To(BeTrue())
		Expect(srv.Devices()).To(BeEmpty())
	})

	It("answers Unregistered with the time for a device unregistered since then", func() {
		Expect(srv.SetDevice(mockapns.Device{Token: tokA, UnregisteredAt: gone})).To(Succeed())
		r, at := srv.CheckDeviceForTest(tokA, topic)
		Expect(r).To(Equal(apns.ReasonUnregistered))
		Expect(r.Status()).To(Equal(410))
		Expect(at).To(Equal(gone))
		Expect(at.UnixMilli()).To(Equal(gone.Unix()*1000 + 123))
		r, _ = srv.CheckDeviceForTest(tokB, topic)
		Expect(r).To(BeEmpty())
	})

	It("answers DeviceTokenNotForTopic for a device bound to another topic", func() {
		Expect(srv.SetDevice(mockapns.Device{Token: tokA, Topic: "com.example.other"})).To(Succeed())
		r, _ := srv.CheckDeviceForTest(tokA, topic)
		Expect(r).To(Equal(apns.ReasonDeviceTokenNotForTopic))
		r, _ = srv.CheckDeviceForTest(tokA, "com.example.other")
		Expect(r).To(BeEmpty())
	})

	It("judges the topic before the registration", func() {
		Expect(srv.SetDevice(mockapns.Device{Token: tokA, Topic: "com.example.other", UnregisteredAt: gone})).To(Succeed())
		r, _ := srv.CheckDeviceForTest(tokA, topic)
		Expect(r).To(Equal(apns.ReasonDeviceTokenNotForTopic))
		r, at := srv.CheckDeviceForTest(tokA, "com.example.other")
		Expect(r).To(Equal(apns.ReasonUnregistered))
		Expect(at).To(Equal(gone))
	})

	It("lists, replaces, removes and clears devices", func() {
		Expect(srv.SetDevices(mockapns.Device{Token: tokB, Topic: "t"}, mockapns.Device{Token: tokA, UnregisteredAt: gone})).To(Succeed())
		Expect(srv.SetDevice(mockapns.Device{Token: tokB, Topic: "u"})).To(Succeed())
		want := []mockapns.Device{{Token: tokA, UnregisteredAt: gone}, {Token: tokB, Topic: "u"}}
		Expect(cmp.Diff(want, srv.Devices(), tokenEq)).To(BeEmpty())
		Expect(srv.RemoveDevice(tokA)).To(BeTrue())
		Expect(srv.RemoveDevice(tokA)).To(BeFalse())
		r, _ := srv.CheckDeviceForTest(tokA, topic)
		Expect(r).To(BeEmpty())
		srv.ClearDevices()
		Expect(srv.Devices()).To(BeEmpty())
		r, _ = srv.CheckDeviceForTest(tokB, topic)
		Expect(r).To(BeEmpty())
	})

	It("refuses a device without token, and all of a batch with one", func() {
		err := srv.SetDevice(mockapns.Device{Topic: "t"})
		Expect(err).To(MatchError(mockapns.ErrBadDevice))
		var fe *mockapns.FieldError
		Expect(errors.As(err, &fe)).To(BeTrue())
		Expect(fe.Field).To(Equal("token"))
		Expect(srv.SetDevices(mockapns.Device{Token: tokA}, mockapns.Device{})).To(MatchError(ContainSubstring("device 1")))
		Expect(srv.Devices()).To(BeEmpty())
	})

	It("is forgotten by Reset", func() {
		Expect(srv.SetDevice(mockapns.Device{Token: tokA, UnregisteredAt: gone})).To(Succeed())
		srv.Reset()
		Expect(srv.Devices()).To(BeEmpty())
		r, _ := srv.CheckDeviceForTest(tokA, topic)
		Expect(r).To(BeEmpty())
	})

	It("reads and writes the JSON form", func() {
		d := mockapns.Device{Token: tokA, Topic: "t", UnregisteredAt: gone}
		b, err := json.Marshal(d)
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(MatchJSON(`{"token": "aa00", "topic": "t", "unregistered_at": "2026-11-30T12:00:00.123Z"}`))
		var back mockapns.Device
		Expect(json.Unmarshal(b, &back)).To(Succeed())
		Expect(cmp.Diff(d, back, tokenEq)).To(BeEmpty())

		b, err = json.Marshal(mockapns.Device{Token: tokB})
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(MatchJSON(`{"token": "bb00"}`))

		var list []mockapns.Device
		Expect(json.Unmarshal([]byte(`[{"token": "AA00", "unregistered_at": "2026-11-30T13:00:00+01:00"}]`), &list)).To(Succeed())
		Expect(list).To(HaveLen(1))
		Expect(list[0].Token).To(Equal(tokA))
		Expect(list[0].UnregisteredAt.Equal(gone.Add(-123 * time.Millisecond))).To(BeTrue())
	})

	DescribeTable("refuses bad JSON naming the member, leaving the value alone",
		func(in, field string) {
			d := mockapns.Device{Token: tokB}
			err := json.Unmarshal([]byte(in), &d)
			Expect(err).To(MatchError(mockapns.ErrBadDevice))
			var fe *mockapns.FieldError
			Expect(errors.As(err, &fe)).To(BeTrue())
			Expect(fe.Field).To(Equal(field))
			Expect(d).To(Equal(mockapns.Device{Token: tokB}))
		},
		Entry("not an object", `[1]`, ""),
		Entry("null", `null`, ""),
		Entry("no token", `{"topic": "t"}`, "token"),
		Entry("token a number", `{"token": 12}`, "token"),
		Entry("token not hex", `{"token": "zz"}`, "token"),
		Entry("token odd", `{"token": "abc"}`, "token"),
		Entry("topic a number", `{"token": "aa", "topic": 1}`, "topic"),
		Entry("time not RFC 3339", `{"token": "aa", "unregistered_at": "yesterday"}`, "unregistered_at"),
		Entry("time a number", `{"token": "aa", "unregistered_at": 1700000000000}`, "unregistered_at"),
		Entry("an unknown member", `{"token": "aa", "topics": ["t"]}`, "topics"),
	)
})

var _ = Describe("HTTP/2 trusted keys", func() {
	var (
		srv *mockapns.Server
		pki *certs.PKI
		key *certs.AuthKey
	)
	BeforeEach(func() {
		var err error
		pki, err = certs.New(certs.Options{KeyID: "PKIKEY0001", TeamID: "TEAM000001"})
		Expect(err).NotTo(HaveOccurred())
		key = mustAuthKey("KEY0000002", "TEAM000002")
		srv = startServer(mockapns.Config{PKI: pki, AuthKeys: []mockapns.AuthKey{mockapns.TrustedKey(key)}})
	})

	keyIDs := func() []string {
		var ids []string
		for _, k := range srv.AuthKeys() {
			ids = append(ids, k.KeyID)
		}
		return ids
	}

	It("trusts the PKI's key and the configured ones, listed by key ID", func() {
		ks := srv.AuthKeys()
		Expect(keyIDs()).To(Equal([]string{"KEY0000002", "PKIKEY0001"}))
		Expect(ks[0].TeamID).To(Equal("TEAM000002"))
		Expect(ks[0].PublicKey.Equal(&key.Key.PublicKey)).To(BeTrue())
		Expect(ks[1].PublicKey.Equal(&pki.AuthKey.Key.PublicKey)).To(BeTrue())
	})

	It("adds, replaces and removes keys; Reset brings back those of the start", func() {
		extra := mustAuthKey("KEY0000003", "TEAM000003")
		Expect(srv.AddAuthKey(mockapns.TrustedKey(extra))).To(Succeed())
		replaced := mustAuthKey("KEY0000002", "TEAM000009")
		Expect(srv.AddAuthKey(mockapns.TrustedKey(replaced))).To(Succeed())
		Expect(keyIDs()).To(Equal([]string{"KEY0000002", "KEY0000003", "PKIKEY0001"}))
		Expect(srv.AuthKeys()[0].TeamID).To(Equal("TEAM000009"))
		Expect(srv.RemoveAuthKey("PKIKEY0001")).To(BeTrue())
		Expect(srv.RemoveAuthKey("PKIKEY0001")).To(BeFalse())
		Expect(keyIDs()).To(Equal([]string{"KEY0000002", "KEY0000003"}))
		srv.ClearAuthKeys()
		Expect(srv.AuthKeys()).To(BeEmpty())

		srv.Reset()
		Expect(keyIDs()).To(Equal([]string{"KEY0000002", "PKIKEY0001"}))
		Expect(srv.AuthKeys()[0].TeamID).To(Equal("TEAM000002"))
	})

	DescribeTable("refuses a key of the wrong shape, naming the member",
		func(k mockapns.AuthKey, field string) {
			err := srv.AddAuthKey(k)
			Expect(err).To(MatchError(mockapns.ErrBadAuthKey))
			var fe *mockapns.FieldError
			Expect(errors.As(err, &fe)).To(BeTrue())
			Expect(fe.Field).To(Equal(field))
			Expect(keyIDs()).To(Equal([]string{"KEY0000002", "PKIKEY0001"}))
		},
		Entry("short key ID", mockapns.AuthKey{KeyID: "K", TeamID: "TEAM000001"}, "key_id"),
		Entry("long team ID", mockapns.AuthKey{KeyID: "KEY0000001", TeamID: "TEAM0000011"}, "team_id"),
		Entry("no public key", mockapns.AuthKey{KeyID: "KEY0000001", TeamID: "TEAM000001"}, "public_key"),
	)

	It("makes a trusted key from a .p8 or a public-key PEM", func() {
		p8, err := key.PrivatePEM()
		Expect(err).NotTo(HaveOccurred())
		pub, err := key.PublicPEM()
		Expect(err).NotTo(HaveOccurred())
		for _, in := range [][]byte{p8, pub} {
			k, err := mockapns.ParseTrustedKey("KEY0000002", "TEAM000002", in)
			Expect(err).NotTo(HaveOccurred())
			Expect(k.KeyID).To(Equal("KEY0000002"))
			Expect(k.TeamID).To(Equal("TEAM000002"))
			Expect(k.PublicKey.Equal(&key.Key.PublicKey)).To(BeTrue())
		}
		_, err = mockapns.ParseTrustedKey("KEY0000002", "TEAM000002", []byte("junk"))
		Expect(err).To(MatchError(mockapns.ErrBadAuthKey))
		Expect(err).To(MatchError(certs.ErrNoPEM))
		_, err = mockapns.ParseTrustedKey("KEY", "TEAM000002", pub)
		var fe *mockapns.FieldError
		Expect(errors.As(err, &fe)).To(BeTrue())
		Expect(fe.Field).To(Equal("key_id"))
	})

	It("refuses to start with a bad configured key", func() {
		_, err := mockapns.Start(mockapns.Config{AuthKeys: []mockapns.AuthKey{{KeyID: "x"}}})
		Expect(err).To(MatchError(mockapns.ErrBadAuthKey))
		Expect(err).To(MatchError(ContainSubstring("Config.AuthKeys[0]")))
	})

	It("reads and writes the JSON form, public key as PEM, a .p8 accepted", func() {
		b, err := json.Marshal(mockapns.TrustedKey(key))
		Expect(err).NotTo(HaveOccurred())
		pub, err := key.PublicPEM()
		Expect(err).NotTo(HaveOccurred())
		want, err := json.Marshal(map[string]string{"key_id": "KEY0000002", "team_id": "TEAM000002", "public_key": string(pub)})
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(MatchJSON(want))
		var back mockapns.AuthKey
		Expect(json.Unmarshal(b, &back)).To(Succeed())
		Expect(back.KeyID).To(Equal("KEY0000002"))
		Expect(back.PublicKey.Equal(&key.Key.PublicKey)).To(BeTrue())

		p8, err := key.PrivatePEM()
		Expect(err).NotTo(HaveOccurred())
		in, err := json.Marshal(map[string]string{"key_id": "KEY0000002", "team_id": "TEAM000002", "public_key": string(p8)})
		Expect(err).NotTo(HaveOccurred())
		var fromP8 mockapns.AuthKey
		Expect(json.Unmarshal(in, &fromP8)).To(Succeed())
		Expect(fromP8.PublicKey.Equal(&key.Key.PublicKey)).To(BeTrue())
		again, err := json.Marshal(fromP8)
		Expect(err).NotTo(HaveOccurred())
		Expect(again).To(MatchJSON(want), "only the public half is kept")
	})

	DescribeTable("refuses bad key JSON naming the member, leaving the value alone",
		func(in, field string) {
			k := mockapns.TrustedKey(key)
			err := json.Unmarshal([]byte(in), &k)
			Expect(err).To(MatchError(mockapns.ErrBadAuthKey))
			var fe *mockapns.FieldError
			Expect(errors.As(err, &fe)).To(BeTrue())
			Expect(fe.Field).To(Equal(field))
			Expect(k.KeyID).To(Equal("KEY0000002"))
		},
		Entry("not an object", `"x"`, ""),
		Entry("no key_id", `{"team_id": "TEAM000001", "public_key": ""}`, "key_id"),
		Entry("key_id a number", `{"key_id": 1, "team_id": "TEAM000001", "public_key": ""}`, "key_id"),
		Entry("no public_key", `{"key_id": "KEY0000001", "team_id": "TEAM000001"}`, "public_key"),
		Entry("public_key not PEM", `{"key_id": "KEY0000001", "team_id": "TEAM000001", "public_key": "abc"}`, "public_key"),
		Entry("short team_id", `{"key_id": "KEY0000001", "team_id": "T", "public_key": "abc"}`, "team_id"),
		Entry("an unknown member", `{"key_id": "KEY0000001", "team_id": "TEAM000001", "public_key": "", "private": 1}`, "private"),
	)
})
