package main_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

var _ = Describe("mockapns -journal-file", func() {
	It("holds, after a SIGTERM mid-push, exactly the notifications that status 10 says were accepted, then the stats line", func() {
		dir := filepath.Join(GinkgoT().TempDir(), "pki")
		path := filepath.Join(GinkgoT().TempDir(), "journal.jsonl")
		in := launch(loopbackArgs(dir, "-journal-file", path, "-journal-size", "100")...)
		conn, err := tls.Dial("tcp", in.gateway, clientTLS(dir))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = conn.Close() })

		// A client that sends until the connection fails.
		wrote := make(chan uint32, 1)
		go func() {
			var id uint32
			var batch []byte
			for id < 1<<24 {
				batch = batch[:0]
				for range 100 {
					id++
					batch = append(batch, framed(id, byte(id))...)
				}
				if _, err := conn.Write(batch); err != nil {
					break
				}
			}
			wrote <- id
		}()
		Eventually(func() uint64 {
			var st mockapns.Stats
			in.get("/api/v1/stats", &st)
			return st.Accepted
		}, startTimeout).Should(BeNumerically(">=", 1000))

		in.cancel() // as SIGTERM does
		Expect(conn.SetReadDeadline(time.Now().Add(startTimeout))).To(Succeed())
		answer := make([]byte, wire.ErrorResponseSize)
		_, err = io.ReadFull(conn, answer)
		Expect(err).NotTo(HaveOccurred())
		Expect(answer[1]).To(BeEquivalentTo(wire.StatusShutdown))
		last := binary.BigEndian.Uint32(answer[2:])
		Expect(conn.Close()).To(Succeed())
		Eventually(wrote, startTimeout).Should(Receive())
		Expect(in.stop()).To(Succeed())

		f, err := os.Open(path)
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		sc := bufio.NewScanner(f)
		var ids []uint32
		var final []byte
		for sc.Scan() {
			line := sc.Bytes()
			if bytes.HasPrefix(line, []byte(`{"stats":`)) {
				final = bytes.Clone(line)
				continue
			}
			Expect(final).To(BeNil(), "no entry after the stats line")
			var e mockapns.Entry
			Expect(json.Unmarshal(line, &e)).To(Succeed())
			Expect(e.Accepted()).To(BeTrue())
			ids = append(ids, e.ID)
		}
		Expect(sc.Err()).NotTo(HaveOccurred())
		Expect(ids).To(HaveLen(int(last)), "every accepted notification, beyond the 100 the journal keeps")
		for i, id := range ids {
			Expect(id).To(BeEquivalentTo(i+1), "in order")
		}
		var st struct {
			Stats mockapns.Stats `json:"stats"`
		}
		Expect(json.Unmarshal(final, &st)).To(Succeed())
		Expect(st.Stats.Accepted).To(BeEquivalentTo(last))
		Expect(st.Stats.Rejected).To(BeZero())
		Expect(st.Stats.JournalFileErrors).To(BeZero())
	})
})
