package wire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/apnskit/apnskit/wire"
)

// FuzzDecode feeds arbitrary bytes to the decoder, as the gateway sees
// them from the network. It must never panic, and every frame it accepts
// must re-encode to bytes that decode to the same notification.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{goldenFramed, goldenEnhanced, goldenSimple,
		"02 ff ff ff ff", "07", "02 00 00 00 03 09 00 00", "01 00", ""} {
		f.Add(unhex(seed), false)
	}
	f.Add(append(unhex(goldenSimple), unhex(goldenFramed)...), true)

	f.Fuzz(func(t *testing.T, data []byte, relaxed bool) {
		opt := wire.ParseOptions{AllowUnknownItems: relaxed, AllowDuplicateItems: relaxed}
		d := wire.NewDecoder(bytes.NewReader(data), opt)
		for {
			var n wire.Notification
			err := d.Decode(&n)
			if err != nil {
				var fe *wire.FrameError
				if errors.As(err, &fe) && fe.Status == wire.StatusNoError {
					t.Fatalf("frame error without a status: %v", err)
				}
				return
			}
			_ = wire.Validate(&n, wire.Limits{})
			b, err := n.MarshalBinary()
			if err != nil {
				t.Fatalf("re-encode of a decoded frame failed: %v", err)
			}
			var again wire.Notification
			if err := again.UnmarshalBinary(b); err != nil {
				t.Fatalf("decode of re-encoded frame %x failed: %v", b, err)
			}
			if !sameNotification(&n, &again) {
				t.Fatalf("decode→encode→decode changed the notification (-first +second):\n%s",
					cmp.Diff(n, again, cmp.Comparer(bytes.Equal)))
			}
		}
	})
}

// FuzzParseFramed encodes a command-2 frame with every item in the usual
// order, changes one of its bytes (or none: at 0), and checks that
// ParseNotification's fast path for that layout decodes and refuses what
// the general item parser does.
func FuzzParseFramed(f *testing.F) {
	f.Add([]byte{1, 2}, []byte("{}"), uint32(7), uint32(9), uint8(10), uint16(0), uint8(0), false)
	f.Add([]byte{}, []byte{}, uint32(0), uint32(0), uint8(5), uint16(6), uint8(0x03), false)
	f.Add(unhex(goldenToken), []byte(`{"aps":{}}`), uint32(1), uint32(2), uint8(10), uint16(50), uint8(0xff), true)
	f.Fuzz(func(t *testing.T, token, payload []byte, id, expiry uint32, prio uint8, at uint16, xor uint8, relaxed bool) {
		n := wire.Notification{Command: wire.CommandFramed, ID: id, Expiry: expiry, Priority: prio,
			Present: wire.AllFields, Token: token, Payload: payload}
		frame, err := n.MarshalBinary()
		if err != nil {
			return
		}
		if at > 0 && int(at) < len(frame) {
			frame[at] ^= xor
		}
		opt := wire.ParseOptions{AllowUnknownItems: relaxed, AllowDuplicateItems: relaxed}
		var fast, slow wire.Notification
		usedFast, errFast := wire.ParseNotification(frame, &fast, opt)
		usedSlow, errSlow := wire.ParseFramedItemByItem(frame, &slow, opt)
		if usedFast != usedSlow || !sameError(errFast, errSlow) {
			t.Fatalf("frame %x: fast path used %d, %v; item by item %d, %v", frame, usedFast, errFast, usedSlow, errSlow)
		}
		if errFast == nil && (!sameNotification(&fast, &slow) || cap(fast.Token) != cap(slow.Token) || cap(fast.Payload) != cap(slow.Payload)) {
			t.Fatalf("frame %x: the fast path and the item parser differ (-fast +item by item):\n%s",
				frame, cmp.Diff(fast, slow, cmp.Comparer(bytes.Equal)))
		}
	})
}

// FuzzFeedback feeds arbitrary bytes to the feedback reader.
func FuzzFeedback(f *testing.F) {
	f.Add(unhex("5f 5e 10 00 00 20 " + goldenToken))
	f.Add(unhex("5f 5e 10 00 ff ff 00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := wire.NewFeedbackReader(bytes.NewReader(data))
		for {
			tu, err := r.Next()
			if err != nil {
				return
			}
			b, err := tu.AppendBinary(nil)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			var back wire.FeedbackTuple
			if _, err := wire.ParseFeedbackTuple(b, &back); err != nil || !back.Time.Equal(tu.Time) || !bytes.Equal(back.Token, tu.Token) {
				t.Fatalf("round trip changed tuple %v: %v", tu, err)
			}
		}
	})
}

// sameError reports whether a and b are both nil, the same sentinel, or
// frame errors alike in every field.
func sameError(a, b error) bool {
	var fa, fb *wire.FrameError
	if errors.As(a, &fa) && errors.As(b, &fb) {
		return fa.Command == fb.Command && fa.Status == fb.Status && fa.ID == fb.ID && fa.HasID == fb.HasID &&
			errors.Is(fa.Err, fb.Err)
	}
	return errors.Is(a, b)
}

// sameNotification compares two notifications field by field; cheap enough
// for every frame of a large fuzz input (cmp.Diff is kept for the report).
func sameNotification(a, b *wire.Notification) bool {
	return a.Command == b.Command && a.ID == b.ID && a.Expiry == b.Expiry && a.Priority == b.Priority &&
		a.Present == b.Present && bytes.Equal(a.Token, b.Token) && bytes.Equal(a.Payload, b.Payload)
}
