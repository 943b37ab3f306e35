package conformance_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/cucumber/godog"

	"github.com/apnskit/apnskit/conformance"
	"github.com/apnskit/apnskit/wire"
)

// legacyClient is a deliberately small client, written for this test only,
// that can write commands 0 and 1 (our client writes command 2 only). It
// sends one batch per connection, confirms it by closing its sending side
// (the gateway then judges everything and closes), and never retries. It
// exists so that the @command0 and @command1 scenarios are proven to run,
// not only skipped.
type legacyClient struct {
	ep  conformance.Endpoint
	cfg *tls.Config
}

func (*legacyClient) Capabilities() conformance.Capabilities {
	return conformance.Capabilities{conformance.CapCommand0, conformance.CapCommand1}
}

func (l *legacyClient) Configure(_ context.Context, ep conformance.Endpoint) error {
	keyPEM := ep.KeyPEM
	if len(keyPEM) == 0 {
		keyPEM = ep.CertPEM
	}
	cert, err := tls.X509KeyPair(ep.CertPEM, keyPEM)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ep.CAPEM) {
		return errors.New("legacy client: no CA certificate in the endpoint")
	}
	l.ep, l.cfg = ep, &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, MinVersion: tls.VersionTLS12}
	return nil
}

func (l *legacyClient) Send(ctx context.Context, b conformance.Batch) (conformance.Outcome, error) {
	if l.cfg == nil {
		return conformance.Outcome{}, conformance.ErrNotConfigured
	}
	cmd := wire.CommandFramed
	if b.Command != nil {
		cmd = wire.Command(*b.Command)
	}
	var frames []byte
	for i, tok := range b.Tokens {
		raw, err := hex.DecodeString(tok)
		if err != nil {
			return conformance.Outcome{}, err
		}
		n := wire.Notification{Command: cmd, ID: uint32(i + 1), Token: raw, Payload: b.Payload}
		if !b.Expiry.IsZero() {
			n.Expiry = uint32(b.Expiry.Unix())
			n.Present |= wire.HasExpiry
		}
		if cmd == wire.CommandFramed {
			n.Present |= wire.HasIdentifier
			if b.Priority != 0 {
				n.Priority, n.Present = uint8(b.Priority), n.Present|wire.HasPriority
			}
		}
		if frames, err = n.AppendBinary(frames); err != nil {
			return conformance.Outcome{}, err
		}
	}
	d := tls.Dialer{Config: l.cfg}
	nc, err := d.DialContext(ctx, "tcp", l.ep.Gateway)
	if err != nil {
		return conformance.Outcome{}, err
	}
	c := nc.(*tls.Conn)
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	out := conformance.Outcome{Attempts: 1}
	if _, err := c.Write(frames); err != nil {
		out.Errors = append(out.Errors, err.Error())
		return out, nil
	}
	if err := c.CloseWrite(); err != nil {
		out.Errors = append(out.Errors, err.Error())
		return out, nil
	}
	answer, err := io.ReadAll(c)
	if err != nil {
		out.Errors = append(out.Errors, err.Error())
	}
	var r wire.ErrorResponse
	if len(answer) == wire.ErrorResponseSize && r.UnmarshalBinary(answer) == nil && r.ID >= 1 && int(r.ID) <= len(b.Tokens) {
		out.Failed = append(out.Failed, conformance.TokenStatus{Token: b.Tokens[r.ID-1], Status: int(r.Status)})
	}
	return out, nil
}

func (*legacyClient) Feedback(context.Context) ([]conformance.FeedbackTuple, error) {
	return nil, conformance.ErrUnsupported
}

func (*legacyClient) Outdate(context.Context, time.Duration) (int, error) {
	return 0, conformance.ErrUnsupported
}

func (*legacyClient) Shutdown(context.Context) error { return conformance.ErrUnsupported }

func (*legacyClient) Close(context.Context) error { return nil }

// TestLegacyFormats runs the scenarios that need commands 0 and 1, which
// our client does not write, against legacyClient: the kit's steps for the
// legacy formats are exercised, and the mock's handling of them with them.
func TestLegacyFormats(t *testing.T) {
	s := &conformance.Suite{
		NewClient: func(context.Context) (conformance.Client, error) { return &legacyClient{}, nil },
		ErrorWait: *errorWait,
	}
	o := opts
	o.TestingT = t
	o.Tags = "@command0,@command1"
	if status := (godog.TestSuite{Name: "legacy-formats", ScenarioInitializer: s.InitializeScenario, Options: &o}).Run(); status != 0 {
		t.Fatalf("the legacy-format scenarios failed (status %d): %v", status, s.Failures())
	}
	var passed []string
	for _, r := range s.Results() {
		if r.Result != conformance.Passed {
			t.Errorf("scenario %q: %s (%s)", r.Name, r.Result, r.Reason)
			continue
		}
		passed = append(passed, r.Name)
	}
	slices.Sort(passed)
	want := []string{"the enhanced format (command 1) is accepted", "the simple format (command 0) is accepted"}
	if !slices.Equal(passed, want) {
		t.Fatal(fmt.Sprintf("passed scenarios: got %q, want %q", passed, want))
	}
}
