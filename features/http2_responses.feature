@http2
Feature: HTTP/2 provider API: reasons, retries and headers
  Over HTTP/2 every notification is its own request, answered on its own
  stream: 200 when accepted, else an HTTP status with a JSON body naming the
  reason. A correct client hands each refusal back with its reason and
  status, never sends again a notification the reason condemns (a bad
  device token stays bad), sends again after a refusal that says "later"
  (429 and 5xx), and puts the notification's headers on the wire unchanged.

  These scenarios need the capability http2: clients of the binary protocol
  only skip them.

  Tokens are numbered in the order the scenario sends them.

  Background:
    Given a mock APNs server
    And a client configured for HTTP/2 with a provider token

  @must
  Scenario Outline: the reason <reason> reaches the client with its status, and the token is not sent again
    Why: the reason is all the provider learns of a refusal; retrying a final reason only repeats it, and Apple counts repeated bad requests against the provider.
    Given the HTTP/2 API refuses token 2 once with reason <reason>
    When the client sends 3 notifications
    Then the client reports token 2 as refused with reason <reason> and HTTP status <status>
    And the HTTP/2 API received token 2 1 time
    And the client sent no token again
    And the HTTP/2 API accepted tokens 1 and 3 exactly once

    Examples: the device token
      | reason                 | status |
      | BadDeviceToken         | 400    |
      | DeviceTokenNotForTopic | 400    |
      | Unregistered           | 410    |

    Examples: the request
      | reason          | status |
      | BadTopic        | 400    |
      | TopicDisallowed | 400    |
      | PayloadTooLarge | 413    |
      | Forbidden       | 403    |

  @must
  Scenario Outline: <reason> (<status>) is sent again, and delivered once
    Why: 429 and 5xx say "not now", not "never": a client that gives up on them loses notifications Apple would have taken a moment later.
    Given the HTTP/2 API refuses token 2 once with reason <reason>
    When the client sends 3 notifications
    Then the client sent token 2 again
    And the HTTP/2 API received token 2 2 times
    And the HTTP/2 API accepted tokens 1 to 3 exactly once
    And the client reports no failed token

    Examples:
      | reason              | status |
      | TooManyRequests     | 429    |
      | InternalServerError | 500    |
      | ServiceUnavailable  | 503    |

  @must
  Scenario: an unregistered device's 410 carries the time it was last valid
    Why: the timestamp is how a provider knows whether the device registered again since; without it, it may drop a token that is live again.
    Given device 2 is unregistered since 2026-11-30T08:00:00Z
    When the client sends 3 notifications
    Then the client reports token 2 as refused with reason Unregistered and HTTP status 410
    And the client reports token 2 as refused with timestamp 2026-11-30T08:00:00Z
    And the client sent no token again
    And the HTTP/2 API accepted tokens 1 and 3 exactly once

  @must
  Scenario: topic, push type and collapse id reach APNs unchanged
    Why: the push type decides how the device shows the notification, the collapse id which notifications replace each other; a client that drops them changes what the user sees.
    Given the notifications have push type alert and collapse id score-42
    When the client sends 3 notifications
    Then the HTTP/2 API received every notification with topic com.example.apnskit, push type alert and collapse id score-42
    And the HTTP/2 API accepted tokens 1 to 3 exactly once
