package mockapns_test

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/apnskit/apnskit/mockapns"
)

var (
	h2FuzzOnce sync.Once
	h2FuzzSrv  *mockapns.Server
)

// h2FuzzSeeds are frame sequences that reach the reader's paths: a whole
// request, one in CONTINUATIONs with padding and priority, a refusal, the
// control frames, and malformed input.
func h2FuzzSeeds() [][]byte {
	var seeds [][]byte
	frames := func(write func(fr *http2.Framer, enc func(...string) []byte)) []byte {
		var buf, hb bytes.Buffer
		fr := http2.NewFramer(&buf, nil)
		fr.AllowIllegalWrites = true
		e := hpack.NewEncoder(&hb)
		enc := func(fields ...string) []byte {
			hb.Reset()
			for i := 0; i+1 < len(fields); i += 2 {
				_ = e.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
			}
			return bytes.Clone(hb.Bytes())
		}
		write(fr, enc)
		return buf.Bytes()
	}
	seeds = append(seeds, frames(func(fr *http2.Framer, enc func(...string) []byte) {
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(request(h2Token)...), EndHeaders: true})
		_ = fr.WriteData(1, true, []byte(payload))
	}))
	seeds = append(seeds, frames(func(fr *http2.Framer, enc func(...string) []byte) {
		b := enc(request(h2Token, "authorization", h2Bearer, "apns-id", apnsID)...)
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: b[:4], PadLength: 3,
			Priority: http2.PriorityParam{StreamDep: 1, Weight: 7}})
		_ = fr.WriteContinuation(3, false, b[4:10])
		_ = fr.WriteContinuation(3, true, b[10:])
		_ = fr.WriteDataPadded(3, false, []byte(payload[:5]), []byte{0, 0})
		_ = fr.WriteData(3, true, []byte(payload[5:]))
		_ = fr.WriteRSTStream(3, http2.ErrCodeCancel)
	}))
	seeds = append(seeds, frames(func(fr *http2.Framer, enc func(...string) []byte) {
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(request("zz", "apns-priority", "3")...), EndHeaders: true, EndStream: true})
		_ = fr.WritePing(false, [8]byte{1})
		_ = fr.WriteWindowUpdate(0, 1000)
		_ = fr.WriteWindowUpdate(1, 1000)
		_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
		_ = fr.WriteSettingsAck()
		_ = fr.WritePriority(5, http2.PriorityParam{StreamDep: 1})
		_ = fr.WriteGoAway(0, http2.ErrCodeNo, []byte("bye"))
	}))
	seeds = append(seeds, frames(func(fr *http2.Framer, enc func(...string) []byte) {
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(request(h2Token)...), EndHeaders: true})
		_ = fr.WriteData(1, false, bytes.Repeat([]byte("a"), 5000))
		_ = fr.WriteRawFrame(0xee, 0, 0, []byte("unknown"))
		_ = fr.WriteRawFrame(http2.FrameSettings, 0, 0, []byte{1, 2, 3})
	}))
	seeds = append(seeds, []byte{0, 0, 0xff, 0xff}, []byte{0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 1}, nil)
	return seeds
}

// FuzzH2Conn drives the HTTP/2 connection handler with arbitrary bytes
// after the preface and an empty SETTINGS frame (the first byte of the
// input picks a certificate or a token connection): it must neither panic
// nor hang, and must leave the open-connection gauge where it was.
func FuzzH2Conn(f *testing.F) {
	for _, s := range h2FuzzSeeds() {
		f.Add(append([]byte{0}, s...))
		f.Add(append([]byte{1}, s...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h2FuzzOnce.Do(func() {
			h2FuzzSrv = mockapns.NewServer(mockapns.Config{JournalSize: 1000})
		})
		srv := h2FuzzSrv
		cert := len(data) > 0 && data[0]&1 == 1
		if len(data) > 0 {
			data = data[1:]
		}
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			srv.ServeHTTP2Stream(server, cert)
			close(done)
		}()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		var start bytes.Buffer
		start.WriteString(http2.ClientPreface)
		_ = http2.NewFramer(&start, nil).WriteSettings()
		_, _ = client.Write(start.Bytes())
		_, _ = client.Write(data)
		_ = client.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the connection handler did not return")
		}
		if n := srv.Stats().HTTP2.ConnectionsOpen; n != 0 {
			t.Fatalf("%d connections open after the handler returned", n)
		}
	})
}
