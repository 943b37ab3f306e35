package mockapns

// The admin API's guard: what a request must show before it is routed.
//
//   - Host: the request's Host must be an IP address (any: a browser
//     reaching an IP address is not the victim of DNS rebinding),
//     "localhost", or a host listed in AdminConfig.AllowOrigins; else 403.
//   - Origin: when a request carries one (a browser sends it with
//     cross-origin requests and every POST), it must be on a loopback
//     host (localhost, 127.0.0.0/8, ::1, any port), the origin of the admin
//     API itself (same host and port as Host), or listed in
//     AdminConfig.AllowOrigins; else 403. "Origin: null" is refused.
//     GET /metrics is spared these two checks (metrics.go): it serves
//     read-only counts to a scraper that reaches the server by any name.
//   - Authorization: with AdminConfig.Token set, every route but GET
//     /healthz and the web page's static files (GET / and /ui/{file},
//     which hold no data: ui.go) wants "Authorization: Bearer TOKEN";
//     else 401 with WWW-Authenticate.
//   - Content-Type: POST, PUT and PATCH, and a DELETE that has a body,
//     want "Content-Type: application/json" (parameters such as charset
//     allowed); else 415. A DELETE without a body needs none: a web page
//     cannot send a DELETE to another origin without a CORS preflight,
//     which the admin API never grants.
//
// Together they keep a web page the operator happens to visit from driving
// the admin API: a cross-origin form or fetch "no-cors" POST can only be
// text/plain, form or multipart, so it is refused before it changes
// anything, and a DNS-rebound name is refused by the Host check.

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
)

// DefaultAdminMaxWaits is the number of GET /api/v1/notifications?wait=N
// requests a server's admin API serves at once when AdminConfig.MaxWaits
// is 0; one more is answered 429.
const DefaultAdminMaxWaits = 64

// AdminConfig configures the admin API that [Server.Handler] serves.
type AdminConfig struct {
	// Token, when not empty, is the bearer token every request but GET
	// /healthz must carry ("Authorization: Bearer TOKEN"); it is
	// compared in constant time.
	Token string
	// AllowOrigins are the hosts and origins the admin API answers
	// besides loopback names and IP addresses: each a host name
	// ("mock.internal"), HOST:PORT ("mock.internal:8195") or an origin
	// URL ("https://ui.example:8443"). A request's Host, and its Origin
	// when it has one, match an entry when the host names are equal
	// (case-insensitive) and, if the entry has a port, the ports too.
	AllowOrigins []string
	// MaxWaits bounds the ?wait=N requests the server serves at once,
	// across every handler [Server.Handler] returned (each further one
	// is answered 429 with Retry-After); 0 means DefaultAdminMaxWaits.
	MaxWaits int
	// ProcessMetrics adds the Go runtime's and the process's metrics
	// (go_*, process_*) to GET /metrics: right for a program that is the
	// mock (cmd/mockapns), wrong for a test that runs one in its own
	// process.
	ProcessMetrics bool
	// MaxStreams bounds the event streams (GET /api/v1/events, which
	// the web page reads) the server serves at once, across every
	// handler (each further one
	// is answered 429 with Retry-After); 0 means DefaultAdminMaxStreams.
	MaxStreams int
}

// validate checks the entries of AllowOrigins and MaxWaits.
func (c AdminConfig) validate() error {
	if c.MaxWaits < 0 {
		return fmt.Errorf("Admin.MaxWaits %d is negative (0 means %d)", c.MaxWaits, DefaultAdminMaxWaits)
	}
	if c.MaxStreams < 0 {
		return fmt.Errorf("Admin.MaxStreams %d is negative (0 means %d)", c.MaxStreams, DefaultAdminMaxStreams)
	}
	for i, o := range c.AllowOrigins {
		if _, err := parseAllowed(o); err != nil {
			return fmt.Errorf("Admin.AllowOrigins[%d]: %w", i, err)
		}
	}
	return nil
}

// hostPort is a host name (lower case, no trailing dot, IPv6 without
// brackets) and a port, empty when any port matches.
type hostPort struct{ host, port string }

// errAllowedForm is the error of an AllowOrigins entry of no known form.
var errAllowedForm = errors.New("want a host, HOST:PORT or an origin such as https://host:port")

// parseAllowed reads one AllowOrigins entry.
func parseAllowed(s string) (hostPort, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return hostPort{}, fmt.Errorf("empty: %w", errAllowedForm)
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return hostPort{}, fmt.Errorf("%q: %w", s, errAllowedForm)
		}
		return hostPort{host: normalHost(u.Hostname()), port: u.Port()}, nil
	}
	hp, ok := splitHost(s)
	if !ok || strings.ContainsAny(hp.host, "/?#@ ") {
		return hostPort{}, fmt.Errorf("%q: %w", s, errAllowedForm)
	}
	return hp, nil
}

// splitHost splits "host", "host:port", "[v6]" or "[v6]:port".
func splitHost(s string) (hostPort, bool) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		if h == "" {
			return hostPort{}, false
		}
		return hostPort{host: normalHost(h), port: p}, true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	} else if strings.Contains(s, ":") && !isIP(s) {
		return hostPort{}, false
	}
	if s == "" {
		return hostPort{}, false
	}
	return hostPort{host: normalHost(s)}, true
}

func normalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

func isIP(h string) bool {
	_, err := netip.ParseAddr(h)
	return err == nil
}

// isLoopback reports whether h (normalized) names the loopback interface.
func isLoopback(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

// guard holds what the admin handler checks requests against.
type guard struct {
	allowed   []hostPort
	tokenHash *[sha256.Size]byte // nil: no token wanted
}

func newGuard(c AdminConfig) guard {
	var g guard
	for _, o := range c.AllowOrigins {
		if hp, err := parseAllowed(o); err == nil { // Start validated them
			g.allowed = append(g.allowed, hp)
		}
	}
	if c.Token != "" {
		h := sha256.Sum256([]byte(c.Token))
		g.tokenHash = &h
	}
	return g
}

func (g *guard) listed(hp hostPort) bool {
	for _, a := range g.allowed {
		if a.host == hp.host && (a.port == "" || a.port == hp.port) {
			return true
		}
	}
	return false
}

// forbiddenError is a request refused for its Host or Origin (403).
type forbiddenError struct{ reason string }

func (e *forbiddenError) Error() string { return e.reason }

// unauthorizedError is a request without the bearer token (401).
type unauthorizedError struct{ given bool }

func (e *unauthorizedError) Error() string {
	if e.given {
		return "wrong bearer token (Authorization: Bearer TOKEN, the -admin-token or $MOCKAPNS_ADMIN_TOKEN of the server)"
	}
	return "this admin API wants a bearer token: Authorization: Bearer TOKEN (the -admin-token or $MOCKAPNS_ADMIN_TOKEN of the server)"
}

// mediaTypeError is a mutation without a JSON Content-Type (415).
type mediaTypeError struct{ method, got string }

func (e *mediaTypeError) Error() string {
	if e.got == "" {
		return fmt.Sprintf("%s wants Content-Type: application/json, got none", e.method)
	}
	return fmt.Sprintf("%s wants Content-Type: application/json, got %q", e.method, e.got)
}

// adminWaitSlots returns the server's ?wait slots (AdminConfig.MaxWaits),
// made on first use and shared by every handler of the server.
func (s *Server) adminWaitSlots() chan struct{} {
	return serverSlots(&s.waitSlotsOnce, &s.waitSlots, s.cfg.Admin.MaxWaits, DefaultAdminMaxWaits)
}

// adminStreamSlots returns the server's event-stream slots
// (AdminConfig.MaxStreams), made on first use and shared by every
// handler, as the ?wait slots are.
func (s *Server) adminStreamSlots() chan struct{} {
	return serverSlots(&s.streamSlotsOnce, &s.streamSlots, s.cfg.Admin.MaxStreams, DefaultAdminMaxStreams)
}

// serverSlots makes *slots once, with room for n tokens (def when n is
// not positive), and returns it.
func serverSlots(once *sync.Once, slots *chan struct{}, n, def int) chan struct{} {
	once.Do(func() {
		if n <= 0 {
			n = def
		}
		*slots = make(chan struct{}, n)
	})
	return *slots
}

// tooManyWaitsError is a ?wait=N beyond AdminConfig.MaxWaits (429).
type tooManyWaitsError struct{ limit int }

func (e *tooManyWaitsError) Error() string {
	return fmt.Sprintf("%d requests already wait for notifications, the most this server serves at once; retry later", e.limit)
}

// check refuses a request whose Host, Origin or token is not allowed.
func (g *guard) check(r *http.Request) error {
	if !metricsExempt(r) { // read-only counts, scraped by any name: metrics.go
		if err := g.checkHostOrigin(r); err != nil {
			return err
		}
	}
	if g.tokenHash != nil && r.URL.Path != "/healthz" && !pageRequest(r) { // the page's static files: ui.go
		return g.checkToken(r)
	}
	return nil
}

// checkHostOrigin refuses a request whose Host or Origin is not allowed.
func (g *guard) checkHostOrigin(r *http.Request) error {
	host, ok := splitHost(r.Host)
	switch {
	case r.Host == "": // HTTP/1.0 without Host: no browser sends that
	case !ok:
		return &forbiddenError{reason: fmt.Sprintf("Host %q is not a host name", r.Host)}
	case !isIP(host.host) && host.host != "localhost" && !g.listed(host):
		return &forbiddenError{reason: fmt.Sprintf("Host %q is not allowed: use an IP address or localhost, or start the server with -admin-allow-origin %s", r.Host, host.host)}
	}
	if origins, present := r.Header["Origin"]; present {
		return g.checkOrigin(origins, host)
	}
	return nil
}

// checkOrigin refuses an Origin that is not loopback, the admin API's own
// (same host and port as Host) or listed.
func (g *guard) checkOrigin(origins []string, host hostPort) error {
	if len(origins) != 1 {
		return &forbiddenError{reason: fmt.Sprintf("%d Origin headers", len(origins))}
	}
	o := origins[0]
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return &forbiddenError{reason: fmt.Sprintf("Origin %q is not allowed (cross-origin requests are refused; start the server with -admin-allow-origin to allow one)", o)}
	}
	hp := hostPort{host: normalHost(u.Hostname()), port: u.Port()}
	if isLoopback(hp.host) || g.listed(hp) || (hp.host == host.host && hp.port == host.port) {
		return nil
	}
	return &forbiddenError{reason: fmt.Sprintf("Origin %q is not allowed (cross-origin requests are refused; start the server with -admin-allow-origin %s to allow it)", o, o)}
}

// checkToken wants the bearer token, compared in constant time.
func (g *guard) checkToken(r *http.Request) error {
	auth := r.Header.Get("Authorization")
	scheme, tok, found := strings.Cut(auth, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return &unauthorizedError{given: auth != ""}
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	if subtle.ConstantTimeCompare(h[:], g.tokenHash[:]) != 1 {
		return &unauthorizedError{given: true}
	}
	return nil
}

// checkMediaType wants a JSON Content-Type on POST, PUT and PATCH, and on
// a DELETE with a body.
func checkMediaType(r *http.Request) error {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	case http.MethodDelete:
		if r.ContentLength == 0 {
			return nil
		}
	default:
		return nil
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "application/json" {
		return nil
	}
	return &mediaTypeError{method: r.Method, got: ct}
}
