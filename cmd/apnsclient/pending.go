package main

import (
	"context"
	"errors"
)

// errPending: the client library has not landed yet.
var errPending = errors.New("not available yet: waiting for package client")

func (e *env) push(ctx context.Context, o *pushOptions, tokens []string) int {
	return e.fail("push", errPending)
}

func (e *env) feedback(ctx context.Context, o *feedbackOptions) int {
	return e.fail("feedback", errPending)
}
