package mockapns_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
)

var _ = Describe("The web page's routes", func() {
	var ts *httptest.Server
	BeforeEach(func() {
		srv := startServer(mockapns.Config{Admin: mockapns.AdminConfig{Token: "s3cret"}})
		ts = httptest.NewServer(srv.Handler())
		DeferCleanup(ts.Close)
	})

	DescribeTable("serve the embedded files without the bearer token, with a Content-Security-Policy of their own origin only",
		func(path, contentType, contains string) {
			a := callWith(ts, "GET", path, "", nil)
			Expect(a.status).To(Equal(http.StatusOK))
			Expect(a.header.Get("Content-Type")).To(Equal(contentType))
			Expect(a.header.Get("X-Content-Type-Options")).To(Equal("nosniff"))
			csp := a.header.Get("Content-Security-Policy")
			Expect(csp).To(ContainSubstring("default-src 'none'"))
			Expect(csp).To(ContainSubstring("connect-src 'self'"))
			Expect(string(a.body)).To(ContainSubstring(contains))
		},
		Entry("the page", "/", "text/html; charset=utf-8", `<script src="/ui/app.js"`),
		Entry("its script", "/ui/app.js", "text/javascript; charset=utf-8", "/api/v1/events"),
		Entry("its style sheet", "/ui/style.css", "text/css; charset=utf-8", "@media (max-width: 600px)"),
	)

	It("fetches nothing from another origin (no CDN, no web font)", func() {
		for _, path := range []string{"/", "/ui/app.js", "/ui/style.css"} {
			body := string(callWith(ts, "GET", path, "", nil).body)
			Expect(body).NotTo(MatchRegexp(`(?i)(src|href)\s*=\s*["']?(https?:)?//`), path)
			Expect(body).NotTo(MatchRegexp(`(?i)url\(\s*["']?(https?:)?//`), path)
			Expect(body).NotTo(ContainSubstring("@import"), path)
		}
	})

	It("answers an unknown file with a JSON 404, and a mutation of the page with 405", func() {
		expectAPIError(callWith(ts, "GET", "/ui/nope.js", "", nil), http.StatusNotFound, "nope.js")
		expectAPIError(callWith(ts, "GET", "/ui/index.html", "", nil), http.StatusNotFound)
		expectAPIError(callWith(ts, "POST", "/", "{}", nil), http.StatusUnauthorized) // the guard first
		expectAPIError(callWith(ts, "POST", "/", "{}", map[string]string{"Authorization": "Bearer s3cret"}), http.StatusMethodNotAllowed)
	})

	It("guards everything else with the token, the page's own API included", func() {
		for _, path := range []string{"/api/v1/events", "/api/v1/fault-kinds", "/api/v1/stats"} {
			expectAPIError(callWith(ts, "GET", path, "", nil), http.StatusUnauthorized)
		}
	})

	It("lists every fault action of the registry with what it does and its members", func() {
		a := callWith(ts, "GET", "/api/v1/fault-kinds", "", map[string]string{"Authorization": "Bearer s3cret"})
		var kinds struct {
			Kinds []struct {
				Action  string `json:"action"`
				About   string `json:"about"`
				Members []struct {
					Name     string `json:"name"`
					Type     string `json:"type"`
					Required bool   `json:"required"`
					Hint     string `json:"hint"`
				} `json:"members"`
			} `json:"kinds"`
			Reasons []struct {
				Name string `json:"name"`
				Code int    `json:"code"`
			} `json:"reasons"`
			Statuses []struct {
				Name string `json:"name"`
				Code int    `json:"code"`
			} `json:"statuses"`
		}
		expectJSON(a, http.StatusOK, &kinds)
		var actions []string
		for _, k := range kinds.Kinds {
			actions = append(actions, k.Action)
			Expect(k.About).NotTo(BeEmpty(), k.Action)
			for _, m := range k.Members {
				Expect(m.Type).To(BeElementOf("integer", "number", "string"), k.Action+"."+m.Name)
				Expect(m.Hint).NotTo(BeEmpty(), k.Action+"."+m.Name)
				// Every member the form offers is one ParseFault takes
				// with this action (an error, if any, names another).
				_, err := mockapns.ParseFault([]byte(`{"action":"` + k.Action + `","` + m.Name + `":null}`))
				var se *mockapns.FaultSpecError
				Expect(errors.As(err, &se)).To(BeTrue())
				Expect(se.Reason).NotTo(ContainSubstring("not allowed"), k.Action+"."+m.Name)
			}
		}
		Expect(actions).To(Equal(mockapns.FaultActions()))
		Expect(kinds.Reasons).To(HaveLen(len(apns.Reasons())))
		Expect(kinds.Reasons).To(ContainElement(HaveField("Name", "BadDeviceToken")))
		Expect(kinds.Statuses).To(ContainElement(And(HaveField("Code", 8), HaveField("Name", "invalid token"))))
		raw, err := json.Marshal(kinds.Kinds[0])
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Contains(string(raw), `"name":"status"`)).To(BeTrue(), "reject has status")
	})
})
