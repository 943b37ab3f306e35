package mockapns

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3 document of the admin API, served at
// GET /api/v1/openapi.json.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3 document (JSON) of the admin API that
// [Server.Handler] serves, every route with its parameters and JSON
// shapes. The handler serves it too, at GET /api/v1/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

func (a *admin) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(openAPIDocument)
	return nil
}
