package client_test

import (
	"testing"
	"time"

	"github.com/apnskit/apnskit/client"
)

// noopMetrics is a client.Metrics that does nothing: what the hook's calls
// cost on their own.
type noopMetrics struct{}

func (noopMetrics) Sent(string, int)                   {}
func (noopMetrics) Accepted(string, int)               {}
func (noopMetrics) Failed(string, string, string, int) {}
func (noopMetrics) Retried(string, int)                {}
func (noopMetrics) Uncertain(string, int)              {}
func (noopMetrics) Unsent(string, int)                 {}
func (noopMetrics) InFlight(string, int)               {}
func (noopMetrics) Latency(string, time.Duration)      {}

// BenchmarkSendMetrics is BenchmarkSend without a Metrics hook (hook=nil)
// and with one that does nothing (hook=noop), in the same run: the cost
// of the hook's calls on the binary Send path.
func BenchmarkSendMetrics(b *testing.B) {
	b.Run("hook=nil", func(b *testing.B) {
		benchSend(b, client.Config{PoolSize: 1, ErrorWait: time.Millisecond}, true)
	})
	b.Run("hook=noop", func(b *testing.B) {
		benchSend(b, client.Config{PoolSize: 1, ErrorWait: time.Millisecond, Metrics: noopMetrics{}}, true)
	})
}
