// Package client sends push notifications over Apple's HTTP/2 provider
// API and its legacy binary provider API (command 2 frames on persistent
// TLS connections), and reads the binary API's feedback service.
//
// # One way of sending, two protocols
//
// A [Message] is the same for both protocols, and so are the answers: a
// [Result] of Send (accepted, [Failure]s with an [apns.Outcome], what to
// retry), the [Rounds] and [Session.SendAll] loops over it, and the
// [Stream] with one [Delivery] per notification. The address chooses the
// protocol: [APISandbox], [APIProduction] and https://HOST[:PORT] are
// HTTP/2 (or every address, with Config.Protocol), the rest binary. For
// HTTP/2 a Session opens an [HTTP2Client] per address and credentials
// (the certificate given, or Config.HTTP2.Signer's provider tokens);
// an HTTP2Client can also be used on its own.
//
// # Flow
//
// Load a certificate once ([ParsePEM], [LoadPEMFiles], [ParsePKCS12]),
// create one [Session] for the process, and call [Session.Send] from as
// many goroutines as you like:
//
//	cert, err := client.LoadPEMFiles("apns.pem", "apns-key.pem", nil)
//	sess, err := client.NewSession(client.Config{})
//	defer sess.Shutdown(ctx)
//	res, err := sess.Send(ctx, client.PushProduction, cert, &client.Message{
//		Tokens: tokens, Alert: "Hello", Badge: 1,
//	})
//
// A Session pools connections per (address, certificate identity): opened
// on first use, reused by later Sends, at most Config.PoolSize each, and
// retired by [Session.CloseIdle] when idle too long and by
// [Session.Shutdown]. Retiring is graceful: the session sends a TLS
// close_notify and waits (at most Config.ReadTimeout, and within
// Shutdown's ctx) for the gateway to judge what it received and close.
// A connection whose write failed, or that the gateway already closed, is
// closed at once, without close_notify.
//
// # What Send knows
//
// APNs answers nothing for an accepted notification. On the first bad one
// it writes a 6-byte error response naming it, closes the connection and
// discards everything written after it. Send gives every notification a
// session-unique identifier (never 0), keeps the identifier of every
// notification of the batch until the batch is settled (no fixed-size
// resend buffer), waits Config.ErrorWait after its last write, and reports
// in a [Result]: which tokens failed and why, the errors not tied to a
// token, and exactly which tokens to send again ([Result.Retry],
// [Result.Retries]). When a connection is lost without an error response
// the tokens written on it may or may not have been delivered; they are in
// Retry and listed in [Result.Uncertain]. An error response that arrives
// after ErrorWait is kept by the connection and reported by its next use,
// never dropped: if the connection is retired first, the retirement waits
// for it and [Session.Late] returns it (call Late after Shutdown). The
// rules are documented on [Result].
//
// The caller decides about retrying: follow Retries until no result needs a
// retry (see the examples), with [Rounds], which does it with one give-up
// rule ([RetryPolicy]), or let [Session.SendAll] do it and total the
// rounds. Send itself never sends a token twice.
//
// With Config.ConfirmByClose a batch ends with a TLS close_notify instead
// of the ErrorWait guess: a gateway that closes in order has processed
// everything (the mock does this; Apple never documented it). It costs a
// connection per Send and is off by default.
//
// # Streaming
//
// [Session.Stream] is for long lists: [Stream.Push] and [Stream.PushMany]
// queue notifications as fast as the connections take them, with
// backpressure (a bounded window per connection), and every notification's
// final outcome comes once to StreamOptions.OnOutcome. The stream resends
// what the gateway discarded by the same rules as Send. On the binary
// protocol each connection's window ends with a known-bad notification
// (a sentinel), whose error response proves everything before it
// processed: one round trip instead of a fixed wait. The gateway closes
// the connection after it; the stream writes the next window on a new
// connection (resuming the TLS session) while the gateway answers.
//
// # Performance
//
// Tokens are decoded from hex once per Send, frames are encoded into a
// reused buffer without allocating per notification, and written in
// 64 KiB chunks. On a loopback TLS connection to the in-process mock one
// connection carries more than two million notifications per second (see
// BenchmarkSend).
//
// # Metrics
//
// Config.Metrics (HTTP2Config.Metrics for an HTTP2Client of its own) takes
// a [Metrics]: told by protocol what was sent, accepted, failed by status
// and reason, handed back to retry, uncertain, given up on, in flight, and
// round-trip latencies, at the points where outcomes are settled, in
// batches where they are settled in batches. Its totals are those of the
// Results and Deliveries. The package imports no metrics library; see
// ExampleMetrics for Prometheus. nil costs one branch per settlement.
//
// # Errors
//
// Errors wrap the sentinels of this package (ErrClosed, ErrBadToken,
// ErrKeyMismatch, ...) or a [wire.Status]; match them with errors.Is and
// errors.As. Nothing in this package panics on bad input.
package client
