package client_test

import (
	"time"

	"github.com/apnskit/apnskit/client"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Config.Validate", func() {
	It("accepts the zero Config and positive values", func() {
		Expect(client.Config{}.Validate()).To(Succeed())
		Expect(client.Config{ErrorWait: time.Second, PoolSize: 8, History: 10, ConnectTimeout: time.Second}.Validate()).To(Succeed())
	})

	DescribeTable("refuses negative fields with ErrBadConfig, naming the field",
		func(cfg client.Config, field string) {
			err := cfg.Validate()
			Expect(err).To(MatchError(client.ErrBadConfig))
			Expect(err.Error()).To(ContainSubstring(field))
			_, err = client.NewSession(cfg)
			Expect(err).To(MatchError(client.ErrBadConfig))
		},
		Entry(nil, client.Config{ConnectTimeout: -1}, "ConnectTimeout"),
		Entry(nil, client.Config{WriteTimeout: -1}, "WriteTimeout"),
		Entry(nil, client.Config{ReadTimeout: -1}, "ReadTimeout"),
		Entry(nil, client.Config{ErrorWait: -1}, "ErrorWait"),
		Entry(nil, client.Config{History: -1}, "History"),
		Entry(nil, client.Config{PoolSize: -1}, "PoolSize"),
	)
})
