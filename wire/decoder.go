package wire

import (
	"errors"
	"fmt"
	"io"
)

// defaultBufferSize is the decoder's initial buffer: many frames per read.
const defaultBufferSize = 64 << 10

// Decoder reads notifications from a byte stream in which frames may be
// split across reads or packed together. It grows its buffer only as bytes
// arrive, never to a size a length field claims, and never beyond one frame
// of the largest size ParseOptions allow.
type Decoder struct {
	r    io.Reader
	opt  ParseOptions
	buf  []byte
	off  int   // start of undecoded data in buf
	read int64 // bytes consumed by decoded frames
}

// NewDecoder returns a decoder reading from r with the given options.
func NewDecoder(r io.Reader, opt ParseOptions) *Decoder {
	return &Decoder{r: r, opt: opt, buf: make([]byte, 0, defaultBufferSize)}
}

// Decode reads the next notification into n. Token and Payload alias the
// decoder's buffer and stay valid until the next call to Decode.
//
// It returns io.EOF when the stream ends between frames, an error wrapping
// io.ErrUnexpectedEOF when it ends inside one, a [*FrameError] for a frame
// that can never be valid (the frame's bytes, as far as they were read,
// are consumed), and read errors as they are.
func (d *Decoder) Decode(n *Notification) error {
	for {
		used, err := ParseNotification(d.buf[d.off:], n, d.opt)
		if err == nil || !errors.Is(err, ErrIncomplete) {
			d.off += used
			d.read += int64(used)
			return err
		}
		if err := d.fill(); err != nil {
			if errors.Is(err, io.EOF) {
				if len(d.buf) == d.off {
					return io.EOF
				}
				return fmt.Errorf("apns: stream ended %d bytes into a frame: %w", len(d.buf)-d.off, io.ErrUnexpectedEOF)
			}
			return err
		}
	}
}

// fill reads at least one more byte into the buffer, compacting or growing it
// first when it is full.
func (d *Decoder) fill() error {
	if d.off > 0 {
		d.buf = d.buf[:copy(d.buf, d.buf[d.off:])]
		d.off = 0
	}
	if len(d.buf) == cap(d.buf) {
		d.buf = append(d.buf, 0)[:len(d.buf)]
	}
	for {
		m, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+m]
		if m > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Buffered returns the bytes read from the stream but not yet decoded. The
// slice aliases the decoder's buffer.
func (d *Decoder) Buffered() []byte { return d.buf[d.off:] }

// Consumed returns the number of bytes taken by the frames decoded so far,
// including refused ones.
func (d *Decoder) Consumed() int64 { return d.read }
