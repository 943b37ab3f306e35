package certs_test

import (
	"crypto/tls"
	"net"
)

// tlsPipe runs a handshake over net.Pipe and reports each side's result on
// its own channel, so that only the spec goroutine asserts.
func tlsPipe(server, client *tls.Config) (srvErr, cliErr <-chan error) {
	a, b := net.Pipe()
	s, c := make(chan error, 1), make(chan error, 1)
	go func() { defer a.Close(); s <- tls.Server(a, server).Handshake() }()
	go func() { defer b.Close(); c <- tls.Client(b, client).Handshake() }()
	return s, c
}
