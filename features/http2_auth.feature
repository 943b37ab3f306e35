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

  @must @clock
  Scenario: a client sending for more than an hour replaces its provider token in time, and not too often
    Why: Apple refuses a token over an hour old (ExpiredProviderToken) and a connection whose token changes more often than every 20 minutes (TooManyProviderTokenUpdates); a client must replace its token between the two, never per request.
    Given a client configured for HTTP/2 with a provider token
    When the client sends 3 notifications
    And 35 minutes pass
    And the client sends 3 notifications
    And 35 minutes pass
    And the client sends 3 notifications
    And 35 minutes pass
    And the client sends 3 notifications
    Then the HTTP/2 API accepted tokens 1 to 12 exactly once
    And the HTTP/2 API refused no notification with reason ExpiredProviderToken
    And the HTTP/2 API refused no notification with reason TooManyProviderTokenUpdates
    And the client reports no failed token

  @must @clock
  Scenario: a token the server finds expired is replaced, and what it refused is delivered once
    Why: Apple's clock and the provider's never agree exactly; a client that does not mint a new token after ExpiredProviderToken loses every notification until its own schedule catches up.
    Given the HTTP/2 API's clock is 30 minutes ahead of the client's
    And a client configured for HTTP/2 with a provider token
    When the client sends 3 notifications
    And 35 minutes pass
    And the client sends 3 notifications
    Then the HTTP/2 API refused at least one notification with reason ExpiredProviderToken
    And the HTTP/2 API refused no notification with reason TooManyProviderTokenUpdates
    And the HTTP/2 API accepted tokens 1 to 6 exactly once
    And the client reports no failed token

  @must
  Scenario: a certificate of the other environment is refused for good, without a reconnection loop
    Why: Apple answers a production certificate on the sandbox host with GOAWAY BadCertificateEnvironment; retrying cannot cure it, and a client that reconnects in a loop hammers APNs while reporting nothing.
    Given a client configured for HTTP/2 with a certificate of the production environment
    When the client sends 3 notifications
    And the client sends 3 notifications
    Then the client reports every token as refused with reason BadCertificateEnvironment
    And the HTTP/2 API accepted no notification
    And the HTTP/2 API had at most 2 connections
