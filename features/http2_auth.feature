@http2
Feature: HTTP/2 provider API: authentication
  Over HTTP/2 a provider authenticates either with a client certificate
  on the TLS connection or with a provider token (a JSON web token signed
  with the .p8 key) in each request's authorization header. A correct
  client does one or the other, as configured.

  These scenarios need the capability http2.

  Background:
    Given a mock APNs server

  @must
  Scenario: a client certificate authenticates the HTTP/2 connection
    Why: certificate-based providers have no signing key; their requests must go out on the certificate's TLS connection without a token.
    Given a client configured for HTTP/2 with the server's test certificates
    When the client sends 3 notifications
    Then the HTTP/2 API accepted tokens 1 to 3 exactly once
    And the HTTP/2 API authenticated every notification with a certificate

  @must
  Scenario: a provider token authenticates every request
    Why: a request without a valid token is refused with 403; every one of them must carry it.
    Given a client configured for HTTP/2 with a provider token
    When the client sends 3 notifications
    Then the HTTP/2 API accepted tokens 1 to 3 exactly once
    And the HTTP/2 API authenticated every notification with a token
