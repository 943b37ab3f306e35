package client

import (
	"fmt"
	"net"
	"strconv"
)

// Names of Apple's endpoints, accepted wherever an address is: the binary
// gateway and feedback service, and the HTTP/2 provider API
// ([NewHTTP2Client]).
const (
	PushSandbox        = "push_sandbox"        // gateway.sandbox.push.apple.com:2195
	PushProduction     = "push_production"     // gateway.push.apple.com:2195
	FeedbackSandbox    = "feedback_sandbox"    // feedback.sandbox.push.apple.com:2196
	FeedbackProduction = "feedback_production" // feedback.push.apple.com:2196
	APISandbox         = "api_sandbox"         // api.sandbox.push.apple.com:443 (HTTP/2)
	APIProduction      = "api_production"      // api.push.apple.com:443 (HTTP/2)
)

var namedAddresses = map[string]string{
	PushSandbox:        "gateway.sandbox.push.apple.com:2195",
	PushProduction:     "gateway.push.apple.com:2195",
	FeedbackSandbox:    "feedback.sandbox.push.apple.com:2196",
	FeedbackProduction: "feedback.push.apple.com:2196",
	APISandbox:         "api.sandbox.push.apple.com:443",
	APIProduction:      "api.push.apple.com:443",
}

// ResolveAddress turns one of the names above into Apple's host:port, and
// checks that anything else is host:port with a numeric port. Errors wrap
// ErrBadAddress.
func ResolveAddress(nameOrHostPort string) (string, error) {
	if a, ok := namedAddresses[nameOrHostPort]; ok {
		return a, nil
	}
	host, port, err := net.SplitHostPort(nameOrHostPort)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrBadAddress, nameOrHostPort, err)
	}
	if host == "" {
		return "", fmt.Errorf("%w: %q: empty host", ErrBadAddress, nameOrHostPort)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return "", fmt.Errorf("%w: %q: port must be 1-65535", ErrBadAddress, nameOrHostPort)
	}
	return nameOrHostPort, nil
}
