Feature: Error responses and retries
  The gateway is silent about every notification it accepts. When it refuses
  one, it writes a single error response naming that notification, closes the
  connection and throws away everything the client wrote after it. A correct
  client reports the refused notification, and sends everything after it
  again on a new connection, so that in the end every good token is delivered
  exactly once and no bad token is delivered at all.

  Tokens are numbered in the order the scenario sends them: "token 1" is the
  device token of the first notification, and so on. "Sent again" means a
  token went out in a later attempt of the same send.

  Background:
    Given a mock APNs server
    And a client configured with the server's test certificates

  @must
  Scenario Outline: a bad token <where> in the batch (status <status>) is reported, the others are delivered once
    Why: the gateway throws away everything after the bad token: not resending it loses notifications.
    Given the gateway refuses token <bad> with status <status>
    When the client sends 10 notifications
    Then the client reports token <bad> as failed with status <status>
    And the client reports no other failed token
    And the gateway accepted every token except token <bad> exactly once
    And the gateway never accepted token <bad>
    And the client sent again <resent>
    And the client reports no uncertain token

    Examples: invalid token
      | where         | bad | status | resent         |
      | first         | 1   | 8      | tokens 2 to 10 |
      | in the middle | 5   | 8      | tokens 6 to 10 |
      | last          | 10  | 8      | no token       |

    Examples: invalid token size
      | where         | bad | status | resent         |
      | first         | 1   | 5      | tokens 2 to 10 |
      | in the middle | 5   | 5      | tokens 6 to 10 |
      | last          | 10  | 5      | no token       |

    Examples: missing token
      | where         | bad | status | resent         |
      | first         | 1   | 2      | tokens 2 to 10 |
      | in the middle | 5   | 2      | tokens 6 to 10 |
      | last          | 10  | 2      | no token       |

  @must
  Scenario Outline: a processing error (status 1) at token <token> loses nothing without a word
    Why: whatever the client does after a processing error, a silent loss is never allowed.
    Apple never said what a client must do after a processing error: the
    token may be sent again or reported failed, but not dropped silently.
    Given the gateway answers status 1 (processing error) once to token <token>
    When the client sends 10 notifications
    Then the gateway accepted every token except token <token> exactly once
    And the gateway accepted token <token> at most once, or the client reports it as failed with status 1

    Examples:
      | token |
      | 1     |
      | 6     |
      | 10    |

  @should
  Scenario Outline: a processing error (status 1) at token <token> keeps the token for a retry
    Why: Apple never documented status 1; resending is better than reporting a failure, not required.
    Given the gateway answers status 1 (processing error) once to token <token>
    When the client sends 10 notifications
    Then the gateway accepted every token exactly once
    And the client reports no failed token
    And the client reports status 1 not tied to a token
    And the client sent again tokens <token> to 10

    Examples:
      | token |
      | 1     |
      | 6     |
      | 10    |

  @must
  Scenario: an invalid payload size (status 7) fails the message, not a token
    Why: every token of the message is undeliverable and must be reported so.
    The gateway judges the payload bad from token 4 on, and judges it the
    same way every time it sees it: every token not delivered must end up
    reported failed with status 7, whether the client stops at the first
    answer or sends the rest again and is refused again.
    Given the gateway refuses the payload with status 7 (invalid payload size) from token 4 on
    When the client sends 8 notifications
    Then the client reports tokens 4, 5, 6, 7 and 8 as failed with status 7
    And the client reports no other failed token
    And the gateway accepted tokens 1, 2 and 3 exactly once
    And the gateway never accepted tokens 4, 5, 6, 7 and 8

  @should
  Scenario: after an invalid payload size (status 7) the client does not send the rest again
    Why: sending the same payload again only earns the same answer: wasteful, not wrong.
    The payload is shared by every notification of the batch, so sending the
    rest again only earns the same answer.
    Given the gateway refuses the payload with status 7 (invalid payload size) from token 4 on
    When the client sends 8 notifications
    Then the client reports tokens 4, 5, 6, 7 and 8 as failed with status 7
    And the client sent no token again

  @must
  Scenario: several faults in one batch are all handled
    Why: each fault throws notifications away; any slip loses some.
    Given the gateway refuses token 3 with status 8 (invalid token)
    And the gateway refuses token 11 with status 5 (invalid token size)
    And the gateway shuts down when it reads token 15
    And the gateway refuses token 18 with status 2 (missing token)
    When the client sends 20 notifications
    Then the client reports token 3 as failed with status 8
    And the client reports token 11 as failed with status 5
    And the client reports token 18 as failed with status 2
    And the client reports no other failed token
    And the gateway accepted every token except tokens 3, 11 and 18 exactly once
    And the gateway never accepted tokens 3, 11 and 18
    And the client sent again tokens 4 to 20
    And the client reports no uncertain token

  @must
  Scenario: a bad token in a batch larger than any resend buffer
    Why: a resend buffer that overflows loses the tail silently.
    The gateway pauses before it reads token 9, so by the time it refuses
    token 10 the client has written hundreds of notifications after it. The
    client must still know exactly which ones to send again. (It waits long
    enough for the answer to arrive within this send.)
    Given the client waits 1000ms for late errors
    And the gateway stalls for 200ms before reading token 9
    And the gateway refuses token 10 with status 8
    When the client sends 3000 notifications
    Then the client reports token 10 as failed with status 8
    And the client reports no other failed token
    And the gateway accepted every token except token 10 exactly once
    And the gateway never accepted token 10
    And the client sent again tokens 11 to 3000

  @must
  Scenario: a bad token at the end of a large batch
    Why: the last notifications are as much owed as the first ones.
    Given the gateway refuses token 2999 with status 8
    When the client sends 3000 notifications
    Then the client reports token 2999 as failed with status 8
    And the client reports no other failed token
    And the gateway accepted every token except token 2999 exactly once
    And the client sent again tokens 3000 to 3000
