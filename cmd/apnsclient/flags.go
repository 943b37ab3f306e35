package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"strconv"
	"strings"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/internal/cli"
)

// errUsage is wrapped by every error about the command line; run maps it to
// exit status 2 and a one-line message.
var errUsage = cli.ErrUsage

// usagef reports a bad command line.
func usagef(format string, args ...any) error { return cli.Usagef(format, args...) }

// progressMode is the -progress flag: when to draw the progress line.
type progressMode uint8

// The values of -progress; the zero value is progressAuto.
const (
	progressAuto   progressMode = iota // when stderr is a terminal
	progressAlways                     // always
	progressNever                      // never
)

var progressNames = [...]string{progressAuto: "auto", progressAlways: "always", progressNever: "never"}

// String is the flag value.
func (m progressMode) String() string { return progressNames[m] }

// MarshalText is the flag value.
func (m progressMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText accepts auto, always or never.
func (m *progressMode) UnmarshalText(b []byte) error {
	for v, name := range progressNames {
		if string(b) == name {
			*m = progressMode(v)
			return nil
		}
	}
	return errors.New("want auto, always or never")
}

// confirmMode is the -confirm flag: how push confirms what it wrote.
type confirmMode uint8

// The values of -confirm; the zero value is confirmSentinel.
const (
	confirmSentinel  confirmMode = iota // a stream, each stretch ended by a known-bad notification
	confirmErrorWait                    // a stream, presumed after the error window
	confirmClose                        // a stream, each stretch ended by close_notify
	confirmBatch                        // batch by batch (Send), each waiting the error window
)

var confirmNames = [...]string{confirmSentinel: "sentinel", confirmErrorWait: "error-wait", confirmClose: "close", confirmBatch: "batch"}

// String is the flag value.
func (m confirmMode) String() string { return confirmNames[m] }

// MarshalText is the flag value.
func (m confirmMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText accepts sentinel, error-wait, close or batch.
func (m *confirmMode) UnmarshalText(b []byte) error {
	for v, name := range confirmNames {
		if string(b) == name {
			*m = confirmMode(v)
			return nil
		}
	}
	return errors.New("want sentinel, error-wait, close or batch")
}

// priorityFlag is the -priority flag: absent (the zero value), 10 or 5,
// or 1 (HTTP/2 only: parsePush refuses it without -http2).
type priorityFlag struct{ p apns.Priority }

// MarshalText is the flag value: "" when absent.
func (f priorityFlag) MarshalText() ([]byte, error) {
	if !f.p.IsSet() {
		return nil, nil
	}
	return []byte(f.p.String()), nil
}

// UnmarshalText accepts 10, 5 or 1.
func (f *priorityFlag) UnmarshalText(b []byte) error {
	switch string(b) {
	case "10":
		f.p = apns.PriorityImmediate
	case "5":
		f.p = apns.PriorityConserve
	case "1":
		f.p = apns.NewPriority(1)
	default:
		return errors.New("want 10 or 5 (or 1 with -http2)")
	}
	return nil
}

// item is the priority item of the message: 0 for absent.
func (f priorityFlag) item() int {
	if v, ok := f.p.Value(); ok {
		return int(v)
	}
	return 0
}

// Names -addr accepts besides HOST:PORT; the client resolves them to Apple's
// hosts.
const (
	addrPushSandbox        = client.PushSandbox
	addrPushProduction     = client.PushProduction
	addrFeedbackSandbox    = client.FeedbackSandbox
	addrFeedbackProduction = client.FeedbackProduction
	addrAPISandbox         = client.APISandbox
	addrAPIProduction      = client.APIProduction
)

// connOptions are the flags both subcommands share: where to connect and
// with which certificate.
type connOptions struct {
	addr        string
	caFile      string
	certFile    string
	keyFile     string
	passphrase  string
	p12File     string
	p12Password string
	timeout     time.Duration // connect timeout (TCP + TLS); feedback: also each read
	verbose     bool

	// HTTP/2 only (push -http2): token authentication with a .p8 key.
	http2  bool
	p8File string
	keyID  string
	teamID string
}

// pushOptions are the flags of `apnsclient push`.
type pushOptions struct {
	conn       connOptions
	tokens     []string // from -token, lower-case hex
	tokensFile string   // -tokens: a file name or "-"

	alert    string
	hasAlert bool
	badge    int
	hasBadge bool
	sound    string
	hasSound bool
	payload  json.RawMessage // -payload, a JSON object
	expiry   time.Duration   // 0: absent
	priority priorityFlag    // absent, 10 or 5

	batch       int
	batchSet    bool // -batch was given
	confirm     confirmMode
	window      int // notifications in flight per connection (stream)
	maxAttempts int
	parallel    int
	errorWait   time.Duration // 0: the client's default
	progress    progressMode

	// HTTP/2 request headers (push -http2).
	topic      string
	pushType   string
	collapseID string

	set map[string]bool // the flags given on the command line
}

// feedbackOptions are the flags of `apnsclient feedback`.
type feedbackOptions struct {
	conn connOptions
}

// Defaults of our own flags.
const (
	defaultBatch       = 10000
	defaultMaxAttempts = 10
	defaultParallel    = 4
	defaultWindow      = 16384
)

func (c *connOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "", "gateway, feedback or HTTP/2 API `HOST:PORT`, or push_sandbox, push_production, feedback_sandbox, feedback_production, api_sandbox, api_production or https://HOST[:PORT] (-http2)")
	fs.StringVar(&c.caFile, "ca", "", "PEM `FILE` of the CAs that sign the server certificate (default: the system roots)")
	fs.StringVar(&c.certFile, "cert", "", "PEM `FILE` of the client certificate (may hold the key too)")
	fs.StringVar(&c.keyFile, "key", "", "PEM `FILE` of the client certificate's private key (default: read from -cert)")
	fs.StringVar(&c.passphrase, "passphrase", "", "`passphrase` of an encrypted -key (default: $APNSCLIENT_PASSPHRASE)")
	fs.StringVar(&c.p12File, "p12", "", "PKCS #12 `FILE` holding certificate and key, instead of -cert and -key")
	fs.StringVar(&c.p12Password, "p12-password", "", "`password` of -p12 (default: $APNSCLIENT_P12_PASSWORD)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "connect timeout (TCP and TLS handshake); for feedback also the longest wait for data")
	fs.BoolVar(&c.verbose, "v", false, "report connection errors, each error response with its status, and resends on stderr")
}

// check validates the shared flags; getenv supplies secrets not given as
// flags.
func (c *connOptions) check(getenv func(string) string, push bool) error {
	if err := c.checkAddr(push); err != nil {
		return err
	}
	tokenAuth := c.p8File != "" || c.keyID != "" || c.teamID != ""
	switch {
	case tokenAuth && !c.http2:
		return usagef("-p8, -key-id and -team-id are token authentication over HTTP/2: they need -http2")
	case tokenAuth && (c.certFile != "" || c.keyFile != "" || c.p12File != ""):
		return usagef("-p8 excludes -cert, -key and -p12: one kind of authentication")
	case tokenAuth && (c.p8File == "" || c.keyID == "" || c.teamID == ""):
		return usagef("token authentication needs all of -p8 FILE, -key-id ID and -team-id ID")
	case tokenAuth && len(c.keyID) != client.AuthIDLength:
		return usagef("-key-id %q: want %d letters or digits (the key ID Apple shows with the key)", c.keyID, client.AuthIDLength)
	case tokenAuth && len(c.teamID) != client.AuthIDLength:
		return usagef("-team-id %q: want %d letters or digits (the team ID of the developer account)", c.teamID, client.AuthIDLength)
	case tokenAuth:
	case c.p12File != "" && (c.certFile != "" || c.keyFile != ""):
		return usagef("-p12 excludes -cert and -key")
	case c.p12File == "" && c.certFile == "" && c.http2:
		return usagef("-p8 FILE -key-id ID -team-id ID, -cert FILE or -p12 FILE is required")
	case c.p12File == "" && c.certFile == "":
		return usagef("-cert is required (or -p12)")
	}
	if c.timeout <= 0 {
		return usagef("-timeout must be positive, not %v", c.timeout)
	}
	if c.passphrase == "" {
		c.passphrase = getenv("APNSCLIENT_PASSPHRASE")
	}
	if c.p12Password == "" {
		c.p12Password = getenv("APNSCLIENT_P12_PASSWORD")
	}
	return nil
}

// checkAddr checks -addr: HOST:PORT, or a name of the service the command
// talks to.
func (c *connOptions) checkAddr(push bool) error {
	switch c.addr {
	case "":
		return usagef("-addr is required")
	case addrPushSandbox, addrPushProduction:
		switch {
		case !push:
			return usagef("-addr %s is a push gateway; feedback needs feedback_sandbox, feedback_production or HOST:PORT", c.addr)
		case c.http2:
			return usagef("-addr %s is the binary gateway; -http2 needs api_sandbox, api_production or HOST:PORT", c.addr)
		}
	case addrFeedbackSandbox, addrFeedbackProduction:
		switch {
		case push && c.http2:
			return usagef("-addr %s is a feedback service; -http2 needs api_sandbox, api_production or HOST:PORT", c.addr)
		case push:
			return usagef("-addr %s is a feedback service; push needs push_sandbox, push_production or HOST:PORT", c.addr)
		}
	case addrAPISandbox, addrAPIProduction:
		switch {
		case !push:
			return usagef("-addr %s is the HTTP/2 API; feedback needs feedback_sandbox, feedback_production or HOST:PORT", c.addr)
		case !c.http2:
			return usagef("-addr %s is the HTTP/2 API: give -http2 (or push_sandbox, push_production for the binary gateway)", c.addr)
		}
	default:
		if strings.HasPrefix(c.addr, "https://") {
			if !push || !c.http2 {
				return usagef("-addr %s is an HTTP/2 address: only push -http2 takes one", c.addr)
			}
			if _, err := client.ParseHTTPSAddress(c.addr); err != nil {
				return usagef("-addr: %v", err)
			}
			return nil
		}
		if _, err := client.ResolveAddress(c.addr); err != nil {
			return usagef("-addr: want HOST:PORT or a name such as push_sandbox: %v", err)
		}
	}
	return nil
}

// tokenList is the repeatable -token flag.
type tokenList []string

func (l *tokenList) String() string { return strings.Join(*l, ",") }

func (l *tokenList) Set(s string) error {
	t, err := parseToken(s)
	if err != nil {
		return errors.New(tokenReason(err))
	}
	*l = append(*l, t)
	return nil
}

// newFlagSet returns a flag set that reports errors to no one: run turns
// them into one line.
func newFlagSet(name string) *flag.FlagSet { return cli.NewFlagSet(name) }

// parseFlags parses args and rejects positional arguments. It returns
// flag.ErrHelp for -h and a usage error for anything else.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// pushFlagSet declares the flags of push into o.
func pushFlagSet(o *pushOptions) *flag.FlagSet {
	fs := newFlagSet("push")
	o.conn.register(fs)
	fs.Var((*tokenList)(&o.tokens), "token", "device token in `HEX` (repeatable)")
	fs.StringVar(&o.tokensFile, "tokens", "", "`FILE` with one hex token per line, or - for stdin; blank lines and # comments are skipped")
	fs.Func("alert", "alert `TEXT`", func(s string) error {
		o.alert, o.hasAlert = s, true
		return nil
	})
	fs.Func("badge", "badge number `N` (0 removes the badge)", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return errors.New("want a whole number ≥ 0")
		}
		o.badge, o.hasBadge = n, true
		return nil
	})
	fs.Func("sound", "sound `NAME`", func(s string) error {
		o.sound, o.hasSound = s, true
		return nil
	})
	fs.Func("payload", "complete payload, a `JSON` object; excludes -alert, -badge and -sound", func(s string) error {
		b := bytes.TrimSpace([]byte(s))
		if !json.Valid(b) {
			return errors.New("not valid JSON")
		}
		if len(b) == 0 || b[0] != '{' {
			return errors.New("not a JSON object")
		}
		o.payload = json.RawMessage(b)
		return nil
	})
	fs.Func("expiry", "store the notification for `DUR` (such as 1h) if the device is offline (default: not stored)", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return errors.New("want a duration such as 30s, 1h or 24h")
		}
		if d <= 0 {
			return errors.New("must be positive")
		}
		o.expiry = d
		return nil
	})
	fs.TextVar(&o.priority, "priority", priorityFlag{}, "priority `10|5|1`: 10 delivers now, 5 at a power-saving time, 1 (-http2 only) never wakes the device (default: left out; APNs assumes 10)")
	fs.TextVar(&o.confirm, "confirm", confirmSentinel, "how written notifications are confirmed: sentinel (a known-bad notification the gateway must refuse, one round trip), error-wait (no error response within -error-wait), close (close_notify; not an Apple behaviour) or batch (batch by batch, each waiting -error-wait)")
	fs.IntVar(&o.batch, "batch", defaultBatch, "`N` notifications per send with -confirm batch (progress and retries go batch by batch); otherwise, when given, a confirmation every N notifications per connection; with -http2 the tokens per batch numbered in -v lines (default 500 there)")
	fs.IntVar(&o.window, "window", defaultWindow, "at most `N` notifications in flight per connection, written and not yet confirmed (bounds memory; each full window is confirmed: -confirm sentinel opens a new connection); with -http2 the requests in flight over all connections (default 1000 there)")
	fs.IntVar(&o.maxAttempts, "max-attempts", defaultMaxAttempts, "give up on a notification after `N` sends in a row that settle nothing; with -http2 the requests a token gets at most when APNs answers a reason to retry (429, 500, 503; default 3 there)")
	fs.IntVar(&o.parallel, "parallel", defaultParallel, "`N` connections written at once (with -http2: opened as the load needs them)")
	fs.DurationVar(&o.errorWait, "error-wait", 0, "how long to wait for an error response before presuming notifications accepted: after each batch (-confirm batch), before each confirmation (-confirm error-wait), and for a sentinel the gateway accepted (default: the client's, 500ms)")
	fs.TextVar(&o.progress, "progress", progressAuto, "progress line on stderr: auto (when it is a terminal), always or never")

	fs.BoolVar(&o.conn.http2, "http2", false, "send over the HTTP/2 provider API (api_sandbox, api_production or HOST:PORT) instead of the binary gateway")
	fs.StringVar(&o.conn.p8File, "p8", "", "HTTP/2 token authentication: the `FILE` of the .p8 signing key (with -key-id and -team-id; instead of -cert or -p12)")
	fs.StringVar(&o.conn.keyID, "key-id", "", "HTTP/2 token authentication: the 10-character key `ID` of -p8")
	fs.StringVar(&o.conn.teamID, "team-id", "", "HTTP/2 token authentication: the 10-character team `ID`")
	fs.StringVar(&o.topic, "topic", "", "HTTP/2: apns-topic, the app's bundle `ID` (with the push type's suffix where it needs one); required with -http2")
	fs.StringVar(&o.pushType, "push-type", "", "HTTP/2: apns-push-type `TYPE` (alert, background, voip, ...; default: alert, or background for a -payload with content-available only)")
	fs.StringVar(&o.collapseID, "collapse-id", "", "HTTP/2: apns-collapse-id `ID` (at most 64 bytes): notifications with the same one replace each other on the device")
	return fs
}

// parsePush parses the arguments of `apnsclient push`.
func parsePush(args []string, getenv func(string) string) (*pushOptions, error) {
	o := &pushOptions{}
	fs := pushFlagSet(o)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := o.conn.check(getenv, true); err != nil {
		return nil, err
	}
	o.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	o.batchSet = o.set["batch"]
	if err := o.checkProtocol(); err != nil {
		return nil, err
	}
	switch {
	case len(o.tokens) > 0 && o.tokensFile != "":
		return nil, usagef("-token and -tokens exclude each other")
	case len(o.tokens) == 0 && o.tokensFile == "":
		return nil, usagef("no device token: give -token HEX or -tokens FILE")
	}
	if o.payload != nil && (o.hasAlert || o.hasBadge || o.hasSound) {
		return nil, usagef("-payload excludes -alert, -badge and -sound")
	}
	switch {
	case o.batch < 1:
		return nil, usagef("-batch must be at least 1")
	case o.maxAttempts < 1:
		return nil, usagef("-max-attempts must be at least 1")
	case o.parallel < 1:
		return nil, usagef("-parallel must be at least 1")
	case o.window < 1:
		return nil, usagef("-window must be at least 1")
	}
	if err := o.sessionConfig().Validate(); err != nil {
		return nil, usagef("%w", err) // client.ErrBadConfig: a value out of the client's range
	}
	return o, nil
}

// Flags that belong to one protocol: the HTTP/2 request headers and
// priority 1, and the binary gateway's ways of confirming.
var (
	http2OnlyFlags  = []string{"topic", "push-type", "collapse-id"}
	binaryOnlyFlags = []string{"confirm", "error-wait"}
)

// checkProtocol refuses flags of the other protocol than the one chosen,
// naming them, and requires -topic with -http2.
func (o *pushOptions) checkProtocol() error {
	var wrong []string
	list, why := binaryOnlyFlags, "the binary gateway's; HTTP/2 answers every request"
	if !o.conn.http2 {
		list, why = http2OnlyFlags, "HTTP/2 request headers: they need -http2"
	}
	for _, name := range list {
		if o.set[name] {
			wrong = append(wrong, "-"+name)
		}
	}
	if len(wrong) > 0 {
		return usagef("%s: %s", strings.Join(wrong, ", "), why)
	}
	if v, _ := o.priority.p.Value(); v == 1 && !o.conn.http2 {
		return usagef("-priority 1 is HTTP/2 only: give -http2, or 10 or 5 for the binary gateway")
	}
	if o.conn.http2 && o.topic == "" {
		return usagef("-topic is required with -http2 (the app's bundle ID)")
	}
	return nil
}

// sessionConfig is the part of the client's configuration the flags set.
func (o *pushOptions) sessionConfig() client.Config {
	return client.Config{ConnectTimeout: o.conn.timeout, PoolSize: o.parallel, ErrorWait: o.errorWait}
}

// parseFeedback parses the arguments of `apnsclient feedback`.
func parseFeedback(args []string, getenv func(string) string) (*feedbackOptions, error) {
	o := &feedbackOptions{}
	fs := newFlagSet("feedback")
	o.conn.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := o.conn.check(getenv, false); err != nil {
		return nil, err
	}
	return o, nil
}
