package mockapns

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/wire"
)

// Config configures a Server. The zero value is usable: every service on
// loopback with free ports, a fresh PKI, Apple's validation, a journal of
// DefaultJournalSize entries, no faults, no logs. Every zero value is a
// documented default; [Config.Validate] checks the rest.
type Config struct {
	// GatewayAddr is the binary gateway's listen address; "" means
	// "127.0.0.1:0" (a free port).
	GatewayAddr string
	// FeedbackAddr is the feedback service's listen address; "" means
	// "127.0.0.1:0".
	FeedbackAddr string
	// HTTP2Addr is the HTTP/2 provider API's listen address; "" means
	// "127.0.0.1:0".
	HTTP2Addr string
	// HTTP2MaxStreams is the MAX_CONCURRENT_STREAMS of HTTP/2 connections
	// (of token connections once they posted a valid provider token); 0
	// means DefaultHTTP2MaxStreams; at most 2^31-1.
	HTTP2MaxStreams int
	// PKI holds the CA and the certificates both services present and
	// trust; nil means a fresh certs.New(certs.Options{}).
	PKI *certs.PKI
	// JournalSize is how many journal entries are kept (oldest dropped
	// first; the counters of Stats stay exact); 0 means DefaultJournalSize.
	JournalSize int
	// JournalFile, if set, gets every journal entry as a JSON line (the
	// entry JSON of GET /api/v1/notifications) as it is appended, from a
	// writer goroutine behind a bounded buffer, including entries the
	// journal later drops; Close and Shutdown write a final line
	// {"stats": STATS} and, for an *os.File, sync it. The caller closes
	// it after Close or Shutdown returns. A write error is logged once and
	// counted in Stats.JournalFileErrors.
	JournalFile io.Writer
	// Seed seeds the random source of probability faults; 0 means a
	// time-based seed. Server.Seed reports the one in use.
	Seed int64
	// Limits are Apple's validation rules; the zero value is Apple's
	// defaults (32-byte tokens, payloads up to 2048 bytes).
	Limits wire.Limits
	// Parse relaxes the structural checks of frames (unknown and repeated
	// items, frame length limit); the zero value is strict.
	Parse wire.ParseOptions
	// NoValidation accepts any notification that parses, skipping
	// wire.Validate.
	NoValidation bool
	// ErrorLinger bounds how long the gateway keeps reading and discarding
	// after an error response, and an HTTP/2 connection after the server's
	// last frame (so that the client receives it rather than a TCP reset),
	// before it closes; 0 means one second.
	ErrorLinger time.Duration
	// Faults are installed at start, in order, as by Server.AddFault.
	Faults []Fault
	// Logger receives the server's logs; nil means none.
	Logger *slog.Logger
	// OnConn, if set, is called from the connection's goroutine when a
	// gateway or feedback connection opens, closes or fails its handshake
	// (ConnClosed comes after the close). It must return quickly and must
	// not call Close or Shutdown.
	OnConn func(ConnEvent)
	// Environment is the APNs environment of the HTTP/2 API: certs.Sandbox
	// (also for 0) or certs.Production.
	Environment certs.Environment
	// AuthKeys are trusted for provider tokens besides the PKI's AuthKey.
	AuthKeys []AuthKey
	// NoJWTVerify checks provider tokens' form and claims, not signatures.
	NoJWTVerify bool
	// Clock is the time of token ages and token-update limits; nil: time.Now.
	Clock func() time.Time

	// IdleTimeout closes gateway connections that read nothing, and
	// HTTP/2 connections with no stream open that read no frame, for that
	// long (an HTTP/2 connection gets GOAWAY NO_ERROR with
	// {"reason":"IdleTimeout"} first); 0 means DefaultIdleTimeout, a
	// negative value never (as Apple, which keeps quiet connections).
	IdleTimeout time.Duration
	// FrameTimeout closes a gateway or HTTP/2 connection whose frame has
	// begun but not arrived whole for that long; 0 means
	// DefaultFrameTimeout, a negative value never.
	FrameTimeout time.Duration
	// MaxConns bounds the gateway, feedback and HTTP/2 connections open at
	// once, together; beyond it a new connection is closed as soon as it
	// is accepted and counted in Stats.ConnectionsRefused. 0 means
	// DefaultMaxConns, a negative value no limit. On Unix the limit is
	// also kept below the process's file descriptor limit, leaving
	// descriptors for the admin API (see [Server.MaxConns]).
	MaxConns int
	// StrictCerts makes the gateway and the feedback service refuse, in
	// the TLS handshake, a client certificate without Apple's push
	// extension of Environment (certs.OIDSandbox or certs.OIDProduction),
	// as Apple's gateway does. Whatever it says, every listener refuses a
	// CA certificate as a client certificate, and one whose extended key
	// usages leave out client authentication.
	StrictCerts bool
	// FeedbackMax bounds the feedback queue: QueueFeedback (and POST
	// /api/v1/feedback) refuses tuples that would take it beyond; 0 means
	// DefaultFeedbackMax.
	FeedbackMax int
	// Admin configures the admin API that Handler serves (admin_guard.go):
	// bearer token and the origins and hosts it answers besides loopback.
	Admin AdminConfig
}

// Defaults and bounds.
const (
	defaultErrorLinger = time.Second
	handshakeTimeout   = 10 * time.Second
	writeTimeout       = 10 * time.Second
	// acceptBackoffMin and acceptBackoffMax bound the pause after a
	// failed accept (such as running out of file descriptors): it doubles
	// from the first to the second while accepting keeps failing.
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
	// warnEvery bounds how often a lasting condition (accepts failing,
	// connections refused at the limit) is logged: once when it starts,
	// then at most once per warnEvery with the count meanwhile.
	warnEvery = 10 * time.Second
)

// Defaults of the connection limits (Config.IdleTimeout, FrameTimeout
// and MaxConns).
const (
	DefaultIdleTimeout  = 5 * time.Minute
	DefaultFrameTimeout = 30 * time.Second
	DefaultMaxConns     = 10000
)

// Server is a running mock of Apple's binary gateway, feedback service and
// HTTP/2 provider API. Create it with Start or NewServer and stop it with
// Close or Shutdown. All methods are safe for concurrent use.
type Server struct {
	cfg     Config
	pki     *certs.PKI
	tlsConf *tls.Config
	log     *slog.Logger
	seed    int64
	linger  time.Duration

	gwLn, fbLn, h2Ln net.Listener
	h2               h2State

	ctx       context.Context // canceled by Close: every goroutine ends
	cancel    context.CancelFunc
	stopOnce  sync.Once
	closeOnce sync.Once
	wg        sync.WaitGroup // accept loops and connections

	mu     sync.Mutex
	conns  map[*tracked]struct{}
	closed bool
	// gws are the open gateway connections, woken (by a read deadline
	// in the past) when Shutdown drains them; draining is set first.
	gws      map[*tracked]struct{}
	draining atomic.Bool

	gwSeq, fbSeq atomic.Uint64 // connection numbers

	// waitSlots holds one token per admin ?wait request being served,
	// shared by every Handler of the server (admin_guard.go).
	waitSlots     chan struct{}
	waitSlotsOnce sync.Once
	// streamSlots holds one token per admin event stream open, shared
	// by every Handler (admin_guard.go).
	streamSlots     chan struct{}
	streamSlotsOnce sync.Once

	journal *journal
	stats   counters
	faults  faultSet

	fbMu    sync.Mutex
	fbQueue []wire.FeedbackTuple

	h2auth h2Auth // trusted keys, devices, environment (h2_api.go)

	lim                    limits       // connection limits (limits.go)
	open                   atomic.Int64 // connections admitted and not yet closed, every service
	acceptWarn, refuseWarn warnLimiter
}

// tracked is an open connection that Close and CloseClientConnections can cut.
type tracked struct {
	raw  net.Conn
	cut  chan struct{}
	once sync.Once
}

func (t *tracked) close() {
	t.once.Do(func() {
		close(t.cut)
		_ = t.raw.Close()
	})
}

// Start starts a server listening on its three ports and returns once
// every listener is up. A Config that [Config.Validate] refuses is refused
// with its error, wrapping [ErrBadConfig].
func Start(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, pki: cfg.PKI, log: cfg.Logger, seed: cfg.Seed, linger: cfg.ErrorLinger,
		conns: make(map[*tracked]struct{})}
	s.journal = newJournal(cfg.JournalSize, &s.stats)
	s.lim = limitsOf(cfg, fdLimit())
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.linger <= 0 {
		s.linger = defaultErrorLinger
	}
	if s.seed == 0 {
		s.seed = time.Now().UnixNano()
		if s.seed == 0 {
			s.seed = 1
		}
	}
	s.faults.rng = newRand(s.seed)
	for _, f := range cfg.Faults {
		if _, err := s.faults.add(f); err != nil { // cannot happen: Validate checked them
			return nil, fmt.Errorf("mockapns: %w", err)
		}
	}
	if s.pki == nil {
		p, err := certs.New(certs.Options{})
		if err != nil {
			return nil, fmt.Errorf("mockapns: generating PKI: %w", err)
		}
		s.pki = p
	}
	if err := s.initH2Auth(); err != nil {
		return nil, err
	}
	s.tlsConf = s.pki.ServerTLSConfig()
	s.tlsConf.VerifyConnection = verifyClientCert(s.Environment(), cfg.StrictCerts)
	gwAddr, fbAddr := cfg.GatewayAddr, cfg.FeedbackAddr
	if gwAddr == "" {
		gwAddr = "127.0.0.1:0"
	}
	if fbAddr == "" {
		fbAddr = "127.0.0.1:0"
	}
	var err error
	if s.gwLn, err = net.Listen("tcp", gwAddr); err != nil {
		return nil, fmt.Errorf("mockapns: gateway: %w", err)
	}
	if s.fbLn, err = net.Listen("tcp", fbAddr); err != nil {
		_ = s.gwLn.Close()
		return nil, fmt.Errorf("mockapns: feedback: %w", err)
	}
	if s.h2Ln, err = net.Listen("tcp", cmp.Or(cfg.HTTP2Addr, "127.0.0.1:0")); err != nil {
		_, _ = s.gwLn.Close(), s.fbLn.Close()
		return nil, fmt.Errorf("mockapns: http2: %w", err)
	}
	s.h2.tlsConf = s.h2TLSConfig()
	if cfg.JournalFile != nil {
		s.journal.file = newJournalFile(cfg.JournalFile, s.log, &s.stats.journalFileErrors)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(3)
	go s.acceptLoop(s.gwLn, "gateway", s.serveGateway)
	go s.acceptLoop(s.fbLn, "feedback", s.serveFeedback)
	go s.acceptLoop(s.h2Ln, "http2", s.serveHTTP2)
	s.log.Info("mockapns listening", "gateway", s.GatewayAddr(), "feedback", s.FeedbackAddr(), "http2", s.HTTP2Addr(), "seed", s.seed,
		"idle_timeout", s.lim.idle, "frame_timeout", s.lim.frame, "max_conns", s.lim.maxConns)
	return s, nil
}

// NewServer is Start for tests, in the manner of httptest.NewServer: it
// panics if the server cannot start.
func NewServer(cfg Config) *Server {
	s, err := Start(cfg)
	if err != nil {
		panic("mockapns: cannot start: " + strings.TrimPrefix(err.Error(), "mockapns: "))
	}
	return s
}

// GatewayAddr returns the gateway's address, "127.0.0.1:PORT".
func (s *Server) GatewayAddr() string { return s.gwLn.Addr().String() }

// FeedbackAddr returns the feedback service's address.
func (s *Server) FeedbackAddr() string { return s.fbLn.Addr().String() }

// HTTP2Addr returns the HTTP/2 provider API's address.
func (s *Server) HTTP2Addr() string { return s.h2Ln.Addr().String() }

// PKI returns the certificates the server uses.
func (s *Server) PKI() *certs.PKI { return s.pki }

// RootCAs returns a pool holding the server's CA, for clients to trust.
func (s *Server) RootCAs() *x509.CertPool { return s.pki.CertPool() }

// ClientTLSConfig returns a client configuration that presents the PKI's
// client certificate and verifies the server against the CA.
func (s *Server) ClientTLSConfig() *tls.Config { return s.pki.ClientTLSConfig() }

// Seed returns the seed of the random source behind probability faults.
func (s *Server) Seed() int64 { return s.seed }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// Notifications returns the journal entries matching f, oldest first. The
// entries are copies.
func (s *Server) Notifications(f Filter) []Entry { return s.journal.notifications(f) }

// WaitNotifications blocks until at least n journal entries match f (f.Limit
// aside), then returns the matching entries as Notifications does. When ctx
// ends first it returns what matches so far and an error wrapping ctx's.
func (s *Server) WaitNotifications(ctx context.Context, f Filter, n int) ([]Entry, error) {
	return s.journal.wait(ctx, f, n)
}

// ClearNotifications empties the journal. Sequence numbers go on.
func (s *Server) ClearNotifications() { s.journal.clear(false, nil) }

// AddFault installs a fault, after those already installed, and returns its
// ID. An invalid fault is refused with an error wrapping ErrBadFault.
//
// Faults are checked on every binary notification and HTTP/2 request
// they apply to, in the order they were added, before Apple's validation.
// Every fault counts the notifications that match its Token towards its
// Nth, whatever the other faults do. Side effects that fire (delays add
// up, max_streams) come first; then the first fault that decides the
// outcome (reject, shutdown, disconnect, goaway, rst_stream) fires, and
// the later ones do not fire on that notification. Feedback faults apply
// to the next feedback connections, the first that can still fire
// deciding; idle timeouts to HTTP/2 connections that stay idle, the
// shortest deciding. With no fault installed for a protocol, its front end skips
// all this.
func (s *Server) AddFault(f Fault) (int, error) { return s.faults.add(f) }

// Faults lists the installed faults in the order they are checked.
func (s *Server) Faults() []FaultInfo { return s.faults.infos() }

// RemoveFault uninstalls a fault and reports whether it was installed.
func (s *Server) RemoveFault(id int) bool { return s.faults.remove(id) }

// ClearFaults uninstalls every fault.
func (s *Server) ClearFaults() { s.faults.clear() }

// Reset empties the journal (sequence numbers restart at 1), the faults,
// the feedback queue and the counters, except the gauge of connections open
// now, and restarts the random source of probability faults from the seed,
// so that a run after Reset repeats like one after a fresh start. Open
// connections stay open; connection numbers go on. The HTTP/2 device state
// is forgotten and the trusted keys are those of the start again.
func (s *Server) Reset() {
	// The counters are zeroed under the journal's lock, so that a
	// notification being journalled now is either in both or in neither.
	s.journal.clear(true, s.stats.reset)
	s.faults.reset(s.seed)
	s.fbMu.Lock()
	s.fbQueue = nil
	s.fbMu.Unlock()
	s.resetH2Auth()
}

// CloseClientConnections cuts every open gateway, feedback and HTTP/2 connection
// now, without a word (TCP close), as a network failure would.
func (s *Server) CloseClientConnections() {
	s.mu.Lock()
	conns := make([]*tracked, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// stopListening closes both listeners (once).
func (s *Server) stopListening() {
	s.stopOnce.Do(func() {
		_ = s.gwLn.Close()
		_ = s.fbLn.Close()
		_ = s.h2Ln.Close()
	})
}

// Close stops the server: it closes the listeners and every connection and
// waits for all its goroutines. It is idempotent and safe to call
// concurrently.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.stopListening()
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.h2Close()
		s.cancel()
		s.CloseClientConnections()
		s.wg.Wait()
		s.journal.closeFile(s.Stats)
		s.log.Info("mockapns closed")
	})
}

// Shutdown stops the server gracefully: it closes the listeners, then waits
// for the open connections to end. A gateway connection is answered as
// Apple's gateway did before maintenance: the frames already read are
// judged, then status 10 (shutdown) names the last notification accepted
// on it, and what arrives afterwards is counted as discarded until the
// client closes or the linger time ends. An HTTP/2 connection gets a
// GOAWAY and ends once its open streams are answered. If ctx ends first, it closes everything as Close does
// and returns an error wrapping ctx's.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopListening()
	s.gwDrain()
	s.h2Drain(ctx)
	idle := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		s.Close()
		return nil
	case <-ctx.Done():
		s.Close()
		<-idle
		return fmt.Errorf("mockapns: shutdown: %w", ctx.Err())
	}
}

// gwDrain marks the server as draining and wakes every gateway connection
// blocked in a read, so that it answers status 10.
func (s *Server) gwDrain() {
	s.draining.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.gws {
		_ = t.raw.SetReadDeadline(time.Now())
	}
}

// gwAdd registers an open gateway connection for gwDrain.
func (s *Server) gwAdd(t *tracked) {
	s.mu.Lock()
	if s.gws == nil {
		s.gws = make(map[*tracked]struct{})
	}
	s.gws[t] = struct{}{}
	s.mu.Unlock()
}

// gwDel undoes gwAdd.
func (s *Server) gwDel(t *tracked) {
	s.mu.Lock()
	delete(s.gws, t)
	s.mu.Unlock()
}

// track registers a connection; it returns nil when the server is closed.
func (s *Server) track(raw net.Conn) *tracked {
	t := &tracked{raw: raw, cut: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.conns[t] = struct{}{}
	return t
}

func (s *Server) untrack(t *tracked) {
	s.mu.Lock()
	delete(s.conns, t)
	s.mu.Unlock()
	t.close()
	s.release()
}

// acceptLoop accepts connections until the listener is closed and serves
// each in its own goroutine. A connection beyond the limit of open ones
// is closed at once and counted. A failed accept (such as running out of
// file descriptors, EMFILE or ENFILE) pauses the loop, 5 ms doubling up
// to 1 s while the failures go on, with a warning when they start and at
// most one per warnEvery after, as net/http's Server does.
func (s *Server) acceptLoop(ln net.Listener, service string, serve func(*tracked)) {
	defer s.wg.Done()
	var backoff acceptBackoff
	for {
		raw, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			pause := backoff.next()
			s.logAcceptFailure(service, err, pause)
			if !sleep(s.ctx, pause) {
				return
			}
			continue
		}
		if backoff.reset() {
			s.log.Info("mockapns accepting again", "service", service)
		}
		if !s.admit() {
			s.refuseConn(raw, service)
			continue
		}
		t := s.track(raw)
		if t == nil {
			_ = raw.Close()
			s.release()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(t)
			serve(t)
		}()
	}
}

// handshake runs the TLS handshake with a deadline; a failure is counted
// and logged once.
func (s *Server) handshake(t *tracked, cfg *tls.Config, service string, log *slog.Logger) (*tls.Conn, bool) {
	conn := tls.Server(t.raw, cfg)
	ctx, cancel := context.WithTimeout(s.ctx, handshakeTimeout)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		s.stats.handshakesFailed.Add(1)
		log.Info("mockapns TLS handshake failed", "err", err)
		s.event(ConnEvent{Kind: ConnHandshakeFailed, Service: service, Remote: t.raw.RemoteAddr().String(), Err: err})
		lingerAfterRefusal(t.raw)
		return nil, false
	}
	return conn, true
}

// refusalLinger bounds how long a connection whose handshake failed stays
// half-closed after the alert.
const refusalLinger = 500 * time.Millisecond

// lingerAfterRefusal half-closes raw after a failed handshake and reads
// what the client still sends (at most refusalLinger and 1 MiB) before the
// caller closes it. A TLS 1.3 client learns that its certificate was
// refused only from the alert, which it reads after its first writes:
// closing with those writes unread resets the connection, and the reset
// makes the client's system drop the alert it has not read yet, so that
// the refusal looks like a lost connection.
func lingerAfterRefusal(raw net.Conn) {
	if hc, ok := raw.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
	}
	_ = raw.SetReadDeadline(time.Now().Add(refusalLinger))
	_, _ = io.Copy(io.Discard, io.LimitReader(raw, 1<<20))
}
