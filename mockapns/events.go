package mockapns

// ConnEventKind says what happened to a connection.
type ConnEventKind uint8

// Connection events.
const (
	ConnOpened          ConnEventKind = iota + 1 // TLS handshake done, serving
	ConnClosed                                   // the server closed the connection
	ConnHandshakeFailed                          // refused in the TLS handshake
)

// String returns "opened", "closed" or "handshake failed".
func (k ConnEventKind) String() string {
	switch k {
	case ConnOpened:
		return "opened"
	case ConnClosed:
		return "closed"
	case ConnHandshakeFailed:
		return "handshake failed"
	}
	return "unknown"
}

// ConnEvent reports a connection opening, closing or failing its
// handshake, to Config.OnConn.
type ConnEvent struct {
	Kind    ConnEventKind
	Service string // "gateway", "feedback" or "http2"
	Conn    uint64 // connection number of the service, 1-based; 0 for a failed handshake
	Remote  string // client address
	// Reason says why a connection closed. Gateway: "client closed",
	// "error response", "closed without a response" (command-0 error or a
	// disconnect fault) or "server closed". Feedback: "served" or "fault".
	// HTTP/2: "client closed" (the client ended the connection, or reading
	// it failed), "goaway fault", "disconnect fault", "idle timeout" (an
	// idle_timeout fault), "protocol error" (the client broke HTTP/2 and
	// got a GOAWAY with an error code), "refused" (a certificate of the
	// other environment), "write failed" (the client stopped reading or
	// went away mid-write) or "server closed" (Close, Shutdown or
	// CloseClientConnections); the first cause wins.
	Reason string
	Err    error // the handshake error, for ConnHandshakeFailed
}

// event calls the OnConn hook, if any.
func (s *Server) event(e ConnEvent) {
	if s.cfg.OnConn != nil {
		s.cfg.OnConn(e)
	}
}
