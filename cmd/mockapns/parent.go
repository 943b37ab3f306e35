package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"time"
)

// parentPoll is how often -exit-with-parent looks at the parent process.
const parentPoll = 100 * time.Millisecond

// parentOptions is the -exit-with-parent flag.
type parentOptions struct {
	exitWithParent bool
}

func defineParentFlags(fs *flag.FlagSet, o *parentOptions) {
	fs.BoolVar(&o.exitWithParent, "exit-with-parent", false,
		"shut down gracefully, as on SIGTERM, when the process that started mockapns exits (Unix: the parent process ID changes)")
}

// watch returns a context that also ends when the parent process exits,
// if -exit-with-parent asks for it: on Unix an orphan is handed to
// another process (init or a subreaper), so its parent process ID
// changes. The returned func stops the watch.
func (o parentOptions) watch(ctx context.Context, log *slog.Logger) (context.Context, context.CancelFunc) {
	if !o.exitWithParent {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	parent := os.Getppid()
	go func() {
		t := time.NewTicker(parentPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if os.Getppid() != parent {
					log.Info("parent process exited", "parent", parent)
					cancel()
					return
				}
			}
		}
	}()
	return ctx, cancel
}
