package mockapns

// The web page of the admin API: a live view of the journal (both
// protocols), the detail of one notification with the banner a device
// would show, the counters, and the fault, feedback and device controls.
//
//	GET /                       the page (ui/index.html)
//	GET /ui/{file}              its script and style sheet
//	GET /api/v1/events          the journal's news as Server-Sent Events (ui_events.go)
//	GET /api/v1/fault-kinds     every fault action with its members, the HTTP/2
//	                            reasons and binary statuses: what the page's fault form offers
//
// The page is plain HTML, CSS and JavaScript embedded in the binary: no
// build step, nothing fetched from another origin (its
// Content-Security-Policy forbids it). GET / and /ui/{file} are open even
// when AdminConfig.Token is set: they are the same static bytes for
// everyone and hold no data, and a browser cannot put a bearer token on
// the navigation that loads a page. Everything the page then reads or
// changes goes through the guarded API: it asks for the token when an
// answer is 401 and sends it as Authorization on every fetch, the event
// stream included (read with fetch, not EventSource, which cannot send
// headers). Its requests are same-origin, and its mutations send
// Content-Type: application/json, as the guard wants.

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"reflect"
	"strings"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

//go:embed ui/index.html ui/app.js ui/style.css
var uiFiles embed.FS

// uiRoutes are the routes above, for Handler.
func (a *admin) uiRoutes() []adminRoute {
	return []adminRoute{
		{"GET /{$}", a.page},
		{"GET /ui/{file}", a.asset},
		{"GET /api/v1/events", a.events},
		{"GET /api/v1/fault-kinds", a.faultKinds},
	}
}

// pageRequest reports whether r asks for one of the page's static files,
// which the bearer token does not guard.
func pageRequest(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/ui/")
}

// uiContentSecurity is the page's Content-Security-Policy: its own
// script, style and API, nothing else.
const uiContentSecurity = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

var uiTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

func (a *admin) page(w http.ResponseWriter, r *http.Request) error {
	return serveUIFile(w, r, "index.html")
}

func (a *admin) asset(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("file")
	if name == "index.html" || uiTypes[path.Ext(name)] == "" {
		return &notFoundError{what: "page file " + name}
	}
	return serveUIFile(w, r, name)
}

func serveUIFile(w http.ResponseWriter, r *http.Request, name string) error {
	data, err := fs.ReadFile(uiFiles, "ui/"+name)
	if err != nil {
		return &notFoundError{what: "page file " + name}
	}
	h := w.Header()
	h.Set("Content-Type", uiTypes[path.Ext(name)])
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", uiContentSecurity)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
	return nil
}

// faultKindsJSON is the answer of GET /api/v1/fault-kinds.
type faultKindsJSON struct {
	Kinds    []faultKind `json:"kinds"`
	Reasons  []faultWord `json:"reasons"`  // Apple's HTTP/2 reasons, with their HTTP status
	Statuses []faultWord `json:"statuses"` // Apple's binary statuses but 0
}

// faultKind is one fault action and its JSON members.
type faultKind struct {
	Action  string       `json:"action"`
	About   string       `json:"about"`
	Members []memberHelp `json:"members"`
}

// memberHelp describes one member of a fault's JSON form.
type memberHelp struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // "integer", "number" or "string"
	Required bool   `json:"required"`
	Hint     string `json:"hint"`
}

// faultWord is a reason or a status, with its code.
type faultWord struct {
	Name string `json:"name"`
	Code int    `json:"code"`
}

// faultAbout is what each fault action does, for the page's form.
var faultAbout = map[string]string{
	"reject":            "Refuse the notification: a binary status (the gateway answers it and closes) or an HTTP/2 reason (the request is answered with it).",
	"shutdown":          "Binary: answer status 10 (shutdown) naming the last accepted notification, then close.",
	"disconnect":        "Close the connection without a word; or cut binary connections after so many bytes.",
	"delay":             "Stall before the notification is processed (binary: the connection's reads; HTTP/2: the answer).",
	"goaway":            "HTTP/2: send GOAWAY with a reason and close once open streams are answered.",
	"max_streams":       "HTTP/2: lower SETTINGS_MAX_CONCURRENT_STREAMS, optionally restoring it later.",
	"rst_stream":        "HTTP/2: reset the request's stream instead of answering.",
	"idle_timeout":      "HTTP/2: close connections idle for this long with GOAWAY IdleTimeout.",
	"feedback_coalesce": "Feedback service: send all tuples in one write.",
	"feedback_split":    "Feedback service: send each tuple in several writes.",
	"feedback_cut":      "Feedback service: cut the connection after so many bytes.",
}

// memberHints are hints for members whose registry entry has none.
var memberHints = map[string]string{
	"token":       "a device token in hex: only notifications to it",
	"nth":         "fire on the n-th matching notification only",
	"probability": "fire with this probability, above 0 and at most 1",
	"times":       "how many times it fires: empty once, 0 every time",
	"protocol":    "binary or http2: only notifications of this protocol",
}

// faultKindsOf lists the registry's fault types with their members.
func faultKindsOf() faultKindsJSON {
	out := faultKindsJSON{Kinds: []faultKind{}, Reasons: []faultWord{}, Statuses: []faultWord{}}
	for _, t := range faultTypes {
		s := t.fault().spec()
		k := faultKind{Action: s.action(), About: faultAbout[s.action()], Members: []memberHelp{}}
		for _, m := range s.members() {
			typ := "string"
			switch reflect.TypeOf(m.encode()).Kind() {
			case reflect.Int, reflect.Int64:
				typ = "integer"
			case reflect.Float64:
				typ = "number"
			}
			hint := m.hint
			if hint == "" {
				hint = memberHints[m.name]
			}
			k.Members = append(k.Members, memberHelp{Name: m.name, Type: typ, Required: m.required, Hint: hint})
		}
		out.Kinds = append(out.Kinds, k)
	}
	for _, r := range apns.Reasons() {
		out.Reasons = append(out.Reasons, faultWord{Name: string(r), Code: r.Status()})
	}
	for c := 1; c <= 255; c++ {
		if st := wire.Status(c); st.Known() {
			out.Statuses = append(out.Statuses, faultWord{Name: st.String(), Code: c})
		}
	}
	return out
}

func (a *admin) faultKinds(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, faultKindsOf())
	return nil
}
