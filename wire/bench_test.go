package wire_test

import (
	"testing"

	"github.com/apnskit/apnskit/wire"
)

// BenchmarkParseFramed measures decoding one command-2 frame with every item.
func BenchmarkParseFramed(b *testing.B) {
	frame := unhex(goldenFramed)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	var n wire.Notification
	for b.Loop() {
		if _, err := wire.ParseNotification(frame, &n, wire.ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendFramed measures encoding one command-2 frame into a reused buffer.
func BenchmarkAppendFramed(b *testing.B) {
	n := goldenNotification(wire.CommandFramed)
	buf := make([]byte, 0, 128)
	b.SetBytes(int64(n.EncodedLen()))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = n.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
