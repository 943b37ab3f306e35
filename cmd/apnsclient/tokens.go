package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apnskit/apnskit/apns"
)

// Errors about token lists.
var (
	// errLineTooLong: a line of a token list longer than maxLineLength.
	errLineTooLong = errors.New("line too long")
	// errNoTokens: a token list with no token in it.
	errNoTokens = errors.New("no token in the list")
)

// maxLineLength bounds one line of a token list: a token of the largest
// length plus generous room for spaces and a comment.
const maxLineLength = 4096

// parseToken checks one hexadecimal device token with apns.ParseToken and
// returns it in lower case. Any non-empty even-length hex string of at most
// apns.MaxTokenLength bytes is accepted: the gateway, not the command,
// judges the length (an Apple gateway answers status 5 for anything but 32
// bytes). Errors wrap apns.ErrBadToken.
func parseToken(s string) (string, error) {
	t, err := apns.ParseToken(s)
	if err != nil {
		return "", err
	}
	return t.String(), nil
}

// tokenReason is what is wrong with a token, for a message that already
// says "bad token": the error without the apns.ErrBadToken prefix.
func tokenReason(err error) string {
	return strings.TrimPrefix(err.Error(), apns.ErrBadToken.Error()+": ")
}

// tokenLineError reports a bad line of a token list.
type tokenLineError struct {
	Name string // file name, or "stdin"
	Line int    // 1-based
	Err  error
}

func (e *tokenLineError) Error() string {
	return fmt.Sprintf("%s:%d: %v", e.Name, e.Line, e.Err)
}

func (e *tokenLineError) Unwrap() error { return e.Err }

// badTokenError is a bad line of a token list: the token and why.
type badTokenError struct {
	token string // abbreviated
	err   error  // from parseToken, wrapping apns.ErrBadToken
}

func (e *badTokenError) Error() string {
	return fmt.Sprintf("bad token %q: %s", e.token, tokenReason(e.err))
}

func (e *badTokenError) Unwrap() error { return e.err }

// readTokens reads a token list: one hexadecimal token per line, surrounding
// spaces ignored, blank lines and lines whose first non-space character is
// '#' skipped. The first bad line stops the reading with a *tokenLineError
// naming it. A list with no token at all is an error too.
func readTokens(r io.Reader, name string) ([]string, error) {
	var tokens []string
	if _, err := scanTokens(r, name, func(t string) error {
		tokens = append(tokens, t)
		return nil
	}); err != nil {
		return nil, err
	}
	return tokens, nil
}

// scanTokens reads a token list as readTokens does and hands each token
// to each as it is read, holding none; it returns how many there were. An
// error from each stops the reading and is returned as it is.
// A nil each only checks and counts the tokens, allocating nothing per
// line.
func scanTokens(r io.Reader, name string, each func(string) error) (int, error) {
	// The scanner reads into its own buffer, which stays at its initial
	// size while lines fit: read ahead in large blocks instead of one
	// small read(2) per few lines.
	sc := bufio.NewScanner(bufio.NewReaderSize(r, scanReadSize))
	sc.Buffer(make([]byte, 0, maxLineLength), maxLineLength)
	n, line := 0, 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		if !isLowerHexToken(b) { // upper case, or bad: the general rules
			s := string(b)
			t, err := parseToken(s)
			if err != nil {
				return n, &tokenLineError{Name: name, Line: line, Err: &badTokenError{token: abbreviate(s), err: err}}
			}
			if each != nil {
				if err := each(t); err != nil {
					return n, err
				}
			}
			n++
			continue
		}
		if each != nil {
			if err := each(string(b)); err != nil {
				return n, err
			}
		}
		n++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = errLineTooLong
		}
		return n, &tokenLineError{Name: name, Line: line + 1, Err: err}
	}
	if n == 0 {
		return 0, fmt.Errorf("%s: %w", name, errNoTokens)
	}
	return n, nil
}

// scanReadSize is how much scanTokens reads from its source at once.
const scanReadSize = 64 << 10

// isLowerHexToken reports whether b is a token parseToken accepts as it
// is: lower-case hex digits, an even number of them, at most
// apns.MaxTokenLength bytes. Anything else takes parseToken's way, which
// says what is wrong or turns it into lower case.
func isLowerHexToken(b []byte) bool {
	if len(b) == 0 || len(b)%2 != 0 || len(b)/2 > apns.MaxTokenLength {
		return false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// abbreviate shortens s for an error message.
func abbreviate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
