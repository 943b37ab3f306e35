package client_test

import (
	"testing"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
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

// BenchmarkH2SendMetrics is BenchmarkH2Send's apnskit-1conn (HTTP2Client.Send
// of h2BenchStreams notifications per iteration) without a Metrics hook and
// with a no-op one, in the same run: on HTTP/2 the hook reads the clock and
// observes a latency per request.
func BenchmarkH2SendMetrics(b *testing.B) {
	srv := mockapns.NewServer(mockapns.Config{JournalSize: 10000})
	b.Cleanup(srv.Close)
	toks := tokens(1, h2BenchStreams)
	for _, hook := range []struct {
		name string
		m    client.Metrics
	}{{"hook=nil", nil}, {"hook=noop", noopMetrics{}}} {
		b.Run(hook.name, func(b *testing.B) {
			benchH2Send(b, srv, h2BenchClient(b, srv, 1, hook.m), toks, []byte(`{"aps":{"alert":"Hello"}}`))
		})
	}
}
