package mockapns_test

import (
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/mockapns"
)

// routePattern is a ServeMux pattern with a method: "GET /api/v1/stats".
var routePattern = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE) (/\S*)$`)

// sourceRoutes returns every route pattern written in the package's
// non-test Go files: the routes Handler registers (a trailing "{$}"
// dropped).
func sourceRoutes() []string {
	GinkgoHelper()
	files, err := filepath.Glob("*.go")
	Expect(err).NotTo(HaveOccurred())
	var out []string
	fset := gotoken.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		Expect(err).NotTo(HaveOccurred())
		ast.Inspect(file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == gotoken.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && routePattern.MatchString(s) {
					// "/{$}" is the mux's "exactly /", the document's "/".
					out = append(out, strings.TrimSuffix(s, "{$}"))
				}
			}
			return true
		})
	}
	slices.Sort(out)
	return out
}

type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

// documentedRoutes returns the operations of the document as patterns.
func documentedRoutes(doc openAPIDoc) []string {
	var out []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

var _ = Describe("The admin API's OpenAPI document", func() {
	var (
		srv *mockapns.Server
		api *httptest.Server
		doc openAPIDoc
	)
	BeforeEach(func() {
		srv = mockapns.NewServer(mockapns.Config{})
		DeferCleanup(srv.Close)
		api = httptest.NewServer(srv.Handler())
		DeferCleanup(api.Close)
		resp, err := http.Get(api.URL + "/api/v1/openapi.json")
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(resp.Header.Get("Content-Type")).To(Equal("application/json"))
		Expect(json.NewDecoder(resp.Body).Decode(&doc)).To(Succeed())
		Expect(doc.OpenAPI).To(HavePrefix("3."))
	})

	It("documents exactly the routes the handler registers", func() {
		routes := sourceRoutes()
		Expect(routes).To(ContainElements("GET /healthz", "POST /api/v1/faults", "GET /api/v1/openapi.json"))
		Expect(documentedRoutes(doc)).To(Equal(routes))
	})

	It("has every documented operation routed by the handler (neither 404 nor 405)", func() {
		for _, route := range documentedRoutes(doc) {
			method, path, _ := strings.Cut(route, " ")
			path = regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "00")
			req, err := http.NewRequest(method, api.URL+path, strings.NewReader("{}"))
			Expect(err).NotTo(HaveOccurred())
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Body.Close()).To(Succeed())
			if strings.Contains(route, "{") {
				// An unknown id or key is a 404 with a JSON body of the
				// route's own; a 405 would mean the method is not served.
				Expect(resp.StatusCode).NotTo(Equal(http.StatusMethodNotAllowed), route)
				continue
			}
			Expect(resp.StatusCode).NotTo(BeElementOf(http.StatusNotFound, http.StatusMethodNotAllowed), route)
		}
	})

	It("lists on each operation the guard's refusals the handler answers it with (401, 403, 415, 429)", func() {
		tokenSrv := mockapns.NewServer(mockapns.Config{Admin: mockapns.AdminConfig{Token: "s3cret"}})
		DeferCleanup(tokenSrv.Close)
		withToken := httptest.NewServer(tokenSrv.Handler())
		DeferCleanup(withToken.Close)
		do := func(base, route, contentType string, header map[string]string) int {
			method, path, _ := strings.Cut(route, " ")
			path = regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "00")
			req, err := http.NewRequest(method, base+path, strings.NewReader("{}"))
			Expect(err).NotTo(HaveOccurred())
			req.Header.Set("Content-Type", contentType)
			for k, v := range header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Body.Close()).To(Succeed())
			return resp.StatusCode
		}
		var waits []string
		for _, route := range documentedRoutes(doc) {
			method, path, _ := strings.Cut(route, " ")
			var op struct {
				Responses map[string]json.RawMessage `json:"responses"`
			}
			Expect(json.Unmarshal(doc.Paths[path][strings.ToLower(method)], &op)).To(Succeed())
			listed := func(code int) bool { _, ok := op.Responses[strconv.Itoa(code)]; return ok }

			// /metrics alone skips the Host and Origin checks, so that a
			// scraper may reach the server by any name.
			got := do(api.URL, route, "application/json", map[string]string{"Origin": "http://evil.example"})
			Expect(got == http.StatusForbidden).To(Equal(route != "GET /metrics"), "%s with a foreign Origin: %d", route, got)
			Expect(listed(http.StatusForbidden)).To(Equal(got == http.StatusForbidden), "%s lists 403 if and only if it answers it", route)

			got = do(withToken.URL, route, "application/json", nil)
			// /healthz and the web page's static files (no data) are open.
			open := route == "GET /healthz" || route == "GET /" || route == "GET /ui/{file}"
			Expect(got == http.StatusUnauthorized).To(Equal(!open), "%s without the token: %d", route, got)
			Expect(listed(http.StatusUnauthorized)).To(Equal(got == http.StatusUnauthorized), "%s lists 401 if and only if it answers it", route)

			got = do(api.URL, route, "text/plain", nil)
			Expect(listed(http.StatusUnsupportedMediaType)).To(Equal(got == http.StatusUnsupportedMediaType), "%s with a text/plain body: %d", route, got)

			if listed(http.StatusTooManyRequests) {
				waits = append(waits, route)
			}
		}
		Expect(waits).To(ConsistOf("GET /api/v1/notifications", "GET /api/v1/events"), "429 is the ?wait limit's and the event streams'")
	})

	It("lists every fault action the fault JSON takes", func() {
		var full struct {
			Components struct {
				Schemas struct {
					Fault struct {
						Properties struct {
							Action struct {
								Enum []string `json:"enum"`
							} `json:"action"`
						} `json:"properties"`
					} `json:"Fault"`
				} `json:"schemas"`
			} `json:"components"`
		}
		Expect(json.Unmarshal(mockapns.OpenAPI(), &full)).To(Succeed())
		actions := full.Components.Schemas.Fault.Properties.Action.Enum
		Expect(actions).To(ConsistOf(mockapns.FaultActions()), "the document's actions and the fault registry's")
		for _, a := range actions {
			_, err := mockapns.ParseFault([]byte(`{"action":"` + a + `","no_such_member":1}`))
			var se *mockapns.FaultSpecError
			Expect(errors.As(err, &se)).To(BeTrue(), a)
			Expect(se.Field).NotTo(Equal("action"), "action %q is unknown to ParseFault", a)
		}
	})
})
