package apns_test

import (
	"strings"
	"testing"

	"github.com/apnskit/apnskit/apns"
)

// BenchmarkAppendParsedToken parses one 32-byte token (64 hex digits, both
// cases) into a reused buffer, as the binary encoders do per
// notification: 0 allocs/op.
func BenchmarkAppendParsedToken(b *testing.B) {
	s := strings.Repeat("0123456789abcdefABCDEF", 3)[:64]
	buf := make([]byte, 0, apns.MaxTokenLength)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := apns.AppendParsedToken(buf[:0], s); err != nil {
			b.Fatal(err)
		}
	}
}
