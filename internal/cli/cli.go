// Package cli is what the commands apnsclient and mockapns share: usage
// errors (exit status 2), log flags with real types, the version line and
// a flag set that reports nothing itself.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
)

// ExitUsage is the exit status of a bad command line, in both commands.
const ExitUsage = 2

// ErrUsage is wrapped by every error about the command line.
var ErrUsage = errors.New("usage")

// UsageError is a bad command line: Err says what is wrong.
type UsageError struct{ Err error }

// Error is Err's message.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns ErrUsage and Err.
func (e *UsageError) Unwrap() []error { return []error{ErrUsage, e.Err} }

// Usagef returns a *UsageError with a formatted message (%w wraps).
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Usage makes err a *UsageError (nil stays nil).
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: err}
}

// NewFlagSet returns a flag set that prints nothing (neither errors nor
// usage): the commands turn errors into one line themselves.
func NewFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// LogFormat is the format of log lines on stderr.
type LogFormat uint8

// The log formats; the zero value is LogText.
const (
	LogText LogFormat = iota // slog's text handler
	LogJSON                  // slog's JSON handler
)

// String is the format's flag value.
func (f LogFormat) String() string {
	if f == LogJSON {
		return "json"
	}
	return "text"
}

// MarshalText is the format's flag value.
func (f LogFormat) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText accepts "text" or "json"; on error f is unchanged.
func (f *LogFormat) UnmarshalText(b []byte) error {
	switch string(b) {
	case "text":
		*f = LogText
	case "json":
		*f = LogJSON
	default:
		return errors.New("want text or json")
	}
	return nil
}

// LogFlags are -log-level and -log-format.
type LogFlags struct {
	Level  slog.Level // -log-level, default info
	Format LogFormat  // -log-format, default text
}

// Register defines -log-level (a slog.Level: debug, info, warn or error)
// and -log-format (text or json) in fs.
func (l *LogFlags) Register(fs *flag.FlagSet) {
	fs.TextVar(&l.Level, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	fs.TextVar(&l.Format, "log-format", LogText, "log `format` on stderr: text or json")
}

// Logger returns a logger writing to w at the level and in the format of
// the flags.
func (l *LogFlags) Logger(w io.Writer) *slog.Logger {
	ho := &slog.HandlerOptions{Level: l.Level}
	if l.Format == LogJSON {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// Version is the version line of the command name: the module version the
// binary was built from ("(devel)" when unknown), the VCS revision when
// recorded, and the Go version.
func Version(name string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return name + " (devel)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	line := name + " " + v
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			line += " " + s.Value[:12]
		}
	}
	return line + " " + bi.GoVersion
}
