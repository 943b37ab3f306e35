// Package apns is the vocabulary that every part of apnskit shares,
// whichever protocol carries a notification: device tokens, priorities,
// the protocols themselves, and the outcome codes that Apple answers
// (the binary API's status bytes in package wire, the HTTP/2 API's reason
// strings here) with what a client must do about each ([Disposition]).
//
// The package does no I/O and imports nothing of apnskit, so the codec,
// the client and the mock can all build on it.
package apns
