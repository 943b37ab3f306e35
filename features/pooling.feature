Feature: Connection pooling
  Apple asks providers to keep their connections open and reuse them: opening
  a TLS connection for every batch looks like a denial-of-service attack. A
  pooling client keeps one set of connections per gateway address and client
  certificate, reuses an idle one for the next batch, and closes the ones that
  stayed idle too long. The gateway counts the TLS handshakes it completed.

  Background:
    Given a mock APNs server
    And a client configured with the server's test certificates

  @reuse @must
  Scenario: a cached connection is reused for the next batch
    Why: a client that declares reuse must reuse: Apple treats reconnecting for every batch as an attack.
    When the client sends 5 notifications
    And the client sends 5 notifications
    And the client sends 5 notifications
    Then the gateway completed 1 handshake
    And the gateway accepted every token exactly once

  @feedback @must
  Scenario: feedback connections are not cached
    Why: the feedback service writes once and closes: a cached connection reads nothing.
    When the client reads the feedback service
    And the client reads the feedback service
    Then the feedback service served 2 connections

  @pools @overrides @must
  Scenario: different client certificates get different connections
    Why: a connection is bound to its certificate: mixing them sends on behalf of the wrong provider.
    Given a second client certificate from the same authority
    When the client sends 3 notifications
    And the client sends 3 notifications with the second certificate
    And the client sends 3 notifications
    And the client sends 3 notifications with the second certificate
    Then the gateway completed 2 handshakes
    And the gateway accepted every token exactly once

  @pools @overrides @must
  Scenario: different gateway addresses get different connections
    Why: a connection is bound to its address: mixing them sends to the wrong gateway.
    Given a second mock APNs server sharing the same certificates
    When the client sends 3 notifications
    And the client sends 3 notifications to the second server
    And the client sends 3 notifications
    And the client sends 3 notifications to the second server
    Then the gateway completed 1 handshake
    And the second gateway completed 1 handshake
    And the gateway accepted tokens 1 to 3 and 7 to 9 exactly once
    And the second gateway accepted tokens 4 to 6 and 10 to 12 exactly once

  @outdate @reuse @overrides @concurrent @must
  Scenario: closing outdated connections closes idle ones and keeps busy ones
    Why: closing a busy connection cuts a send in the middle.
    The client waits two seconds for late errors here, so a send stays
    busy long enough to be caught in the middle.
    Given a second mock APNs server sharing the same certificates
    And the client waits 2000ms for late errors
    And the client has sent 3 notifications
    When the client starts sending 4 notifications to the second server
    And the second gateway has accepted 4 notifications
    And the client closes connections idle for longer than 0ms
    Then the client reports 1 connection closed
    And the gateway has 0 open connections
    And the send to the second server finishes
    And the second gateway completed 1 handshake
    And the gateway accepted every token exactly once
    And the second gateway accepted every token exactly once
    And the client reports no failed token
    And the client sent no token again

  @outdate @reuse @must
  Scenario: connections used recently are not outdated
    Why: closing fresh connections defeats reuse.
    Given the client has sent 3 notifications
    When the client closes connections idle for longer than 3600000ms
    And the client sends 3 notifications
    Then the client reports 0 connections closed
    And the gateway completed 1 handshake

  @shutdown @must
  Scenario: after a shutdown the client closes its connections and sends nothing
    Why: a client that declares shutdown must honour it.
    Given the client has sent 3 notifications
    When the client shuts down
    And the client sends 3 notifications
    Then the send is refused
    And the gateway has 0 open connections
    And the gateway accepted 3 notifications

  @reuse @must
  Scenario: a connection the server closed while idle is replaced without losing the next batch
    Why: the gateway closes idle connections; writing into a dead one loses notifications.
    Given the client has sent 3 notifications
    When the gateway closes every open connection
    And the client sends 5 notifications
    Then the gateway accepted every token exactly once
    And the client reports no failed token
    And the gateway completed 2 handshakes

  @concurrent @reuse @must
  Scenario: concurrent senders share the pool safely
    Why: a client that declares concurrency must not lose, duplicate or leak under it.
    When 8 senders each send 50 notifications at the same time
    And the client sends 5 notifications
    Then the gateway accepted every token exactly once
    And the client reports no failed token
    And the client sent no token again
    And the gateway completed at most 8 handshakes
