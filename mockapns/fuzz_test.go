package mockapns_test

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

var (
	fuzzOnce sync.Once
	fuzzSrv  *mockapns.Server
)

// expectedGateway models the gateway: how many notifications of data it
// accepts, and the bytes it answers.
func expectedGateway(data []byte) (accepted int, answer []byte) {
	var n wire.Notification
	for off := 0; off < len(data); {
		used, err := wire.ParseNotification(data[off:], &n, wire.ParseOptions{})
		if errors.Is(err, wire.ErrIncomplete) {
			return accepted, nil
		}
		if err == nil {
			err = wire.Validate(&n, wire.Limits{})
		}
		if err != nil {
			var fe *wire.FrameError
			if !errors.As(err, &fe) {
				panic(err)
			}
			if r, ok := fe.Response(); ok {
				answer, _ = r.MarshalBinary()
			}
			return accepted, answer
		}
		accepted++
		off += used
	}
	return accepted, nil
}

// fuzzFrame encodes a valid command-2 notification with identifier id.
func fuzzFrame(id uint32) []byte {
	n := wire.Notification{Command: wire.CommandFramed, ID: id, Present: wire.AllFields, Priority: 10,
		Token: bytes.Repeat([]byte{1}, 32), Payload: []byte(`{}`)}
	b, _ := n.MarshalBinary()
	return b
}

// fuzzGateway runs data through the gateway's connection handler of the
// shared fuzz server (reset, then given faults) over an in-memory stream,
// and checks the answer and the counters against the codec's verdict on
// judged, the bytes the gateway must judge.
func fuzzGateway(t *testing.T, data, judged []byte, faults ...mockapns.Fault) {
	fuzzOnce.Do(func() {
		var err error
		if fuzzSrv, err = mockapns.Start(mockapns.Config{}); err != nil {
			panic(err)
		}
	})
	srv := fuzzSrv
	srv.Reset()
	for _, f := range faults {
		if _, err := srv.AddFault(f); err != nil {
			t.Fatal(err)
		}
	}
	client, server := mockapns.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeGatewayStream(server)
	}()
	go func() {
		_, _ = client.Write(data)
		_ = client.CloseWrite()
	}()
	got, _ := io.ReadAll(client)
	_ = client.Close()
	<-done

	accepted, answer := expectedGateway(judged)
	if !bytes.Equal(got, answer) {
		t.Fatalf("answer % x, want % x", got, answer)
	}
	st := srv.Stats()
	if st.Accepted != uint64(accepted) {
		t.Fatalf("accepted %d, want %d", st.Accepted, accepted)
	}
	if n := len(srv.Notifications(mockapns.Filter{})); uint64(n) != st.Accepted+st.Rejected {
		t.Fatalf("journal holds %d entries for %d accepted and %d rejected", n, st.Accepted, st.Rejected)
	}
}

// FuzzGatewayConn feeds arbitrary bytes to the gateway's connection handler
// over an in-memory stream and checks it against the codec: never a panic,
// the same notifications accepted, the same answer (one 6-byte error
// response or nothing).
func FuzzGatewayConn(f *testing.F) {
	good := fuzzFrame
	f.Add(good(1))
	f.Add(append(good(1), good(2)...))
	f.Add(append(good(1), 0, 0, 0))
	f.Add([]byte{2, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{9, 9, 9})
	f.Add(append(good(3), 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0))
	f.Add(append(good(4), 0, 0, 0, 0, 0))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzGateway(t, data, data) })
}

// FuzzGatewayCut is FuzzGatewayConn with a Disconnect{AfterBytes} fault
// installed: the gateway must judge exactly the bytes before the cut (the
// same acceptances and answer as the codec on that prefix), and the
// journal must agree with the counters.
func FuzzGatewayCut(f *testing.F) {
	good := fuzzFrame
	g := good(1)
	f.Add(concatBytes(good(1), good(2), good(3)), uint16(len(g)))
	f.Add(concatBytes(good(1), good(2), good(3)), uint16(len(g)+3))
	f.Add(concatBytes(good(1), []byte{2, 0, 0, 0, 1, 9}, good(3)), uint16(2*len(g)))
	f.Add(concatBytes(good(1), good(2)), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, after uint16) {
		if after == 0 {
			after = 1
		}
		fuzzGateway(t, data, data[:min(int(after), len(data))], mockapns.Disconnect{AfterBytes: int64(after)})
	})
}

func concatBytes(b ...[]byte) []byte { return bytes.Join(b, nil) }
