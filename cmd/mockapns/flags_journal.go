package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/apnskit/apnskit/mockapns"
)

// journalFileOptions are the flags of the journal file.
type journalFileOptions struct {
	path string
}

func defineJournalFileFlags(fs *flag.FlagSet, o *journalFileOptions) {
	fs.StringVar(&o.path, "journal-file", "", "write every journal entry to `path` as JSON lines as it arrives, and the counters in a final {\"stats\": ...} line at shutdown (created or truncated)")
}

// open creates the journal file, if asked, and sets it in cfg. The returned
// function closes it; call it after the server is closed.
func (o *journalFileOptions) open(cfg *mockapns.Config) (closeFile func() error, err error) {
	if o.path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(o.path)
	if err != nil {
		return nil, fmt.Errorf("journal file: %w", err)
	}
	cfg.JournalFile = f
	return f.Close, nil
}
