// Package wire encodes and decodes the frames of Apple's binary provider
// API and feedback service. The client and the mock gateway share it, and
// it never touches the network.
//
// # Frames
//
// All integers are big-endian. Command 2, the framed notification:
//
//	+---------+----------------------+----------------------------------+
//	| 0x02 (1)| frame length (4)     | items ...                        |
//	+---------+----------------------+----------------------------------+
//	item:      | id (1) | length (2) | data (length)                    |
//	ids: 1 token (binary), 2 payload (JSON), 3 identifier (4),
//	     4 expiry (4, UNIX seconds), 5 priority (1: 10 or 5)
//
// The frame length counts the items only, not the command byte or itself.
// Items may come in any order; 3, 4 and 5 are optional.
//
// Command 1, enhanced, and command 0, simple:
//
//	| 0x01 | identifier (4) | expiry (4) | token len (2) | token | payload len (2) | payload |
//	| 0x00 | token len (2) | token | payload len (2) | payload |
//
// The error response the gateway writes before it closes a connection:
//
//	| 0x08 | status (1) | identifier (4) |
//
// A feedback tuple:
//
//	| time (4, UNIX seconds) | token len (2) | token |
//
// # Errors
//
// [ParseNotification] and [Decoder] report malformed input as a
// [*FrameError] that carries the [Status] the gateway answers; [Status]
// itself is an error, so errors.Is(err, wire.StatusInvalidTokenSize) works
// on anything that wraps a refused frame.
package wire
