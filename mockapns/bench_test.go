package mockapns_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// benchBatch is the number of notifications each benchmark iteration sends
// on one connection.
const benchBatch = 500_000

// benchStream returns count command-2 frames with every item: a 32-byte
// token and a 30-byte payload.
func benchStream(tb testing.TB, count int) []byte {
	p := []byte(`{"aps":{"alert":"benchmark!"}}`)
	var out []byte
	for i := range count {
		tok := bytes.Repeat([]byte{byte(i)}, 32)
		n := wire.Notification{Command: wire.CommandFramed, ID: uint32(i), Expiry: 1600000000, Priority: 10,
			Present: wire.AllFields, Token: tok, Payload: p}
		var err error
		if out, err = n.AppendBinary(out); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// pushStream writes stream on a new TLS connection in 64 KiB writes,
// half-closes, and reads until the server closes: the server has judged
// every frame by then.
func pushStream(tb testing.TB, addr string, cfg *tls.Config, stream []byte) []byte {
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	for off := 0; off < len(stream); off += 64 << 10 {
		if _, err := conn.Write(stream[off:min(off+64<<10, len(stream))]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := conn.CloseWrite(); err != nil {
		tb.Fatal(err)
	}
	got, err := io.ReadAll(conn)
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

// report adds notifications per second and allocations per notification.
func report(b *testing.B, total int, elapsed time.Duration, before, after *runtime.MemStats) {
	b.ReportMetric(float64(total)/elapsed.Seconds(), "notif/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(total), "allocs/notif")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(total), "B/notif")
}

// BenchmarkGatewayIngest measures the gateway's ingest rate over loopback
// TLS with the journal on (default size). Each iteration sends benchBatch
// notifications on one connection and half-closes; the server's close
// marks the end. Allocations count both sides of the connection.
func BenchmarkGatewayIngest(b *testing.B) { benchIngest(b, mockapns.Config{}, 0) }

// BenchmarkGatewayIngestJournalFile is BenchmarkGatewayIngest with every
// entry also written to a journal file (Config.JournalFile), in a temporary
// folder: compare the two in the same run.
func BenchmarkGatewayIngestJournalFile(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "journal.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	benchIngest(b, mockapns.Config{JournalFile: f}, 0)
}

// BenchmarkGatewayIngestWaits is BenchmarkGatewayIngest while waits
// calls of WaitNotifications (as ?wait=N makes) wait, none of them
// satisfied: half for a token never sent, half for more accepted
// notifications than arrive. The waits=0 case is the baseline of the same
// run.
func BenchmarkGatewayIngestWaits(b *testing.B) {
	for _, waits := range []int{0, 200} {
		b.Run(fmt.Sprintf("waits=%d", waits), func(b *testing.B) { benchIngest(b, mockapns.Config{}, waits) })
	}
}

// BenchmarkGatewayIngestDeadlines is BenchmarkGatewayIngest with the
// per-read deadline of Config.IdleTimeout and FrameTimeout off (both
// negative: no deadline is ever set) and on (the defaults: the deadline
// is moved at every read): the cost of the deadline, in the same run.
func BenchmarkGatewayIngestDeadlines(b *testing.B) {
	for _, c := range []struct {
		name        string
		idle, frame time.Duration
	}{
		{"off", -1, -1},
		{"idle+frame", 0, 0},
		{"idle", 0, -1},
	} {
		b.Run(c.name, func(b *testing.B) {
			benchIngest(b, mockapns.Config{IdleTimeout: c.idle, FrameTimeout: c.frame}, 0)
		})
	}
}

// BenchmarkGatewayIngestTokenFaults is BenchmarkGatewayIngest with that
// many faults installed, each for a token that is never sent (as a soak
// that refuses chosen tokens installs), so that every notification is
// matched against the fault set: faults=0 is the baseline of the same
// run.
func BenchmarkGatewayIngestTokenFaults(b *testing.B) {
	for _, n := range []int{0, 2000} {
		b.Run(fmt.Sprintf("faults=%d", n), func(b *testing.B) {
			var faults []mockapns.Fault
			for i := range n {
				tok := bytes.Repeat([]byte{0xfe}, 32)
				tok[0], tok[1] = byte(i>>8), byte(i)
				faults = append(faults, mockapns.Reject{Status: wire.StatusInvalidToken,
					When: mockapns.Trigger{Token: apns.MustParseToken(fmt.Sprintf("%x", tok))}})
			}
			benchIngest(b, mockapns.Config{Faults: faults}, 0)
		})
	}
}

// BenchmarkGatewayIngestMatchedFault is BenchmarkGatewayIngest with a
// fault without a token installed, so that every notification is matched
// against it under the fault set's lock, as a chaos run's Probability
// fault is; it never fires (a Delay on every 10⁹th notification).
// faults=0 is the baseline of the same run.
func BenchmarkGatewayIngestMatchedFault(b *testing.B) {
	for _, n := range []int{0, 1} {
		b.Run(fmt.Sprintf("faults=%d", n), func(b *testing.B) {
			var faults []mockapns.Fault
			if n > 0 {
				faults = append(faults, mockapns.Delay{Duration: time.Second,
					When: mockapns.Trigger{Nth: 1_000_000_000, Times: mockapns.Always}})
			}
			benchIngest(b, mockapns.Config{Faults: faults}, 0)
		})
	}
}

// startWaits starts n WaitNotifications calls that never complete; stop
// ends them and waits for them.
func startWaits(srv *mockapns.Server, n int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		f := mockapns.Filter{Status: mockapns.Accepted}
		want := math.MaxInt32
		if i%2 == 0 {
			f = mockapns.Filter{Token: apns.MustParseToken(strings.Repeat("fe", 32))}
			want = 1
		}
		wg.Go(func() { _, _ = srv.WaitNotifications(ctx, f, want) })
	}
	for srv.WaitersForTest() < n {
		runtime.Gosched()
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

func benchIngest(b *testing.B, mcfg mockapns.Config, waits int) {
	benchIngestWith(b, mcfg, func(srv *mockapns.Server) func() { return startWaits(srv, waits) })
}

// benchIngestWith is benchIngest with attach run on the server before the
// warm-up; what it returns runs after the measurement, before the server
// closes.
func benchIngestWith(b *testing.B, mcfg mockapns.Config, attach func(*mockapns.Server) (detach func())) {
	srv, err := mockapns.Start(mcfg)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	defer attach(srv)()
	cfg := srv.ClientTLSConfig()
	stream := benchStream(b, benchBatch)
	// Warm up: fill the journal ring once, so that the measurement shows
	// the steady state.
	pushStream(b, srv.GatewayAddr(), cfg, stream[:len(stream)/benchBatch*mockapns.DefaultJournalSize])

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := srv.Stats().Accepted
	b.SetBytes(int64(len(stream)))
	b.ResetTimer()
	t0 := time.Now()
	for b.Loop() {
		if got := pushStream(b, srv.GatewayAddr(), cfg, stream); len(got) != 0 {
			b.Fatalf("unexpected answer % x", got)
		}
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	total := int(srv.Stats().Accepted - start)
	if total != b.N*benchBatch {
		b.Fatalf("accepted %d, want %d", total, b.N*benchBatch)
	}
	report(b, total, elapsed, &before, &after)
}

// BenchmarkTLSPipeBaseline sends the same bytes over a bare loopback TLS
// connection with the same PKI to a reader that discards them: the
// physical limit of the gateway's ingest on this machine.
func BenchmarkTLSPipeBaseline(b *testing.B) {
	pki, err := certs.New(certs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", pki.ServerTLSConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}(conn)
		}
	}()
	cfg := pki.ClientTLSConfig()
	stream := benchStream(b, benchBatch)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.SetBytes(int64(len(stream)))
	b.ResetTimer()
	t0 := time.Now()
	for b.Loop() {
		pushStream(b, ln.Addr().String(), cfg, stream)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	report(b, b.N*benchBatch, elapsed, &before, &after)
}

// BenchmarkJournalAddH2 measures journalling one HTTP/2 request, the
// HTTP/2 front end's entry point, in the steady state (the ring full and
// its storage reused).
// Sub-benchmarks: with no wait in progress, and with 200 (as in
// BenchmarkGatewayIngestWaits).
func BenchmarkJournalAddH2(b *testing.B) {
	for _, waits := range []int{0, 200} {
		b.Run(fmt.Sprintf("waits=%d", waits), func(b *testing.B) { benchJournalAddH2(b, waits) })
	}
}

func benchJournalAddH2(b *testing.B, waits int) {
	srv, err := mockapns.Start(mockapns.Config{JournalSize: 1024})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	defer startWaits(srv, waits)()
	q := mockapns.H2Request{Conn: 1, At: time.Now(), Token: bytes.Repeat([]byte{7}, 32),
		Payload: []byte(`{"aps":{"alert":"hello"}}`), APNsID: []byte("123e4567-e89b-12d3-a456-426614174000"),
		Topic: []byte("com.example.app"), PushType: []byte("alert"), HTTPStatus: 200, Auth: mockapns.AuthProviderToken}
	for range 2048 {
		srv.JournalH2(q)
	}
	b.ReportAllocs()
	for b.Loop() {
		srv.JournalH2(q)
	}
}

// BenchmarkJournalAddBinary measures journalling the notifications of
// gateway reads (a 16 KiB TLS record's worth, 190, per call, as
// benchStream frames them) into a full journal of the default size: the
// journal's share of BenchmarkGatewayIngest, without TLS and parsing in
// the way.
func BenchmarkJournalAddBinary(b *testing.B) {
	srv, err := mockapns.Start(mockapns.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	stream := benchStream(b, 190)
	ns := make([]wire.Notification, 190)
	for i, off := 0, 0; i < len(ns); i++ {
		used, err := wire.ParseNotification(stream[off:], &ns[i], wire.ParseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		off += used
	}
	at := time.Now()
	for range mockapns.DefaultJournalSize/len(ns) + 1 {
		srv.JournalBinary(1, at, ns)
	}
	b.ReportAllocs()
	for b.Loop() {
		srv.JournalBinary(1, at, ns)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ns)), "ns/notif")
}

// BenchmarkGatewayIngestEvents is BenchmarkGatewayIngest with streams
// readers of the admin API's event stream (GET /api/v1/events, what the
// web page reads) attached over loopback HTTP, each decoding every update
// as the page does. streams=0 is the baseline of the same run. After the
// measurement each reader must catch up with the journal's last entry
// (it kept up); updates/s is what one reader received while the
// notifications arrived.
func BenchmarkGatewayIngestEvents(b *testing.B) {
	for _, streams := range []int{0, 1} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			benchIngestWith(b, mockapns.Config{}, func(srv *mockapns.Server) func() {
				return startStreams(b, srv, streams)
			})
		})
	}
}

// eventReader reads one event stream, decoding every update.
type eventReader struct {
	updates atomic.Int64
	seq     atomic.Uint64 // seq of the last update
	moved   chan struct{} // a token after each update: seq moved
	done    chan struct{}
}

func (r *eventReader) read(body io.Reader) {
	defer close(r.done)
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	name := ""
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte("event: ")):
			name = string(line[len("event: "):])
		case bytes.HasPrefix(line, []byte("data: ")) && name == "update":
			var u struct {
				Seq     uint64           `json:"seq"`
				Entries []mockapns.Entry `json:"entries"`
				Stats   mockapns.Stats   `json:"stats"`
			}
			if err := json.Unmarshal(line[len("data: "):], &u); err != nil {
				return
			}
			r.seq.Store(u.Seq)
			r.updates.Add(1)
			select {
			case r.moved <- struct{}{}:
			default:
			}
		}
	}
}

// startStreams opens n event streams on srv's admin API. The returned
// func checks that each caught up with the journal, reports updates/s,
// and closes them.
func startStreams(b *testing.B, srv *mockapns.Server, n int) func() {
	if n == 0 {
		return func() {}
	}
	ts := httptest.NewServer(srv.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	readers := make([]*eventReader, n)
	for i := range readers {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/api/v1/events?limit=200", nil)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		r := &eventReader{moved: make(chan struct{}, 1), done: make(chan struct{})}
		readers[i] = r
		go r.read(resp.Body)
		for r.updates.Load() == 0 { // the first update: the stream is open
			runtime.Gosched()
		}
	}
	start := time.Now()
	before := readers[0].updates.Load()
	return func() {
		elapsed := time.Since(start)
		b.ReportMetric(float64(readers[0].updates.Load()-before)/elapsed.Seconds(), "updates/s")
		st := srv.Stats()
		want := st.Accepted + st.Rejected // the last sequence number: no Reset here
		deadline := time.NewTimer(10 * time.Second)
		defer deadline.Stop()
	readers:
		for _, r := range readers {
			for r.seq.Load() != want {
				select {
				case <-r.moved:
				case <-r.done:
					b.Errorf("an event reader ended at seq %d, the journal at %d", r.seq.Load(), want)
					continue readers
				case <-deadline.C:
					b.Errorf("an event reader is at seq %d, the journal at %d: it did not keep up", r.seq.Load(), want)
					break readers
				}
			}
		}
		cancel()
		for _, r := range readers {
			<-r.done
		}
		ts.Close()
	}
}

// BenchmarkJournalAddH2Events is BenchmarkJournalAddH2 (no wait) with
// streams readers of the event stream attached: the journal's own cost of
// an open web page, without the network in the way. streams=0 is the
// baseline of the same run.
func BenchmarkJournalAddH2Events(b *testing.B) {
	for _, streams := range []int{0, 1} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			srv, err := mockapns.Start(mockapns.Config{JournalSize: 1024})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			q := mockapns.H2Request{Conn: 1, At: time.Now(), Token: bytes.Repeat([]byte{7}, 32),
				Payload: []byte(`{"aps":{"alert":"hello"}}`), APNsID: []byte("123e4567-e89b-12d3-a456-426614174000"),
				Topic: []byte("com.example.app"), PushType: []byte("alert"), HTTPStatus: 200, Auth: mockapns.AuthProviderToken}
			for range 2048 {
				srv.JournalH2(q)
			}
			defer startStreams(b, srv, streams)()
			b.ReportAllocs()
			for b.Loop() {
				srv.JournalH2(q)
			}
		})
	}
}
