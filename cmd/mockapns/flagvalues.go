package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"

	"github.com/apnskit/apnskit/mockapns"
)

// intValue is an integer flag whose parse error says what the flag takes,
// where the flag package would only say "parse error".
type intValue[T int | int64] struct {
	p    *T
	want string // what a value must be, e.g. "want a whole number"
}

// intVar defines an integer flag with a default, whose parse error is want.
func intVar[T int | int64](fs *flag.FlagSet, p *T, name string, value T, usage, want string) {
	*p = value
	fs.Var(intValue[T]{p: p, want: want}, name, usage)
}

// String is the current value.
func (v intValue[T]) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatInt(int64(*v.p), 10)
}

// Set parses a decimal integer that fits T.
func (v intValue[T]) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || int64(T(n)) != n {
		return errors.New(v.want)
	}
	*v.p = T(n)
	return nil
}

// faultFlagError is the reason a -fault value was refused, without the
// package prefix the command's own line already carries.
func faultFlagError(err error) error {
	var se *mockapns.FaultSpecError
	switch {
	case !errors.As(err, &se):
		return err
	case se.Field == "":
		return errors.New("bad fault: " + se.Reason)
	}
	return fmt.Errorf("bad fault: field %q: %s", se.Field, se.Reason)
}
