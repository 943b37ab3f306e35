package wire_test

import (
	"bytes"
	"math/rand/v2"

	"github.com/apnskit/apnskit/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("FramedTemplate", func() {
	It("writes what AppendBinary writes, for every set of items and token lengths", func() {
		r := rand.New(rand.NewPCG(1, 2))
		for present := range wire.AllFields + 1 {
			for _, payloadLen := range []int{0, 1, 30, 2048, 65535} {
				n := wire.Notification{Command: wire.CommandFramed, Present: present, Expiry: r.Uint32(), Priority: uint8(r.IntN(256)),
					Payload: bytes.Repeat([]byte{'p'}, payloadLen)}
				t, err := wire.NewFramedTemplate(n)
				Expect(err).NotTo(HaveOccurred())
				for _, tokLen := range []int{0, 1, 32, 100, 65535} {
					n.Token = bytes.Repeat([]byte{byte(tokLen)}, tokLen)
					n.ID = r.Uint32()
					want, err := n.AppendBinary([]byte{0xee})
					Expect(err).NotTo(HaveOccurred())
					got, err := t.Append([]byte{0xee}, n.Token, n.ID)
					Expect(err).NotTo(HaveOccurred())
					Expect(got).To(Equal(want), "items %b, payload %d, token %d", present, payloadLen, tokLen)
				}
			}
		}
	})

	It("refuses what AppendBinary refuses, leaving the buffer alone", func() {
		_, err := wire.NewFramedTemplate(wire.Notification{Command: wire.CommandEnhanced})
		Expect(err).To(MatchError(wire.ErrEncode))
		_, err = wire.NewFramedTemplate(wire.Notification{Command: wire.CommandFramed, Payload: make([]byte, 65536)})
		Expect(err).To(MatchError(wire.ErrEncode))
		t, err := wire.NewFramedTemplate(wire.Notification{Command: wire.CommandFramed})
		Expect(err).NotTo(HaveOccurred())
		got, err := t.Append([]byte{1}, make([]byte, 65536), 7)
		Expect(err).To(MatchError(wire.ErrEncode))
		Expect(got).To(Equal([]byte{1}))
	})
})
