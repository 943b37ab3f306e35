package conformance

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/cucumber/godog"
)

// Level is how binding a scenario is: a MUST scenario describes what every
// correct client does, and its failure fails the run; a SHOULD scenario
// describes what a good client does where Apple left the choice open, and
// its failure is a warning, which fails the run only under Suite.Strict.
type Level string

// Levels, and their tags.
const (
	Must   Level = "MUST"
	Should Level = "SHOULD"

	// TagMust and TagShould classify a scenario; a scenario with neither
	// is a MUST scenario.
	TagMust   = "@must"
	TagShould = "@should"
)

// levelOf returns the level the tags give.
func levelOf(tags []string) Level {
	for _, t := range tags {
		if t == TagShould {
			return Should
		}
	}
	return Must
}

// errLoss marks a step failure that means a notification was lost without
// a word: it is a MUST failure in a scenario of any level.
var errLoss = errors.New("a notification was lost without a word")

// stepRegistrar is where steps are registered: a godog.ScenarioContext, or
// a levelled one.
type stepRegistrar interface {
	Step(expr, stepFunc any)
}

// levelled registers steps whose failures, in a SHOULD scenario of a suite
// that is not strict, become warnings: the scenario stops there, the
// failure is kept as the scenario's warning, and godog sees the step as
// skipped rather than failed. Failures that mean a silent loss (errLoss)
// stay failures.
type levelled struct {
	sc *godog.ScenarioContext
	w  *world
}

var errorType = reflect.TypeFor[error]()

func (l levelled) Step(expr, stepFunc any) {
	fn := reflect.ValueOf(stepFunc)
	t := fn.Type()
	if t.Kind() != reflect.Func || t.NumOut() == 0 || t.Out(t.NumOut()-1) != errorType {
		l.sc.Step(expr, stepFunc)
		return
	}
	wrapped := reflect.MakeFunc(t, func(args []reflect.Value) []reflect.Value {
		out := fn.Call(args)
		last := out[len(out)-1]
		if last.IsNil() {
			return out
		}
		if err := l.w.soften(last.Interface().(error)); err != nil {
			out[len(out)-1] = reflect.ValueOf(&err).Elem()
		}
		return out
	})
	l.sc.Step(expr, wrapped.Interface())
}

// soften turns a step failure into a warning when the scenario is a SHOULD
// one and the suite is not strict; it returns nil when err stays as it is.
func (w *world) soften(err error) error {
	if w.level != Should || w.suite.Strict || errors.Is(err, errLoss) || errors.Is(err, godog.ErrSkip) {
		return nil
	}
	w.warning = err
	w.suite.setNote(w.pickleID, ScenarioResult{Result: Warned, Reason: err.Error()}.note())
	return fmt.Errorf("SHOULD not met, a warning (it fails the run only when strict): %w: %w", err, godog.ErrSkip)
}
