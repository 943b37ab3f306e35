package mockapns_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"github.com/google/go-cmp/cmp"
	"io"
	"net"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

func TestMockapns(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "mockapns")
}

// ioTimeout bounds every blocking read of a spec so that a bug hangs a
// spec for seconds, not forever. It is a safety net, never an assertion.
const ioTimeout = 10 * time.Second

// token returns a 32-byte token filled with b.
func token(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// cmpOpts compare the apns package's value types, whose fields are
// unexported, by value.
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b apns.Token) bool { return a == b }),
	cmp.Comparer(func(a, b apns.Priority) bool { return a == b }),
}

// tokenOf is b as an apns.Token (b must be a valid token).
func tokenOf(b []byte) apns.Token {
	t, err := apns.TokenFromBytes(b)
	Expect(err).NotTo(HaveOccurred())
	return t
}

const payload = `{"aps":{"alert":"Hi"}}`

// framed encodes a command-2 notification with every item.
func framed(id uint32, tok []byte, p string) []byte {
	n := wire.Notification{Command: wire.CommandFramed, ID: id, Expiry: 1600000000, Priority: 10,
		Present: wire.AllFields, Token: tok, Payload: []byte(p)}
	b, err := n.MarshalBinary()
	Expect(err).NotTo(HaveOccurred())
	return b
}

// enhanced encodes a command-1 notification.
func enhanced(id uint32, tok []byte, p string) []byte {
	n := wire.Notification{Command: wire.CommandEnhanced, ID: id, Expiry: 1600000000, Token: tok, Payload: []byte(p)}
	b, err := n.MarshalBinary()
	Expect(err).NotTo(HaveOccurred())
	return b
}

// simple encodes a command-0 notification.
func simple(tok []byte, p string) []byte {
	n := wire.Notification{Command: wire.CommandSimple, Token: tok, Payload: []byte(p)}
	b, err := n.MarshalBinary()
	Expect(err).NotTo(HaveOccurred())
	return b
}

// response encodes an error response.
func response(s wire.Status, id uint32) []byte {
	b, err := wire.ErrorResponse{Status: s, ID: id}.MarshalBinary()
	Expect(err).NotTo(HaveOccurred())
	return b
}

// startServer starts a mock that is closed when the spec ends.
func startServer(cfg mockapns.Config) *mockapns.Server {
	srv, err := mockapns.Start(cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(srv.Close)
	return srv
}

// dial opens a raw TLS connection to addr with the server's client
// configuration and completes the handshake.
func dial(srv *mockapns.Server, addr string) *tls.Conn {
	return dialWith(addr, srv.ClientTLSConfig())
}

func dialWith(addr string, cfg *tls.Config) *tls.Conn {
	conn, err := tls.Dial("tcp", addr, cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = conn.Close() })
	Expect(conn.SetDeadline(time.Now().Add(ioTimeout))).To(Succeed())
	return conn
}

// send writes all of b.
func send(conn *tls.Conn, b ...[]byte) {
	for _, x := range b {
		_, err := conn.Write(x)
		Expect(err).NotTo(HaveOccurred())
	}
}

// readToEnd returns every byte the server writes until it closes, and how
// the stream ended (nil for a clean EOF).
func readToEnd(conn net.Conn) ([]byte, error) {
	b, err := io.ReadAll(conn)
	return b, err
}

// expectClosedWith asserts that the server writes exactly want, then
// closes the connection.
func expectClosedWith(conn net.Conn, want []byte) {
	GinkgoHelper()
	got, err := readToEnd(conn)
	if err != nil {
		// A connection closed without close_notify may end in a reset
		// instead of EOF; the bytes received are what matters.
		Expect(isClosedErr(err)).To(BeTrue(), "read ended with %v", err)
	}
	if len(want) == 0 {
		Expect(got).To(BeEmpty())
	} else {
		Expect(got).To(Equal(want))
	}
}

// isClosedErr reports whether err is how a connection cut by the peer ends.
func isClosedErr(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	var ne *net.OpError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.As(err, &ne)
}

// concat joins byte slices.
func concat(b ...[]byte) []byte { return bytes.Join(b, nil) }

// bytesReader reads b.
func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
