package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// FeedbackTuple is one record of the feedback service: a token whose app
// is gone from its device, and when APNs determined that.
type FeedbackTuple struct {
	Time  time.Time // whole seconds, UTC
	Token []byte
}

// feedbackHeaderSize is the fixed part of a tuple: time (4) + length (2).
const feedbackHeaderSize = 4 + sizeOfLen16

// EncodedLen returns the size of the tuple on the wire (38 for a 32-byte token).
func (t FeedbackTuple) EncodedLen() int { return feedbackHeaderSize + len(t.Token) }

// AppendBinary appends `time u32 | len u16 | token` to b. Times before 1970
// or after 2106 and tokens over 65535 bytes cannot be encoded.
func (t FeedbackTuple) AppendBinary(b []byte) ([]byte, error) {
	sec := t.Time.Unix()
	if sec < 0 || sec > math.MaxUint32 {
		return b, fmt.Errorf("%w: feedback time %v outside 1970–2106", ErrEncode, t.Time)
	}
	if len(t.Token) > math.MaxUint16 {
		return b, fmt.Errorf("%w: token of %d bytes exceeds 65535", ErrEncode, len(t.Token))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(sec))
	b = binary.BigEndian.AppendUint16(b, uint16(len(t.Token)))
	return append(b, t.Token...), nil
}

// ParseFeedbackTuple decodes the tuple at the start of b and returns the
// bytes used, or [ErrIncomplete] if b holds only part of it. t.Token aliases b.
func ParseFeedbackTuple(b []byte, t *FeedbackTuple) (int, error) {
	if len(b) < feedbackHeaderSize {
		return 0, ErrIncomplete
	}
	l := int(binary.BigEndian.Uint16(b[4:]))
	if len(b) < feedbackHeaderSize+l {
		return 0, ErrIncomplete
	}
	t.Time = time.Unix(int64(binary.BigEndian.Uint32(b)), 0).UTC()
	t.Token = b[feedbackHeaderSize : feedbackHeaderSize+l : feedbackHeaderSize+l]
	return feedbackHeaderSize + l, nil
}

// FeedbackReader reads tuples from a feedback connection, whatever the way
// the server splits or packs them into writes.
type FeedbackReader struct {
	r   io.Reader
	buf []byte
	off int // start of unread data in buf
}

// NewFeedbackReader returns a reader of tuples from r.
func NewFeedbackReader(r io.Reader) *FeedbackReader {
	return &FeedbackReader{r: r, buf: make([]byte, 0, 4096)}
}

// Next returns the next tuple; its Token is a fresh copy. At a clean end of
// stream (EOF between tuples) it returns io.EOF. A stream that ends inside a
// tuple returns an error wrapping [ErrMalformedFeedback] and
// io.ErrUnexpectedEOF; other read errors are returned as they are.
func (f *FeedbackReader) Next() (FeedbackTuple, error) {
	for {
		var t FeedbackTuple
		n, err := ParseFeedbackTuple(f.buf[f.off:], &t)
		if err == nil {
			t.Token = append([]byte(nil), t.Token...)
			f.off += n
			return t, nil
		}
		if f.off > 0 { // compact
			f.buf = f.buf[:copy(f.buf, f.buf[f.off:])]
			f.off = 0
		}
		if len(f.buf) == cap(f.buf) {
			f.buf = append(f.buf, 0)[:len(f.buf)] // grow by the append rule, bounded by a tuple's 65541 bytes
		}
		m, rerr := f.r.Read(f.buf[len(f.buf):cap(f.buf)])
		f.buf = f.buf[:len(f.buf)+m]
		if rerr != nil && m == 0 {
			if errors.Is(rerr, io.EOF) {
				if len(f.buf) == 0 {
					return FeedbackTuple{}, io.EOF
				}
				return FeedbackTuple{}, fmt.Errorf("%w: %d bytes of a tuple: %w", ErrMalformedFeedback, len(f.buf), io.ErrUnexpectedEOF)
			}
			return FeedbackTuple{}, rerr
		}
	}
}
