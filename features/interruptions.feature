Feature: Shutdowns, dropped connections and slow gateways
  The gateway can stop in the middle of a batch in three ways. It can shut
  down politely: it answers status 10 naming the last notification it
  accepted, so the client knows exactly what to send again. It can drop the
  connection without a word: then the client cannot tell which of the
  notifications it wrote were processed, sends them all again, and must say
  that those may now be delivered twice ("uncertain"). Or it can just be
  slow: a late answer must still be handled.

  After its last write the client waits a moment (its error-wait window) for
  a late error response; a gateway slower than that answers after the client
  has moved on.

  Background:
    Given a mock APNs server
    And a client configured with the server's test certificates

  @must
  Scenario Outline: a shutdown (status 10) after <n> notifications loses and duplicates nothing
    Why: status 10 names the last notification processed: everything after it must be resent, nothing before.
    Given the gateway shuts down after <n> notifications
    When the client sends 10 notifications
    Then the gateway accepted every token exactly once
    And the client reports no failed token
    And the client sent again tokens <first resent> to 10
    And the client reports no uncertain token

    Examples:
      | n | first resent |
      | 1 | 2            |
      | 5 | 6            |
      | 9 | 10           |

  @must
  Scenario: a shutdown when the gateway reads a given token
    Why: status 10 names the last notification processed: everything after it must be resent.
    Given the gateway shuts down when it reads token 4
    When the client sends 6 notifications
    Then the gateway accepted every token exactly once
    And the client reports no failed token
    And the client sent again tokens 4 to 6

  @must
  Scenario Outline: a connection dropped without a word after <n> notifications loses nothing
    Why: a silent drop loses notifications unless they are resent and flagged as possible duplicates.
    The gateway processed the first <n> notifications, but the client cannot
    know it: it must send them again and say they may arrive twice.
    Given the gateway drops the connection without a word after <n> notifications
    When the client sends 10 notifications
    Then the gateway accepted every token at least once
    And the gateway accepted tokens <first resent> to 10 exactly once
    And the client reports tokens 1 to <n> as uncertain
    And only tokens the client reports as uncertain were accepted more than once
    And the client reports no failed token
    And the client sent again at least tokens 1 to 10

    Examples:
      | n | first resent |
      | 1 | 2            |
      | 5 | 6            |
      | 9 | 10           |

  @must
  Scenario: a connection dropped without a word at the first notification loses nothing
    Why: a silent drop loses notifications unless they are resent.
    Given the gateway drops the connection without a word after 0 notifications
    When the client sends 10 notifications
    Then the gateway accepted every token exactly once
    And the client reports no failed token
    And the client sent again at least tokens 1 to 10

  @must
  Scenario: a connection cut in the middle of a notification loses nothing
    Why: a cut loses notifications unless they are resent and flagged as possible duplicates.
    With the 25-byte payload of these scenarios a notification takes 70 to 90
    bytes on the wire, so the cut falls inside the fourth or fifth one.
    Given the gateway cuts the connection after 300 bytes
    When the client sends 10 notifications
    Then the gateway accepted every token at least once
    And the gateway accepted tokens 5 to 10 exactly once
    And the client reports tokens 1 to 3 as uncertain
    And only tokens the client reports as uncertain were accepted more than once
    And the client reports no failed token
    And the client sent again at least tokens 5 to 10

  @must
  Scenario: a gateway slower than the error-wait window loses and duplicates nothing
    Why: slowness is not an error: nothing may be lost or sent twice.
    Given the gateway stalls, for longer than the client waits for late errors, before reading notification 3
    When the client sends 10 notifications
    Then the gateway accepted every token exactly once
    And the client reports no failed token
    And the client sent no token again

  @must
  Scenario: an error response several sends late still brings back everything thrown away
    Why: a late error response throws away later sends too: ignoring it loses them.
    The gateway reads nothing until the client has finished its sends, each
    presumed accepted after the error-wait window. It then refuses token 3
    of the first send and throws away everything after it on the connection:
    the rest of the first send and all of the later ones, not only the last.
    Given the gateway stalls, for longer than the client waits for late errors, before reading notification 1
    And the gateway refuses token 3 with status 8 (invalid token)
    When the client sends 5 notifications
    And the client sends 5 notifications
    And the client sends 5 notifications
    And the gateway has refused token 3
    And the client sends 2 notifications
    Then the client reports token 3 as failed with status 8
    And the client reports no other failed token
    And the gateway accepted every token except token 3 exactly once
    And the gateway never accepted token 3

  @must
  Scenario: an error response that arrives after the error-wait window is not lost
    Why: a late error response throws notifications away: ignoring it loses them.
    The gateway refuses token 8 only after the client has stopped waiting.
    The client learns of it on its next send and must still report token 8
    and deliver tokens 9 and 10, which the gateway threw away.
    Given the gateway stalls, for longer than the client waits for late errors, before reading notification 3
    And the gateway refuses token 8 with status 8 (invalid token)
    When the client sends 10 notifications
    And the gateway has refused token 8
    And the client sends 2 notifications
    Then the client reports token 8 as failed with status 8
    And the client reports no other failed token
    And the gateway accepted every token except token 8 exactly once
    And the gateway never accepted token 8
