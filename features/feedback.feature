@feedback
Feature: Feedback service
  The feedback service lists the device tokens whose app is gone, each with
  the time APNs found out. On connect it writes every queued record
  (time, token length, token) and closes; reading empties the list. Tokens
  are numbered as in the other features; a "bytes" column gives a token of
  that length instead of the usual 32 bytes.

  Background:
    Given a mock APNs server
    And a client configured with the server's test certificates

  Scenario: queued tokens are read with their times
    Given the feedback service holds these tuples:
      | token | time                 |
      | 1     | 2026-01-02T03:04:05Z |
      | 2     | 2026-01-03T00:00:00Z |
      | 3     | 1970-01-01T00:00:01Z |
    When the client reads the feedback service
    Then the read gets these tuples:
      | token | time                 |
      | 1     | 2026-01-02T03:04:05Z |
      | 2     | 2026-01-03T00:00:00Z |
      | 3     | 1970-01-01T00:00:01Z |
    And the read reports no error

  Scenario: an empty list reads as no tuple
    When the client reads the feedback service
    Then the read gets no tuple
    And the read reports no error

  Scenario: reading empties the list
    Given the feedback service holds these tuples:
      | token | time                 |
      | 1     | 2026-01-02T03:04:05Z |
      | 2     | 2026-01-02T03:04:06Z |
    When the client reads the feedback service
    And the client reads the feedback service
    Then the first read gets 2 tuples
    And the second read gets no tuple

  Scenario: tokens of any length are read whole
    Given the feedback service holds these tuples:
      | token | bytes | time                 |
      | 1     | 32    | 2026-01-02T03:04:05Z |
      | 2     | 20    | 2026-01-02T03:04:06Z |
      | 3     | 64    | 2026-01-02T03:04:07Z |
      | 4     | 100   | 2026-01-02T03:04:08Z |
    When the client reads the feedback service
    Then the read gets these tuples:
      | token | bytes | time                 |
      | 1     | 32    | 2026-01-02T03:04:05Z |
      | 2     | 20    | 2026-01-02T03:04:06Z |
      | 3     | 64    | 2026-01-02T03:04:07Z |
      | 4     | 100   | 2026-01-02T03:04:08Z |

  Scenario: tuples split across writes are put back together
    Given the feedback service holds these tuples:
      | token | time                 |
      | 1     | 2026-01-02T03:04:05Z |
      | 2     | 2026-01-02T03:04:06Z |
    And the feedback service writes every tuple in two pieces
    When the client reads the feedback service
    Then the read gets 2 tuples

  Scenario: many tuples in one write are all read
    Given the feedback service holds 500 tuples
    And the feedback service writes all tuples at once
    When the client reads the feedback service
    Then the read gets 500 tuples

  Scenario: a connection cut in the middle of a tuple ends the read quietly
    A 32-byte token makes a 38-byte tuple, so a cut after 50 bytes falls
    inside the second one.
    Given the feedback service holds these tuples:
      | token | time                 |
      | 1     | 2026-01-02T03:04:05Z |
      | 2     | 2026-01-02T03:04:06Z |
      | 3     | 2026-01-02T03:04:07Z |
    And the feedback service cuts the connection after 50 bytes
    When the client reads the feedback service
    Then the read gets these tuples:
      | token | time                 |
      | 1     | 2026-01-02T03:04:05Z |
    And the read reports no error

  Scenario: a refused connection is an error
    Given the feedback service is down
    When the client reads the feedback service
    Then the read fails
