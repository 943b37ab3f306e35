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

// sameNotification compares two notifications field by field; cheap enough
// for every frame of a large fuzz input (cmp.Diff is kept for the report).
func sameNotification(a, b *wire.Notification) bool {
	return a.Command == b.Command && a.ID == b.ID && a.Expiry == b.Expiry && a.Priority == b.Priority &&
		a.Present == b.Present && bytes.Equal(a.Token, b.Token) && bytes.Equal(a.Payload, b.Payload)
}
