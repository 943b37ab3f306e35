// Package mockapns is a mock of Apple's push service: the HTTP/2 provider
// API and the binary push gateway and feedback service, for tests
// (in-process, in the manner of net/http/httptest) and for integration
// environments (cmd/mockapns).
//
// A test starts a server, points the client under test at it with the
// server's TLS configuration, and inspects what arrived:
//
//	srv := mockapns.NewServer(mockapns.Config{})
//	defer srv.Close()
//	conn, err := tls.Dial("tcp", srv.GatewayAddr(), srv.ClientTLSConfig())
//	// ... the client writes notifications ...
//	entries, err := srv.WaitNotifications(ctx, mockapns.Filter{}, 3)
//
// # Behaviour
//
// The mock behaves as Apple's servers did:
//
//   - Both services speak TLS and require a client certificate chained to
//     the mock's CA ([Config.PKI]); other clients fail the handshake, which
//     is counted in [Stats].HandshakesFailed and logged once.
//   - The gateway reads commands 0, 1 and 2 on one stream, split across
//     reads or packed together. Identifiers are opaque (0 and repeats are
//     fine). Nothing is written back for an accepted notification.
//   - On the first bad notification (a frame that does not parse, one that
//     fails Apple's validation unless [Config.NoValidation], or a fault) the
//     gateway writes one 6-byte error response, `8 | status | identifier`,
//     and closes; a bad command-0 notification, which has no identifier, is
//     answered by closing without a word. Every byte after the bad frame is
//     discarded, never journalled; the whole frames among them are counted
//     in [Stats].Discarded. To make sure the client receives the response
//     (closing with unread data sends a TCP reset that can destroy it), the
//     gateway half-closes and keeps reading and discarding until the client
//     closes or [Config.ErrorLinger] passes.
//   - When the client closes its sending side (TLS close_notify) the gateway
//     judges every frame already received, answers an error if one is due,
//     then closes. A client can use this to confirm the end of a batch:
//     once it reads the end of the stream, everything it sent is in the
//     journal.
//   - The feedback service writes every queued tuple ([Server.QueueFeedback])
//     on connect, one tuple per write, and closes; the read empties the
//     queue.
//
// # HTTP/2 provider API
//
// [Server.HTTP2Addr] serves Apple's current API: TLS 1.2 or later with ALPN
// h2, POST /3/device/<hex token> with the apns-* headers and a JSON body,
// answered 200 with apns-id (and apns-unique-id in the sandbox
// environment) or an error status with {"reason": "..."}. A client
// certificate is optional: a connection that presents one chained to the
// CA is a certificate connection, one without sends provider tokens
// (JWT, "authorization: bearer ..."), checked against the trusted keys: the
// PKI's auth key ([certs.PKI].AuthKey), [Config.AuthKeys] and
// [Server.AddAuthKey]. [Server.HTTP2Client] and [Server.HTTP2CertClient]
// are ready clients for the two kinds of connection:
//
//	srv := mockapns.NewServer(mockapns.Config{})
//	defer srv.Close()
//	jwt, err := srv.PKI().AuthKey.Token(time.Now())
//	req, err := http.NewRequest("POST", "https://"+srv.HTTP2Addr()+"/3/device/"+hexToken, body)
//	req.Header.Set("authorization", "bearer "+jwt)
//	req.Header.Set("apns-topic", "com.example.apnskit")
//	resp, err := srv.HTTP2Client().Do(req)
//
// HTTP/2 requests go to the same journal as binary notifications, with
// Entry.Protocol [apns.HTTP2] and the request's headers (APNsID, Topic,
// PushType, CollapseID, Expiration, Priority), how the connection
// authenticated (Auth) and the answer (HTTPStatus, Reason); [Stats].HTTP2
// counts connections, requests, outcomes and GOAWAY frames.
//
// # Connection limits
//
// A TLS handshake gets 10 seconds. A gateway connection that reads nothing
// for [Config.IdleTimeout] (default [DefaultIdleTimeout]) is closed, and
// so is an HTTP/2 connection with no stream open that reads no frame for
// as long, after a GOAWAY NO_ERROR with {"reason":"IdleTimeout"}; a
// connection whose frame has begun but not arrived whole within
// [Config.FrameTimeout] (default [DefaultFrameTimeout]) is closed too.
// At most [Config.MaxConns] gateway, feedback and HTTP/2 connections
// (default [DefaultMaxConns], and on Unix 64 fewer than the file
// descriptor limit; see [Server.MaxConns]) are open at once: others are
// closed as soon as they are accepted and counted in
// Stats.ConnectionsRefused. A failed accept (EMFILE, ENFILE) pauses the
// listener 5 ms, doubling up to 1 s while it goes on failing, with one
// warning when it starts and at most one every 10 s after.
//
// What a quiet or slow connection holds is bounded: a gateway connection
// its 64 KiB read buffer, doubled only for a frame larger than that (256
// KiB at most: wire.MaxFrameLength is about 128 KiB), and TLS's record
// buffers, for at most FrameTimeout while a frame is incomplete and
// IdleTimeout while nothing arrives; an HTTP/2 connection its 64 KiB read
// and write buffers and its streams (streams by
// MAX_CONCURRENT_STREAMS, a body by its window, a header block by 64
// KiB); a write to a client that does not read 10 seconds.
//
// Client certificates are refused in the handshake, on every listener,
// when they are CA certificates or their extended key usages leave out
// client authentication; with [Config.StrictCerts] the gateway and the
// feedback service also refuse one without Apple's push extension of
// Config.Environment, as Apple's gateway does. The handshake error wraps
// [ErrClientCertCA], [ErrClientCertUsage] or [ErrClientCertEnvironment].
//
// # Faults
//
// Faults make the mock misbehave on demand: [Reject] (a binary status, or
// an HTTP/2 reason), [Disconnect] (by notification or request, or after a
// number of bytes) and [Delay] on either protocol; [Shutdown] (status 10
// naming the last accepted notification) on the gateway; [GoAway],
// [MaxStreams] and [RstStream] on HTTP/2 requests; [IdleTimeout] on
// idle HTTP/2 connections; [FeedbackCoalesce],
// [FeedbackSplit] and [FeedbackCut] on the feedback service. A [Trigger]
// selects the notifications that fire a fault (by token, every nth, with a
// probability drawn from the seeded source of [Config.Seed], so runs
// repeat, and by protocol). Install them with [Config.Faults] or
// [Server.AddFault]; each has a JSON form ([ParseFault], [MarshalFault]).
//
// # Journal and counters
//
// The journal ([Server.Notifications], [Server.WaitNotifications]) keeps
// the most recent [Config.JournalSize] notifications of both protocols,
// accepted or refused, oldest first; [Filter] selects by token, outcome
// and protocol. [Server.Stats] counts everything exactly, even what the
// journal dropped, in total and per protocol. Entry.ReceivedAt is taken
// once per read from the connection, so notifications that arrived in the
// same read share it.
//
// # Admin API
//
// [Server.Handler] serves the admin API (journal, counters, faults,
// feedback queue, keys and devices, reset; its OpenAPI document at GET
// /api/v1/openapi.json) so that a web page the operator visits cannot
// drive it. A request's Host must be an IP address, localhost or a host
// of [AdminConfig].AllowOrigins, and its Origin, when it has one, loopback,
// the admin API's own or listed: else 403, naming which. A POST (or a
// DELETE with a body) wants Content-Type: application/json, else 415: a
// cross-origin form or text/plain POST is refused before it changes
// anything. With AdminConfig.Token every route but GET /healthz wants
// "Authorization: Bearer TOKEN", else 401. GET /api/v1/notifications?wait=N
// waits at most a minute, and at most AdminConfig.MaxWaits (default
// [DefaultAdminMaxWaits]) such requests wait at once per server, across
// all its handlers: one more is answered 429 with Retry-After. A refused
// request changes nothing.
//
// # Files
//
// The protocol-neutral core is in server.go (listeners, connections,
// shutdown), config.go, journal.go, stats.go, events.go, admin.go and the
// fault registry (fault.go: matching and counting; fault_registry.go and
// fault_members.go: the JSON form; fault_types.go, fault_binary.go and
// fault_http2.go: the fault types). Each protocol's front end is in files
// named after it: binary_gateway.go and binary_feedback.go for the binary
// provider API, h2_*.go for HTTP/2.
//
// # Performance
//
// The gateway judges all the frames of a read in one pass and journals the
// accepted ones under one lock; once the journal ring is full it reuses the
// storage of the entries it drops, so ingest does not allocate per
// notification. BenchmarkGatewayIngest measures it against a bare TLS pipe.
package mockapns
