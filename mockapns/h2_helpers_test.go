package mockapns_test

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/apnskit/apnskit/mockapns"
)

// h2Token is the hex of token(0xab), a 32-byte device token.
var h2Token = hex.EncodeToString(token(0xab))

const h2Topic = "com.example.apnskit"

// h2Bearer is an authorization header of the right shape whose JWT no
// server trusts.
const h2Bearer = "bearer eyJhbGciOiJFUzI1NiIsImtpZCI6IkFCQzEyM0RFRkcifQ.eyJpc3MiOiJERUYxMjNHSElKIiwiaWF0IjoxfQ.c2ln"

// h2Resp is what a stream received.
type h2Resp struct {
	status  string
	header  map[string]string
	body    string
	rst     http2.ErrCode
	reset   bool
	headers int // HEADERS frames
}

// goAway is a GOAWAY frame read.
type goAway struct {
	last  uint32
	code  http2.ErrCode
	debug string
}

// rawH2 is a client that writes and reads raw HTTP/2 frames.
type rawH2 struct {
	conn     *tls.Conn
	fr       *http2.Framer
	enc      *hpack.Encoder
	encBuf   bytes.Buffer
	first    []http2.Setting // the server's first SETTINGS frame
	settings []uint32        // MAX_CONCURRENT_STREAMS of each server SETTINGS frame, in order
	frames   []string        // summary of every frame read
	resps    map[uint32]*h2Resp
	done     map[uint32]bool
	goaways  []goAway
	pings    [][8]byte
	windows  map[uint32]uint32 // WINDOW_UPDATE totals by stream
	closed   error
}

// dialH2 opens a raw HTTP/2 connection: preface, an empty SETTINGS, then
// reads the server's SETTINGS and acknowledges them.
func dialH2(srv *mockapns.Server, cfg *tls.Config) *rawH2 {
	GinkgoHelper()
	conn := dialWith(srv.HTTP2Addr(), cfg)
	Expect(conn.ConnectionState().NegotiatedProtocol).To(Equal("h2"))
	r := &rawH2{conn: conn, resps: map[uint32]*h2Resp{}, done: map[uint32]bool{}, windows: map[uint32]uint32{}}
	r.fr = http2.NewFramer(conn, conn)
	r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	r.enc = hpack.NewEncoder(&r.encBuf)
	_, err := io.WriteString(conn, http2.ClientPreface)
	Expect(err).NotTo(HaveOccurred())
	Expect(r.fr.WriteSettings()).To(Succeed())
	Expect(r.readUntil(func() bool { return len(r.settings) > 0 })).To(Succeed())
	Expect(r.fr.WriteSettingsAck()).To(Succeed())
	return r
}

// block encodes header fields given as name, value pairs.
func (r *rawH2) block(fields ...string) []byte {
	r.encBuf.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		Expect(r.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})).To(Succeed())
	}
	return bytes.Clone(r.encBuf.Bytes())
}

// request returns the fields of a push to tok, with extra fields after.
func request(tok string, extra ...string) []string {
	return append([]string{":method", "POST", ":scheme", "https", ":path", "/3/device/" + tok,
		":authority", "127.0.0.1", "apns-topic", h2Topic}, extra...)
}

// headers writes one HEADERS frame.
func (r *rawH2) headers(id uint32, endStream bool, fields ...string) {
	GinkgoHelper()
	Expect(r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.block(fields...),
		EndStream: endStream, EndHeaders: true})).To(Succeed())
}

// data writes one DATA frame.
func (r *rawH2) data(id uint32, endStream bool, b string) {
	GinkgoHelper()
	Expect(r.fr.WriteData(id, endStream, []byte(b))).To(Succeed())
}

// push writes a whole request: HEADERS, then the payload in one DATA frame.
func (r *rawH2) push(id uint32, p string, fields ...string) {
	GinkgoHelper()
	r.headers(id, false, fields...)
	r.data(id, true, p)
}

// read reads one frame and records it.
func (r *rawH2) read() error {
	f, err := r.fr.ReadFrame()
	if err != nil {
		r.closed = err
		return err
	}
	r.frames = append(r.frames, f.Header().Type.String())
	id := f.Header().StreamID
	resp := func() *h2Resp {
		if r.resps[id] == nil {
			r.resps[id] = &h2Resp{header: map[string]string{}}
		}
		return r.resps[id]
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if !f.IsAck() {
			if r.first == nil {
				Expect(f.ForeachSetting(func(s http2.Setting) error {
					r.first = append(r.first, s)
					return nil
				})).To(Succeed())
			}
			v, _ := f.Value(http2.SettingMaxConcurrentStreams)
			r.settings = append(r.settings, v)
			if len(r.settings) > 1 {
				Expect(r.fr.WriteSettingsAck()).To(Succeed())
			}
		}
	case *http2.MetaHeadersFrame:
		rs := resp()
		rs.headers++
		for _, hf := range f.Fields {
			if hf.Name == ":status" {
				rs.status = hf.Value
			} else {
				rs.header[hf.Name] = hf.Value
			}
		}
		if f.StreamEnded() {
			r.done[id] = true
		}
	case *http2.DataFrame:
		rs := resp()
		rs.body += string(f.Data())
		if f.StreamEnded() {
			r.done[id] = true
		}
	case *http2.RSTStreamFrame:
		rs := resp()
		rs.reset, rs.rst = true, f.ErrCode
		r.done[id] = true
	case *http2.GoAwayFrame:
		r.goaways = append(r.goaways, goAway{last: f.LastStreamID, code: f.ErrCode, debug: string(f.DebugData())})
	case *http2.PingFrame:
		if f.IsAck() {
			r.pings = append(r.pings, f.Data)
		}
	case *http2.WindowUpdateFrame:
		r.windows[id] += f.Increment
	}
	return nil
}

// readUntil reads frames until cond holds or the connection ends.
func (r *rawH2) readUntil(cond func() bool) error {
	for !cond() {
		if err := r.read(); err != nil {
			return err
		}
	}
	return nil
}

// wait reads until every stream given has ended, and returns their
// responses.
func (r *rawH2) wait(ids ...uint32) []*h2Resp {
	GinkgoHelper()
	Expect(r.readUntil(func() bool {
		for _, id := range ids {
			if !r.done[id] {
				return false
			}
		}
		return true
	})).To(Succeed())
	out := make([]*h2Resp, len(ids))
	for i, id := range ids {
		out[i] = r.resps[id]
	}
	return out
}

// readToClose reads until the server closes the connection.
func (r *rawH2) readToClose() {
	GinkgoHelper()
	err := r.readUntil(func() bool { return false })
	Expect(isClosedErr(err)).To(BeTrue(), "read ended with %v", err)
}

// h2Post sends a push with Go's HTTP/2 client and returns the response
// status, headers and body.
func h2Post(c *http.Client, srv *mockapns.Server, tok, p string, hdr ...string) (int, http.Header, string) {
	GinkgoHelper()
	return h2Do(c, http.MethodPost, "https://"+srv.HTTP2Addr()+"/3/device/"+tok, p, hdr...)
}

// h2Do sends a request with Go's HTTP/2 client.
func h2Do(c *http.Client, method, url, p string, hdr ...string) (int, http.Header, string) {
	GinkgoHelper()
	req, err := http.NewRequest(method, url, strings.NewReader(p))
	Expect(err).NotTo(HaveOccurred())
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, resp.Header, string(b)
}

// closeClient closes the idle connections of an HTTP/2 client.
func closeClient(c *http.Client) { c.CloseIdleConnections() }

// h2Hex is the hex of token(b).
func h2Hex(b byte) string { return hex.EncodeToString(token(b)) }

// bearer is an authorization header with a fresh JWT signed by the key
// srv trusts.
func bearer(srv *mockapns.Server) string {
	GinkgoHelper()
	t, err := srv.PKI().AuthKey.Token(time.Now())
	Expect(err).NotTo(HaveOccurred())
	return "bearer " + t
}
