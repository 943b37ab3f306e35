package mockapns

import (
	"fmt"
	"net/http"

	"github.com/apnskit/apnskit/apns"
)

// The admin API's routes for the HTTP/2 authentication state, beside those
// listed at the top of admin.go:
//
//	GET    /api/v1/keys               the trusted keys by key ID: [{"key_id","team_id","public_key"}, ...]
//	POST   /api/v1/keys               body: one key or an array of them     → 201 the keys added
//	DELETE /api/v1/keys               trust no key (the PKI's neither)      → 204
//	DELETE /api/v1/keys/{key_id}      stop trusting one key                 → 204, 404 if unknown
//	GET    /api/v1/devices            the device state by token: [{"token","topic","unregistered_at"}, ...]
//	POST   /api/v1/devices            body: one device or an array of them  → 201 the devices set
//	DELETE /api/v1/devices            forget every device                   → 204
//	DELETE /api/v1/devices/{token}    forget one device                     → 204, 404 if unknown
//
// A key's "public_key" is a PEM "PUBLIC KEY" (a .p8's "PRIVATE KEY" is
// taken too, and only its public half kept). A POST is all or nothing: a
// bad element is a 400 naming its index and member ("[1]: mockapns: bad
// device: field \"token\": ...") and nothing is added.

// authRoutes are the routes above, for Handler.
func (a *admin) authRoutes() []adminRoute {
	return []adminRoute{
		{"GET /api/v1/keys", a.listKeys},
		{"POST /api/v1/keys", a.addKeys},
		{"DELETE /api/v1/keys", a.clearKeys},
		{"DELETE /api/v1/keys/{key_id}", a.removeKey},
		{"GET /api/v1/devices", a.listDevices},
		{"POST /api/v1/devices", a.setDevices},
		{"DELETE /api/v1/devices", a.clearDevices},
		{"DELETE /api/v1/devices/{token}", a.removeDevice},
	}
}

// adminRoute is one pattern of the admin API and its handler.
type adminRoute struct {
	pattern string
	h       func(http.ResponseWriter, *http.Request) error
}

func (a *admin) listKeys(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, a.s.AuthKeys())
	return nil
}

func (a *admin) addKeys(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	keys, err := parseAuthKeys(data)
	if err == nil {
		err = a.s.AddAuthKeys(keys...)
	}
	if err != nil {
		return &requestError{err: err}
	}
	a.log().Info("admin: keys added", "keys", len(keys))
	writeJSON(w, http.StatusCreated, keys)
	return nil
}

func (a *admin) clearKeys(w http.ResponseWriter, r *http.Request) error {
	a.s.ClearAuthKeys()
	a.log().Info("admin: keys cleared")
	noContent(w)
	return nil
}

func (a *admin) removeKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("key_id")
	if !a.s.RemoveAuthKey(id) {
		return &notFoundError{what: fmt.Sprintf("trusted key with key_id %q", id)}
	}
	a.log().Info("admin: key removed", "key_id", id)
	noContent(w)
	return nil
}

func (a *admin) listDevices(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, a.s.Devices())
	return nil
}

func (a *admin) setDevices(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	devs, err := parseDevices(data)
	if err == nil {
		err = a.s.SetDevices(devs...)
	}
	if err != nil {
		return &requestError{err: err}
	}
	a.log().Info("admin: devices set", "devices", len(devs))
	writeJSON(w, http.StatusCreated, devs)
	return nil
}

func (a *admin) clearDevices(w http.ResponseWriter, r *http.Request) error {
	a.s.ClearDevices()
	a.log().Info("admin: devices cleared")
	noContent(w)
	return nil
}

func (a *admin) removeDevice(w http.ResponseWriter, r *http.Request) error {
	tok, err := apns.ParseToken(r.PathValue("token"))
	if err != nil {
		return &requestError{what: "device token", err: err}
	}
	if !a.s.RemoveDevice(tok) {
		return &notFoundError{what: "device with token " + tok.String()}
	}
	a.log().Info("admin: device removed", "token", tok.String())
	noContent(w)
	return nil
}
