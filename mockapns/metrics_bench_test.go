package mockapns_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apnskit/apnskit/mockapns"
)

// BenchmarkGatewayIngestScraped is BenchmarkGatewayIngest while a
// Prometheus registry gathers the server's metrics every 10 ms (a scrape
// interval 1,500 times shorter than Prometheus's default): what scraping
// costs the ingest path. Compare with BenchmarkGatewayIngest and
// BenchmarkTLSPipeBaseline in the same run.
func BenchmarkGatewayIngestScraped(b *testing.B) {
	benchIngestScraped(b, mockapns.Config{})
}

func benchIngestScraped(b *testing.B, cfg mockapns.Config) {
	benchIngestWith(b, cfg, func(srv *mockapns.Server) func() {
		reg := prometheus.NewRegistry()
		reg.MustRegister(srv.Collector())
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					_, _ = reg.Gather()
				}
			}
		}()
		return func() { cancel(); <-stopped }
	})
}

// BenchmarkMetricsScrape measures one gather of the server's metrics (a
// full journal, both protocols' histograms, a few HTTP/2 reasons): the
// cost of a scrape, paid by the scraper, not the ingest path.
func BenchmarkMetricsScrape(b *testing.B) {
	srv, err := mockapns.Start(mockapns.Config{JournalSize: 1024})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	q := mockapns.H2Request{Conn: 1, At: time.Now(), Token: make([]byte, 32), Payload: []byte(`{}`), HTTPStatus: 200}
	for i := range 2048 {
		q.HTTPStatus = []int{200, 400, 410}[i%3]
		srv.JournalH2(q)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(srv.Collector())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
