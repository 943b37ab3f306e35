package mockapns_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apnskit/apnskit/apns"
	"github.com/apnskit/apnskit/mockapns"
)

// The web page, driven in a real browser: Debian's chromium, headless,
// through the DevTools protocol (github.com/chromedp/chromedp). One
// browser serves every spec; each spec opens its own tab on a mock of its
// own, served on loopback by httptest. The specs skip, saying why, when no
// chromium binary is found.
//
// With MOCKAPNS_UI_SCREENSHOTS naming a folder, one spec also writes
// screenshots of the list and the detail view there (the PNGs of
// cmd/mockapns/README.md).

// chromiumNames are the binaries looked for, in order.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

func findChromium() string {
	for _, n := range chromiumNames {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// pageTimeout bounds each browser step: a safety net, never an assertion.
const pageTimeout = 20 * time.Second

// browserValue runs one browser action in tab, bounded by pageTimeout, and
// returns its value.
func browserValue[T any](tab context.Context, a chromedp.Action[T]) T {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(tab, pageTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	Expect(err).NotTo(HaveOccurred())
	return v
}

// jsErrors collects what the page's JavaScript reports as an error.
type jsErrors struct {
	mu   sync.Mutex
	errs []string
}

func (j *jsErrors) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.errs = append(j.errs, s)
}

func (j *jsErrors) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.errs...)
}

var _ = Describe("The web page in a browser", Ordered, ContinueOnFailure, func() {
	var browser context.Context

	BeforeAll(func() {
		path := findChromium()
		if path == "" {
			Skip("no chromium binary found (looked for " + strings.Join(chromiumNames, ", ") +
				" in PATH; apt-get install chromium): the browser specs need one")
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(path),
			chromedp.Flag("headless", true),
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("hide-scrollbars", true),
			chromedp.Flag("mute-audio", true),
			chromedp.UserDataDir(GinkgoT().TempDir()),
			chromedp.WindowSize(1280, 800),
		}
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		DeferCleanup(cancelAlloc)
		var cancel context.CancelFunc
		browser, cancel = chromedp.NewContext(alloc)
		DeferCleanup(cancel)
		// The browser lives as long as the context of its first Do: this
		// one, not one bounded by a timeout.
		Expect(chromedp.Do(browser)).To(Succeed(), "starting %s", path)
	})

	// page is a tab of the browser on a mock of its own.
	type page struct {
		srv  *mockapns.Server
		ts   *httptest.Server
		tab  context.Context
		errs *jsErrors
	}

	// open starts a mock with cfg, serves its admin API and opens a tab
	// on its page; the spec fails if the page's JavaScript reports an
	// error (an exception or console.error).
	open := func(cfg mockapns.Config) *page {
		GinkgoHelper()
		p := &page{srv: startServer(cfg), errs: &jsErrors{}}
		p.ts = httptest.NewServer(p.srv.Handler())
		DeferCleanup(p.ts.Close)
		tab, closeTab := chromedp.NewContext(browser)
		DeferCleanup(func() {
			closeTab()
			Expect(p.errs.list()).To(BeEmpty(), "JavaScript errors on the page")
		})
		p.tab = tab
		Expect(chromedp.Listen(tab, func(ev any) {
			switch ev := ev.(type) {
			case *runtime.EventExceptionThrown:
				d := ev.ExceptionDetails
				msg := d.Text
				if d.Exception != nil {
					msg += " " + d.Exception.Description
				}
				p.errs.add(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
			case *cdplog.EventEntryAdded:
				// The browser's own errors, such as a Content-Security-Policy
				// violation; failed requests (a 401 before the token is
				// given) are the network's, and expected.
				if e := ev.Entry; e.Level == cdplog.EntryLevelError && e.Source != cdplog.EntrySourceNetwork {
					p.errs.add("browser " + string(e.Source) + " error: " + e.Text)
				}
			case *runtime.EventConsoleAPICalled:
				if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
					var parts []string
					for _, a := range ev.Args {
						parts = append(parts, string(a.Value)+a.Description)
					}
					p.errs.add("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
				}
			}
		})).To(Succeed())
		Expect(chromedp.Do(tab)).To(Succeed(), "opening a tab") // the tab lives as long as tab
		return p
	}

	// run runs browser actions in p's tab, bounded by pageTimeout.
	run := func(p *page, actions ...chromedp.Action[chromedp.Void]) {
		GinkgoHelper()
		ctx, cancel := context.WithTimeout(p.tab, pageTimeout)
		defer cancel()
		Expect(chromedp.Do(ctx, actions...)).To(Succeed())
	}

	// load navigates to the page and waits until its stream is live.
	load := func(p *page) {
		GinkgoHelper()
		run(p, chromedp.Navigate(p.ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#live[data-state="live"]`)))
	}

	// rowSel is the selector of the rows of notifications to token tok.
	rowSel := func(tok []byte) chromedp.CSS {
		return chromedp.CSS(`#rows tr[data-token="` + hex.EncodeToString(tok) + `"]`)
	}

	// appendedAt waits for the journal entry to tok and returns it.
	journalled := func(srv *mockapns.Server, tok []byte, n int) mockapns.Entry {
		GinkgoHelper()
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		es, err := srv.WaitNotifications(ctx, mockapns.Filter{Token: tokenOf(tok)}, n)
		Expect(err).NotTo(HaveOccurred())
		return es[len(es)-1]
	}

	// expectShownWithinASecond waits for the row of e and checks, from
	// the time the page put it in the list (data-shown-at, the page's
	// clock, which is this machine's), that it came within a second of
	// the journal entry's time: the read that carried it, just before it
	// was appended.
	expectShownWithinASecond := func(p *page, e mockapns.Entry) {
		GinkgoHelper()
		sel := rowSel(e.Token) + chromedp.CSS(`[data-seq="`+strconv.FormatUint(e.Seq, 10)+`"]`)
		run(p, chromedp.WaitVisible(sel))
		shown := browserValue(p.tab, chromedp.AttributeValue(sel, "data-shown-at"))
		Expect(shown.Exists).To(BeTrue())
		ms, err := strconv.ParseInt(shown.Value, 10, 64)
		Expect(err).NotTo(HaveOccurred())
		lag := time.UnixMilli(ms).Sub(e.ReceivedAt)
		GinkgoWriter.Printf("%s notification %d shown %v after it was read\n", e.Protocol, e.Seq, lag)
		Expect(lag).To(BeNumerically("<", time.Second), "shown %v after the journal append", lag)
	}

	const binaryAlert = `{"aps":{"alert":{"title":"Gate change","subtitle":"Flight AK 42","body":"Now boarding at B12"},"badge":3,"sound":"default"}}`
	const h2Alert = `{"aps":{"alert":{"title":"Hello from HTTP/2","body":"Your order has shipped"}}}`

	It("lists a binary and an HTTP/2 push within a second of their journal append, and renders the banner", func() {
		p := open(mockapns.Config{})
		load(p)

		conn := dial(p.srv, p.srv.GatewayAddr())
		send(conn, framed(42, token(0x11), binaryAlert))
		bin := journalled(p.srv, token(0x11), 1)
		expectShownWithinASecond(p, bin)

		c := p.srv.HTTP2Client()
		DeferCleanup(closeClient, c)
		auth := bearer(p.srv) // one provider token per connection: a new one would be an update
		status, _, _ := h2Post(c, p.srv, h2Hex(0x22), h2Alert, "authorization", auth, "apns-topic", h2Topic, "apns-push-type", "alert")
		Expect(status).To(Equal(http.StatusOK))
		h2 := journalled(p.srv, token(0x22), 1)
		expectShownWithinASecond(p, h2)

		rows := browserValue(p.tab, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#rows tr")).map(r => r.dataset.seq)`))
		Expect(rows).To(Equal([]string{"2", "1"}), "newest first")

		// The binary one, by mouse: the banner, its badge and the frame items.
		run(p, chromedp.Click(rowSel(token(0x11))), chromedp.WaitVisible(chromedp.CSS(`#detail .banner`)))
		text := func(sel string) string { return browserValue(p.tab, chromedp.Text(chromedp.CSS(sel))) }
		title, subtitle, body, badge, items := text(`#detail .banner-title`), text(`#detail .banner-subtitle`),
			text(`#detail .banner-body`), text(`#detail .app-badge`), text(`#detail .kv`)
		Expect([]string{title, subtitle, body, badge}).To(Equal([]string{"Gate change", "Flight AK 42", "Now boarding at B12", "3"}))
		Expect(items).To(ContainSubstring("item 1: device token"))
		Expect(items).To(ContainSubstring("42"))

		// The HTTP/2 one, by keyboard: focus its row, Enter.
		run(p,
			chromedp.Focus(rowSel(token(0x22))),
			chromedp.KeyEvent("\r"),
			chromedp.WaitVisible(chromedp.CSS(`#detail[data-seq="2"] .banner-title`)),
		)
		title, body, headers := text(`#detail .banner-title`), text(`#detail .banner-body`), text(`#detail .kv`)
		Expect(title).To(Equal("Hello from HTTP/2"))
		Expect(body).To(Equal("Your order has shipped"))
		Expect(headers).To(ContainSubstring("apns-topic"))
		Expect(headers).To(ContainSubstring(h2Topic))
		Expect(headers).To(ContainSubstring("apns-push-type"))

		// The free-text search hides what does not match.
		run(p, chromedp.SendKeys(chromedp.CSS(`#f-text`), "order has"))
		Expect(browserValue(p.tab, chromedp.Evaluate[int](`document.querySelectorAll("#rows tr").length`))).To(Equal(1))
	})

	It("marks a background push as silent, shows localization keys as keys, and links the exports with the filters", func() {
		p := open(mockapns.Config{})
		load(p)
		c := p.srv.HTTP2Client()
		DeferCleanup(closeClient, c)
		auth := bearer(p.srv) // one provider token per connection: a new one would be an update
		status, _, _ := h2Post(c, p.srv, h2Hex(0x33), `{"aps":{"content-available":1}}`,
			"authorization", auth, "apns-topic", h2Topic, "apns-push-type", "background", "apns-priority", "5")
		Expect(status).To(Equal(http.StatusOK))
		run(p, chromedp.Click(rowSel(token(0x33))), chromedp.WaitVisible(chromedp.CSS(`#detail [data-kind="silent"]`)))
		Expect(browserValue(p.tab, chromedp.Text(chromedp.CSS(`#detail [data-kind="silent"]`)))).To(ContainSubstring("Silent push (background)"))

		// An alert of localization keys shows the keys and their arguments.
		conn := dial(p.srv, p.srv.GatewayAddr())
		send(conn, framed(3, token(0x34), `{"aps":{"alert":{"title-loc-key":"GREETING","loc-key":"INVITE_FORMAT","loc-args":["Jenna"]}}}`))
		run(p, chromedp.Click(rowSel(token(0x34))), chromedp.WaitVisible(chromedp.CSS(`#detail .banner`)))
		Expect(browserValue(p.tab, chromedp.Text(chromedp.CSS(`#detail .banner-title`)))).To(Equal("⟨GREETING⟩"))
		Expect(browserValue(p.tab, chromedp.Text(chromedp.CSS(`#detail .banner-body`)))).To(Equal(`⟨INVITE_FORMAT⟩ ["Jenna"]`))
		// The exports follow the filters the list knows.
		run(p,
			chromedp.SetValue(chromedp.CSS(`#f-status`), "rejected"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("f-status").dispatchEvent(new Event("change"))`),
		)
		href := browserValue(p.tab, chromedp.Evaluate[string](`document.getElementById("export-csv").getAttribute("href")`))
		Expect(href).To(Equal("/api/v1/notifications?format=csv&status=rejected"))
	})

	It("adds a reject fault from the form, and shows the push it fails", func() {
		p := open(mockapns.Config{})
		load(p)
		run(p,
			chromedp.Click(chromedp.CSS(`#tab-faults`)),
			chromedp.WaitVisible(chromedp.CSS(`#fm-status`)),
			chromedp.SetValue(chromedp.CSS(`#fault-action`), "reject"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("fault-action").dispatchEvent(new Event("change"))`),
			chromedp.SendKeys(chromedp.CSS(`#fm-reason`), "BadDeviceToken"),
			chromedp.SendKeys(chromedp.CSS(`#fm-token`), h2Hex(0x44)),
		)
		doc := browserValue(p.tab, chromedp.Text(chromedp.CSS(`#fault-json`)))
		Expect(doc).To(MatchJSON(`{"action":"reject","reason":"BadDeviceToken","token":"` + h2Hex(0x44) + `"}`))
		run(p, chromedp.Click(chromedp.CSS(`#fault-add`)), chromedp.WaitVisible(chromedp.CSS(`#faults tr[data-fault]`)))
		Expect(browserValue(p.tab, chromedp.Text(chromedp.CSS(`#faults`)))).To(ContainSubstring("BadDeviceToken"))
		Expect(p.srv.Faults()).To(HaveLen(1))

		c := p.srv.HTTP2Client()
		DeferCleanup(closeClient, c)
		auth := bearer(p.srv) // one provider token per connection: a new one would be an update
		status, _, resp := h2Post(c, p.srv, h2Hex(0x44), h2Alert, "authorization", auth, "apns-topic", h2Topic)
		Expect(status).To(Equal(http.StatusBadRequest))
		Expect(resp).To(ContainSubstring("BadDeviceToken"))

		// The fault list counts the firing (the page refreshes it when
		// the stream brings a failure).
		run(p,
			chromedp.WaitVisible(chromedp.CSS(`#faults tr[data-fault] .fired`)),
			chromedp.Poll[chromedp.Void](`document.querySelector("#faults tr[data-fault] .fired").textContent === "1"`, chromedp.WithPollingTimeout(pageTimeout)),
			chromedp.Click(chromedp.CSS(`#tab-notifications`)),
			chromedp.WaitVisible(rowSel(token(0x44))+`.fail`),
		)
		Expect(browserValue(p.tab, chromedp.Text(rowSel(token(0x44))+` .status`))).To(Equal("400 BadDeviceToken"))

		// The status filter asks the stream for that reason only.
		status, _, _ = h2Post(c, p.srv, h2Hex(0x45), h2Alert, "authorization", auth, "apns-topic", h2Topic)
		Expect(status).To(Equal(http.StatusOK))
		run(p,
			chromedp.WaitVisible(rowSel(token(0x45))),
			chromedp.SetValue(chromedp.CSS(`#f-status`), "BadDeviceToken"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("f-status").dispatchEvent(new Event("change"))`),
			chromedp.WaitNotPresent(rowSel(token(0x45))),
		)
		Expect(browserValue(p.tab, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#rows tr")).map(r => r.dataset.token)`))).To(Equal([]string{h2Hex(0x44)}))
	})

	It("asks for the bearer token when the server wants one, then works with it", func() {
		p := open(mockapns.Config{Admin: mockapns.AdminConfig{Token: "s3cret-token"}})
		run(p,
			chromedp.Navigate(p.ts.URL+"/"),
			chromedp.WaitVisible(chromedp.CSS(`#token-dialog[open] #token-input`)),
			chromedp.SendKeys(chromedp.CSS(`#token-input`), "wrong"),
			chromedp.Click(chromedp.CSS(`#token-submit`)),
			chromedp.WaitVisible(chromedp.CSS(`#token-dialog-error`)),
		)
		run(p,
			chromedp.Evaluate[chromedp.Void](`document.getElementById("token-input").value = ""`),
			chromedp.SendKeys(chromedp.CSS(`#token-input`), "s3cret-token"),
			chromedp.Click(chromedp.CSS(`#token-submit`)),
			chromedp.WaitNotPresent(chromedp.CSS(`#token-dialog[open]`)),
			chromedp.WaitVisible(chromedp.CSS(`#live[data-state="live"]`)),
		)
		conn := dial(p.srv, p.srv.GatewayAddr())
		send(conn, framed(1, token(0x55), binaryAlert))
		expectShownWithinASecond(p, journalled(p.srv, token(0x55), 1))

		// A fault added from the form carries the token too.
		run(p,
			chromedp.Click(chromedp.CSS(`#tab-faults`)),
			chromedp.WaitVisible(chromedp.CSS(`#fm-status`)),
			chromedp.SendKeys(chromedp.CSS(`#fm-status`), "8"),
			chromedp.Click(chromedp.CSS(`#fault-add`)),
			chromedp.WaitVisible(chromedp.CSS(`#faults tr[data-fault]`)),
		)
		Expect(p.srv.Faults()).To(HaveLen(1))
	})

	It("takes screenshots of the list and the detail when MOCKAPNS_UI_SCREENSHOTS names a folder", func() {
		dir := os.Getenv("MOCKAPNS_UI_SCREENSHOTS")
		if dir == "" {
			Skip("MOCKAPNS_UI_SCREENSHOTS is not set: no screenshots wanted")
		}
		Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
		p := open(mockapns.Config{})
		_, err := p.srv.AddFault(mockapns.Reject{Reason: apns.ReasonUnregistered, When: mockapns.Trigger{Token: tokenOf(token(0x66))}})
		Expect(err).NotTo(HaveOccurred())
		load(p)
		c := p.srv.HTTP2Client()
		DeferCleanup(closeClient, c)
		auth := bearer(p.srv) // one provider token per connection: a new one would be an update
		conn := dial(p.srv, p.srv.GatewayAddr())
		send(conn, framed(7, token(0x71), `{"aps":{"alert":"Your table is ready","sound":"default"}}`))
		send(conn, framed(8, token(0x72), `{"aps":{"alert":{"loc-key":"GAME_PLAY_REQUEST_FORMAT","loc-args":["Jenna","Frank"]},"badge":1}}`))
		journalled(p.srv, token(0x72), 1)
		for i, push := range []struct {
			tok     byte
			payload string
			hdr     []string
		}{
			{0x81, `{"aps":{"content-available":1},"sync":"inbox"}`, []string{"apns-push-type", "background", "apns-priority", "5"}},
			{0x66, h2Alert, []string{"apns-push-type", "alert"}},
			{0x82, `{"aps":{"alert":{"title":"Weekly summary","body":"You walked 42 km this week."},"badge":5}}`, []string{"apns-push-type", "alert", "apns-collapse-id", "weekly"}},
			{0x83, binaryAlert, []string{"apns-push-type", "alert"}},
		} {
			h2Post(c, p.srv, h2Hex(push.tok), push.payload, append([]string{"authorization", auth, "apns-topic", h2Topic}, push.hdr...)...)
			journalled(p.srv, token(push.tok), 1)
			_ = i
		}
		shot := func(name string) {
			png := browserValue(p.tab, chromedp.CaptureScreenshot())
			Expect(os.WriteFile(filepath.Join(dir, name), png, 0o644)).To(Succeed())
		}
		run(p, chromedp.WaitVisible(rowSel(token(0x83))))
		shot("ui-list.png")
		run(p, chromedp.Click(rowSel(token(0x83))), chromedp.WaitVisible(chromedp.CSS(`#detail .banner`)))
		shot("ui-detail.png")
		run(p,
			chromedp.EmulateViewport(390, 844),
			chromedp.Click(rowSel(token(0x82))),
			chromedp.WaitVisible(chromedp.CSS(`#detail .banner`)),
		)
		shot("ui-phone.png")
		run(p,
			chromedp.EmulateViewport(1280, 800),
			chromedp.Click(chromedp.CSS(`#tab-faults`)),
			chromedp.WaitVisible(chromedp.CSS(`#faults tr[data-fault]`)),
		)
		shot("ui-faults.png")
	})
})
