package conformance

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzDecodeRequest feeds the adapter side's parser arbitrary lines at
// every version: it must never panic, and a line it accepts must come out
// of Encode and DecodeRequest again unchanged.
func FuzzDecodeRequest(f *testing.F) {
	cmd := 1
	for _, r := range []Request{
		{ID: 1, Op: OpHello, Protocol: ProtocolVersion, Kit: KitVersion},
		{ID: 2, Op: OpConfigure, Endpoint: Endpoint{Gateway: "127.0.0.1:1", Feedback: "127.0.0.1:2",
			CAPEM: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), ErrorWait: time.Second,
			HTTP2: "127.0.0.1:3", AuthKeyPEM: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
			KeyID: "KEYID12345", TeamID: "TEAMID1234"}},
		{ID: 3, Op: OpSend, Transport: TransportHTTP2, Batch: Batch{Tokens: []string{"aa", "BBcc"}, Payload: json.RawMessage(`{"aps":{"alert":"hi"}}`),
			Priority: 10, Expiry: time.Unix(0, 0), Command: &cmd, Gateway: "[::1]:4", Topic: "com.example", PushType: "alert", CollapseID: "c"}},
		{ID: 4, Op: OpOutdate, Idle: 5 * time.Millisecond},
		{ID: 5, Op: OpFeedback}, {ID: 6, Op: OpShutdown}, {ID: 7, Op: OpClose}, {ID: 8, Op: "dance"},
	} {
		for v := 1; v <= ProtocolVersion; v++ {
			if line, err := r.Encode(v); err == nil {
				f.Add(line, v)
			}
		}
	}
	f.Add([]byte(`{"id":1,"op":"send","payload":{"a":1},"payload_text":"{\"a\": 1}"}`), 3)
	f.Add([]byte(`{"id":1,"op":"configure","transport":"http2","http2_url":"https://h:1/","auth":"certificate","cert_pem":"-----BEGIN C-----\n-----END C-----"}`), 3)
	f.Add([]byte(`{"id":1,"id":2}`), 3)
	f.Add([]byte(`[{}]`), 2)
	f.Fuzz(func(t *testing.T, line []byte, version int) {
		version = 1 + (version&0xff)%ProtocolVersion
		r, err := DecodeRequest(line, version)
		if err != nil {
			return
		}
		again, err := r.Encode(version)
		if err != nil {
			t.Fatalf("%q decodes to %+v, which does not encode: %v", line, r, err)
		}
		back, err := DecodeRequest(again, version)
		if err != nil {
			t.Fatalf("%q decodes, but its encoding %q does not: %v", line, again, err)
		}
		if d := cmp.Diff(r, back, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("%q: decode, encode, decode changes the request (-first +second):\n%s", line, d)
		}
	})
}

// FuzzCheckResponse feeds the suite side's check of an adapter's answers
// arbitrary lines: it must never panic.
func FuzzCheckResponse(f *testing.F) {
	for _, s := range []string{
		`{"id":3,"ok":true,"outcome":{"failed":[{"token":"aa","status":410}],"reasons":[{"token":"aa","reason":"Unregistered","http_status":410,"timestamp":"2026-11-30T08:00:00Z","apns_id":"x"}],"attempts":1}}`,
		`{"id":4,"ok":true,"tuples":[{"token":"aa","time":"2026-01-02T03:04:05Z"}]}`,
		`{"id":5,"ok":true,"closed":2}`,
		`{"id":6,"ok":false,"unsupported":true,"error":"no"}`,
		`{"id":7,"ok":true,"outcome":{"reasons":[{"token":"aa","reason":"x","http_status":99}]}}`,
	} {
		for _, op := range []string{OpSend, OpFeedback, OpOutdate, OpClose} {
			f.Add([]byte(s), op)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte, op string) {
		_ = checkResponse(op, line, ProtocolVersion)
	})
}
