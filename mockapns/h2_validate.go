package mockapns

import (
	"encoding/json"
	"strings"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// HTTP/2 payload limits, as Apple documents them.
const (
	// HTTP2MaxPayload is the largest HTTP/2 request body Apple accepts.
	HTTP2MaxPayload = 4096
	// HTTP2MaxVoIPPayload is the largest body of a voip push.
	HTTP2MaxVoIPPayload = 5120
	// h2NoValidationMaxBody bounds a body when Config.NoValidation is set:
	// a stream's receive window, which the listener never extends.
	h2NoValidationMaxBody = h2InitialWindow
	// h2MaxCollapseID is the longest apns-collapse-id, in bytes.
	h2MaxCollapseID = 64
)

// h2Field indexes the request header fields the mock reads.
type h2Field uint8

const (
	fMethod h2Field = iota
	fPath
	fScheme
	fAuthority
	fAuthorization
	fAPNsID
	fExpiration
	fPriority
	fPushType
	fTopic
	fCollapseID
	nFields
)

// h2FieldNames are the names of the fields, by index.
var h2FieldNames = [nFields]string{
	fMethod: ":method", fPath: ":path", fScheme: ":scheme", fAuthority: ":authority",
	fAuthorization: "authorization", fAPNsID: "apns-id", fExpiration: "apns-expiration",
	fPriority: "apns-priority", fPushType: "apns-push-type", fTopic: "apns-topic",
	fCollapseID: "apns-collapse-id",
}

// h2Incoming is one decoded request: the header fields the mock reads, the
// name of the first repeated regular header, and the body.
type h2Incoming struct {
	f    [nFields]string
	has  uint16 // bit i set when field i is present
	dup  string // first regular header name seen twice; "" if none
	body []byte
}

func (r *h2Incoming) get(i h2Field) (string, bool) { return r.f[i], r.has&(1<<i) != 0 }

// set records field i; a second occurrence is a duplicate.
func (r *h2Incoming) set(i h2Field, v string) {
	if r.has&(1<<i) != 0 {
		if r.dup == "" {
			r.dup = h2FieldNames[i]
		}
		return
	}
	r.has |= 1 << i
	r.f[i] = v
}

func (r *h2Incoming) reset() {
	body := r.body[:0]
	*r = h2Incoming{body: body}
}

// h2Push is a request that passed validation, in the journal's terms.
type h2Push struct {
	token         [apns.MaxTokenLength]byte
	tokenLen      int
	apnsID        string // as sent; "" when absent
	expiration    int64
	hasExpiration bool
	priority      apns.Priority
	pushType      string
	topic         string
	collapseID    string
}

func (p *h2Push) tokenBytes() []byte { return p.token[:p.tokenLen] }

// h2Rules are what validation needs from the server and the connection.
type h2Rules struct {
	// tokenLength follows wire.Limits.TokenLength: 0 means 32 bytes,
	// negative any length from 1 to 100 bytes.
	tokenLength  int
	noValidation bool
	// defaultTopic is used when apns-topic is absent (a certificate that
	// names a single topic); "" makes the header required.
	defaultTopic string
}

// h2PushTypes maps each apns-push-type to the suffix its apns-topic must
// carry after the bundle ID ("" for none; mdm topics are free).
var h2PushTypes = map[string]string{
	"alert":        "",
	"background":   "",
	"voip":         ".voip",
	"complication": ".complication",
	"fileprovider": ".pushkit.fileprovider",
	"mdm":          "",
	"location":     ".location-query",
	"liveactivity": ".push-type.liveactivity",
	"pushtotalk":   ".voip-ptt",
	"widgets":      ".push-type.widgets",
	"controls":     ".push-type.controls",
}

// topicSuffixes are the suffixes of h2PushTypes, for the push types that
// must not carry one.
var topicSuffixes = []string{".voip", ".complication", ".pushkit.fileprovider", ".location-query",
	".push-type.liveactivity", ".voip-ptt", ".push-type.widgets", ".push-type.controls"}

const devicePath = "/3/device/"

// h2MaxBody is the largest body the request may carry: 5120 bytes for a
// voip push (by apns-push-type, or by a .voip topic when the push type is
// absent), 4096 otherwise, a stream's window (65535) without validation.
func h2MaxBody(r *h2Incoming, noValidation bool) int {
	if noValidation {
		return h2NoValidationMaxBody
	}
	pt, ok := r.get(fPushType)
	if pt == "voip" || !ok && strings.HasSuffix(r.f[fTopic], ".voip") {
		return HTTP2MaxVoIPPayload
	}
	return HTTP2MaxPayload
}

// validateH2 judges a complete request as Apple does and fills p. It
// returns "" for a request to accept, else the reason to answer. The checks
// run in this order, the first failing one deciding: :method
// (MethodNotAllowed), :path (BadPath, MissingDeviceToken, BadDeviceToken for
// a token that is not hex or not of the configured length), a repeated
// header (DuplicateHeaders), apns-id not a canonical lower-case UUID
// (BadMessageId), apns-expiration not a decimal number (BadExpirationDate),
// apns-priority not 10, 5 or 1 (BadPriority), apns-push-type unknown
// (InvalidPushType), apns-topic absent where required (MissingTopic) or
// without the suffix its push type needs, or with one when the push type
// needs none (BadTopic), apns-collapse-id over 64 bytes (BadCollapseId),
// an empty body (PayloadEmpty), a body over the limit (PayloadTooLarge), a
// body that is not a JSON object with an "aps" object member (PayloadEmpty:
// it carries nothing Apple could deliver).
//
// With rules.noValidation only :method and :path are checked (the token
// must be hex, of any length from 1 to 100 bytes).
func validateH2(r *h2Incoming, rules h2Rules, p *h2Push) apns.Reason {
	if reason := validateRoute(r, rules, p); reason != "" {
		return reason
	}
	p.apnsID, _ = r.get(fAPNsID)
	p.topic, _ = r.get(fTopic)
	p.pushType, _ = r.get(fPushType)
	p.collapseID, _ = r.get(fCollapseID)
	if rules.noValidation {
		if v, ok := r.get(fExpiration); ok {
			p.expiration, p.hasExpiration = parseDecimal(v)
		}
		if v, ok := r.get(fPriority); ok {
			if n, ok := parseDecimal(v); ok && n < 256 {
				p.priority = apns.NewPriority(uint8(n))
			}
		}
		if p.topic == "" {
			p.topic = rules.defaultTopic
		}
		return ""
	}
	if r.dup != "" {
		return apns.ReasonDuplicateHeaders
	}
	if v, ok := r.get(fAPNsID); ok && !canonicalUUID(v) {
		return apns.ReasonBadMessageID
	}
	if v, ok := r.get(fExpiration); ok {
		if p.expiration, p.hasExpiration = parseDecimal(v); !p.hasExpiration {
			return apns.ReasonBadExpirationDate
		}
	}
	if v, ok := r.get(fPriority); ok {
		switch v {
		case "10":
			p.priority = apns.PriorityImmediate
		case "5":
			p.priority = apns.PriorityConserve
		case "1":
			p.priority = apns.PriorityLow
		default:
			return apns.ReasonBadPriority
		}
	}
	suffix, known := "", true
	if pt, ok := r.get(fPushType); ok {
		if suffix, known = h2PushTypes[pt]; !known {
			return apns.ReasonInvalidPushType
		}
	}
	if p.topic == "" {
		if rules.defaultTopic == "" {
			return apns.ReasonMissingTopic
		}
		p.topic = rules.defaultTopic
	}
	if reason := checkTopic(p.topic, p.pushType, suffix); reason != "" {
		return reason
	}
	if len(p.collapseID) > h2MaxCollapseID {
		return apns.ReasonBadCollapseID
	}
	switch {
	case len(r.body) == 0:
		return apns.ReasonPayloadEmpty
	case len(r.body) > h2MaxBody(r, false):
		return apns.ReasonPayloadTooLarge
	case !hasAPSDictionary(r.body):
		return apns.ReasonPayloadEmpty
	}
	return ""
}

// validateRoute checks :method and :path, the part of validateH2 that
// comes before the credentials, and decodes the device token into p (which
// it clears first). The token must be hex; with validation, also of the
// configured length.
func validateRoute(r *h2Incoming, rules h2Rules, p *h2Push) apns.Reason {
	*p = h2Push{}
	if m, _ := r.get(fMethod); m != "POST" {
		return apns.ReasonMethodNotAllowed
	}
	path, _ := r.get(fPath)
	hexTok, ok := strings.CutPrefix(path, devicePath)
	if !ok || strings.ContainsAny(hexTok, "/?#") {
		return apns.ReasonBadPath
	}
	if hexTok == "" {
		return apns.ReasonMissingDeviceToken
	}
	if !decodeHexToken(hexTok, p) {
		return apns.ReasonBadDeviceToken
	}
	if rules.noValidation {
		return ""
	}
	want := rules.tokenLength
	if want == 0 {
		want = wire.DefaultTokenLength
	}
	if want > 0 && p.tokenLen != want {
		return apns.ReasonBadDeviceToken
	}
	return ""
}

// checkTopic applies the topic rule of the push type: the suffix it needs
// after a non-empty bundle ID, or, for alert and background pushes (and
// pushes without a type), none of the other types' suffixes.
func checkTopic(topic, pushType, suffix string) apns.Reason {
	switch {
	case pushType == "mdm":
		return ""
	case suffix != "":
		if len(topic) <= len(suffix) || !strings.HasSuffix(topic, suffix) {
			return apns.ReasonBadTopic
		}
	case pushType == "":
		return "" // the topic decides the kind of push
	default:
		for _, s := range topicSuffixes {
			if strings.HasSuffix(topic, s) {
				return apns.ReasonBadTopic
			}
		}
	}
	return ""
}

// decodeHexToken decodes a hex token of 1 to 100 bytes into p.
func decodeHexToken(s string, p *h2Push) bool {
	if len(s)%2 != 0 || len(s)/2 > apns.MaxTokenLength {
		return false
	}
	for i := 0; i < len(s); i += 2 {
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return false
		}
		p.token[i/2] = hi<<4 | lo
	}
	p.tokenLen = len(s) / 2
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseDecimal parses a non-negative decimal number of at most 18 digits.
func parseDecimal(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// canonicalUUID reports whether s is a UUID in canonical lower-case form,
// 8-4-4-4-12 hex digits.
func canonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// hasAPSDictionary reports whether body is valid JSON whose top level is an
// object with an "aps" member that is an object.
func hasAPSDictionary(body []byte) bool {
	if !json.Valid(body) {
		return false
	}
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return false
	}
	i++
	for {
		i = skipSpace(body, i)
		if i >= len(body) || body[i] != '"' {
			return false // '}' of an object without aps
		}
		end := skipString(body, i)
		key := body[i+1 : end-1]
		i = skipSpace(body, end)
		i = skipSpace(body, i+1) // past ':'
		if isAPSKey(key) {
			return body[i] == '{'
		}
		i = skipSpace(body, skipValue(body, i))
		if body[i] == '}' {
			return false
		}
		i++ // past ','
	}
}

// isAPSKey reports whether the raw (still escaped) key reads "aps".
func isAPSKey(raw []byte) bool {
	if string(raw) == "aps" {
		return true
	}
	if !strings.Contains(string(raw), `\`) {
		return false
	}
	var k string
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	return json.Unmarshal(quoted, &k) == nil && k == "aps"
}

// The skip functions walk JSON that json.Valid accepted.

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	default:
		for i < len(b) && !strings.ContainsRune(",}] \t\n\r", rune(b[i])) {
			i++
		}
		return i
	}
}
