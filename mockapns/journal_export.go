package mockapns

// Export of the journal: GET /api/v1/notifications?format=jsonl|csv.
//
// The filters are the list's (token, status, protocol, limit); the answer
// is streamed, a chunk of entries at a time copied under the journal's
// lock, so that a journal of 100,000 entries is never held in memory
// whole, nor the lock for long. An export lists the entries journalled
// before it began: those appended meanwhile are left out, those dropped
// meanwhile (a full journal overwrites its oldest) are skipped, and a
// clear or reset meanwhile ends it.
//
// format=jsonl (application/x-ndjson): one line per entry, the JSON
// object the list has for it.
//
// format=csv (text/csv; charset=utf-8): RFC 4180 (encoding/csv), the
// header row csvHeader, then one row per entry:
//
//	seq          the entry's sequence number
//	received_at  RFC 3339 with nanoseconds
//	protocol     binary or http2
//	conn         connection number of its service
//	identifier   binary: the identifier (decimal); http2: the apns-id
//	token        the device token, lower-case hex
//	topic        http2: apns-topic
//	push_type    http2: apns-push-type
//	priority     the priority, empty when not sent
//	expiration   binary: the expiry (UNIX seconds); http2: apns-expiration, empty when absent
//	collapse_id  http2: apns-collapse-id
//	status       0 accepted; else the binary status or the HTTP status answered (the list's "status")
//	reason       http2: the reason answered, empty when accepted
//	payload      the payload as sent, as text

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/apnskit/apnskit/apns"
)

// Export formats of GET /api/v1/notifications.
const (
	formatJSON  = "json"
	formatJSONL = "jsonl"
	formatCSV   = "csv"
)

// csvHeader is the header row of format=csv.
var csvHeader = []string{"seq", "received_at", "protocol", "conn", "identifier", "token", "topic",
	"push_type", "priority", "expiration", "collapse_id", "status", "reason", "payload"}

// exportChunk bounds the entries an export copies, and exportScan the
// records it looks at, under one hold of the journal's lock.
const (
	exportChunk = 256
	exportScan  = 4096
)

// parseFormat reads ?format; jsonl and csv do not wait.
func parseFormat(v string, q *notificationQuery) error {
	switch v {
	case formatJSON, formatJSONL, formatCSV:
	default:
		return fmt.Errorf("want %s, %s or %s, got %q", formatJSON, formatJSONL, formatCSV, v)
	}
	if q.hasWait && v != formatJSON {
		return fmt.Errorf("%s cannot be combined with wait (only json can)", v)
	}
	q.format = v
	return nil
}

// export calls emit with the entries matching f (f.Limit at most), oldest
// first, a chunk at a time, each chunk copied under the lock and emitted
// outside it; it stops at emit's first error, at ctx's end and at a clear
// of the journal, and leaves out what is appended after it began.
func (j *journal) export(ctx context.Context, f Filter, emit func([]Entry) error) error {
	j.mu.Lock()
	gen, last := j.gen, j.seq
	j.mu.Unlock()
	var next uint64 // the sequence number of the next record to look at
	written := 0
	buf := make([]Entry, 0, exportChunk)
	for next <= last {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf = buf[:0]
		done := false
		j.mu.Lock()
		n := len(j.ring)
		if j.gen != gen || n == 0 {
			j.mu.Unlock()
			return nil
		}
		oldest := j.ring[j.head].seq // the ring holds consecutive numbers
		next = max(next, oldest)
		for i, scanned := int(next-oldest), 0; i < n && next <= last && len(buf) < exportChunk && scanned < exportScan; i, scanned = i+1, scanned+1 {
			k := j.head + i
			if k >= n {
				k -= n
			}
			r := &j.ring[k]
			next = r.seq + 1
			if f.match(r) {
				buf = append(buf, r.entry())
				if f.Limit > 0 && written+len(buf) >= f.Limit {
					done = true
					break
				}
			}
		}
		j.mu.Unlock()
		if len(buf) > 0 {
			if err := emit(buf); err != nil {
				return err
			}
			written += len(buf)
		}
		if done {
			return nil
		}
	}
	return nil
}

// exportNotifications streams the journal as JSON lines or CSV. Once the
// answer has begun, an error (the client went away) only ends it.
func (a *admin) exportNotifications(w http.ResponseWriter, r *http.Request, nq notificationQuery) error {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	var emit func([]Entry) error
	var finish func() error
	switch nq.format {
	case formatJSONL:
		h.Set("Content-Type", "application/x-ndjson")
		h.Set("Content-Disposition", `attachment; filename="mockapns-notifications.jsonl"`)
		bw := bufio.NewWriterSize(w, 32<<10)
		enc := json.NewEncoder(bw)
		emit = func(es []Entry) error {
			for i := range es {
				if err := enc.Encode(es[i]); err != nil {
					return err
				}
			}
			return nil
		}
		finish = bw.Flush
	case formatCSV:
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="mockapns-notifications.csv"`)
		cw := csv.NewWriter(w)
		if err := cw.Write(csvHeader); err != nil {
			return nil
		}
		row := make([]string, len(csvHeader))
		emit = func(es []Entry) error {
			for i := range es {
				if err := cw.Write(csvRow(&es[i], row)); err != nil {
					return err
				}
			}
			return cw.Error()
		}
		finish = func() error { cw.Flush(); return cw.Error() }
	}
	w.WriteHeader(http.StatusOK)
	err := a.s.journal.export(r.Context(), nq.filter, emit)
	if err == nil {
		err = finish()
	}
	if err != nil {
		a.log().Debug("admin: export ended early", "format", nq.format, "error", err.Error())
	}
	return nil
}

// csvRow fills row (len(csvHeader)) with e's columns.
func csvRow(e *Entry, row []string) []string {
	prio := ""
	if v, ok := e.Priority.Value(); ok {
		prio = strconv.Itoa(int(v))
	}
	exp := ""
	switch {
	case e.Protocol == apns.Binary:
		exp = strconv.FormatUint(uint64(e.Expiry), 10)
	case e.Expiration != nil:
		exp = strconv.FormatInt(*e.Expiration, 10)
	}
	row[0] = strconv.FormatUint(e.Seq, 10)
	row[1] = e.ReceivedAt.Format(time.RFC3339Nano)
	row[2] = e.Protocol.String()
	row[3] = strconv.FormatUint(e.Conn, 10)
	row[4] = e.Identifier()
	row[5] = hex.EncodeToString(e.Token)
	row[6] = e.Topic
	row[7] = e.PushType
	row[8] = prio
	row[9] = exp
	row[10] = e.CollapseID
	row[11] = strconv.Itoa(e.Status)
	row[12] = string(e.Reason)
	row[13] = string(e.Payload)
	return row
}
