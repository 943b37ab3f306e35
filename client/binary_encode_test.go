package client_test

import (
	"testing"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Frame encoding", func() {
	m := &client.Message{Tokens: tokens(1, 256), Alert: "hello", Priority: 10, Expiry: client.ExpireAt(time.Unix(1600000000, 0))}

	It("encodes command 2 with token, payload, identifier, expiry and priority", func() {
		enc, err := client.NewFrameEncoder(m)
		Expect(err).NotTo(HaveOccurred())
		frame := enc.Append(nil, 3, 0x01020304)
		var n wire.Notification
		Expect(n.UnmarshalBinary(frame)).To(Succeed())
		Expect(n).To(Equal(wire.Notification{Command: wire.CommandFramed, ID: 0x01020304, Expiry: 1600000000, Priority: 10,
			Present: wire.AllFields, Token: n.Token, Payload: []byte(`{"aps":{"alert":"hello"}}`)}))
		Expect(n.Token).To(HaveLen(32))
		Expect(n.Token[31]).To(Equal(byte(4))) // tokens(1, ...)[3] ends in 04
	})

	It("allocates nothing per notification", func() {
		enc, err := client.NewFrameEncoder(m)
		Expect(err).NotTo(HaveOccurred())
		buf := make([]byte, 0, 64<<10)
		allocs := testing.AllocsPerRun(100, func() {
			buf = buf[:0]
			for i := range 256 {
				buf = enc.Append(buf, i, uint32(i+1))
			}
		})
		Expect(allocs).To(BeZero())
	})
})
