package main

import (
	"encoding/json"
	"io"
	"math"
	"time"

	"github.com/apnskit/apnskit/wire"
)

// summary is the JSON line `push` prints on stdout when it ends. Its field
// names are a contract of the command (README.md in this folder).
type summary struct {
	// Sent counts notifications written to the gateway, resends included.
	Sent int `json:"sent"`
	// Accepted counts the notifications of the token list that the gateway
	// accepted (or, as with Apple, did not refuse), each once however many
	// times it was written.
	Accepted int `json:"accepted"`
	// Failed lists the notifications that will never be delivered: refused
	// tokens and messages, and those given up.
	Failed []failure `json:"failed"`
	// Retried counts notifications written again (part of Sent).
	Retried int `json:"retried"`
	// Uncertain counts the resends of notifications whose first copy may
	// have been delivered (possible duplicates; part of Retried).
	Uncertain int `json:"uncertain"`
	// Seconds is the wall-clock time from the first connection to the end.
	Seconds float64 `json:"seconds"`
	// Rate is Sent / Seconds, notifications per second.
	Rate float64 `json:"rate"`
}

// failure is one entry of summary.Failed.
type failure struct {
	Token  string `json:"token"`  // lower-case hex
	Status int    `json:"status"` // status of the error response (over HTTP/2 the HTTP status); 0 when the server gave none
	Reason string `json:"reason"` // Apple's name of the status (over HTTP/2 the reason string), or why the command gave up
	// Timestamp is, over HTTP/2, the time a 410 Unregistered or
	// ExpiredToken answer says the token stopped being valid.
	Timestamp *time.Time `json:"timestamp,omitempty"`
}

// statusFailure describes a notification the gateway refused with st.
func statusFailure(token string, st wire.Status) failure {
	return failure{Token: token, Status: int(st), Reason: st.String()}
}

// finish fills Seconds and Rate from the elapsed time: seconds rounded to
// the millisecond, the rate to a tenth.
func (s *summary) finish(elapsed time.Duration) {
	s.Seconds = math.Round(elapsed.Seconds()*1000) / 1000
	s.Rate = 0
	if s.Seconds > 0 {
		s.Rate = math.Round(float64(s.Sent)/s.Seconds*10) / 10
	}
	if s.Failed == nil {
		s.Failed = []failure{}
	}
}

// write prints the summary as one JSON line.
func (s *summary) write(w io.Writer) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// exitCode maps the outcome of push to the exit status: 0 when every
// notification was accepted, 1 when some failed.
func (s *summary) exitCode() int {
	if len(s.Failed) > 0 {
		return exitFailed
	}
	return exitOK
}
