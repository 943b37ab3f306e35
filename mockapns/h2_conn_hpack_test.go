package mockapns

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	g "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/http2/hpack"
)

// decodeBoth decodes block with h2Decoder and with the hpack package's
// Decoder (same limits), each carrying its table over from earlier blocks.
func decodeBoth(mine *h2Decoder, theirs *hpack.Decoder, block []byte) (m, t []hpack.HeaderField, me, te error) {
	var arena []byte
	me = mine.decode(block, &arena, func(f hpack.HeaderField) {
		f.Sensitive = false
		m = append(m, hpack.HeaderField{Name: strings.Clone(f.Name), Value: strings.Clone(f.Value)})
	})
	t, te = theirs.DecodeFull(block)
	for i := range t {
		t[i].Sensitive = false
	}
	return m, t, me, te
}

func newTheirs() *hpack.Decoder {
	d := hpack.NewDecoder(h2HeaderTableSize, nil)
	d.SetMaxStringLength(h2MaxHeaderListSize)
	d.SetAllowedMaxDynamicTableSize(h2HeaderTableSize)
	return d
}

var _ = g.Describe("h2Decoder", func() {
	g.It("decodes what hpack's Encoder writes, block after block, as hpack's Decoder does", func() {
		rng := rand.New(rand.NewPCG(1, 2))
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		mine, theirs := newH2Decoder(h2HeaderTableSize, h2MaxHeaderListSize), newTheirs()
		names := []string{":path", "authorization", "apns-topic", "apns-id", "x-custom", ":method", "content-type"}
		for block := range 300 {
			buf.Reset()
			if block%50 == 7 {
				enc.SetMaxDynamicTableSize(uint32(rng.IntN(h2HeaderTableSize + 1)))
			}
			for range 1 + rng.IntN(12) {
				v := strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(300)) + fmt.Sprint(rng.IntN(20))
				Expect(enc.WriteField(hpack.HeaderField{Name: names[rng.IntN(len(names))], Value: v,
					Sensitive: rng.IntN(3) == 0})).To(Succeed())
			}
			m, t, me, te := decodeBoth(mine, theirs, buf.Bytes())
			Expect(me).NotTo(HaveOccurred())
			Expect(te).NotTo(HaveOccurred())
			Expect(m).To(Equal(t), "block %d", block)
		}
	})

	g.It("refuses what it must", func() {
		for _, b := range [][]byte{
			{0x80},             // index 0
			{0xff, 0x00},       // index 127 + 0: beyond both tables
			{0x3f, 0xe2, 0x1f}, // a table size update to 4097
			{0x82, 0x20},       // size update after a field
			{0x40, 0x05, 'a'},  // name shorter than its length
			{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // integer overflow
			{0x00, 0x81, 0xff},                         // Huffman with an EOS code
		} {
			var arena []byte
			err := newH2Decoder(h2HeaderTableSize, h2MaxHeaderListSize).decode(b, &arena, func(hpack.HeaderField) {})
			Expect(err).To(HaveOccurred(), "% x", b)
		}
	})

	g.It("does not allocate for literals that are not indexed", func() {
		// Without Huffman coding: hpack.HuffmanDecode draws on a
		// sync.Pool, which the race detector empties at random.
		block := []byte{0x14, 16} // :path (static 4), never indexed
		block = append(block, "/3/device/abcdef"...)
		block = append(block, 0x1f, 0x08, 12) // authorization (static 23), never indexed
		block = append(block, "bearer x.y.z"...)
		block = append(block, 0x83) // :method POST
		var fields []hpack.HeaderField
		var arena []byte
		Expect(newH2Decoder(h2HeaderTableSize, h2MaxHeaderListSize).decode(block, &arena,
			func(f hpack.HeaderField) { fields = append(fields, f) })).To(Succeed())
		Expect(fields).To(Equal([]hpack.HeaderField{{Name: ":path", Value: "/3/device/abcdef", Sensitive: true},
			{Name: "authorization", Value: "bearer x.y.z", Sensitive: true}, {Name: ":method", Value: "POST"}}))
		d := newH2Decoder(h2HeaderTableSize, h2MaxHeaderListSize)
		arena = make([]byte, 0, 256)
		n := 0
		emit := func(hpack.HeaderField) { n++ }
		allocs := testing.AllocsPerRun(100, func() {
			arena = arena[:0]
			_ = d.decode(block, &arena, emit)
		})
		Expect(allocs).To(BeZero())
		Expect(n).To(Equal(303))
	})
})

// FuzzH2Decoder compares h2Decoder with the hpack package's Decoder on
// arbitrary blocks: whatever it accepts, hpack accepts, with the same
// fields (it may refuse more: a table size update only at a block's start).
func FuzzH2Decoder(f *testing.F) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	_ = enc.WriteField(hpack.HeaderField{Name: ":path", Value: "/3/device/ab", Sensitive: true})
	_ = enc.WriteField(hpack.HeaderField{Name: "apns-topic", Value: "com.example"})
	_ = enc.WriteField(hpack.HeaderField{Name: "apns-topic", Value: "com.example"})
	f.Add(bytes.Clone(buf.Bytes()), []byte{0x82, 0xbe})
	f.Add([]byte{0x3f, 0xe1, 0x1f}, []byte{0x20, 0x82})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		mine, theirs := newH2Decoder(h2HeaderTableSize, h2MaxHeaderListSize), newTheirs()
		for _, block := range [][]byte{a, b} {
			m, th, me, te := decodeBoth(mine, theirs, block)
			if me != nil {
				return // it refuses: the connection ends
			}
			if te != nil {
				t.Fatalf("accepted % x, which hpack refuses (%v)", block, te)
			}
			if fmt.Sprint(m) != fmt.Sprint(th) {
				t.Fatalf("% x: got %v, hpack %v", block, m, th)
			}
		}
	})
}
