package main

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
)

var _ = Describe("h2Settle", func() {
	var (
		c     counters
		t     *streamTally
		lines []string
	)
	BeforeEach(func() {
		c = counters{}
		lines = nil
		t = &streamTally{c: &c, settle: h2Settle(10, func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) })}
	})
	summaryOf := func() summary {
		GinkgoHelper()
		s := summary{Accepted: t.accepted, Uncertain: t.uncertain}
		for _, f := range t.failed {
			s.Failed = append(s.Failed, f.f)
		}
		return s
	}

	It("fails a refusal with its HTTP status, reason and a 410's timestamp, logged with its batch", func() {
		at := time.Date(2026, 11, 30, 8, 0, 0, 0, time.FixedZone("x", 3600))
		t.outcome(client.Delivery{Token: "AB" + tok(1)[2:], Tag: 12, Kind: client.Refused, Outcome: apns.ReasonUnregistered,
			Response: &client.Response{HTTPStatus: 410}, Timestamp: at, Attempts: 1})
		t.outcome(client.Delivery{Token: tok(2), Tag: 13, Kind: client.Delivered, Attempts: 1})
		utc := at.UTC()
		Expect(summaryOf()).To(Equal(summary{Accepted: 1, Failed: []failure{{Token: "ab" + tok(1)[2:], Status: 410, Reason: "Unregistered", Timestamp: &utc}}}))
		Expect(lines).To(Equal([]string{"batch 2: HTTP 410 Unregistered for token ab" + tok(1)[2:]}))
		Expect(c.done.Load()).To(BeNumerically("==", 2))
		Expect(c.failed.Load()).To(BeNumerically("==", 1))
		Expect(t.stopped.Load()).To(BeFalse())
	})

	It("stops the push at a refusal of the credentials", func() {
		t.outcome(client.Delivery{Token: tok(0), Tag: 0, Kind: client.Refused, Outcome: apns.ReasonInvalidProviderToken,
			Response: &client.Response{HTTPStatus: 403}, Attempts: 1})
		Expect(t.stopped.Load()).To(BeTrue())
		var ce *credentialsRefusedError
		Expect(t.stop).To(BeAssignableToTypeOf(ce))
		Expect(t.stop.Error()).To(ContainSubstring("HTTP 403 InvalidProviderToken"))
		Expect(summaryOf().Failed).To(Equal([]failure{{Token: tok(0), Status: 403, Reason: "InvalidProviderToken"}}))
	})

	It("fails a request without an answer with status 0, counting it uncertain when it was written", func() {
		t.outcome(client.Delivery{Token: tok(3), Tag: 3, Kind: client.Unsent, Err: client.ErrConnectionLost, Uncertain: true, Attempts: 1})
		Expect(summaryOf()).To(Equal(summary{Uncertain: 1, Failed: []failure{{Token: tok(3), Reason: "no response: " + client.ErrConnectionLost.Error()}}}))
		Expect(t.unsent).To(BeZero())
		Expect(lines).To(HaveLen(1))
		Expect(t.stopped.Load()).To(BeFalse())
	})

	It("leaves unsettled, uncounted as sent, a token the client could not connect for, and stops", func() {
		err := fmt.Errorf("%w: 127.0.0.1:1: refused", client.ErrConnect)
		t.outcome(client.Delivery{Token: tok(0), Tag: 0, Kind: client.Unsent, Err: err, Attempts: 1})
		Expect(summaryOf()).To(Equal(summary{}))
		Expect(t.unsent).To(Equal(1))
		Expect(t.stop).To(MatchError(client.ErrConnect))
		Expect(c.done.Load()).To(BeZero())
	})

	It("leaves unsettled what the push withdrew when it stopped", func() {
		t.outcome(client.Delivery{Token: tok(4), Tag: 4, Kind: client.Unsent, Err: context.DeadlineExceeded, Uncertain: true, Attempts: 1})
		Expect(summaryOf()).To(Equal(summary{Uncertain: 1}))
		Expect(t.stopped.Load()).To(BeFalse())
		Expect(c.done.Load()).To(BeZero())
	})
})
