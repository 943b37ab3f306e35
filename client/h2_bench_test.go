package client_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/mockapns"
)

// h2BenchStreams is how many requests each iteration of BenchmarkH2Send
// sends, all of them in flight at once on one connection.
const h2BenchStreams = 1000

// BenchmarkH2Send pushes h2BenchStreams notifications per iteration into
// the in-process mock: "apnskit-1conn" and "apnskit-4conn" with
// HTTP2Client.Send on one and up to four connections, "apnskit-stream-1conn"
// and "apnskit-stream-4conn" with HTTP2Client.Stream pushing them one by
// one on one and up to four, "x-net-stock" with golang.org/x/net/http2's stock
// Transport (default settings) doing the same requests from as many
// goroutines. The "conns" metric counts the connections each opened during
// the timed loop.
func BenchmarkH2Send(b *testing.B) {
	srv := mockapns.NewServer(mockapns.Config{JournalSize: 10000})
	b.Cleanup(srv.Close)
	key := srv.PKI().AuthKey
	toks := tokens(1, h2BenchStreams)
	payload := []byte(`{"aps":{"alert":"Hello"}}`)

	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("apnskit-%dconn", n), func(b *testing.B) {
			benchH2Send(b, srv, h2BenchClient(b, srv, n, nil), toks, payload)
		})
	}

	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("apnskit-stream-%dconn", n), func(b *testing.B) { benchH2Stream(b, srv, toks, payload, n) })
	}

	b.Run("x-net-stock", func(b *testing.B) {
		jwt, err := key.Token(time.Now())
		if err != nil {
			b.Fatal(err)
		}
		hc := srv.HTTP2Client()
		defer hc.CloseIdleConnections()
		push := func(tok string) error {
			req, err := http.NewRequest(http.MethodPost, "https://"+srv.HTTP2Addr()+"/3/device/"+tok, bytes.NewReader(payload))
			if err != nil {
				return err
			}
			req.Header.Set("authorization", "bearer "+jwt)
			req.Header.Set("apns-topic", h2Topic)
			req.Header.Set("apns-push-type", "alert")
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
		if err := push(toks[0]); err != nil { // the first valid token opens the stream limit
			b.Fatal(err)
		}
		conns := srv.Stats().HTTP2.ConnectionsTotal
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			var wg sync.WaitGroup
			errs := make(chan error, len(toks))
			for _, t := range toks {
				wg.Go(func() {
					if err := push(t); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*h2BenchStreams)/time.Since(start).Seconds(), "notifs/s")
		b.ReportMetric(float64(srv.Stats().HTTP2.ConnectionsTotal-conns), "conns")
	})
}

// benchH2Stream is BenchmarkH2Send's stream case: HTTP2Client.Stream on up
// to conns connections, the tokens pushed one by one and flushed by Close.
func benchH2Stream(b *testing.B, srv *mockapns.Server, toks []string, payload []byte, conns int) {
	c := h2BenchClient(b, srv, conns, nil)
	var delivered int
	st, err := c.Stream(&client.Message{Payload: payload, Topic: h2Topic, PushType: "alert"},
		client.StreamOptions{OnOutcome: func(d client.Delivery) {
			if d.Kind == client.Delivered {
				delivered++
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	opened := srv.Stats().HTTP2.ConnectionsTotal
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		for _, t := range toks {
			if err := st.Push(ctx, t, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := st.Close(ctx); err != nil {
		b.Fatal(err)
	}
	if delivered != b.N*h2BenchStreams {
		b.Fatalf("delivered %d of %d", delivered, b.N*h2BenchStreams)
	}
	b.ReportMetric(float64(b.N*h2BenchStreams)/time.Since(start).Seconds(), "notifs/s")
	b.ReportMetric(float64(srv.Stats().HTTP2.ConnectionsTotal-opened), "conns")
}

// h2BenchClient opens an HTTP2Client to srv that signs its provider tokens
// with srv's key (a signer of its own), with h2BenchStreams requests in
// flight on up to conns connections and m as its Metrics hook; it is
// closed when the benchmark ends.
func h2BenchClient(b *testing.B, srv *mockapns.Server, conns int, m client.Metrics) *client.HTTP2Client {
	b.Helper()
	key := srv.PKI().AuthKey
	p8, err := key.PrivatePEM()
	if err != nil {
		b.Fatal(err)
	}
	signer, err := client.NewTokenSigner(p8, key.KeyID, key.TeamID, client.TokenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	c, err := client.NewHTTP2Client(srv.HTTP2Addr(), client.HTTP2Config{Signer: signer, RootCAs: srv.RootCAs(),
		MaxInFlight: h2BenchStreams, Connections: conns, Metrics: m})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// benchH2Send times c.Send of one message to toks per iteration, each
// accepted, and reports notifs/s and the connections opened meanwhile.
func benchH2Send(b *testing.B, srv *mockapns.Server, c *client.HTTP2Client, toks []string, payload []byte) {
	m := &client.Message{Tokens: toks, Payload: payload, Topic: h2Topic, PushType: "alert"}
	ctx := context.Background()
	conns := srv.Stats().HTTP2.ConnectionsTotal
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		r, err := c.Send(ctx, m)
		if err != nil {
			b.Fatal(err)
		}
		if r.Accepted != len(toks) {
			b.Fatalf("accepted %d of %d (failed %v, errors %v)", r.Accepted, len(toks), r.Failed, r.Errors)
		}
	}
	b.ReportMetric(float64(b.N*len(toks))/time.Since(start).Seconds(), "notifs/s")
	b.ReportMetric(float64(srv.Stats().HTTP2.ConnectionsTotal-conns), "conns")
}
