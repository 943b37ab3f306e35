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

  @must
  Scenario: queued tokens are read with their times
    Why: the feedback service is how a provider learns to stop sending.
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

  @must
  Scenario: an empty list reads as no tuple
    Why: an empty list is the common case and must not be an error.
    When the client reads the feedback service
    Then the read gets no tuple
    And the read reports no error

  @must
  Scenario: reading empties the list
    Why: a tuple is given once: keeping a stale copy is the client's job, not the service's.
    Given the feedback service holds these tuples:
      | token | time                 |
      | 1     | 2026-01-02T03:04:05Z |
      | 2     | 2026-01-02T03:04:06Z |
    When the client reads the feedback service
    And the client reads the feedback service
    Then the first read gets 2 tuples
    And the second read gets no tuple

  @must
  Scenario: tokens of any length are read whole
    Why: the tuple carries its token length; a client must honour it.
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

  @must
  Scenario: tuples split across writes are put back together
    Why: TCP guarantees no framing: a client must reassemble.
    Given the feedback service holds these tuples:
      | token | time                 |
      | 1     | 2026-01-02T03:04:05Z |
      | 2     | 2026-01-02T03:04:06Z |
    And the feedback service writes every tuple in two pieces
    When the client reads the feedback service
    Then the read gets 2 tuples

  @must
  Scenario: many tuples in one write are all read
    Why: TCP guarantees no framing: a client must split.
    Given the feedback service holds 500 tuples
    And the feedback service writes all tuples at once
    When the client reads the feedback service
    Then the read gets 500 tuples

  @must
  Scenario: a connection cut in the middle of a tuple ends the read quietly
    Why: the tuples read whole are valid; the cut one is not.
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

  @must
  Scenario: a refused connection is an error
    Why: an unreachable service must not look like an empty list.
    Given the feedback service is down
    When the client reads the feedback service
    Then the read fails
