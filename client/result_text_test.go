package client_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/client"
	"github.com/apnskit/apnskit/wire"
)

var _ = Describe("StatusError text", func() {
	It("names the status once, without a second package prefix", func() {
		err := &client.StatusError{Outcome: wire.StatusProcessingError, ID: 5}
		Expect(err.Error()).To(Equal("apns: error response processing error (1) for id 5"))
		late := &client.StatusError{Outcome: apns.Reason("BadDeviceToken"), ID: 7, Late: true}
		Expect(late.Error()).To(Equal("apns: error response BadDeviceToken (400) for id 7 (late)"))
		Expect(err).To(MatchError(wire.StatusProcessingError))
	})
})
