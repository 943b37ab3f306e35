package mockapns

import (
	"bytes"
	"errors"
	"unsafe"

	"golang.org/x/net/http2/hpack"
)

// h2Decoder decodes HPACK header blocks (RFC 7541). It exists beside
// golang.org/x/net/http2/hpack, whose Decoder allocates a string for
// every literal, because Apple asks providers to send :path and
// authorization as literals that are never indexed: every request would
// allocate twice. Here the values of literals that are not indexed are
// copied into an arena the caller provides (the stream's, reused from one
// request to the next), and only fields entering the dynamic table are
// allocated. Huffman decoding and the static table are the hpack
// package's.
type h2Decoder struct {
	dyn        []hpack.HeaderField // newest last
	size       uint32              // of the entries, as RFC 7541 counts it
	maxSize    uint32              // set by the last size update
	allowedMax uint32              // HEADER_TABLE_SIZE we announced
	maxString  int
	huff       bytes.Buffer
}

var (
	errHpackIndex    = errors.New("hpack: invalid index")
	errHpackInteger  = errors.New("hpack: integer overflow or truncated")
	errHpackTruncate = errors.New("hpack: truncated header block")
	errHpackSize     = errors.New("hpack: dynamic table size update not at the start of a block, or too large")
	errHpackString   = errors.New("hpack: string too long")
)

// h2StaticTable is RFC 7541's static table, index 1 at [1].
var h2StaticTable = func() [62]hpack.HeaderField {
	var t [62]hpack.HeaderField
	d := hpack.NewDecoder(4096, nil)
	for i := 1; i < len(t); i++ {
		fs, err := d.DecodeFull([]byte{0x80 | byte(i)})
		if err != nil || len(fs) != 1 {
			panic("mockapns: hpack static table")
		}
		t[i] = hpack.HeaderField{Name: fs[0].Name, Value: fs[0].Value}
	}
	return t
}()

func newH2Decoder(tableSize uint32, maxString int) *h2Decoder {
	return &h2Decoder{maxSize: tableSize, allowedMax: tableSize, maxString: maxString}
}

// decode decodes a whole header block, calling emit for each field. Values
// that are not indexed are stored in *arena; the strings emitted stay valid
// until the arena is reused.
func (d *h2Decoder) decode(b []byte, arena *[]byte, emit func(hpack.HeaderField)) error {
	first := true
	for len(b) > 0 {
		c := b[0]
		switch {
		case c&0x80 != 0: // indexed
			i, rest, err := varint(b, 7)
			if err != nil {
				return err
			}
			f, ok := d.at(i)
			if !ok {
				return errHpackIndex
			}
			b = rest
			emit(f)
		case c&0xe0 == 0x20: // dynamic table size update
			if !first {
				return errHpackSize
			}
			n, rest, err := varint(b, 5)
			if err != nil {
				return err
			}
			if n > uint64(d.allowedMax) {
				return errHpackSize
			}
			d.maxSize = uint32(n)
			d.evict(0)
			b = rest
			continue // still at the start of the block
		default:
			index := c&0xc0 == 0x40 // with incremental indexing
			prefix := uint8(4)
			if index {
				prefix = 6
			}
			i, rest, err := varint(b, prefix)
			if err != nil {
				return err
			}
			b = rest
			var f hpack.HeaderField
			if i > 0 {
				nf, ok := d.at(i)
				if !ok {
					return errHpackIndex
				}
				f.Name = nf.Name
			} else if f.Name, b, err = d.str(b, arena, index); err != nil {
				return err
			}
			if f.Value, b, err = d.str(b, arena, index); err != nil {
				return err
			}
			f.Sensitive = c&0xf0 == 0x10
			if index {
				d.add(f)
			}
			emit(f)
		}
		first = false
	}
	return nil
}

// at returns the field at index i of the static and dynamic tables.
func (d *h2Decoder) at(i uint64) (hpack.HeaderField, bool) {
	switch {
	case i == 0:
		return hpack.HeaderField{}, false
	case i < uint64(len(h2StaticTable)):
		return h2StaticTable[i], true
	}
	j := i - uint64(len(h2StaticTable))
	if j >= uint64(len(d.dyn)) {
		return hpack.HeaderField{}, false
	}
	return d.dyn[len(d.dyn)-1-int(j)], true
}

// add inserts a field into the dynamic table, evicting the oldest to make
// room; a field larger than the table empties it.
func (d *h2Decoder) add(f hpack.HeaderField) {
	sz := f.Size()
	if sz > d.maxSize {
		d.dyn, d.size = d.dyn[:0], 0
		return
	}
	d.evict(sz)
	d.dyn = append(d.dyn, f)
	d.size += sz
}

// evict drops the oldest entries until room more bytes fit.
func (d *h2Decoder) evict(room uint32) {
	n := 0
	for d.size+room > d.maxSize && n < len(d.dyn) {
		d.size -= d.dyn[n].Size()
		n++
	}
	if n > 0 {
		d.dyn = append(d.dyn[:0], d.dyn[n:]...)
	}
}

// str reads a string literal. A string for the dynamic table is
// allocated; any other is copied into the arena.
func (d *h2Decoder) str(b []byte, arena *[]byte, keep bool) (string, []byte, error) {
	if len(b) == 0 {
		return "", nil, errHpackTruncate
	}
	huffman := b[0]&0x80 != 0
	n, rest, err := varint(b, 7)
	if err != nil {
		return "", nil, err
	}
	if n > uint64(len(rest)) {
		return "", nil, errHpackTruncate
	}
	raw, rest := rest[:n], rest[n:]
	if huffman {
		d.huff.Reset()
		if _, err := hpack.HuffmanDecode(&d.huff, raw); err != nil {
			return "", nil, err
		}
		raw = d.huff.Bytes()
	}
	if len(raw) > d.maxString {
		return "", nil, errHpackString
	}
	if keep || len(raw) == 0 {
		return string(raw), rest, nil
	}
	start := len(*arena)
	*arena = append(*arena, raw...)
	// The arena may move when it grows: the strings already made keep the
	// old array alive, and nothing writes to it again.
	s := (*arena)[start:]
	return unsafe.String(&s[0], len(s)), rest, nil
}

// varint reads an integer with an n-bit prefix (RFC 7541, 5.1), bounded to
// 32 bits.
func varint(b []byte, n uint8) (uint64, []byte, error) {
	mask := uint64(1)<<n - 1
	v := uint64(b[0]) & mask
	b = b[1:]
	if v < mask {
		return v, b, nil
	}
	var shift uint
	for len(b) > 0 {
		c := b[0]
		b = b[1:]
		v += uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 1<<32 {
				return 0, nil, errHpackInteger
			}
			return v, b, nil
		}
		if shift += 7; shift > 28 {
			return 0, nil, errHpackInteger
		}
	}
	return 0, nil, errHpackInteger
}
