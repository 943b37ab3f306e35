package mockapns

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/wire"
)

// journalFileQueue bounds the batches of entries waiting for the writer
// goroutine; ingest waits when it is full, so that no entry is lost.
const journalFileQueue = 256

// journalFileBuffer is the writer's buffer; it is flushed whenever the
// queue runs empty.
const journalFileBuffer = 256 << 10

// syncer is what an *os.File offers to make the written lines durable.
type syncer interface{ Sync() error }

// journalFile writes journal entries as JSON lines from its own goroutine,
// in journal order, and the counters in a final line on close.
type journalFile struct {
	log    *slog.Logger
	w      io.Writer
	bw     *bufio.Writer
	queue  chan *fileBatch
	free   sync.Pool // of *fileBatch: batches written, for the next appends
	done   chan struct{}
	errs   *atomic.Uint64
	failed bool // a write failed already (logged once)
	once   sync.Once
	// The writer's caches: the notifications of a stream usually share
	// their payload, and those of one read their time, so the encoding
	// of the previous entry's payload and time is kept and reused when
	// the next entry's are the same.
	lastPayload, lastPayloadJSON []byte
	lastAt                       time.Time
	lastAtText                   []byte
}

func newJournalFile(w io.Writer, log *slog.Logger, errs *atomic.Uint64) *journalFile {
	f := &journalFile{log: log, w: w, bw: bufio.NewWriterSize(w, journalFileBuffer),
		queue: make(chan *fileBatch, journalFileQueue), done: make(chan struct{}), errs: errs}
	go f.run()
	return f
}

// journalFileBatchKeep is the size of tokens and payloads past which a
// written batch is dropped rather than kept for reuse (a read of the usual
// buffer holds less).
const journalFileBatchKeep = 64 << 10

// fileBatch is what one append hands the writer: one HTTP/2 entry (h2),
// or the binary entries of one addBinary, which share their connection,
// time and status, with their bytes copied back to back into one slice.
// The writer hands written batches back (free) so that journalling to a
// file costs no allocation per read in the steady state.
type fileBatch struct {
	h2     []Entry
	bin    []fileBin
	conn   uint64
	at     time.Time
	status int
	bytes  []byte // token, then payload, of each of bin in turn
}

// fileBin is one binary entry of a fileBatch.
type fileBin struct {
	seq                  uint64
	id, expiry           uint32
	tokenLen, payloadLen int
	command              wire.Command
	priority             apns.Priority
}

// batch returns an empty batch, one written before if there is one.
func (f *journalFile) batch() *fileBatch {
	if b, ok := f.free.Get().(*fileBatch); ok {
		return b
	}
	return new(fileBatch)
}

// addBinary adds binary record r to the batch, with a copy of its bytes.
func (b *fileBatch) addBinary(r *record) {
	b.bin = append(b.bin, fileBin{seq: r.seq, id: r.id, expiry: r.expiry, tokenLen: int(r.tokenLen),
		payloadLen: len(r.data) - int(r.tokenLen), command: r.command, priority: r.priority})
	b.bytes = append(b.bytes, r.data...)
}

// recycle hands a written batch back for reuse, unless it holds much.
func (f *journalFile) recycle(b *fileBatch) {
	if cap(b.bytes) > journalFileBatchKeep {
		return
	}
	clear(b.h2)
	b.h2, b.bin, b.bytes = b.h2[:0], b.bin[:0], b.bytes[:0]
	f.free.Put(b)
}

// run writes the batches until the queue is closed.
func (f *journalFile) run() {
	defer close(f.done)
	var line []byte
	for batch := range f.queue {
		for i := range batch.h2 {
			b, err := json.Marshal(&batch.h2[i])
			if err != nil { // Entry always encodes; be safe
				f.fail(err)
				continue
			}
			line = append(line[:0], b...)
			f.write(append(line, '\n'))
		}
		off := 0
		for i := range batch.bin {
			x := &batch.bin[i]
			tokenEnd := off + x.tokenLen
			payloadEnd := tokenEnd + x.payloadLen
			e := Entry{Seq: x.seq, Conn: batch.conn, Protocol: apns.Binary, Command: x.command, ID: x.id,
				Token: batch.bytes[off:tokenEnd:tokenEnd], Payload: batch.bytes[tokenEnd:payloadEnd:payloadEnd],
				Expiry: x.expiry, Priority: x.priority, ReceivedAt: batch.at, Status: batch.status}
			off = payloadEnd
			line = f.appendBinary(line[:0], &e)
			f.write(append(line, '\n'))
		}
		f.recycle(batch)
		if len(f.queue) == 0 {
			f.flush()
		}
	}
}

func (f *journalFile) write(b []byte) {
	if _, err := f.bw.Write(b); err != nil {
		f.fail(err)
		f.bw.Reset(f.w) // drop what the buffer held; go on with the next lines
	}
}

func (f *journalFile) flush() {
	if err := f.bw.Flush(); err != nil {
		f.fail(err)
		f.bw.Reset(f.w)
	}
}

// fail counts a write error and logs the first one.
func (f *journalFile) fail(err error) {
	f.errs.Add(1)
	if !f.failed {
		f.failed = true
		f.log.Error("mockapns journal file write failed; later failures are only counted (journal_file_errors)", "err", err)
	}
}

// close waits for the queued entries to be written, then writes the final
// stats line, flushes and syncs the file. stats is called once the entries
// are written, so that the line counts them.
func (f *journalFile) close(stats func() Stats) {
	f.once.Do(func() {
		close(f.queue)
		<-f.done
		b, err := json.Marshal(struct {
			Stats Stats `json:"stats"`
		}{stats()})
		if err == nil {
			f.write(append(b, '\n'))
		}
		f.flush()
		if s, ok := f.w.(syncer); ok {
			if err := s.Sync(); err != nil {
				f.fail(err)
			}
		}
	})
}

// appendBinary appends the JSON of a binary entry, the members of
// Entry.MarshalJSON in its order, without its reflection and allocations
// (the writer goroutine encodes every entry the gateway ingests), reusing
// the encoding of the previous entry's payload and time when they are the
// same.
func (f *journalFile) appendBinary(b []byte, e *Entry) []byte {
	if f.lastPayloadJSON == nil || !bytes.Equal(e.Payload, f.lastPayload) {
		f.lastPayload = append(f.lastPayload[:0], e.Payload...)
		f.lastPayloadJSON = appendPayload(f.lastPayloadJSON[:0], e.Payload)
	}
	if f.lastAtText == nil || !e.ReceivedAt.Equal(f.lastAt) || e.ReceivedAt.Location() != f.lastAt.Location() {
		f.lastAt = e.ReceivedAt
		f.lastAtText = e.ReceivedAt.AppendFormat(f.lastAtText[:0], time.RFC3339Nano)
	}
	return appendBinaryWith(b, e, f.lastPayloadJSON, f.lastAtText)
}

// appendPayload appends the JSON of a payload as Entry.MarshalJSON writes
// it: embedded, compacted, when it is a JSON value, else a string.
func appendPayload(b, payload []byte) []byte {
	if len(payload) > 0 {
		// Compact validates as it goes and appends nothing on error.
		buf := bytes.NewBuffer(b)
		if json.Compact(buf, payload) == nil {
			return buf.Bytes()
		}
	}
	s, _ := json.Marshal(string(payload)) // a string always encodes
	return append(b, s...)
}

// appendBinaryWith appends the JSON of binary entry e, given the JSON of
// its payload and the text of its time.
func appendBinaryWith(b []byte, e *Entry, payloadJSON, atText []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"conn":`...)
	b = strconv.AppendUint(b, e.Conn, 10)
	b = append(b, `,"protocol":"binary","command":`...)
	b = strconv.AppendUint(b, uint64(e.Command), 10)
	b = append(b, `,"id":`...)
	b = strconv.AppendUint(b, uint64(e.ID), 10)
	b = append(b, `,"token":"`...)
	b = hex.AppendEncode(b, e.Token)
	b = append(b, `","payload":`...)
	b = append(b, payloadJSON...)
	b = append(b, `,"expiry":`...)
	b = strconv.AppendUint(b, uint64(e.Expiry), 10)
	prio, _ := e.Priority.Value()
	b = append(b, `,"priority":`...)
	b = strconv.AppendUint(b, uint64(prio), 10)
	b = append(b, `,"received_at":"`...)
	b = append(b, atText...)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	return append(b, '}')
}
