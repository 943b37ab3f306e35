package mockapns

import (
	"io"
	"net"
	"slices"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// PipeEnd is one end of an in-memory, full-duplex stream with a
// half-close, for driving the gateway's connection handler without TLS
// (fuzzing). Deadlines are ignored.
type PipeEnd struct {
	r *io.PipeReader
	w *io.PipeWriter
}

// Pipe returns the two ends of a stream.
func Pipe() (client, server *PipeEnd) {
	r1, w1 := io.Pipe()
	r2, w2 := io.Pipe()
	return &PipeEnd{r: r2, w: w1}, &PipeEnd{r: r1, w: w2}
}

func (p *PipeEnd) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *PipeEnd) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *PipeEnd) CloseWrite() error           { return p.w.Close() }
func (p *PipeEnd) Close() error {
	_ = p.r.Close()
	return p.w.Close()
}
func (p *PipeEnd) LocalAddr() net.Addr              { return pipeAddr{} }
func (p *PipeEnd) RemoteAddr() net.Addr             { return pipeAddr{} }
func (p *PipeEnd) SetDeadline(time.Time) error      { return nil }
func (p *PipeEnd) SetReadDeadline(time.Time) error  { return nil }
func (p *PipeEnd) SetWriteDeadline(time.Time) error { return nil }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// ServeGatewayStream runs the gateway's connection handler on c (already
// "handshaken") and returns when the connection ends.
func (s *Server) ServeGatewayStream(c *PipeEnd) {
	t := &tracked{raw: c, cut: make(chan struct{})}
	s.stats.connectionsOpen.Add(1)
	s.runGateway(t, c, s.gwSeq.Add(1), s.log)
}

// SetJournalHook makes fn run at the end of every journal append, after
// the journal's lock is released (nil removes it). Set it before any
// connection is open.
func (s *Server) SetJournalHook(fn func()) { s.journal.afterAdd = fn }

// H2Request is the journal's input from the HTTP/2 front end, for specs.
type H2Request = h2Request

// JournalH2 journals one HTTP/2 request as the HTTP/2 front end does.
func (s *Server) JournalH2(q H2Request) { s.journal.addH2(&q) }

// JournalBinary journals the accepted notifications of one gateway read
// on connection conn, as the gateway does.
func (s *Server) JournalBinary(conn uint64, at time.Time, ns []wire.Notification) {
	s.journal.addBinary(conn, at, wire.StatusNoError, ns)
}

// FaultActionNames lists the registry's actions, in registry order.
func FaultActionNames() []string { return append([]string(nil), registry.actions...) }

// FiredAction is what the faults that fired on one request ask for, in a
// form specs can compare.
type FiredAction struct {
	Kind            string // "", "reject", "shutdown", "disconnect", "goaway", "rst_stream"
	Delay           time.Duration
	Status          uint8
	Reason          string
	HTTPStatus      int
	LastStreamID    uint32
	HasLastStreamID bool
	MaxStreams      uint32
	HasMaxStreams   bool
	RestoreAfter    int
}

var actionNames = map[actionKind]string{actNone: "", actReject: "reject", actShutdown: "shutdown",
	actDisconnect: "disconnect", actGoAway: "goaway", actRstStream: "rst_stream"}

func firedOf(a faultAction) FiredAction {
	return FiredAction{Kind: actionNames[a.kind], Delay: a.delay, Status: uint8(a.status), Reason: string(a.reason),
		HTTPStatus: a.httpStatus, LastStreamID: a.lastStreamID, HasLastStreamID: a.hasLastStreamID,
		MaxStreams: a.maxStreams, HasMaxStreams: a.hasMaxStreams, RestoreAfter: a.restoreAfter}
}

// OnRequest runs the faults against an HTTP/2 request to token, as the
// HTTP/2 front end does.
func (s *Server) OnRequest(token []byte) FiredAction { return firedOf(s.faults.onRequest(token)) }

// OnNotification runs the faults against a binary notification to token,
// as the gateway does.
func (s *Server) OnNotification(token []byte) FiredAction {
	return firedOf(s.faults.match(apns.Binary, token))
}

// FaultsActive reports whether faults can fire on protocol p.
func (s *Server) FaultsActive(p apns.Protocol) bool { return s.faults.activeFor(p) }

// FaultActions lists the JSON action of every registered fault type.
func FaultActions() []string { return slices.Clone(registry.actions) }

// ServeListener runs the gateway's accept loop on ln, as Start does on
// its listener, until ln is closed; the server's Close waits for it.
func (s *Server) ServeListener(ln net.Listener) {
	s.wg.Add(1)
	go s.acceptLoop(ln, "gateway", s.serveGateway)
}

// LimitsOf exposes the connection limits a Config gives with a file
// descriptor limit of fds: idle and frame timeouts, connection limit.
func LimitsOf(cfg Config, fds uint64) (idle, frame time.Duration, maxConns int64) {
	l := limitsOf(cfg, fds)
	return l.idle, l.frame, l.maxConns
}

// WaitersForTest is the number of WaitNotifications calls waiting now.
func (s *Server) WaitersForTest() int { return int(s.journal.waiters.Load()) }
