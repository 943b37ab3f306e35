package mockapns

import (
	"crypto/x509"
	"net"
)

// ServeHTTP2Stream runs the HTTP/2 connection handler on c as if its TLS
// handshake were done (with a client certificate when cert is set), and
// returns when the connection ends.
func (s *Server) ServeHTTP2Stream(c net.Conn, cert bool) {
	t := &tracked{raw: c, cut: make(chan struct{})}
	var peer *x509.Certificate
	if cert {
		peer = s.pki.Client.Cert
	}
	s.h2Serve(t, c, peer, s.log)
}
