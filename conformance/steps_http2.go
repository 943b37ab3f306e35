package conformance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
)

// defaultTopic is the apns-topic of the HTTP/2 scenarios' notifications
// unless a step sets another.
const defaultTopic = "com.example.apnskit"

func (w *world) registerHTTP2Steps(sc stepRegistrar) {
	sc.Step(`^a client configured for HTTP/2 with a provider token$`, w.configuredHTTP2Token)
	sc.Step(`^a client configured for HTTP/2 with the server's test certificates$`, w.configuredHTTP2Cert)
	sc.Step(`^the HTTP/2 API refuses token (\d+) once with reason (\w+)$`, w.h2RefusesOnce)
	sc.Step(`^the HTTP/2 API sends GOAWAY with reason (\w+) at notification (\d+)$`, w.h2GoAway)
	sc.Step(`^the HTTP/2 API sends GOAWAY with reason (\w+) and last stream id (\d+) at notification (\d+)$`, w.h2GoAwayLast)
	sc.Step(`^the HTTP/2 API lowers its stream limit to (\d+) at notification (\d+), restoring it after (\d+) requests?$`, w.h2MaxStreams)
	sc.Step(`^device (\d+) is unregistered since (\S+)$`, w.deviceUnregistered)
	sc.Step(`^the notifications have push type (\S+) and collapse id (\S+)$`, w.notificationsHaveHeaders)

	sc.Step(`^the client reports token (\d+) as refused with reason (\w+) and HTTP status (\d+)$`, w.reportsReason)
	sc.Step(`^the client reports token (\d+) as refused with timestamp (\S+)$`, w.reportsTimestamp)
	sc.Step(`^the client sent token (\d+) again$`, w.sentTokenAgain)
	sc.Step(`^the HTTP/2 API received token (\d+) (\d+) times?$`, w.h2ReceivedTimes)
	sc.Step(`^the HTTP/2 API accepted tokens? `+reList+` exactly once$`, w.h2AcceptedExactlyOnce)
	sc.Step(`^the HTTP/2 API authenticated every notification with a (certificate|token)$`, w.h2AuthenticatedWith)
	sc.Step(`^the HTTP/2 API received every notification with topic (\S+), push type (\S+) and collapse id (\S+)$`, w.h2ReceivedHeaders)
	w.registerHTTP2LifeSteps(sc)
}

func (w *world) configuredHTTP2(ctx context.Context, token bool) error {
	s, err := w.server(0)
	if err != nil {
		return err
	}
	ep, err := w.endpoint()
	if err != nil {
		return err
	}
	ep.HTTP2 = s.HTTP2Addr()
	if token {
		key := s.PKI().AuthKey
		if ep.AuthKeyPEM, err = key.PrivatePEM(); err != nil {
			return err
		}
		ep.KeyID, ep.TeamID = key.KeyID, key.TeamID
	}
	if w.topic == "" {
		w.topic = defaultTopic
	}
	return w.configure(ctx, ep)
}

func (w *world) configuredHTTP2Token(ctx context.Context) error { return w.configuredHTTP2(ctx, true) }
func (w *world) configuredHTTP2Cert(ctx context.Context) error  { return w.configuredHTTP2(ctx, false) }

func (w *world) h2RefusesOnce(n int, reason string) error {
	tok, err := w.tokenBytes(n)
	if err != nil {
		return err
	}
	return w.addFault(mockapns.Reject{Reason: apns.Reason(reason),
		When: mockapns.Trigger{Token: tok, Times: mockapns.Times(1), Protocol: apns.HTTP2}})
}

func (w *world) h2GoAway(reason string, nth int) error {
	return w.addFault(mockapns.GoAway{Reason: apns.Reason(reason), When: mockapns.Trigger{Nth: nth, Protocol: apns.HTTP2}})
}

func (w *world) h2GoAwayLast(reason string, last uint32, nth int) error {
	return w.addFault(mockapns.GoAway{Reason: apns.Reason(reason), LastStreamID: last, HasLastStreamID: true,
		When: mockapns.Trigger{Nth: nth, Protocol: apns.HTTP2}})
}

func (w *world) h2MaxStreams(streams uint32, nth, restore int) error {
	return w.addFault(mockapns.MaxStreams{Streams: streams, RestoreAfter: restore, When: mockapns.Trigger{Nth: nth, Protocol: apns.HTTP2}})
}

func (w *world) deviceUnregistered(n int, since string) error {
	s, err := w.server(0)
	if err != nil {
		return err
	}
	at, err := time.Parse(time.RFC3339, since)
	if err != nil {
		return fmt.Errorf("unregistered since %q: %w", since, err)
	}
	tok, err := w.tokenBytes(n)
	if err != nil {
		return err
	}
	return s.SetDevice(mockapns.Device{Token: tok, UnregisteredAt: at})
}

func (w *world) notificationsHaveHeaders(pushType, collapseID string) error {
	w.pushType, w.collapseID = pushType, collapseID
	return nil
}

func (w *world) reasonOf(n int) (TokenReason, error) {
	tok, err := w.token(n)
	if err != nil {
		return TokenReason{}, err
	}
	var found []TokenReason
	for _, r := range w.merged().Reasons {
		if r.Token == tok {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		return TokenReason{}, fmt.Errorf("the client reports %d refusal(s) of token %d, want 1 (refusals: %+v)", len(found), n, w.merged().Reasons)
	}
	return found[0], nil
}

func (w *world) reportsReason(n int, reason string, status int) error {
	r, err := w.reasonOf(n)
	if err != nil {
		return err
	}
	if r.Reason != reason || r.HTTPStatus != status {
		return fmt.Errorf("token %d: the client reports reason %q, HTTP status %d; want %q, %d", n, r.Reason, r.HTTPStatus, reason, status)
	}
	return nil
}

func (w *world) reportsTimestamp(n int, ts string) error {
	want, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return err
	}
	r, err := w.reasonOf(n)
	if err != nil {
		return err
	}
	if !r.Timestamp.Equal(want) {
		return fmt.Errorf("token %d: the client reports timestamp %v, want %v", n, r.Timestamp, want)
	}
	return nil
}

func (w *world) sentTokenAgain(n int) error {
	tok, err := w.token(n)
	if err != nil {
		return err
	}
	for _, t := range w.merged().Retried {
		if t == tok {
			return nil
		}
	}
	return fmt.Errorf("the client did not report token %d as sent again (it sent again: %s)", n, w.describeAll(w.merged().Retried))
}

func (w *world) h2Entries(n int) ([]mockapns.Entry, error) {
	s, err := w.server(0)
	if err != nil {
		return nil, err
	}
	f := mockapns.Filter{Protocol: apns.HTTP2}
	if n > 0 {
		if f.Token, err = w.tokenBytes(n); err != nil {
			return nil, err
		}
	}
	return s.Notifications(f), nil
}

func (w *world) h2ReceivedTimes(n, times int) error {
	es, err := w.h2Entries(n)
	if err != nil {
		return err
	}
	if len(es) != times {
		return fmt.Errorf("the HTTP/2 API received token %d %d time(s), want %d", n, len(es), times)
	}
	return nil
}

func (w *world) h2AcceptedExactlyOnce(list string) error {
	nums, err := parseList(list)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range nums {
		es, err := w.h2Entries(n)
		if err != nil {
			return err
		}
		acc := 0
		for _, e := range es {
			if e.Accepted() {
				acc++
			}
		}
		if acc != 1 {
			errs = append(errs, fmt.Errorf("token %d accepted %d time(s), want once", n, acc))
			if acc == 0 {
				errs = append(errs, errLoss)
			}
		}
	}
	return errors.Join(errs...)
}

func (w *world) h2ReceivedHeaders(topic, pushType, collapseID string) error {
	es, err := w.h2Entries(0)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return errors.New("the HTTP/2 API received no notification")
	}
	for _, e := range es {
		if e.Topic != topic || e.PushType != pushType || e.CollapseID != collapseID {
			return fmt.Errorf("notification %s arrived with topic %q, push type %q, collapse id %q; want %q, %q, %q",
				e.APNsID, e.Topic, e.PushType, e.CollapseID, topic, pushType, collapseID)
		}
	}
	return nil
}

func (w *world) h2AuthenticatedWith(method string) error {
	es, err := w.h2Entries(0)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return errors.New("the HTTP/2 API received no notification")
	}
	for _, e := range es {
		if e.Auth.String() != method {
			return fmt.Errorf("notification %s authenticated with %q, want %q", e.APNsID, e.Auth, method)
		}
	}
	return nil
}
