package mockapns_test

import (
	"crypto/x509"
	"crypto/x509/pkix"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("HTTP/2 certificate connections", func() {
	var (
		pki *certs.PKI
		srv *mockapns.Server
	)
	BeforeEach(func() {
		var err error
		pki, err = certs.New(certs.Options{})
		Expect(err).NotTo(HaveOccurred())
		srv = startServer(mockapns.Config{PKI: pki})
	})

	issue := func(o certs.ClientOptions) *x509.Certificate {
		GinkgoHelper()
		p, err := pki.IssueClient(o)
		Expect(err).NotTo(HaveOccurred())
		return p.Cert
	}

	It("allow the certificate's bundle ID and the topics of its extension, ignoring authorization", func() {
		a, r := srv.NewConnAuthForTest(pki.Client.Cert)
		Expect(r).To(BeEmpty())
		Expect(a.Method()).To(Equal(mockapns.AuthMethodCertificate))
		for _, t := range []string{certs.DefaultBundleID, certs.DefaultBundleID + ".voip", certs.DefaultBundleID + ".complication"} {
			got, r := a.Authorize("bearer not-a-jwt", t)
			Expect(r).To(BeEmpty(), t)
			Expect(got).To(Equal(t))
		}
		Expect(a.TokenValidated()).To(BeFalse())
	})

	It("refuse a topic outside the certificate with TopicDisallowed", func() {
		a, _ := srv.NewConnAuthForTest(pki.Client.Cert)
		for _, t := range []string{"com.example.other", certs.DefaultBundleID + ".push-type.liveactivity", "COM.EXAMPLE.APNSKIT"} {
			_, r := a.Authorize("", t)
			Expect(r).To(Equal(apns.ReasonTopicDisallowed), t)
		}
	})

	It("want apns-topic when the certificate has several topics, and use the only one otherwise", func() {
		a, _ := srv.NewConnAuthForTest(pki.Client.Cert)
		_, r := a.Authorize("", "")
		Expect(r).To(Equal(apns.ReasonMissingTopic))

		single, r := srv.NewConnAuthForTest(issue(certs.ClientOptions{BundleID: "com.example.single", Topics: []string{}}))
		Expect(r).To(BeEmpty())
		got, r := single.Authorize("", "")
		Expect(r).To(BeEmpty())
		Expect(got).To(Equal("com.example.single"))
	})

	It("take the topics from the extension as certs writes it, listed topics beyond the bundle ID included", func() {
		a, r := srv.NewConnAuthForTest(issue(certs.ClientOptions{BundleID: "com.example.app", Topics: []string{"com.example.app.voip", "com.example.widget"}}))
		Expect(r).To(BeEmpty())
		for t, want := range map[string]apns.Reason{
			"com.example.app": "", "com.example.app.voip": "", "com.example.widget": "",
			"com.example.app.complication": apns.ReasonTopicDisallowed,
		} {
			_, r := a.Authorize("", t)
			Expect(r).To(Equal(want), t)
		}
	})

	DescribeTable("refuse a certificate of the other environment with BadCertificateEnvironment",
		func(server, client certs.Environment, want apns.Reason) {
			s := startServer(mockapns.Config{PKI: pki, Environment: server})
			a, r := s.NewConnAuthForTest(issue(certs.ClientOptions{Environment: client}))
			Expect(r).To(Equal(want))
			if want == "" {
				Expect(a).NotTo(BeNil())
			} else {
				Expect(a).To(BeNil())
				Expect(want.Status()).To(Equal(403))
			}
		},
		Entry("sandbox on sandbox", certs.Sandbox, certs.Sandbox, apns.Reason("")),
		Entry("sandbox by default", certs.Environment(0), certs.Sandbox, apns.Reason("")),
		Entry("production on sandbox", certs.Sandbox, certs.Production, apns.ReasonBadCertificateEnvironment),
		Entry("sandbox on production", certs.Production, certs.Sandbox, apns.ReasonBadCertificateEnvironment),
		Entry("production on production", certs.Production, certs.Production, apns.Reason("")),
		Entry("universal on sandbox", certs.Sandbox, certs.Universal, apns.Reason("")),
		Entry("universal on production", certs.Production, certs.Universal, apns.Reason("")),
	)

	It("refuse a certificate without an environment extension with BadCertificate", func() {
		a, r := srv.NewConnAuthForTest(issue(certs.ClientOptions{NoEnvironment: true}))
		Expect(a).To(BeNil())
		Expect(r).To(Equal(apns.ReasonBadCertificate))
	})

	It("refuse a certificate without any topic with BadCertificate", func() {
		c := issue(certs.ClientOptions{})
		bare := *c
		bare.Subject.Names = nil
		bare.Extensions = nil
		for _, e := range c.Extensions {
			if !e.Id.Equal(certs.OIDTopics) {
				bare.Extensions = append(bare.Extensions, e)
			}
		}
		_, r := srv.NewConnAuthForTest(&bare)
		Expect(r).To(Equal(apns.ReasonBadCertificate))

		// A malformed topics extension adds nothing, the subject's bundle ID stays.
		odd := bare
		odd.Subject.Names = c.Subject.Names
		odd.Extensions = append(odd.Extensions[:len(odd.Extensions):len(odd.Extensions)],
			pkix.Extension{Id: certs.OIDTopics, Value: []byte{0x30, 0x05, 0x0c}})
		a, r := srv.NewConnAuthForTest(&odd)
		Expect(r).To(BeEmpty())
		got, r := a.Authorize("", "")
		Expect(r).To(BeEmpty())
		Expect(got).To(Equal(certs.DefaultBundleID))
	})

	It("has the server report its environment and refuse an unknown one", func() {
		Expect(srv.Environment()).To(Equal(certs.Sandbox))
		_, err := mockapns.Start(mockapns.Config{PKI: pki, Environment: certs.Universal})
		Expect(err).To(MatchError(ContainSubstring("Config.Environment")))
	})
})
