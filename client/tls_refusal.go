package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"reflect"
)

// ErrCertificateRefused: the server ended the connection with a TLS alert
// that refuses the client's certificate (bad, unknown certificate
// authority, expired, revoked, unsupported, missing, access denied). With
// TLS 1.3 the alert arrives on the first read after the handshake, so it
// can follow a Send's writes; the server has then processed none of them.
// The error is a [*CertificateRefusedError], which also matches ErrConnect.
var ErrCertificateRefused = errors.New("apns: client certificate refused by the server")

// CertificateRefusedError is a TLS alert from the server that refuses the
// client certificate. errors.Is matches ErrCertificateRefused and ErrConnect.
type CertificateRefusedError struct {
	Addr  string // host:port of the server
	Alert uint8  // the TLS alert code (42 bad certificate, 48 unknown CA, 116 certificate required, ...)
	Err   error  // the error of the TLS connection
}

// Error names the server, the likely cause and the alert.
func (e *CertificateRefusedError) Error() string {
	return fmt.Sprintf("%v: %s: the server refused the client certificate (is it from another CA, expired, or missing?): %v",
		ErrConnect, e.Addr, e.Err)
}

// Unwrap returns ErrConnect, ErrCertificateRefused and the TLS error.
func (e *CertificateRefusedError) Unwrap() []error {
	return []error{ErrConnect, ErrCertificateRefused, e.Err}
}

// refusalAlerts are the TLS alerts that refuse the client's certificate.
var refusalAlerts = map[uint8]bool{
	40:  true, // handshake_failure
	42:  true, // bad_certificate
	43:  true, // unsupported_certificate
	44:  true, // certificate_revoked
	45:  true, // certificate_expired
	46:  true, // certificate_unknown
	48:  true, // unknown_ca
	49:  true, // access_denied
	116: true, // certificate_required
}

// certificateRefusal returns err as a *CertificateRefusedError if it is a
// TLS alert received from the server that refuses the client certificate,
// nil otherwise. crypto/tls reports a received alert as a *net.OpError
// with Op "remote error" around a value of its alert type (a uint8), or as
// a tls.AlertError.
func certificateRefusal(addr string, err error) *CertificateRefusedError {
	if err == nil {
		return nil
	}
	var already *CertificateRefusedError
	if errors.As(err, &already) {
		return already
	}
	code, ok := receivedAlert(err)
	if !ok || !refusalAlerts[code] {
		return nil
	}
	return &CertificateRefusedError{Addr: addr, Alert: code, Err: err}
}

// refusal returns the certificate refusal among r's errors, if any.
func (r *Result) refusal() error {
	for _, err := range r.Errors {
		if errors.Is(err, ErrCertificateRefused) {
			return err
		}
	}
	return nil
}

// receivedAlert extracts the code of a TLS alert the peer sent.
func receivedAlert(err error) (uint8, bool) {
	var ae tls.AlertError
	if errors.As(err, &ae) {
		return uint8(ae), true
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return 0, false
	}
	v := reflect.ValueOf(op.Err)
	if t := v.Type(); t.PkgPath() != "crypto/tls" || t.Kind() != reflect.Uint8 {
		return 0, false
	}
	return uint8(v.Uint()), true
}
