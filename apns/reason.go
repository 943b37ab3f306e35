package apns

import (
	"net/http"
	"strconv"
)

// Reason is the reason string of an HTTP/2 error response, such as
// "BadDeviceToken". Reason implements [Outcome], so a reason can be
// wrapped and matched with errors.Is:
//
//	errors.Is(err, apns.ReasonUnregistered)
//
// A reason Apple's table does not list is kept as it came ([Reason.Known]
// reports false), answers [http.StatusBadRequest] from [Reason.Status] and
// is to be retried only after its cause is fixed.
type Reason string

// The reasons of Apple's table, with the HTTP status each comes with.
const (
	ReasonBadCollapseID               Reason = "BadCollapseId"               // 400: apns-collapse-id over 64 bytes
	ReasonBadDeviceToken              Reason = "BadDeviceToken"              // 400: bad token, or a token of the other environment
	ReasonBadExpirationDate           Reason = "BadExpirationDate"           // 400: bad apns-expiration
	ReasonBadMessageID                Reason = "BadMessageId"                // 400: apns-id not a canonical UUID
	ReasonBadPriority                 Reason = "BadPriority"                 // 400: bad apns-priority
	ReasonBadTopic                    Reason = "BadTopic"                    // 400: bad apns-topic
	ReasonDeviceTokenNotForTopic      Reason = "DeviceTokenNotForTopic"      // 400: token of another topic
	ReasonDuplicateHeaders            Reason = "DuplicateHeaders"            // 400: a header repeated
	ReasonIdleTimeout                 Reason = "IdleTimeout"                 // 400: idle connection
	ReasonInvalidPushType             Reason = "InvalidPushType"             // 400: bad apns-push-type
	ReasonMissingDeviceToken          Reason = "MissingDeviceToken"          // 400: no token in :path
	ReasonMissingTopic                Reason = "MissingTopic"                // 400: apns-topic required but absent
	ReasonPayloadEmpty                Reason = "PayloadEmpty"                // 400: empty body
	ReasonTopicDisallowed             Reason = "TopicDisallowed"             // 400: topic not allowed
	ReasonBadCertificate              Reason = "BadCertificate"              // 403: bad certificate
	ReasonBadCertificateEnvironment   Reason = "BadCertificateEnvironment"   // 403: certificate of the other environment
	ReasonExpiredProviderToken        Reason = "ExpiredProviderToken"        // 403: JWT iat over an hour old
	ReasonForbidden                   Reason = "Forbidden"                   // 403: action not allowed
	ReasonInvalidProviderToken        Reason = "InvalidProviderToken"        // 403: JWT invalid or signature fails
	ReasonMissingProviderToken        Reason = "MissingProviderToken"        // 403: no certificate and no JWT
	ReasonUnrelatedKeyIDInToken       Reason = "UnrelatedKeyIdInToken"       // 403: kid unrelated to the connection's first key
	ReasonBadEnvironmentKeyIDInToken  Reason = "BadEnvironmentKeyIdInToken"  // 403: kid of a key for the other environment
	ReasonBadPath                     Reason = "BadPath"                     // 404: bad :path
	ReasonMethodNotAllowed            Reason = "MethodNotAllowed"            // 405: :method not POST
	ReasonExpiredToken                Reason = "ExpiredToken"                // 410: device token expired
	ReasonUnregistered                Reason = "Unregistered"                // 410: token no longer active for the topic
	ReasonPayloadTooLarge             Reason = "PayloadTooLarge"             // 413: body over the limit
	ReasonTooManyProviderTokenUpdates Reason = "TooManyProviderTokenUpdates" // 429: JWT changed more often than every 20 minutes
	ReasonTooManyRequests             Reason = "TooManyRequests"             // 429: too many requests to one token
	ReasonInternalServerError         Reason = "InternalServerError"         // 500: internal error
	ReasonServiceUnavailable          Reason = "ServiceUnavailable"          // 503: service unavailable
	ReasonShutdown                    Reason = "Shutdown"                    // 503: server shutting down
)

// reasonStatus is Apple's table: each reason with its HTTP status.
var reasonStatus = map[Reason]int{
	ReasonBadCollapseID:               http.StatusBadRequest,
	ReasonBadDeviceToken:              http.StatusBadRequest,
	ReasonBadExpirationDate:           http.StatusBadRequest,
	ReasonBadMessageID:                http.StatusBadRequest,
	ReasonBadPriority:                 http.StatusBadRequest,
	ReasonBadTopic:                    http.StatusBadRequest,
	ReasonDeviceTokenNotForTopic:      http.StatusBadRequest,
	ReasonDuplicateHeaders:            http.StatusBadRequest,
	ReasonIdleTimeout:                 http.StatusBadRequest,
	ReasonInvalidPushType:             http.StatusBadRequest,
	ReasonMissingDeviceToken:          http.StatusBadRequest,
	ReasonMissingTopic:                http.StatusBadRequest,
	ReasonPayloadEmpty:                http.StatusBadRequest,
	ReasonTopicDisallowed:             http.StatusBadRequest,
	ReasonBadCertificate:              http.StatusForbidden,
	ReasonBadCertificateEnvironment:   http.StatusForbidden,
	ReasonExpiredProviderToken:        http.StatusForbidden,
	ReasonForbidden:                   http.StatusForbidden,
	ReasonInvalidProviderToken:        http.StatusForbidden,
	ReasonMissingProviderToken:        http.StatusForbidden,
	ReasonUnrelatedKeyIDInToken:       http.StatusForbidden,
	ReasonBadEnvironmentKeyIDInToken:  http.StatusForbidden,
	ReasonBadPath:                     http.StatusNotFound,
	ReasonMethodNotAllowed:            http.StatusMethodNotAllowed,
	ReasonExpiredToken:                http.StatusGone,
	ReasonUnregistered:                http.StatusGone,
	ReasonPayloadTooLarge:             http.StatusRequestEntityTooLarge,
	ReasonTooManyProviderTokenUpdates: http.StatusTooManyRequests,
	ReasonTooManyRequests:             http.StatusTooManyRequests,
	ReasonInternalServerError:         http.StatusInternalServerError,
	ReasonServiceUnavailable:          http.StatusServiceUnavailable,
	ReasonShutdown:                    http.StatusServiceUnavailable,
}

// Reasons lists every reason of Apple's table, in the table's order
// (by HTTP status, then by name).
func Reasons() []Reason {
	return []Reason{
		ReasonBadCollapseID, ReasonBadDeviceToken, ReasonBadExpirationDate, ReasonBadMessageID,
		ReasonBadPriority, ReasonBadTopic, ReasonDeviceTokenNotForTopic, ReasonDuplicateHeaders,
		ReasonIdleTimeout, ReasonInvalidPushType, ReasonMissingDeviceToken, ReasonMissingTopic,
		ReasonPayloadEmpty, ReasonTopicDisallowed,
		ReasonBadCertificate, ReasonBadCertificateEnvironment, ReasonExpiredProviderToken, ReasonForbidden,
		ReasonInvalidProviderToken, ReasonMissingProviderToken, ReasonUnrelatedKeyIDInToken,
		ReasonBadEnvironmentKeyIDInToken,
		ReasonBadPath, ReasonMethodNotAllowed, ReasonExpiredToken, ReasonUnregistered,
		ReasonPayloadTooLarge, ReasonTooManyProviderTokenUpdates, ReasonTooManyRequests,
		ReasonInternalServerError, ReasonServiceUnavailable, ReasonShutdown,
	}
}

// Known reports whether Apple's table lists the reason.
func (r Reason) Known() bool {
	_, ok := reasonStatus[r]
	return ok
}

// Status is the HTTP status Apple's table gives the reason, or 400 for a
// reason it does not list.
func (r Reason) Status() int {
	if s, ok := reasonStatus[r]; ok {
		return s
	}
	return http.StatusBadRequest
}

// Error makes a Reason usable as an error: "apns: BadDeviceToken (400)".
func (r Reason) Error() string {
	return "apns: " + string(r) + " (" + strconv.Itoa(r.Status()) + ")"
}

// Disposition follows Apple's guidance: never retry a bad, expired or
// unregistered token ([DropToken]); retry server errors, rate limits and
// provider-token problems that a new token or connection cures ([Retry]);
// every other refusal is the message's or the credentials' fault
// ([DropMessage]).
func (r Reason) Disposition() Disposition {
	switch r {
	case ReasonBadDeviceToken, ReasonDeviceTokenNotForTopic, ReasonExpiredToken, ReasonUnregistered,
		ReasonMissingDeviceToken:
		return DropToken
	case ReasonTooManyRequests, ReasonInternalServerError, ReasonServiceUnavailable, ReasonShutdown,
		ReasonIdleTimeout, ReasonExpiredProviderToken, ReasonTooManyProviderTokenUpdates:
		return Retry
	}
	return DropMessage
}
