package wire_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/wire"
)

func unixUTC(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

// decodeAll reads every notification from r, copying tokens and payloads.
func decodeAll(r io.Reader, opt wire.ParseOptions) ([]wire.Notification, error) {
	d := wire.NewDecoder(r, opt)
	var out []wire.Notification
	for {
		var n wire.Notification
		err := d.Decode(&n)
		if err != nil {
			return out, err
		}
		n.Token = bytes.Clone(n.Token)
		n.Payload = bytes.Clone(n.Payload)
		out = append(out, n)
	}
}

var _ = Describe("Status", func() {
	It("has Apple's names", func() {
		Expect(wire.Status(8).String()).To(Equal("invalid token"))
		Expect(wire.StatusShutdown.String()).To(Equal("shutdown"))
		Expect(wire.Status(9).String()).To(Equal("status 9"))
		Expect(wire.Status(9).Known()).To(BeFalse())
		Expect(wire.StatusProtocolError.Known()).To(BeTrue())
	})

	It("is an error matched with errors.Is through wrapping", func() {
		err := fmt.Errorf("send: %w", wire.StatusInvalidToken)
		Expect(errors.Is(err, wire.StatusInvalidToken)).To(BeTrue())
		Expect(errors.Is(err, wire.StatusShutdown)).To(BeFalse())
	})

	DescribeTable("tells a client what to do with the named notification",
		func(s wire.Status, want wire.Disposition) { Expect(s.Disposition()).To(Equal(want)) },
		Entry("1 retry", wire.StatusProcessingError, wire.Retry),
		Entry("255 retry", wire.StatusUnknown, wire.Retry),
		Entry("9 (undefined) retry", wire.Status(9), wire.Retry),
		Entry("2 drop token", wire.StatusMissingToken, wire.DropToken),
		Entry("5 drop token", wire.StatusInvalidTokenSize, wire.DropToken),
		Entry("8 drop token", wire.StatusInvalidToken, wire.DropToken),
		Entry("4 drop message", wire.StatusMissingPayload, wire.DropMessage),
		Entry("7 drop message", wire.StatusInvalidPayloadSize, wire.DropMessage),
		Entry("10 resume", wire.StatusShutdown, wire.Resume),
	)
})

var _ = Describe("ParseNotification", func() {
	It("accepts command-2 items in any order", func() {
		frame := unhex("02 00 00 00 4e" +
			" 05 00 01 0a" +
			" 03 00 04 01 02 03 04" +
			" 02 00 16 " + goldenPayload +
			" 04 00 04 5f 5e 10 00" +
			" 01 00 20 " + goldenToken)
		var n wire.Notification
		used, err := wire.ParseNotification(frame, &n, wire.ParseOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(used).To(Equal(len(frame)))
		Expect(cmp.Diff(goldenNotification(wire.CommandFramed), n)).To(BeEmpty())
	})

	It("round-trips a command-2 frame without optional items", func() {
		n := wire.Notification{Command: wire.CommandFramed, Token: []byte{1, 2}, Payload: []byte("{}")}
		b, err := n.MarshalBinary()
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(Equal(unhex("02 00 00 00 0a 01 00 02 01 02 02 00 02 7b 7d")))
		var back wire.Notification
		Expect(back.UnmarshalBinary(b)).To(Succeed())
		Expect(back.HasID()).To(BeFalse())
		Expect(cmp.Diff(n, back)).To(BeEmpty())
	})

	It("asks for more bytes at every cut of a valid frame", func() {
		frame := unhex(goldenFramed)
		for i := range len(frame) {
			var n wire.Notification
			_, err := wire.ParseNotification(frame[:i], &n, wire.ParseOptions{})
			Expect(err).To(MatchError(wire.ErrIncomplete), "cut at %d", i)
		}
	})

	It("refuses a 4 GB frame length from the header alone", func() {
		var n wire.Notification
		_, err := wire.ParseNotification(unhex("02 ff ff ff ff"), &n, wire.ParseOptions{})
		Expect(err).To(MatchError(wire.ErrFrameTooLarge))
		Expect(errors.Is(err, wire.StatusProtocolError)).To(BeTrue())
	})

	It("refuses an unknown command byte with status 128", func() {
		var n wire.Notification
		_, err := wire.ParseNotification([]byte{0x07, 1, 2}, &n, wire.ParseOptions{})
		var fe *wire.FrameError
		Expect(errors.As(err, &fe)).To(BeTrue())
		Expect(fe.Err).To(MatchError(wire.ErrUnknownCommand))
		Expect(fe.Status).To(Equal(wire.StatusProtocolError))
		Expect(fe.HasID).To(BeFalse())
	})

	DescribeTable("structural faults consume the frame and name its identifier",
		func(body string, sentinel error, opt wire.ParseOptions) {
			frame := framed(body)
			var n wire.Notification
			used, err := wire.ParseNotification(frame, &n, opt)
			Expect(err).To(MatchError(sentinel))
			Expect(used).To(Equal(len(frame)))
			var fe *wire.FrameError
			Expect(errors.As(err, &fe)).To(BeTrue())
			Expect(fe.HasID).To(BeTrue())
			Expect(fe.ID).To(Equal(uint32(7)))
			r, ok := fe.Response()
			Expect(ok).To(BeTrue())
			Expect(r).To(Equal(wire.ErrorResponse{Status: wire.StatusProtocolError, ID: 7}))
		},
		Entry("unknown item", "03 00 04 00 00 00 07 09 00 01 ff", wire.ErrUnknownItem, wire.ParseOptions{}),
		Entry("repeated item", "03 00 04 00 00 00 07 02 00 02 7b 7d 02 00 02 7b 7d", wire.ErrDuplicateItem, wire.ParseOptions{}),
		Entry("identifier of 3 bytes", "02 00 02 7b 7d 03 00 04 00 00 00 07 05 00 02 0a 0a", wire.ErrMalformedItem, wire.ParseOptions{}),
		Entry("item past the frame end", "03 00 04 00 00 00 07 02 00 09 7b", wire.ErrMalformedItem, wire.ParseOptions{}),
		Entry("every item in the usual order, then an unknown one",
			"01 00 01 aa 02 00 02 7b 7d 03 00 04 00 00 00 07 04 00 04 00 00 00 00 05 00 01 0a 09 00 01 ff", wire.ErrUnknownItem, wire.ParseOptions{}),
		Entry("every item in the usual order, the priority of 2 bytes",
			"01 00 01 aa 02 00 02 7b 7d 03 00 04 00 00 00 07 04 00 04 00 00 00 00 05 00 02 0a 0a", wire.ErrMalformedItem, wire.ParseOptions{}),
	)

	It("skips unknown items and keeps the last repeat when relaxed", func() {
		frame := framed("01 00 01 aa 09 00 01 ff 01 00 01 bb 02 00 02 7b 7d")
		var n wire.Notification
		_, err := wire.ParseNotification(frame, &n, wire.ParseOptions{AllowUnknownItems: true, AllowDuplicateItems: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(n.Token).To(Equal([]byte{0xbb}))
	})

	It("never encodes a token longer than 65535 bytes", func() {
		n := wire.Notification{Command: wire.CommandFramed, Token: make([]byte, 1<<16), Payload: []byte("{}")}
		_, err := n.MarshalBinary()
		Expect(err).To(MatchError(wire.ErrEncode))
		n = wire.Notification{Command: 3}
		_, err = n.AppendBinary(nil)
		Expect(err).To(MatchError(wire.ErrEncode))
	})
})

// framed wraps hex items in a command-2 header with the right length.
func framed(items string) []byte {
	body := unhex(items)
	return append([]byte{2, 0, 0, byte(len(body) >> 8), byte(len(body))}, body...)
}

var _ = Describe("Validate", func() {
	ok := func() wire.Notification { return goldenNotification(wire.CommandFramed) }
	DescribeTable("maps each rule to Apple's status",
		func(mutate func(*wire.Notification), l wire.Limits, want wire.Status) {
			n := ok()
			mutate(&n)
			err := wire.Validate(&n, l)
			if want == wire.StatusNoError {
				Expect(err).NotTo(HaveOccurred())
				return
			}
			Expect(errors.Is(err, want)).To(BeTrue(), "got %v", err)
			var fe *wire.FrameError
			Expect(errors.As(err, &fe)).To(BeTrue())
			Expect(fe.ID).To(Equal(n.ID))
		},
		Entry("valid", func(*wire.Notification) {}, wire.Limits{}, wire.StatusNoError),
		Entry("empty token: 2", func(n *wire.Notification) { n.Token = nil }, wire.Limits{}, wire.StatusMissingToken),
		Entry("31-byte token: 5", func(n *wire.Notification) { n.Token = n.Token[:31] }, wire.Limits{}, wire.StatusInvalidTokenSize),
		Entry("31-byte token, any length: ok", func(n *wire.Notification) { n.Token = n.Token[:31] }, wire.Limits{TokenLength: -1}, wire.StatusNoError),
		Entry("101-byte token, any length: 5", func(n *wire.Notification) { n.Token = make([]byte, 101) }, wire.Limits{TokenLength: -1}, wire.StatusInvalidTokenSize),
		Entry("empty payload: 4", func(n *wire.Notification) { n.Payload = nil }, wire.Limits{}, wire.StatusMissingPayload),
		Entry("2049-byte payload: 7", func(n *wire.Notification) { n.Payload = make([]byte, 2049) }, wire.Limits{}, wire.StatusInvalidPayloadSize),
		Entry("2048-byte payload: ok", func(n *wire.Notification) { n.Payload = make([]byte, 2048) }, wire.Limits{}, wire.StatusNoError),
		Entry("257 bytes, legacy limit: 7", func(n *wire.Notification) { n.Payload = make([]byte, 257) }, wire.Limits{MaxPayload: 256}, wire.StatusInvalidPayloadSize),
		Entry("priority 7: 255", func(n *wire.Notification) { n.Priority = 7 }, wire.Limits{}, wire.StatusUnknown),
	)
})

var _ = Describe("Decoder", func() {
	var stream []byte
	var want []wire.Notification
	BeforeEach(func() {
		stream, want = nil, nil
		for i, cmd := range []wire.Command{wire.CommandFramed, wire.CommandEnhanced, wire.CommandSimple, wire.CommandFramed} {
			n := goldenNotification(cmd)
			n.ID += uint32(i)
			if cmd == wire.CommandSimple {
				n.ID = 0
			}
			b, err := n.AppendBinary(stream)
			Expect(err).NotTo(HaveOccurred())
			stream = b
			want = append(want, n)
		}
	})

	It("decodes frames packed together in one read", func() {
		got, err := decodeAll(bytes.NewReader(stream), wire.ParseOptions{})
		Expect(err).To(MatchError(io.EOF))
		Expect(cmp.Diff(want, got)).To(BeEmpty())
	})

	It("decodes frames split across one-byte reads", func() {
		got, err := decodeAll(iotest.OneByteReader(bytes.NewReader(stream)), wire.ParseOptions{})
		Expect(err).To(MatchError(io.EOF))
		Expect(cmp.Diff(want, got)).To(BeEmpty())
	})

	It("reports a stream cut inside a frame", func() {
		got, err := decodeAll(bytes.NewReader(stream[:len(stream)-3]), wire.ParseOptions{})
		Expect(err).To(MatchError(io.ErrUnexpectedEOF))
		Expect(got).To(HaveLen(3))
	})

	It("does not grow its buffer to a claimed 4 GB frame", func() {
		d := wire.NewDecoder(io.MultiReader(bytes.NewReader(unhex("02 ff ff ff ff")), infiniteZeros{}), wire.ParseOptions{})
		var n wire.Notification
		Expect(d.Decode(&n)).To(MatchError(wire.ErrFrameTooLarge))
		Expect(cap(d.Buffered())).To(BeNumerically("<=", 1<<17))
	})

	It("counts the bytes of decoded frames", func() {
		d := wire.NewDecoder(bytes.NewReader(stream), wire.ParseOptions{})
		var n wire.Notification
		Expect(d.Decode(&n)).To(Succeed())
		Expect(d.Consumed()).To(Equal(int64(83)))
	})
})

type infiniteZeros struct{}

func (infiniteZeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

var _ = Describe("FeedbackReader", func() {
	tuples := []wire.FeedbackTuple{
		{Time: unixUTC(1700000000), Token: unhex(goldenToken)},
		{Time: unixUTC(1700000001), Token: []byte{0xab, 0xcd}}, // variable length
		{Time: unixUTC(0), Token: make([]byte, 100)},
	}
	var stream []byte
	BeforeEach(func() {
		stream = nil
		for _, t := range tuples {
			stream, _ = t.AppendBinary(stream)
		}
	})

	read := func(r io.Reader) ([]wire.FeedbackTuple, error) {
		fr := wire.NewFeedbackReader(r)
		var out []wire.FeedbackTuple
		for {
			t, err := fr.Next()
			if err != nil {
				return out, err
			}
			out = append(out, t)
		}
	}

	It("reads coalesced tuples of variable length", func() {
		got, err := read(bytes.NewReader(stream))
		Expect(err).To(MatchError(io.EOF))
		Expect(cmp.Diff(tuples, got)).To(BeEmpty())
	})

	It("reads tuples split mid-tuple across reads", func() {
		got, err := read(iotest.OneByteReader(bytes.NewReader(stream)))
		Expect(err).To(MatchError(io.EOF))
		Expect(cmp.Diff(tuples, got)).To(BeEmpty())
	})

	It("reports a stream cut mid-tuple after the whole tuples", func() {
		got, err := read(bytes.NewReader(stream[:38+4]))
		Expect(err).To(MatchError(wire.ErrMalformedFeedback))
		Expect(err).To(MatchError(io.ErrUnexpectedEOF))
		Expect(got).To(HaveLen(1))
	})

	It("refuses times it cannot encode", func() {
		_, err := wire.FeedbackTuple{Time: time.Unix(-1, 0), Token: []byte{1}}.AppendBinary(nil)
		Expect(err).To(MatchError(wire.ErrEncode))
	})
})
