package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/apnskit/apnskit/internal/cli"
	"github.com/apnskit/apnskit/mockapns"
)

// adminTokenEnv is the environment variable that holds the admin API's
// bearer token when -admin-token is not given.
const adminTokenEnv = "MOCKAPNS_ADMIN_TOKEN"

// Defaults of the admin http.Server's timeouts.
const (
	defaultAdminReadTimeout = 30 * time.Second
	defaultAdminIdleTimeout = 60 * time.Second
	// adminWriteSlack is what the write timeout leaves beyond the longest
	// ?wait timeout, for writing the answer.
	adminWriteSlack = 15 * time.Second
)

// adminOptions are the flags of the admin API.
type adminOptions struct {
	token        string
	allowOrigins []string
	feedbackMax  int
	readTimeout  time.Duration
	idleTimeout  time.Duration
}

// defineAdminFlags defines the admin flags (a contract, README.md) into o.
func defineAdminFlags(fs *flag.FlagSet, o *adminOptions) {
	fs.StringVar(&o.token, "admin-token", "", "bearer `token` every admin request but GET /healthz must carry (default $"+adminTokenEnv+"; none: no token wanted)")
	fs.Func("admin-allow-origin", "`origins` and hosts the admin API answers besides loopback and IP addresses: host, HOST:PORT or https://host:port, comma-separated (repeatable)",
		func(s string) error {
			for _, part := range strings.Split(s, ",") {
				part = strings.TrimSpace(part)
				if err := (mockapns.Config{Admin: mockapns.AdminConfig{AllowOrigins: []string{part}}}).Validate(); err != nil {
					return fmt.Errorf("%q: want a host, HOST:PORT or an origin such as https://host:port", part)
				}
				o.allowOrigins = append(o.allowOrigins, part)
			}
			return nil
		})
	intVar(fs, &o.feedbackMax, "feedback-max", mockapns.DefaultFeedbackMax, "feedback `tuples` the queue holds at most (POST /api/v1/feedback beyond is refused)",
		"want a whole number of tuples, at least 1")
	fs.DurationVar(&o.readTimeout, "admin-read-timeout", defaultAdminReadTimeout, "`time` an admin client has to send one request, headers and body")
	fs.DurationVar(&o.idleTimeout, "admin-idle-timeout", defaultAdminIdleTimeout, "`time` an idle keep-alive admin connection stays open")
}

// check validates the admin flags and takes the token from the
// environment when -admin-token is not given.
func (o *adminOptions) check(getenv func(string) string) error {
	switch {
	case o.feedbackMax < 1:
		return cli.Usagef("invalid value %d for flag -feedback-max: want at least 1", o.feedbackMax)
	case o.readTimeout <= 0:
		return cli.Usagef("invalid value %v for flag -admin-read-timeout: want a positive duration", o.readTimeout)
	case o.idleTimeout <= 0:
		return cli.Usagef("invalid value %v for flag -admin-idle-timeout: want a positive duration", o.idleTimeout)
	}
	if o.token == "" {
		o.token = strings.TrimSpace(getenv(adminTokenEnv))
	}
	return nil
}

// config sets the admin fields of cfg. addr is the -admin address: a host
// name there is allowed as Host besides the -admin-allow-origin entries.
func (o *adminOptions) config(cfg *mockapns.Config, addr string) {
	cfg.FeedbackMax = o.feedbackMax
	cfg.Admin.Token = o.token
	cfg.Admin.ProcessMetrics = true // this process is the mock: go_* and process_* in GET /metrics
	cfg.Admin.AllowOrigins = append([]string(nil), o.allowOrigins...)
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" && !isIPHost(host) && !strings.EqualFold(host, "localhost") {
		cfg.Admin.AllowOrigins = append(cfg.Admin.AllowOrigins, host)
	}
}

// warn logs a warning when the admin API listens beyond loopback without
// a token: anyone who reaches the port can drive the mock.
func (o *adminOptions) warn(listening string, log *slog.Logger) {
	if o.token != "" {
		return
	}
	host, _, err := net.SplitHostPort(listening)
	if err != nil {
		return
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Unmap().IsLoopback() {
		return
	}
	log.Warn("the admin API listens beyond loopback without a token: anyone who reaches it can drive the mock; set -admin-token or $"+adminTokenEnv,
		"admin", listening)
}

// writeTimeout is the admin server's write timeout: the longest ?wait
// timeout, plus time to write the answer.
func (o *adminOptions) writeTimeout() time.Duration {
	return mockapns.MaxWaitTimeout + adminWriteSlack
}

// headerTimeout is the admin server's read-header timeout: readHeaderTimeout,
// or the read timeout when shorter.
func (o *adminOptions) headerTimeout() time.Duration {
	return min(readHeaderTimeout, o.readTimeout)
}

func isIPHost(h string) bool {
	_, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return err == nil
}

// osGetenv is the environment the command reads.
var osGetenv = os.Getenv
