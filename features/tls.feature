Feature: TLS authentication
  The gateway knows a provider only by the client certificate it shows in
  the TLS handshake, and refuses a certificate that does not chain to its
  certificate authority. The client, in turn, checks the gateway's
  certificate against the authority it was given. Certificates and keys are
  handed to the client as PEM text in memory, never as files.

  Background:
    Given a mock APNs server

  @must
  Scenario: a certificate and a key given as PEM text work
    Why: the gateway knows a provider by its certificate only.
    Given a client configured with the server's test certificates
    When the client sends 2 notifications
    Then the gateway accepted every token exactly once
    And the gateway refused no handshake

  @must
  Scenario: a certificate and its key in a single PEM text work
    Why: a single PEM file is the usual way certificates are exported.
    Given a client configured with the test certificate and key in a single PEM text
    When the client sends 2 notifications
    Then the gateway accepted every token exactly once

  @must
  Scenario: a second certificate from the same authority works
    Why: providers rotate certificates.
    Given a second client certificate from the same authority
    And a client configured with the second certificate
    When the client sends 2 notifications
    Then the gateway accepted every token exactly once

  @must
  Scenario: a client certificate from another authority is refused
    Why: a send the gateway refused must not look delivered.
    Given a client configured with a certificate issued by another authority
    When the client sends 2 notifications
    Then the send fails
    And the gateway refused the client's handshake
    And the gateway accepted no notification

  @must
  Scenario: a gateway the client does not trust is refused
    Why: sending to an unverified gateway hands the notifications to anyone.
    Given a client configured to trust only another authority
    When the client sends 2 notifications
    Then the send fails
    And the gateway accepted no notification
