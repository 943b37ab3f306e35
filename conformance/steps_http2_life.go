package conformance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/mockapns"
)

// Steps of the HTTP/2 connection's life over time: the kit's clock
// (@clock), the single stream before the first token, a certificate of
// the other environment, idle connections and PING (@keepalive).

func (w *world) registerHTTP2LifeSteps(sc stepRegistrar) {
	sc.Step(`^(\d+) minutes pass$`, w.minutesPass)
	sc.Step(`^the HTTP/2 API's clock is (\d+) minutes ahead of the client's$`, w.serverClockAhead)
	sc.Step(`^a client configured for HTTP/2 with a certificate of the (production|sandbox) environment$`, w.configuredHTTP2Env)
	sc.Step(`^the HTTP/2 API answers every notification after (\d+)ms$`, w.h2AnswersAfter)
	sc.Step(`^the HTTP/2 API closes connections idle for (\d+)ms$`, w.h2ClosesIdle)
	sc.Step(`^the client sends a PING on a connection quiet for (\d+)ms$`, w.clientKeepAlive)
	sc.Step(`^the client has nothing to send for (\d+)ms$`, w.nothingToSend)

	sc.Step(`^the HTTP/2 API refused no notification with reason (\w+)$`, w.h2RefusedNoneWith)
	sc.Step(`^the HTTP/2 API refused at least one notification with reason (\w+)$`, w.h2RefusedSomeWith)
	sc.Step(`^the client reports every token as refused with reason (\w+)$`, w.reportsEveryReason)
	sc.Step(`^the HTTP/2 API refused no stream beyond its stream limit$`, w.h2NoStreamRefused)
	sc.Step(`^the HTTP/2 API had more than one stream open at once$`, w.h2Concurrent)
	sc.Step(`^the HTTP/2 API received at least (\d+) PINGs?$`, w.h2ReceivedPings)
	sc.Step(`^the HTTP/2 API accepted no notification$`, w.h2AcceptedNone)
	sc.Step(`^the HTTP/2 API had (\d+) connections?$`, w.h2Connections)
	sc.Step(`^the HTTP/2 API had at most (\d+) connections?$`, w.h2AtMostConnections)
}

func (w *world) minutesPass(n int) error {
	w.clock.advance(time.Duration(n) * time.Minute)
	return nil
}

func (w *world) serverClockAhead(n int) error {
	w.clock.setSkew(time.Duration(n) * time.Minute)
	return nil
}

// configuredHTTP2Env configures the client with a push certificate of the
// environment named, issued by the server's authority.
func (w *world) configuredHTTP2Env(ctx context.Context, env string) error {
	s, err := w.server(0)
	if err != nil {
		return err
	}
	e := certs.Sandbox
	if env == "production" {
		e = certs.Production
	}
	pair, err := s.PKI().IssueClient(certs.ClientOptions{Environment: e})
	if err != nil {
		return err
	}
	ep, err := w.endpoint()
	if err != nil {
		return err
	}
	ep.HTTP2, ep.CertPEM, ep.KeyPEM = s.HTTP2Addr(), pair.CertPEM, pair.KeyPEM
	if w.topic == "" {
		w.topic = defaultTopic
	}
	return w.configure(ctx, ep)
}

func (w *world) h2AnswersAfter(ms int) error {
	return w.addFault(mockapns.Delay{Duration: time.Duration(ms) * time.Millisecond,
		When: mockapns.Trigger{Times: mockapns.Always, Protocol: apns.HTTP2}})
}

func (w *world) h2ClosesIdle(ms int) error {
	return w.addFault(mockapns.IdleTimeout{After: time.Duration(ms) * time.Millisecond, Times: mockapns.Always, Protocol: apns.HTTP2})
}

// clientKeepAlive sets Endpoint.KeepAlive, configuring the client again
// when it is configured already.
func (w *world) clientKeepAlive(ctx context.Context, ms int) error {
	w.keepAlive = time.Duration(ms) * time.Millisecond
	if w.ep.HTTP2 == "" {
		return nil
	}
	ep := w.ep
	ep.KeepAlive = w.keepAlive
	return w.configure(ctx, ep)
}

// nothingToSend lets real time pass with the client idle: the pause is
// what the scenario is about (an idle timeout), not a wait for readiness.
func (w *world) nothingToSend(ctx context.Context, ms int) error {
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// h2RefusedWith counts the HTTP/2 requests refused with reason.
func (w *world) h2RefusedWith(reason string) (int, error) {
	es, err := w.h2Entries(0)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range es {
		if string(e.Reason) == reason {
			n++
		}
	}
	return n, nil
}

func (w *world) h2RefusedNoneWith(reason string) error {
	n, err := w.h2RefusedWith(reason)
	if err == nil && n > 0 {
		err = fmt.Errorf("the HTTP/2 API refused %d notification(s) with reason %s", n, reason)
	}
	return err
}

func (w *world) h2RefusedSomeWith(reason string) error {
	n, err := w.h2RefusedWith(reason)
	if err == nil && n == 0 {
		err = fmt.Errorf("the HTTP/2 API refused no notification with reason %s: the scenario did not happen", reason)
	}
	return err
}

// reportsEveryReason checks that the client reports every token sent as
// refused with reason (and none as accepted by the server).
func (w *world) reportsEveryReason(reason string) error {
	if len(w.sent) == 0 {
		return errors.New("no token was sent")
	}
	var errs []error
	for i := range w.sent {
		r, err := w.reasonOf(i + 1)
		switch {
		case err != nil:
			errs = append(errs, err)
		case r.Reason != reason:
			errs = append(errs, fmt.Errorf("token %d: the client reports reason %q, want %q", i+1, r.Reason, reason))
		}
	}
	return errors.Join(errs...)
}

func (w *world) h2Stats() (mockapns.HTTP2Stats, error) {
	s, err := w.server(0)
	if err != nil {
		return mockapns.HTTP2Stats{}, err
	}
	return s.Stats().HTTP2, nil
}

func (w *world) h2NoStreamRefused() error {
	st, err := w.h2Stats()
	if err == nil && st.StreamsRefused > 0 {
		err = fmt.Errorf("the HTTP/2 API refused %d stream(s) with REFUSED_STREAM: the client opened more than MAX_CONCURRENT_STREAMS allowed", st.StreamsRefused)
	}
	return err
}

func (w *world) h2Concurrent() error {
	st, err := w.h2Stats()
	if err == nil && st.StreamsPeak < 2 {
		err = fmt.Errorf("the HTTP/2 API never had more than %d stream(s) open at once: the client did not use the raised limit", st.StreamsPeak)
	}
	return err
}

// h2ReceivedPings checks the PINGs the mock read so far (they came
// during the pause before, if they came at all).
func (w *world) h2ReceivedPings(n int) error {
	st, err := w.h2Stats()
	if err == nil && st.Pings < uint64(n) {
		err = fmt.Errorf("the HTTP/2 API received %d PING(s), want at least %d", st.Pings, n)
	}
	return err
}

func (w *world) h2Connections(n int) error {
	st, err := w.h2Stats()
	if err == nil && st.ConnectionsTotal != uint64(n) {
		err = fmt.Errorf("the HTTP/2 API had %d connection(s), want %d", st.ConnectionsTotal, n)
	}
	return err
}

func (w *world) h2AtMostConnections(n int) error {
	st, err := w.h2Stats()
	if err == nil && st.ConnectionsTotal > uint64(n) {
		err = fmt.Errorf("the HTTP/2 API had %d connection(s), want at most %d", st.ConnectionsTotal, n)
	}
	return err
}

func (w *world) h2AcceptedNone() error {
	st, err := w.h2Stats()
	if err == nil && st.Accepted > 0 {
		err = fmt.Errorf("the HTTP/2 API accepted %d notification(s), want none", st.Accepted)
	}
	return err
}
