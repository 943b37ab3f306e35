package wire_test

import (
	"encoding/hex"
	"strings"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/wire"
)

// unhex turns a hand-written vector ("02 00 00 00 4e ...") into bytes.
func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Worked byte examples of the binary frames, written out by hand: token 00..1f,
// payload {"aps":{"alert":"Hi"}}, identifier 0x01020304, expiry 0x5F5E1000,
// priority 10.
const (
	goldenToken   = "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f"
	goldenPayload = "7b 22 61 70 73 22 3a 7b 22 61 6c 65 72 74 22 3a 22 48 69 22 7d 7d"

	goldenFramed = "02 00 00 00 4e" +
		" 01 00 20 " + goldenToken +
		" 02 00 16 " + goldenPayload +
		" 03 00 04 01 02 03 04" +
		" 04 00 04 5f 5e 10 00" +
		" 05 00 01 0a"
	goldenEnhanced = "01 01 02 03 04 5f 5e 10 00 00 20 " + goldenToken + " 00 16 " + goldenPayload
	goldenSimple   = "00 00 20 " + goldenToken + " 00 16 " + goldenPayload
	goldenError    = "08 08 01 02 03 04"
)

func goldenNotification(cmd wire.Command) wire.Notification {
	n := wire.Notification{
		Command: cmd,
		Token:   unhex(goldenToken),
		Payload: []byte(`{"aps":{"alert":"Hi"}}`),
	}
	switch cmd {
	case wire.CommandEnhanced:
		n.ID, n.Expiry = 0x01020304, 0x5F5E1000
	case wire.CommandFramed:
		n.ID, n.Expiry, n.Priority, n.Present = 0x01020304, 0x5F5E1000, 10, wire.AllFields
	}
	return n
}

var _ = Describe("golden vectors", func() {
	DescribeTable("encodes and decodes each command byte for byte",
		func(cmd wire.Command, vector string, size int) {
			want := unhex(vector)
			Expect(want).To(HaveLen(size))
			n := goldenNotification(cmd)

			got, err := n.MarshalBinary()
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want), "encoded\n got %x\nwant %x", got, want)
			Expect(n.EncodedLen()).To(Equal(size))

			var back wire.Notification
			Expect(back.UnmarshalBinary(want)).To(Succeed())
			Expect(cmp.Diff(n, back)).To(BeEmpty())
		},
		Entry("command 2", wire.CommandFramed, goldenFramed, 83),
		Entry("command 1", wire.CommandEnhanced, goldenEnhanced, 67),
		Entry("command 0", wire.CommandSimple, goldenSimple, 59),
	)

	It("encodes and decodes the error response", func() {
		r := wire.ErrorResponse{Status: wire.StatusInvalidToken, ID: 0x01020304}
		b, err := r.MarshalBinary()
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(Equal(unhex(goldenError)))

		var back wire.ErrorResponse
		Expect(back.UnmarshalBinary(b)).To(Succeed())
		Expect(back).To(Equal(r))
	})

	It("reads status bytes 128 and 255 unsigned", func() {
		var r wire.ErrorResponse
		Expect(r.UnmarshalBinary(unhex("08 ff 00 00 00 07"))).To(Succeed())
		Expect(r).To(Equal(wire.ErrorResponse{Status: wire.StatusUnknown, ID: 7}))
		Expect(r.UnmarshalBinary(unhex("08 80 00 00 00 00"))).To(Succeed())
		Expect(r.Status).To(Equal(wire.StatusProtocolError))
	})

	It("refuses an error response of the wrong size or command", func() {
		var r wire.ErrorResponse
		Expect(r.UnmarshalBinary(unhex("08 08 00 00 00"))).To(MatchError(wire.ErrMalformedResponse))
		Expect(r.UnmarshalBinary(unhex("07 08 00 00 00 01"))).To(MatchError(wire.ErrMalformedResponse))
	})

	It("encodes a feedback tuple as time | len | token (38 bytes for 32)", func() {
		t := wire.FeedbackTuple{Time: unixUTC(0x5F5E1000), Token: unhex(goldenToken)}
		b, err := t.AppendBinary(nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(Equal(unhex("5f 5e 10 00 00 20 " + goldenToken)))
		Expect(b).To(HaveLen(38))
	})
})

var _ = Describe("ErrorResponse.String", func() {
	It("names the status without the error prefix", func() {
		r := wire.ErrorResponse{Status: wire.StatusInvalidToken, ID: 42}
		Expect(r.String()).To(Equal("status 8 (invalid token) id 42"))
	})
})
