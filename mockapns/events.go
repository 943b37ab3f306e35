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
	Service string // "gateway" or "feedback"
	Conn    uint64 // connection number of the service, 1-based; 0 for a failed handshake
	Remote  string // client address
	// Reason says why a connection closed. Gateway: "client closed",
	// "error response", "closed without a response" (command-0 error or a
	// disconnect fault) or "server closed". Feedback: "served" or "fault".
	Reason string
	Err    error // the handshake error, for ConnHandshakeFailed
}

// event calls the OnConn hook, if any.
func (s *Server) event(e ConnEvent) {
	if s.cfg.OnConn != nil {
		s.cfg.OnConn(e)
	}
}
