@http2
Feature: HTTP/2 provider API: the connection's life
  Apple ends an HTTP/2 connection with GOAWAY (before maintenance, or when
  a client breaks a rule), naming the last stream it processed: every
  stream up to it was answered or will be, every stream above it was never
  processed and must be sent again, on a new connection. Apple may also
  lower MAX_CONCURRENT_STREAMS at any time. A correct client loses and
  duplicates nothing through either.

  These scenarios need the capability http2.

  Background:
    Given a mock APNs server
    And a client configured for HTTP/2 with a provider token

  @must
  Scenario: GOAWAY in the middle of a batch loses and duplicates nothing
    Why: the streams above the last stream id were never processed: not sending them again loses them, sending again the ones below duplicates them.
    Given the HTTP/2 API sends GOAWAY with reason Shutdown at notification 4
    When the client sends 10 notifications
    Then the HTTP/2 API accepted tokens 1 to 10 exactly once
    And the client reports no failed token

  @must
  Scenario: GOAWAY naming an earlier last stream id: the streams above it are sent again, once
    Why: the last stream id, not the order of the answers, says what Apple processed; the client must resend exactly what lies above it.
    Given the HTTP/2 API sends GOAWAY with reason Shutdown and last stream id 3 at notification 5
    When the client sends 10 notifications
    Then the HTTP/2 API accepted tokens 1 to 10 exactly once
    And the client reports no failed token

  @must
  Scenario: MAX_CONCURRENT_STREAMS dropping to 1 and back loses nothing
    Why: a client that opens more streams than allowed gets its connection closed with a protocol error, and everything in flight with it.
    Given the HTTP/2 API lowers its stream limit to 1 at notification 2, restoring it after 5 requests
    When the client sends 20 notifications
    Then the HTTP/2 API accepted tokens 1 to 20 exactly once
    And the client reports no failed token
    And the HTTP/2 API refused no stream beyond its stream limit

  @must
  Scenario: the single stream before the first token, then the raised limit: nothing lost, the limit used
    Why: Apple allows one stream on a token connection until a request with a valid token is answered, then raises MAX_CONCURRENT_STREAMS; a client that opens more at first has its streams refused, one that never uses the raised limit sends a stream at a time forever.
    Given the HTTP/2 API answers every notification after 20ms
    When the client sends 20 notifications
    Then the HTTP/2 API accepted tokens 1 to 20 exactly once
    And the client reports no failed token
    And the HTTP/2 API refused no stream beyond its stream limit
    And the HTTP/2 API had more than one stream open at once

  @must @keepalive
  Scenario: a quiet connection kept alive by PING
    Why: Apple keeps connections for hours and checks them with PING; a client that pings a quiet connection keeps it through an idle timeout, where one that does not pays a new connection and a new token's single-stream phase.
    Given the HTTP/2 API closes connections idle for 500ms
    And the client sends a PING on a connection quiet for 100ms
    When the client sends 3 notifications
    And the client has nothing to send for 1200ms
    And the client sends 3 notifications
    Then the HTTP/2 API accepted tokens 1 to 6 exactly once
    And the HTTP/2 API had 1 connection
    And the HTTP/2 API received at least 3 PINGs
