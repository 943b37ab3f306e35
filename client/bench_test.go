package client_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
)

const benchBatch = 10_000

// BenchmarkSend measures notifications per second from one Session into
// the in-process mock over loopback TLS on ONE connection (PoolSize 1).
// Each iteration is one Send of benchBatch tokens; ErrorWait is 1ms, so the
// figure includes the per-batch wait. The clock stops when the mock has
// accepted every notification. Allocations are counted for both sides
// (client and mock run in this process).
func BenchmarkSend(b *testing.B) {
	benchSend(b, client.Config{PoolSize: 1, ErrorWait: time.Millisecond}, true)
}

// BenchmarkSendConfirmByClose is BenchmarkSend with Config.ConfirmByClose:
// each batch on a new connection (handshake included), confirmed by the
// gateway's orderly close instead of an error window.
func BenchmarkSendConfirmByClose(b *testing.B) {
	benchSend(b, client.Config{PoolSize: 1, ConfirmByClose: true}, false)
}

func benchSend(b *testing.B, cfg client.Config, oneConn bool) {
	srv, err := mockapns.Start(mockapns.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	cert, err := client.NewCertificate(srv.PKI().Client.TLS)
	if err != nil {
		b.Fatal(err)
	}
	cfg.RootCAs = srv.RootCAs()
	sess, err := client.NewSession(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Shutdown(context.Background())
	m := &client.Message{Tokens: benchTokens(benchBatch), Alert: "benchmark!", Priority: 10, Expiry: client.ExpireAfter(time.Hour)}
	ctx := context.Background()
	if _, err := sess.Send(ctx, srv.GatewayAddr(), cert, m); err != nil { // connect and warm up
		b.Fatal(err)
	}
	start := srv.Stats().Accepted
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	t0 := time.Now()
	for b.Loop() {
		r, err := sess.Send(ctx, srv.GatewayAddr(), cert, m)
		if err != nil {
			b.Fatal(err)
		}
		if r.NeedsRetry() || len(r.Failed) > 0 {
			b.Fatalf("unexpected failure: %+v", r.Errors)
		}
	}
	want := start + uint64(b.N*benchBatch)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for srv.Stats().Accepted < want {
		if _, err := srv.WaitNotifications(wctx, mockapns.Filter{Limit: 1}, 1); err != nil || wctx.Err() != nil {
			b.Fatalf("mock accepted %d of %d", srv.Stats().Accepted-start, b.N*benchBatch)
		}
		runtime.Gosched()
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	total := float64(b.N * benchBatch)
	b.ReportMetric(total/elapsed.Seconds(), "notif/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/notif")
	if got := srv.Stats().ConnectionsTotal; oneConn && got != 1 {
		b.Fatalf("%d connections, want 1", got)
	}
}

// BenchmarkEncode measures encoding one notification (command 2, every
// item) into a reused buffer: 0 allocs/op.
func BenchmarkEncode(b *testing.B) {
	m := &client.Message{Tokens: benchTokens(1024), Alert: "benchmark!", Priority: 10, Expiry: client.ExpireAfter(time.Hour)}
	enc, err := client.NewFrameEncoder(m)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 80<<10)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		buf = enc.Append(buf, i&1023, uint32(i+1))
		if len(buf) >= 64<<10 {
			buf = buf[:0]
		}
		i++
	}
}

func benchTokens(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = hexToken(i)
	}
	return out
}

func hexToken(i int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 64)
	for j := range b {
		b[j] = digits[(i>>(uint(j%8)*4))&15]
	}
	return string(b)
}

const streamBatch = 200_000

// BenchmarkStream measures notifications per second pushed on a Stream
// into the in-process mock over loopback TLS, on 1 and 4 connections,
// clean and with one bad token (status 8) in 10,000. Each iteration pushes
// streamBatch tokens and flushes: every notification confirmed by the
// sentinel (the default window of 65,536 per connection), every bad one
// reported refused. Compare with mockapns' BenchmarkTLSPipeBaseline in the
// same run. The many cases push with PushMany instead of Push.
// cpu-ns/notif is the CPU time of the whole process (client and
// mock) per notification, which a busy machine disturbs less than the rate.
func BenchmarkStream(b *testing.B) {
	for _, c := range []struct {
		name  string
		conns int
		bad   float64
	}{{"conns=1", 1, 0}, {"conns=4", 4, 0}, {"conns=1/bad=1e-4", 1, 1e-4}, {"conns=4/bad=1e-4", 4, 1e-4}} {
		b.Run(c.name, func(b *testing.B) { benchStream(b, c.conns, c.bad, 0, false) })
	}
	for _, conns := range []int{1, 4} {
		b.Run(fmt.Sprintf("conns=%d/many", conns), func(b *testing.B) { benchStream(b, conns, 0, 0, true) })
		b.Run(fmt.Sprintf("conns=%d/many/bad=1e-4", conns), func(b *testing.B) { benchStream(b, conns, 1e-4, 0, true) })
	}
}

// BenchmarkStreamCheckpoints is BenchmarkStream on one connection with
// StreamOptions.CheckpointEvery: a sentinel, and so a new connection, every
// that many notifications, which bounds what a silent disconnect leaves
// uncertain. The price is the rate and connections per iteration.
func BenchmarkStreamCheckpoints(b *testing.B) {
	for _, every := range []int{16384, 4096, 1024} {
		b.Run(fmt.Sprintf("every=%d", every), func(b *testing.B) { benchStream(b, 1, 0, every, false) })
	}
}

func benchStream(b *testing.B, conns int, bad float64, checkpoint int, many bool) {
	mcfg := mockapns.Config{Seed: 1}
	if bad > 0 {
		mcfg.Faults = []mockapns.Fault{mockapns.Reject{Status: 8, When: mockapns.Trigger{Probability: bad, Times: mockapns.Always}}}
	}
	srv, err := mockapns.Start(mcfg)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	cert, err := client.NewCertificate(srv.PKI().Client.TLS)
	if err != nil {
		b.Fatal(err)
	}
	sess, err := client.NewSession(client.Config{PoolSize: conns, RootCAs: srv.RootCAs()})
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Shutdown(context.Background())
	var delivered, refused, unsent atomic.Int64
	st, err := sess.Stream(srv.GatewayAddr(), cert, &client.Message{Alert: "benchmark!", Priority: 10, Expiry: client.ExpireAfter(time.Hour)},
		client.StreamOptions{CheckpointEvery: checkpoint, OnOutcome: func(d client.Delivery) {
			switch d.Kind {
			case client.Delivered:
				delivered.Add(1)
			case client.Refused:
				refused.Add(1)
			default:
				unsent.Add(1)
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	toks := benchTokens(streamBatch)
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpu0, cpuKnown := processCPU()
	b.ResetTimer()
	t0 := time.Now()
	for b.Loop() {
		if many {
			if _, err := st.PushMany(ctx, toks, nil); err != nil {
				b.Fatal(err)
			}
		} else {
			for _, t := range toks {
				if err := st.Push(ctx, t, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := st.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(t0)
	cpu1, _ := processCPU()
	b.StopTimer()
	runtime.ReadMemStats(&after)
	if err := st.Close(ctx); err != nil {
		b.Fatal(err)
	}
	total := float64(b.N * streamBatch)
	if got := delivered.Load() + refused.Load(); got != int64(total) || unsent.Load() != 0 {
		b.Fatalf("delivered %d, refused %d, unsent %d of %d", delivered.Load(), refused.Load(), unsent.Load(), int64(total))
	}
	b.ReportMetric(total/elapsed.Seconds(), "notif/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/notif")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/notif")
	if cpuKnown { // client and mock together: less sensitive than notif/s to a busy machine
		b.ReportMetric(float64(cpu1-cpu0)/total, "cpu-ns/notif")
	}
	b.ReportMetric(float64(refused.Load()), "refused")
	b.ReportMetric(float64(st.Stats().Connections)/float64(b.N), "conns/op")
	if ps := sess.Stats(); ps.Dials > 0 {
		b.ReportMetric(float64(ps.Resumed)/float64(ps.Dials), "resumed/conn")
	}
	b.ReportMetric(float64(st.Stats().Resent)/total, "resent/notif")
}
