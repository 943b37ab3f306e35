// Package mockapns is a mock of Apple's binary push gateway and feedback
// service, for tests (in-process, in the manner of net/http/httptest) and
// for integration environments (cmd/mockapns).
//
// It behaves like Apple's servers did: TLS with a client certificate that
// chains to the mock's CA; commands 0, 1 and 2 on one stream, split or
// packed as they come; nothing written back for an accepted notification;
// on the first bad one a 6-byte error response (none for command 0), then
// the connection closes and every byte after the bad frame is discarded.
// The feedback service writes every queued tuple on connect and closes;
// reading empties the queue.
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
// Faults make it misbehave on demand ([Reject], [Shutdown], [Disconnect],
// [Delay] on the gateway; [FeedbackCoalesce], [FeedbackSplit],
// [FeedbackCut] on the feedback service); see [Server.AddFault] and
// [Trigger]. The journal ([Server.Notifications]) keeps the most recent
// notifications, accepted or refused; [Server.Stats] counts everything
// exactly.
package mockapns
