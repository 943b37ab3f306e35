Feature: Binary notification format
  A provider writes notifications to the gateway as binary frames: command 0
  (simple), command 1 (enhanced, with an identifier and an expiry) or
  command 2 (framed, with optional identifier, expiry and priority items).
  The gateway answers nothing when it accepts a notification, so these
  scenarios look at what the gateway received.

  Tokens are numbered in the order the scenario sends them: "token 1" is the
  device token of the first notification, and so on.

  Background:
    Given a mock APNs server
    And a client configured with the server's test certificates

  @must
  Scenario: notifications sent by the client reach the gateway intact
    Why: delivering what it is given is the whole job.
    When the client sends 3 notifications
    Then the gateway accepted every token exactly once
    And the gateway received every payload unchanged
    And the client reports no failed token

  @must
  Scenario: the framed format (command 2) is accepted
    Why: command 2 is the format Apple documents for every client.
    Given the notifications use command 2
    When the client sends 3 notifications
    Then the gateway received every notification with command 2
    And the gateway accepted every token exactly once

  @command1 @must
  Scenario: the enhanced format (command 1) is accepted
    Why: a client that declares command 1 must write it correctly.
    Given the notifications use command 1
    When the client sends 3 notifications
    Then the gateway received every notification with command 1
    And the gateway accepted every token exactly once

  @command0 @must
  Scenario: the simple format (command 0) is accepted
    Why: a client that declares command 0 must write it correctly.
    Given the notifications use command 0
    When the client sends 3 notifications
    Then the gateway received every notification with command 0
    And the gateway accepted every token exactly once

  @must
  Scenario Outline: priority <priority> reaches the gateway
    Why: a wrong priority changes how the device is woken.
    The priority item is optional and Apple applies 10 without it, so a
    client may leave it out for priority 10.
    Given the notifications have priority <priority>
    When the client sends 2 notifications
    Then the gateway received every notification with priority <priority>
    And the gateway accepted every token exactly once

    Examples:
      | priority |
      | 10       |
      | 5        |

  @must
  Scenario Outline: expiry <expiry> reaches the gateway
    Why: a wrong expiry makes APNs drop or keep a notification it should not.
    Given the notifications expire at <expiry>
    When the client sends 2 notifications
    Then the gateway received every notification with expiry <expiry>
    And the gateway accepted every token exactly once

    Examples:
      | expiry               |
      | 2030-01-02T03:04:05Z |
      | 2106-02-07T06:28:15Z |

  @must
  Scenario: a payload of exactly the limit is accepted
    Why: refusing a valid payload loses a notification.
    Given the notifications carry a payload of 2048 bytes
    When the client sends 2 notifications
    Then the gateway accepted every token exactly once
    And the gateway received every payload unchanged

  @must
  Scenario: a payload over the limit is refused with status 7, by the gateway or by the client itself
    Why: an oversized payload can never be delivered and the application must hear so.
    Either may judge the size: what matters is that every notification of
    the batch is reported failed with status 7 and none is delivered.
    Given the notifications carry a payload of 2049 bytes
    When the client sends 3 notifications
    Then the client reports tokens 1, 2 and 3 as failed with status 7
    And the client reports no other failed token
    And the gateway accepted no notification
    And every notification the gateway received was refused with status 7
