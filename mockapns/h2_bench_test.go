package mockapns_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/apnskit/apnskit/mockapns"
)

// Shape of BenchmarkH2Ingest: requests go in chunks of benchChunk, at
// most benchInFlight streams open at once.
const (
	benchChunk    = 100
	benchInFlight = 1000
)

// h2BenchStream is a pre-encoded request stream: a warm-up request (stream
// 1, which fills the HPACK dynamic table and, on the mock, posts the first
// valid token) and a chunk of benchChunk requests whose stream IDs are
// patched before each write.
type h2BenchStream struct {
	warmup  []byte
	chunk   []byte
	idAt    []int // offsets of the stream IDs in chunk
	payload string
}

func newH2BenchStream(authorization string) *h2BenchStream {
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	path := "/3/device/" + hex.EncodeToString(token(0xab))
	block := func() []byte {
		hb.Reset()
		for _, f := range []hpack.HeaderField{
			{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "https"},
			{Name: ":path", Value: path, Sensitive: true}, {Name: ":authority", Value: "127.0.0.1"},
			{Name: "authorization", Value: authorization, Sensitive: true},
			{Name: "apns-topic", Value: h2Topic}, {Name: "apns-push-type", Value: "alert"},
			{Name: "apns-priority", Value: "10"}, {Name: "apns-expiration", Value: "0"},
		} {
			if err := enc.WriteField(f); err != nil {
				panic(err)
			}
		}
		return bytes.Clone(hb.Bytes())
	}
	s := &h2BenchStream{payload: payload}
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	write := func(id uint32) {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block(), EndHeaders: true}); err != nil {
			panic(err)
		}
		if err := fr.WriteData(id, true, []byte(payload)); err != nil {
			panic(err)
		}
	}
	write(1)
	s.warmup = bytes.Clone(buf.Bytes())
	buf.Reset()
	for i := range benchChunk {
		s.idAt = append(s.idAt, buf.Len()+5)
		write(uint32(3 + 2*i))
		s.idAt = append(s.idAt, buf.Len()-len(payload)-4)
	}
	s.chunk = bytes.Clone(buf.Bytes())
	return s
}

// patch numbers the chunk's streams from first.
func (s *h2BenchStream) patch(first uint32) {
	for i, at := range s.idAt {
		binary.BigEndian.PutUint32(s.chunk[at:], first+2*uint32(i/2))
	}
}

// runH2Ingest pushes b.N requests over one connection to addr and reads
// the answers.
func runH2Ingest(b *testing.B, addr string, cfg *tls.Config, authorization string) {
	s := newH2BenchStream(authorization)
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		b.Fatal(err)
	}
	wfr := http2.NewFramer(conn, nil)
	if err := wfr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}); err != nil {
		b.Fatal(err)
	}
	credits := make(chan struct{}, benchInFlight/benchChunk)
	answered := make(chan error, 1)
	chunks := (b.N + benchChunk - 1) / benchChunk
	want := 1 + chunks*benchChunk
	go func() { answered <- readAnswers(conn, want, credits) }()
	if _, err := conn.Write(s.warmup); err != nil {
		b.Fatal(err)
	}
	<-credits // the warm-up's answer (and the mock's SETTINGS) came back
	b.ResetTimer()
	b.ReportAllocs()
	next := uint32(3)
	for i := range chunks {
		if i >= benchInFlight/benchChunk {
			select {
			case <-credits:
			case err := <-answered:
				b.Fatal("reader ended early: ", err)
			}
		}
		s.patch(next)
		next += 2 * benchChunk
		if _, err := conn.Write(s.chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-answered; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

var errRefused = errors.New("a stream was refused")

// readAnswers reads responses until want streams ended, giving a credit
// for each chunk answered (and one for the warm-up).
func readAnswers(conn net.Conn, want int, credits chan<- struct{}) error {
	fr := http2.NewFramer(conn, conn)
	fr.SetReuseFrames()
	got := 0
	buf := make([]byte, 16384)
	for got < want {
		fh, err := fr.ReadFrameHeader()
		if err != nil {
			return err
		}
		if fh.Type == http2.FrameHeaders {
			// Skipped unparsed: the Framer would allocate a frame.
			if _, err := io.ReadFull(conn, buf[:fh.Length]); err != nil {
				return err
			}
			if !fh.Flags.Has(http2.FlagHeadersEndStream) {
				continue
			}
			got++
			if got == 1 || (got-1)%benchChunk == 0 {
				credits <- struct{}{}
			}
			continue
		}
		f, err := fr.ReadFrameForHeader(fh)
		if err != nil {
			return err
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			if !f.StreamEnded() {
				continue
			}
		case *http2.RSTStreamFrame:
			return errRefused
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := fr.WriteSettingsAck(); err != nil {
					return err
				}
			}
			continue
		default:
			continue
		}
		got++
		if got == 1 || (got-1)%benchChunk == 0 {
			credits <- struct{}{}
		}
	}
	return nil
}

// BenchmarkH2Ingest measures the HTTP/2 listener (journal and validation
// on, token connection, up to 1,000 streams in flight) beside a bare TLS
// pipe carrying the same bytes and Go's own net/http HTTP/2 server
// answering the same requests.
func BenchmarkH2Ingest(b *testing.B) {
	srv := mockapns.NewServer(mockapns.Config{})
	defer srv.Close()
	jwt, err := srv.PKI().AuthKey.Token(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	authorization := "bearer " + jwt
	b.Run("mock", func(b *testing.B) {
		runH2Ingest(b, srv.HTTP2Addr(), srv.HTTP2TLSConfig(), authorization)
	})
	b.Run("tls-pipe", func(b *testing.B) {
		ln := benchTLSListener(b, srv)
		go benchPipe(ln)
		runH2Ingest(b, ln.Addr().String(), srv.HTTP2TLSConfig(), authorization)
	})
	b.Run("net-http", func(b *testing.B) {
		ln := benchTLSListener(b, srv)
		hs := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				var id [16]byte
				_, _ = rand.Read(id[:])
				w.Header().Set("apns-id", hex.EncodeToString(id[:]))
				w.WriteHeader(http.StatusOK)
			}),
			HTTP2: &http.HTTP2Config{MaxConcurrentStreams: benchInFlight},
		}
		hs.Protocols = new(http.Protocols)
		hs.Protocols.SetHTTP2(true)
		go func() { _ = hs.Serve(ln) }()
		defer hs.Close()
		runH2Ingest(b, ln.Addr().String(), srv.HTTP2TLSConfig(), authorization)
	})
}

func benchTLSListener(b *testing.B, srv *mockapns.Server) net.Listener {
	cfg := &tls.Config{Certificates: []tls.Certificate{srv.PKI().Server.TLS}, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	return ln
}

// benchPipe answers like a server without doing any of its work: SETTINGS
// once, then for each request read (counted by its END_STREAM DATA frame
// header) one pre-encoded HEADERS frame with END_STREAM.
func benchPipe(ln net.Listener) {
	conn, err := ln.Accept()
	if err != nil {
		return
	}
	defer conn.Close()
	var out bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	_ = fr.WriteSettings()
	_, _ = conn.Write(out.Bytes())
	out.Reset()
	answer := []byte{0x88, 0x00, 7}
	answer = append(answer, "apns-id"...)
	answer = append(answer, 36)
	answer = append(answer, "123e4567-e89b-12d3-a456-4266554400a0"...)
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: answer, EndStream: true, EndHeaders: true})
	one := bytes.Clone(out.Bytes())
	buf := make([]byte, 64<<10)
	var pending []byte
	if _, err := io.ReadFull(conn, buf[:len(http2.ClientPreface)]); err != nil {
		return
	}
	var resp []byte
	for {
		n, err := conn.Read(buf[len(pending):])
		if err != nil {
			return
		}
		data := buf[:len(pending)+n]
		resp = resp[:0]
		off := 0
		for off+9 <= len(data) {
			l := int(data[off])<<16 | int(data[off+1])<<8 | int(data[off+2])
			if off+9+l > len(data) {
				break
			}
			if http2.FrameType(data[off+3]) == http2.FrameData && data[off+4]&0x1 != 0 {
				copy(one[5:9], data[off+5:off+9])
				resp = append(resp, one...)
			}
			off += 9 + l
		}
		pending = append(pending[:0], data[off:]...)
		copy(buf, pending)
		if len(resp) > 0 {
			if _, err := conn.Write(resp); err != nil {
				return
			}
		}
	}
}
