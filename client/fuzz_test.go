package client_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/apnskit/apnskit/client"
)

// FuzzMessageJSON feeds arbitrary JSON to Message: decoding, validating and
// building the payload never panic, and a message that decodes re-encodes
// to JSON that decodes to the same payload.
func FuzzMessageJSON(f *testing.F) {
	for _, seed := range []string{
		`{"tokens":["aa"],"alert":"hi","badge":3}`,
		`{"tokens":["aa","bb"],"alert":{"title":"t","loc-args":[1,2.5]},"badge":"7","sound":"s","content_available":true,"expiry":{"after":"1h0m0s"},"priority":10,"extra":{"k":[1,{"x":null}]}}`,
		`{"tokens":["zz"],"payload":{"aps":{"alert":"a","badge":1}}}`,
		`{"tokens":[],"payload":[1]}`,
		`{"expiry":{"at":"2030-01-01T00:00:00Z"}}`,
		`{"tokens":["00"],"payload":{"aps":5},"priority":-3}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m client.Message
		if err := json.Unmarshal(data, &m); err != nil {
			return
		}
		verr := m.Validate()
		p1, perr := m.PayloadJSON()
		out, err := json.Marshal(m)
		if err != nil {
			return // e.g. an Extra value JSON cannot hold
		}
		var back client.Message
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		p2, perr2 := back.PayloadJSON()
		// A literal U+2028/U+2029 comes back escaped (documented); nothing else changes.
		esc := strings.NewReplacer("\u2028", `\u2028`, "\u2029", `\u2029`)
		if (perr == nil) != (perr2 == nil) || esc.Replace(string(p1)) != esc.Replace(string(p2)) {
			t.Fatalf("payload changed through JSON: %s (%v) vs %s (%v)", p1, perr, p2, perr2)
		}
		if verr2 := back.Validate(); (verr == nil) != (verr2 == nil) {
			t.Fatalf("validity changed through JSON: %v vs %v", verr, verr2)
		}
	})
}
